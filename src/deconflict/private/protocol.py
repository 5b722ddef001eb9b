"""The two-round exchange between an initiator (A) and a responder (B): the state machine.

Five messages, each a :class:`deconflict.private.psi.Message` serialised to bytes::

    1  A → B  offer          A's coarse elements, blinded by a
    2  B → A  answer         A's coarse elements re-blinded by b; B's, blinded by b
    3  A → B  refine         B's coarse elements re-blinded by a   (A knows the common
                             coarse cells); A's fine elements inside them, blinded by a
    4  B → A  refine-answer  A's fine elements re-blinded by b     (B knows the common
                             coarse cells); B's fine elements inside them, blinded by b
    5  A → B  finish         B's fine elements re-blinded by a     (A knows its matches)

after which B knows its matches too. A :class:`Party` holds one side: its cells,
secret scalar and where it is in the exchange; it consumes and produces only bytes.
:mod:`deconflict.io.private_state` lets a command-line step stop and resume
between messages; :mod:`deconflict.private.local` runs both sides here.

What a party learns (:class:`Learned`): which of its own coarse cells the other
plan also holds, which of its own fine records (hexagons, bands, slots inside those
coarse cells) the other plan also holds, and the size classes of the other's lists.
:mod:`deconflict.private.results` turns that into volumes' overlaps: one side's
own, or, with both parties' results, exact pairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from deconflict.airspace.volumes import buffered, check_nonnegative
from deconflict.errors import InputError
from deconflict.private import psi
from deconflict.private.cells import (
    Grid,
    PlanCells,
    coarse_records,
    discretise,
    fine_records,
)
from deconflict.private.psi import Kind
from deconflict.units import nm_to_m

IntArray = npt.NDArray[np.int64]
Role = Literal["a", "b"]
Step = Literal["new", "offered", "answered", "refined", "done"]
#: The steps of :attr:`Party.step`, in order.
STEPS: tuple[Step, ...] = ("new", "offered", "answered", "refined", "done")


@dataclass(frozen=True)
class Learned:
    """Everything one party learned from the exchange.

    Attributes
    ----------
    role:
        ``"a"`` (initiator) or ``"b"`` (responder).
    common:
        Coarse records (``(n, 4)``) both plans hold; both parties learn the same set.
    matched:
        This party's own fine records (``(m, 4)``) that the other plan also holds.
    their_sizes:
        Size classes of the other party's coarse and fine lists (padded lengths).

    """

    role: Role
    common: IntArray
    matched: IntArray
    their_sizes: tuple[int, int]


def _buffered_cells(volumes: Any, agreement: Any, time_buffer_s: float, grid: Grid) -> PlanCells:
    """Buffer by half the minima (plus the grid's margin) and discretise."""
    check_nonnegative("time_buffer_s", time_buffer_s)
    grown = buffered(
        volumes,
        horizontal_m=nm_to_m(agreement.horizontal_nm) / 2 + grid.margin_m,
        vertical_ft=agreement.vertical_ft / 2,
        time_s=time_buffer_s / 2,
    )
    return discretise(grown, grid)


def _workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else min(8, os.cpu_count() or 1))


class Party:
    """One side of the exchange. Build with :meth:`initiator` or :meth:`responder`.

    Call order — A: :meth:`offer`, :meth:`refine`, :meth:`finish`; B: :meth:`answer`,
    :meth:`refine`, :meth:`finish`. Each call takes the other side's last message
    (bytes) and returns the next one (A's :meth:`finish` returns the last message;
    B's returns ``None``). A message from another agreement, grid or exchange, or
    out of order, raises :class:`InputError` naming what is wrong.
    """

    def __init__(
        self,
        role: Role,
        cells: PlanCells,
        fingerprint: str,
        grid: Grid,
        *,
        scalar: bytes | None = None,
        session: bytes | None = None,
        time_buffer_s: float = 0.0,
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> None:
        self.group = group
        self.time_buffer_s = float(time_buffer_s)
        self.role: Role = role
        self.cells = cells
        self.fingerprint = fingerprint
        self.grid = grid
        self.scalar = scalar if scalar is not None else group.new_scalar()
        self.session = session
        self.workers = _workers(workers)
        self.step: Step = "new"
        self.sent_index = np.zeros(0, dtype=np.int64)
        self.reblinded = b""
        self.common = np.zeros((0, 4), dtype=np.int64)
        self.matched = np.zeros((0, 4), dtype=np.int64)
        self.their_sizes: tuple[int, int] = (0, 0)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def initiator(
        cls,
        volumes: Any,
        agreement: Any,
        time_buffer_s: float = 0.0,
        grid: Grid | None = None,
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> Party:
        """Party A for ``volumes`` (a :class:`~deconflict.airspace.volumes.Volumes`)."""
        return cls._for("a", volumes, agreement, time_buffer_s, grid, workers, group)

    @classmethod
    def responder(
        cls,
        volumes: Any,
        agreement: Any,
        time_buffer_s: float = 0.0,
        grid: Grid | None = None,
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> Party:
        """Party B for ``volumes``; its session comes with A's offer."""
        return cls._for("b", volumes, agreement, time_buffer_s, grid, workers, group)

    @classmethod
    def _for(
        cls,
        role: Role,
        volumes: Any,
        agreement: Any,
        time_buffer_s: float,
        grid: Grid | None,
        workers: int | None,
        group: psi.Group,
    ) -> Party:
        grid = grid or Grid.from_agreement(agreement)
        cells = _buffered_cells(volumes, agreement, time_buffer_s, grid)
        return cls(
            role,
            cells,
            agreement.fingerprint,
            grid,
            session=os.urandom(16) if role == "a" else None,
            time_buffer_s=time_buffer_s,
            workers=workers,
            group=group,
        )

    # -- helpers --------------------------------------------------------------------------
    @property
    def prefix(self) -> bytes:
        """Hash prefix of this exchange (agreement, session, grid)."""
        if self.session is None:
            raise InputError("no session yet: the responder learns it from the offer")
        return psi.domain(self.fingerprint, self.session, self.grid, self.time_buffer_s)

    def _expect(self, role: Role, step: Step, action: str) -> None:
        if self.role != role:
            who = "initiator (A)" if self.role == "a" else "responder (B)"
            raise InputError(f"{action}: this is the {who}'s state; {action} is the other side's")
        if self.step != step:
            raise InputError(
                f"{action}: this party is at step '{self.step}', {action} needs '{step}'"
            )

    def _read(self, data: bytes, kind: Kind, source: str) -> psi.Message:
        msg = psi.decode(data, source, self.group)
        if msg.fingerprint != self.fingerprint:
            raise InputError(
                f"{source}: made under agreement {msg.fingerprint[:12]}…, this side uses "
                f"{self.fingerprint[:12]}…; both sides must use the same agreement"
            )
        if msg.grid != self.grid:
            raise InputError(
                f"{source}: made with grid {msg.grid.describe()}, this side uses "
                f"{self.grid.describe()}"
            )
        if msg.time_buffer_s != self.time_buffer_s:
            raise InputError(
                f"{source}: made with a time buffer of {msg.time_buffer_s:g} s, this side uses "
                f"{self.time_buffer_s:g} s; both sides must use the same"
            )
        if msg.kind != kind:
            raise InputError(
                f"{source}: a '{msg.kind.label}' message, expected '{kind.label}' here"
            )
        if self.session is None:  # the responder joins the initiator's exchange
            self.session = msg.session
        elif msg.session != self.session:
            raise InputError(
                f"{source}: belongs to another exchange (session {msg.session.hex()[:8]}…, "
                f"this one is {self.session.hex()[:8]}…)"
            )
        return msg

    def _check_reply(self, reply: bytes, source: str) -> None:
        n = len(reply) // psi.POINT_BYTES
        if n != len(self.sent_index):
            raise InputError(
                f"{source}: the reply holds {n} elements, this side sent {len(self.sent_index)}"
            )

    def _send(self, records: IntArray) -> bytes:
        g = self.group
        points = g.blind(g.hash_to_group(self.prefix, records), self.scalar, self.workers)
        sent, self.sent_index = psi.pad_and_shuffle(points, g)
        return sent

    def _matches(self, reply: bytes, theirs: set[bytes]) -> IntArray:
        """Indexes (into the records last sent) whose reply is in ``theirs``."""
        found = [
            int(i)
            for i, p in zip(self.sent_index, psi.split(reply), strict=True)
            if i >= 0 and p in theirs
        ]
        return np.asarray(sorted(found), dtype=np.int64)

    def _message(self, kind: Kind, *sections: bytes) -> bytes:
        assert self.session is not None
        return psi.Message(
            kind, self.fingerprint, self.session, self.grid, self.time_buffer_s, sections
        ).to_bytes()

    # -- the five steps ---------------------------------------------------------------------
    def offer(self) -> bytes:
        """A, step 1: the offer (A's coarse elements)."""
        self._expect("a", "new", "offer")
        sent = self._send(coarse_records(self.cells, self.grid))
        self.step = "offered"
        return self._message(Kind.OFFER, sent)

    def answer(self, data: bytes, source: str = "offer") -> bytes:
        """B, step 2: re-blind A's coarse elements and send B's own."""
        self._expect("b", "new", "answer")
        msg = self._read(data, Kind.OFFER, source)
        (theirs,) = msg.sections
        self.reblinded = self.group.blind(theirs, self.scalar, self.workers)
        sent = self._send(coarse_records(self.cells, self.grid))
        self.their_sizes = (len(theirs) // psi.POINT_BYTES, 0)
        self.step = "answered"
        return self._message(Kind.ANSWER, self.reblinded, sent)

    def refine(self, data: bytes, source: str = "message") -> bytes:
        """A, step 3 (after the answer) or B, step 4 (after A's refine): the fine round."""
        if self.role == "a":
            self._expect("a", "offered", "refine")
            msg = self._read(data, Kind.ANSWER, source)
            reply, theirs = msg.sections
            self._check_reply(reply, source)
            mine_again = self.group.blind(theirs, self.scalar, self.workers)
            own = coarse_records(self.cells, self.grid)
            self.common = own[self._matches(reply, set(psi.split(mine_again)))]
            self.their_sizes = (len(theirs) // psi.POINT_BYTES, 0)
            sent = self._send(fine_records(self.cells, self.grid, self.common))
            self.step = "refined"
            return self._message(Kind.REFINE, mine_again, sent)
        self._expect("b", "answered", "refine")
        msg = self._read(data, Kind.REFINE, source)
        reply, theirs = msg.sections
        self._check_reply(reply, source)
        reblinded = self.group.blind(theirs, self.scalar, self.workers)
        own = coarse_records(self.cells, self.grid)
        self.common = own[self._matches(reply, set(psi.split(self.reblinded)))]
        self.reblinded = reblinded
        sent = self._send(fine_records(self.cells, self.grid, self.common))
        self.their_sizes = (self.their_sizes[0], len(theirs) // psi.POINT_BYTES)
        self.step = "refined"
        return self._message(Kind.REFINE_ANSWER, self.reblinded, sent)

    def finish(self, data: bytes, source: str = "message") -> bytes | None:
        """A, step 5 (returns the finish message) or B, last (returns ``None``)."""
        if self.role == "a":
            self._expect("a", "refined", "finish")
            msg = self._read(data, Kind.REFINE_ANSWER, source)
            reply, theirs = msg.sections
            self._check_reply(reply, source)
            mine_again = self.group.blind(theirs, self.scalar, self.workers)
            own = fine_records(self.cells, self.grid, self.common)
            self.matched = own[self._matches(reply, set(psi.split(mine_again)))]
            self.their_sizes = (self.their_sizes[0], len(theirs) // psi.POINT_BYTES)
            self.step = "done"
            self.reblinded = b""
            return self._message(Kind.FINISH, mine_again)
        self._expect("b", "refined", "finish")
        msg = self._read(data, Kind.FINISH, source)
        (reply,) = msg.sections
        self._check_reply(reply, source)
        own = fine_records(self.cells, self.grid, self.common)
        self.matched = own[self._matches(reply, set(psi.split(self.reblinded)))]
        self.reblinded = b""
        self.step = "done"
        return None

    # -- results ------------------------------------------------------------------------
    @property
    def learned(self) -> Learned:
        """What this party learned; only once the exchange is done."""
        if self.step != "done":
            raise InputError(f"the exchange is not finished (this party is at '{self.step}')")
        return Learned(self.role, self.common, self.matched, self.their_sizes)
