"""Both sides of a private-mode exchange in one process, exchanging only bytes.

For ``deconflict plan check --private``, the benchmark and the tests: two
:class:`~deconflict.private.protocol.Party` objects, one per plan, pass the five
serialised messages (:func:`exchange`) and their results are joined into exact
pairs (:func:`local_check`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from deconflict.private import psi
from deconflict.private.cells import Grid
from deconflict.private.protocol import Party
from deconflict.private.results import join


def exchange(a: Party, b: Party) -> list[bytes]:
    """Run the five messages between initiator ``a`` and responder ``b``; returns them in order."""
    m1 = a.offer()
    m2 = b.answer(m1)
    m3 = a.refine(m2)
    m4 = b.refine(m3)
    m5 = a.finish(m4)
    assert m5 is not None
    b.finish(m5)
    return [m1, m2, m3, m4, m5]


def local_check(
    a: Any,
    b: Any,
    agreement: Any,
    time_buffer_s: float = 0.0,
    messages_out: list[bytes] | None = None,
    *,
    grid: Grid | None = None,
    workers: int | None = None,
    group: psi.Group = psi.RISTRETTO255,
) -> pd.DataFrame:
    """Private-mode overlaps between two plans, both sides run here as separate parties.

    ``a`` and ``b`` are :class:`~deconflict.airspace.volumes.Volumes`; each is buffered
    by half the agreement's minima (and half ``time_buffer_s``), discretised on
    ``grid`` (default: :meth:`Grid.from_agreement`), and the two
    :class:`~deconflict.private.protocol.Party` objects exchange only serialised
    messages — appended, in order, to ``messages_out`` when given (the command line
    writes them as files: :func:`deconflict.io.private_messages.write_exchange`).
    The result joins what each learned: columns ``a_id, b_id,
    alt_lower_ft, alt_upper_ft, time_start, time_end, mode, geometry`` with ``mode``
    "private", ``geometry`` the union of the common cells (lon/lat) and band and
    window their extent (ISO 8601 UTC).
    """
    grid = grid or Grid.from_agreement(agreement)
    party_a = Party.initiator(a, agreement, time_buffer_s, grid, workers, group)
    party_b = Party.responder(b, agreement, time_buffer_s, grid, workers, group)
    messages = exchange(party_a, party_b)
    if messages_out is not None:
        messages_out.extend(messages)
    return join(party_a, party_b)
