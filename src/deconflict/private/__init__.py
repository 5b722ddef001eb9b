"""Private mode: two parties find where their plans overlap, and nothing else.

Private set intersection (ECDH over ristretto255) on discretised cells — H3
hexagon × altitude band × time slot — in a coarse round and a fine round inside
the common coarse cells; no third party is trusted and any relay forwards only
opaque bytes. Pure computation: the files of the command-line steps (a side's state, its
messages) are read and written in :mod:`deconflict.io`. The modules, lowest first:

- :mod:`~deconflict.private.cells`: what the cells are and why no overlap is missed.
- :mod:`~deconflict.private.psi`: group operations, the wire format of a message.
- :mod:`~deconflict.private.protocol`: :class:`Party`, one side's state machine
  (the five messages, what each side learns).
- :mod:`~deconflict.private.results`: what the parties learned as overlaps.
- :mod:`~deconflict.private.local`: :func:`local_check`, both sides here, as two
  parties exchanging only bytes (``deconflict plan check --private``).

This package's namespace gathers the names most callers need: :class:`Grid` (the
resolutions both sides share), :class:`Party`, :class:`Learned`, :func:`exchange`,
:func:`join` and :func:`local_check`.
"""

from deconflict.private.cells import Grid
from deconflict.private.local import exchange, local_check
from deconflict.private.protocol import Learned, Party
from deconflict.private.results import join

__all__ = ["Grid", "Learned", "Party", "exchange", "join", "local_check"]
