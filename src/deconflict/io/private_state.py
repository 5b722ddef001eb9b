"""The state file of one side of a private-mode exchange, between two command-line steps.

A :class:`~deconflict.private.protocol.Party` stops after each message and resumes
at the next from this file. It holds the party's secret scalar and cells, so it is
written readable by its owner only (mode 0600), atomically. The format is JSON
(:func:`to_state` / :func:`from_state`)::

    {"format": "deconflict-private-state", "version": 1, "role": "a" | "b",
     "step": "new" | "offered" | "answered" | "refined" | "done", "fingerprint": …,
     "grid": {…}, "session": hex | null, "time_buffer_s": …, "scalar": hex,
     "cells": {…}, "sent_index": […], "reblinded": base64, "common": […],
     "matched": […], "their_sizes": [coarse, fine]}

With :mod:`deconflict.io.private_messages`, the only modules of the private mode
that touch files.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from deconflict._util import atomic_write
from deconflict.errors import InputError
from deconflict.json_text import check_depth
from deconflict.private import psi
from deconflict.private.cells import Grid, PlanCells
from deconflict.private.protocol import STEPS, Party

STATE_FORMAT = "deconflict-private-state"
STATE_VERSION = 1


def to_state(party: Party) -> dict[str, Any]:
    """JSON-able state holding the secret scalar: keep it private (file mode 0600)."""
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "role": party.role,
        "step": party.step,
        "fingerprint": party.fingerprint,
        "grid": {
            "fine_res": party.grid.fine_res,
            "coarse_res": party.grid.coarse_res,
            "band_ft": party.grid.band_ft,
            "coarse_bands": party.grid.coarse_bands,
            "slot_s": party.grid.slot_s,
            "coarse_slots": party.grid.coarse_slots,
            "margin_m": party.grid.margin_m,
        },
        "session": party.session.hex() if party.session is not None else None,
        "time_buffer_s": party.time_buffer_s,
        "scalar": party.scalar.hex(),
        "cells": party.cells.to_state(),
        "sent_index": party.sent_index.tolist(),
        "reblinded": base64.b64encode(party.reblinded).decode("ascii"),
        "common": party.common.tolist(),
        "matched": party.matched.tolist(),
        "their_sizes": list(party.their_sizes),
    }


def from_state(
    data: Any,
    source: str = "state",
    workers: int | None = None,
    group: psi.Group = psi.RISTRETTO255,
) -> Party:
    """Inverse of :func:`to_state`; a foreign or damaged state raises :class:`InputError`."""
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise InputError(f"{source}: not a deconflict private-mode state file")
    if data.get("version") != STATE_VERSION:
        raise InputError(
            f"{source}: state version {data.get('version')!r}, expected {STATE_VERSION}"
        )
    try:
        party = Party(
            data["role"],
            PlanCells.from_state(data["cells"]),
            data["fingerprint"],
            Grid(**data["grid"]),
            scalar=bytes.fromhex(data["scalar"]),
            session=bytes.fromhex(data["session"]) if data["session"] else None,
            time_buffer_s=float(data["time_buffer_s"]),
            workers=workers,
            group=group,
        )
        party.step = data["step"]
        party.sent_index = np.asarray(data["sent_index"], dtype=np.int64)
        party.reblinded = base64.b64decode(data["reblinded"])
        party.common = np.asarray(data["common"], dtype=np.int64).reshape(-1, 4)
        party.matched = np.asarray(data["matched"], dtype=np.int64).reshape(-1, 4)
        sizes = [int(n) for n in data["their_sizes"]]
        party.their_sizes = (sizes[0], sizes[1])
    except InputError as err:
        raise InputError(f"{source}: damaged private-mode state ({err})") from None
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise InputError(f"{source}: damaged private-mode state ({err})") from None
    if party.role not in ("a", "b") or party.step not in STEPS:
        raise InputError(f"{source}: damaged private-mode state (role or step)")
    if len(party.scalar) != psi.POINT_BYTES:
        raise InputError(f"{source}: damaged private-mode state (scalar)")
    return party


def refuse_existing_state(path: Path, force: bool) -> None:
    """:class:`InputError` when a new exchange would overwrite the state at ``path``."""
    if path.exists() and not force:
        raise InputError(
            f"{path} exists and holds the secret of another exchange; refusing to overwrite "
            "it: pass --force, or choose another --state"
        )


def save_state(party: Party, path: Path) -> None:
    """Write the party's state to ``path`` as JSON, owner-only (0600), atomically."""
    text = json.dumps(to_state(party), separators=(",", ":"))
    try:
        atomic_write(path, text, mode=0o600)
    except OSError as err:
        raise InputError(f"{path}: cannot write state: {err.strerror or err}") from None


def load_state(path: Path) -> Party:
    """The party saved at ``path``; a missing, unreadable or damaged file: :class:`InputError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such state file; start with 'deconflict private offer' (A) "
            "or 'deconflict private answer' (B)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read state: {err}") from None
    check_depth(text, f"{path}: state")  # before json.loads can recurse
    try:
        data: Any = json.loads(text)
    except ValueError as err:  # bad syntax, or an integer over 4300 digits
        raise InputError(f"{path}: state is not valid JSON: {err}") from None
    return from_state(data, source=str(path))
