"""``deconflict private``: one side of the private-mode exchange, over files.

Each side runs alone, keeps its secret scalar and its cells in a state file (mode
0600) and passes opaque message files to the other side, by any channel (mail, a
shared folder, the broker): six steps, five messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconflict.cli.common import (
    AgreementOpt,
    HorizontalOpt,
    VerticalOpt,
    console,
    frame_table,
    one_line_errors,
    resolve_agreement,
)
from deconflict.errors import InputError

# The private mode (rbcl, h3) is imported inside the commands, so that every other
# ``deconflict`` command starts without it.

SEQUENCE = (
    "Find where two plans overlap without showing them to each other: private set "
    "intersection, a coarse round then a fine round, no third party. Each side runs alone, "
    "keeps its secret in --state (file mode 0600) and hands the other side only opaque "
    "message files, in six steps (prefix each with 'deconflict private'):\n\n"
    "\b\n"
    "1 A: offer A.geojson --agreement ag.toml -s a.json -o 1.bin\n"
    "2 B: answer B.geojson 1.bin --agreement ag.toml -s b.json -o 2.bin\n"
    "3 A: refine 2.bin -s a.json -o 3.bin\n"
    "4 B: refine 3.bin -s b.json -o 4.bin\n"
    "5 A: finish 4.bin -s a.json --send 5.bin -o a-overlap.geojson\n"
    "6 B: finish 5.bin -s b.json -o b-overlap.geojson\n\n"
    "Both sides must use the same agreement (and time buffer). Each learns which of its own "
    "volumes overlap the other plan, where, at what levels and when, and the size of the "
    "other plan rounded to a size class; nothing else."
)

private_app = typer.Typer(
    name="private",
    help=SEQUENCE,
    no_args_is_help=True,
    add_completion=False,
)

PlanArg = Annotated[
    Path, typer.Argument(help="Your volumes: GeoJSON FeatureCollection or Volume4D JSON")
]
MessageArg = Annotated[Path, typer.Argument(help="The message the other side sent you")]
StateOpt = Annotated[
    Path,
    typer.Option(
        "--state", "-s", help="Your state file: holds your secret, keep it (created mode 0600)"
    ),
]
MessageOutOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Message file to send to the other side")
]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Overwrite an existing state file (its secret is lost)"),
]
TimeBufferOpt = Annotated[
    float,
    typer.Option("--time-buffer-s", help="Time buffer between windows, s (both sides alike)"),
]


def _sent(kind: str, data: bytes, out: Path, next_step: str) -> None:
    console.print(
        f"wrote the {kind} message ({len(data):,} bytes) to {out}; send it to the other side, "
        f"who runs: {next_step}",
        highlight=False,
    )


# -- commands ---------------------------------------------------------------------------------
@private_app.command("offer")
@one_line_errors
def offer_command(
    plan: PlanArg,
    state: StateOpt,
    output: MessageOutOpt,
    agreement: AgreementOpt = None,
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    time_buffer_s: TimeBufferOpt = 0.0,
    force: ForceOpt = False,
) -> None:
    """Step 1 (side A): start an exchange; writes the offer and A's state."""
    from deconflict.io.airspace_files import read_volumes as read
    from deconflict.io.private_messages import write_message
    from deconflict.io.private_state import refuse_existing_state, save_state
    from deconflict.private.protocol import Party

    refuse_existing_state(state, force)
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, None)
    party = Party.initiator(read(plan), ag, time_buffer_s)
    data = party.offer()
    save_state(party, state)
    write_message(output, data)
    _sent("offer", data, output, "deconflict private answer")


@private_app.command("answer")
@one_line_errors
def answer_command(
    plan: PlanArg,
    offer: Annotated[Path, typer.Argument(help="The offer side A sent you")],
    state: StateOpt,
    output: MessageOutOpt,
    agreement: AgreementOpt = None,
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    time_buffer_s: TimeBufferOpt = 0.0,
    force: ForceOpt = False,
) -> None:
    """Step 2 (side B): answer A's offer; writes the answer and B's state."""
    from deconflict.io.airspace_files import read_volumes as read
    from deconflict.io.private_messages import read_message, write_message
    from deconflict.io.private_state import refuse_existing_state, save_state
    from deconflict.private.protocol import Party

    refuse_existing_state(state, force)
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, None)
    data_in = read_message(offer, "offer")
    party = Party.responder(read(plan), ag, time_buffer_s)
    data = party.answer(data_in, source=str(offer))
    save_state(party, state)
    write_message(output, data)
    _sent("answer", data, output, "deconflict private refine")


@private_app.command("refine")
@one_line_errors
def refine_command(message: MessageArg, state: StateOpt, output: MessageOutOpt) -> None:
    """Steps 3 (A, after the answer) and 4 (B, after A's refine): the fine round."""
    from deconflict.io.private_messages import read_message, write_message
    from deconflict.io.private_state import load_state, save_state

    party = load_state(state)
    data = party.refine(read_message(message), source=str(message))
    save_state(party, state)
    write_message(output, data)
    if party.role == "a":
        _sent("refine", data, output, "deconflict private refine")
    else:
        _sent("refine-answer", data, output, "deconflict private finish")


@private_app.command("finish")
@one_line_errors
def finish_command(
    message: MessageArg,
    state: StateOpt,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write your overlaps as GeoJSON (else a table)"),
    ] = None,
    send: Annotated[
        Path | None,
        typer.Option("--send", help="Side A: the last message, for B to finish with"),
    ] = None,
) -> None:
    """Steps 5 (A, writes --send for B) and 6 (B): learn your own overlaps."""
    from deconflict.io.private_messages import read_message, write_message
    from deconflict.io.private_state import load_state, save_state
    from deconflict.private.results import own_pairs

    party = load_state(state)
    if party.role == "a" and send is None:
        raise InputError(
            "finish: side A must write the last message for B: add --send FILE (e.g. 5.bin)"
        )
    if party.role == "b" and send is not None:
        raise InputError("finish: side B has no message left to send; drop --send")
    data = party.finish(read_message(message), source=str(message))
    save_state(party, state)
    if data is not None and send is not None:
        write_message(send, data)
        _sent("finish", data, send, "deconflict private finish")
    frame = own_pairs(party)
    summary = (
        f"{len(frame)} of your {len(party.cells)} volume(s) overlap the other plan (private); "
        f"its size classes: {party.their_sizes[0]} coarse / {party.their_sizes[1]} fine elements"
    )
    if output is not None:
        from deconflict.io.airspace_files import write_overlaps

        write_overlaps(frame, output)
        console.print(f"{summary}; written to {output}", highlight=False)
        return
    if len(frame):
        shown = frame.drop(columns=["geometry", "a_id" if party.role == "b" else "b_id"])
        formats = {"alt_lower_ft": "{:,.0f}", "alt_upper_ft": "{:,.0f}"}
        console.print(frame_table(shown, "Your overlaps", formats))
    console.print(summary, highlight=False)
