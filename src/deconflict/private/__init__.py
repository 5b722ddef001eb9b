"""Private mode: two parties find where their plans overlap, and nothing else.

Private set intersection (ECDH over ristretto255) on discretised cells — H3
hexagon × altitude band × time slot — in a coarse round and a fine round inside
the common coarse cells; no third party is trusted and any relay forwards only
opaque bytes. See :mod:`deconflict.private.cells` (what the cells are and why no
overlap is missed), :mod:`deconflict.private.psi` (group operations, wire format)
and :mod:`deconflict.private.protocol` (the five messages, what each side learns).

- :func:`local_check`: both sides here, as two parties exchanging only bytes.
- :class:`Party`: one side, for a real deployment (``deconflict private …``).
- :class:`Grid`: the resolutions both sides share.
"""

from deconflict.private.cells import Grid
from deconflict.private.protocol import Learned, Party, exchange, join, local_check

__all__ = ["Grid", "Learned", "Party", "exchange", "join", "local_check"]
