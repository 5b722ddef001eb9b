"""An in-memory :class:`~deconflict.store.repository.Repository` for unit tests.

It behaves like :class:`~deconflict.store.sql.SqlRepository` (the same test suite
runs over both): the same errors, orderings, id sequences and NaN handling. It is
thread-safe and keeps everything in process memory; nothing is durable.
"""

from __future__ import annotations

import dataclasses
import threading
import time as _time

import numpy as np
from sqlalchemy import insert

from deconflict.errors import InputError
from deconflict.hotline.relay_store import HotlineStore
from deconflict.names import check_party_name
from deconflict.store.engine import make_engine
from deconflict.store.migrate import upgrade_engine
from deconflict.store.models import Party
from deconflict.store.records import (
    BATCH_FIELDS,
    AlertRecord,
    OverlapRecord,
    PartyRecord,
    PlanVolumeRecord,
    TrackBatch,
    check_batch,
    clean_alert,
    empty_batch,
    sort_latest,
    take_states,
    unknown_party_error,
)

#: Stored columns: the batch's and the broker time each state was received (Unix s).
_STORED = (*BATCH_FIELDS, "received_at")


@dataclasses.dataclass
class _Party:
    id: int
    name: str
    is_admin: bool
    token_hash: str
    revoked_at: float | None
    acked_fingerprint: str | None
    created_at: float

    def record(self) -> PartyRecord:
        return PartyRecord(
            id=self.id,
            name=self.name,
            is_admin=self.is_admin,
            revoked=self.revoked_at is not None,
            acked_fingerprint=self.acked_fingerprint,
            created_at=self.created_at,
        )


def _concat(chunks: list[TrackBatch]) -> TrackBatch:
    if not chunks:
        return empty_batch(received=True)
    if len(chunks) == 1:
        return chunks[0]
    return TrackBatch(
        **{name: np.concatenate([getattr(c, name) for c in chunks]) for name in _STORED}
    )


def _take(batch: TrackBatch, index: np.ndarray) -> TrackBatch:
    """States at ``index``, without ``received_at`` (as a party's own history is read)."""
    return TrackBatch(**{name: getattr(batch, name)[index] for name in BATCH_FIELDS})


class MemoryRepository:
    """The broker's storage in process memory (a fake for tests; nothing is durable)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._parties: list[_Party] = []
        self._chunks: list[TrackBatch] = []
        self._tracks: TrackBatch | None = None  # concatenation of _chunks, cached
        self._alerts: list[AlertRecord] = []
        self._plans: list[PlanVolumeRecord] = []
        self._overlaps: list[OverlapRecord] = []

    def __repr__(self) -> str:
        return "MemoryRepository()"

    # -- parties ---------------------------------------------------------------------

    def add_party(self, name: str, token_hash: str, *, is_admin: bool = False) -> PartyRecord:
        """Create a party.

        :class:`~deconflict.errors.InputError` if the name exists or breaks the
        party-name rule (:func:`deconflict.names.check_party_name`).
        """
        check_party_name(name)
        with self._lock:
            if any(p.name == name for p in self._parties):
                raise InputError(f"party {name!r} already exists")
            if any(p.token_hash == token_hash for p in self._parties):
                raise InputError("token hash is already in use by another party")
            party = _Party(
                id=len(self._parties) + 1,
                name=name,
                is_admin=is_admin,
                token_hash=token_hash,
                revoked_at=None,
                acked_fingerprint=None,
                created_at=_time.time(),
            )
            self._parties.append(party)
            return party.record()

    def party_by_token_hash(self, token_hash: str) -> PartyRecord | None:
        """The party holding this (hashed) token, revoked or not; None if unknown."""
        with self._lock:
            for p in self._parties:
                if p.token_hash == token_hash:
                    return p.record()
        return None

    def list_parties(self) -> list[PartyRecord]:
        """All parties, in creation order."""
        with self._lock:
            return [p.record() for p in self._parties]

    def party_names(self) -> dict[int, str]:
        """Every party's name by id (revoked ones too)."""
        with self._lock:
            return {p.id: p.name for p in self._parties}

    def revoke_party(self, name: str) -> bool:
        """Revoke a party's token; False if there is no such party.

        Revoking twice keeps the first revocation time and returns True.
        """
        with self._lock:
            for p in self._parties:
                if p.name == name:
                    if p.revoked_at is None:
                        p.revoked_at = _time.time()
                    return True
        return False

    def ack_agreement(self, party_id: int, fingerprint: str) -> None:
        """Record that the party acknowledged the agreement with this fingerprint.

        Raises :class:`~deconflict.errors.InputError` for an unknown party id.
        """
        with self._lock:
            for p in self._parties:
                if p.id == party_id:
                    p.acked_fingerprint = fingerprint
                    return
        raise InputError(f"no party with id {party_id}")

    def _party_ids(self) -> set[int]:
        return {p.id for p in self._parties}

    # -- track states ----------------------------------------------------------------

    def add_tracks(self, batch: TrackBatch) -> int:
        """Append states; returns how many.

        Raises :class:`~deconflict.errors.InputError` (and stores nothing) when a
        ``party_id`` names no party.
        """
        n = len(batch)
        if n == 0:
            return 0
        check_batch(batch)
        party_id = np.asarray(batch.party_id, dtype=np.int64)
        with self._lock:
            unknown = set(np.unique(party_id).tolist()) - self._party_ids()
            if unknown:
                raise unknown_party_error(unknown, "states")
            chunk = TrackBatch(
                party_id=party_id.copy(),
                id=np.array([str(v) for v in np.asarray(batch.id).tolist()], dtype=np.str_),
                **{
                    name: np.array(getattr(batch, name), dtype=np.float64)
                    for name in BATCH_FIELDS[2:]
                },
                received_at=np.full(n, _time.time()),
            )
            self._chunks.append(chunk)
            self._tracks = None
        return n

    def _all_tracks(self) -> TrackBatch:
        if self._tracks is None:
            self._tracks = _concat(self._chunks)
            self._chunks = [self._tracks] if len(self._tracks) else []
        return self._tracks

    def latest_tracks(self, since_time: float, *, party_id: int | None = None) -> TrackBatch:
        """The latest state of every (party, aircraft) reported at or after ``since_time``.

        Among the states with ``time >= since_time`` (of ``party_id`` only, when given),
        each (party, aircraft)'s newest by ``time`` (ties: the one stored last), with
        its ``received_at``. Ordered by party id, then aircraft id.
        """
        with self._lock:
            tracks = self._all_tracks()
        window = tracks.time >= since_time
        if party_id is not None:
            window &= tracks.party_id == party_id
        rows = np.flatnonzero(window)  # storage order = id order
        if rows.size == 0:
            return empty_batch(received=True)
        party, ids, t = tracks.party_id[rows], tracks.id[rows], tracks.time[rows]
        order = np.lexsort((rows, t, ids, party))  # last of each group is the newest
        party, ids = party[order], ids[order]
        last = np.ones(order.size, dtype=bool)
        last[:-1] = (party[1:] != party[:-1]) | (ids[1:] != ids[:-1])
        return sort_latest(take_states(tracks, rows[order[last]]))

    def tracks_of_party(self, party_id: int, limit: int) -> TrackBatch:
        """A party's own most recent states (at most ``limit``), newest first.

        Newest means most recently stored.
        """
        if limit <= 0:
            return empty_batch()
        with self._lock:
            tracks = self._all_tracks()
        rows = np.flatnonzero(tracks.party_id == party_id)[::-1][:limit]
        return _take(tracks, rows)

    def prune_tracks(self, received_before: float) -> int:
        """Delete the states received before ``received_before`` (Unix s); returns how many."""
        with self._lock:
            tracks = self._all_tracks()
            if tracks.received_at is None:
                return 0
            keep = tracks.received_at >= received_before
            gone = int(keep.size - keep.sum())
            if gone:
                self._chunks = [take_states(tracks, np.flatnonzero(keep))]
                self._tracks = None
        return gone

    # -- alerts ----------------------------------------------------------------------

    def add_alerts(self, alerts: list[AlertRecord]) -> list[AlertRecord]:
        """Store alert events; returns them with their ids.

        Raises :class:`~deconflict.errors.InputError` (and stores nothing) when a
        ``party_id`` names no party.
        """
        with self._lock:
            unknown = {a.party_id for a in alerts} - self._party_ids()
            if unknown:
                raise unknown_party_error(unknown, "alerts")
            first = len(self._alerts) + 1
            stored = [
                dataclasses.replace(clean_alert(a), id=first + i) for i, a in enumerate(alerts)
            ]
            self._alerts.extend(stored)
        return list(stored)

    def alerts(
        self, party_id: int | None, *, after_id: int = 0, limit: int = 1000
    ) -> list[AlertRecord]:
        """Alert events of a party (None: of every party), oldest first, ids > ``after_id``."""
        if limit <= 0:
            return []
        with self._lock:
            found = [
                a
                for a in self._alerts[max(after_id, 0) :]
                if party_id is None or a.party_id == party_id
            ]
        return found[:limit]

    def alerts_of_conflict(self, conflict_id: str, party_id: int | None) -> list[AlertRecord]:
        """One conflict's events as a party sees them (None: every party's), oldest first."""
        with self._lock:
            return [
                a
                for a in self._alerts
                if a.conflict_id == conflict_id and (party_id is None or a.party_id == party_id)
            ]

    # -- planned operations ----------------------------------------------------------

    def add_plan_volumes(self, volumes: list[PlanVolumeRecord]) -> int:
        """Store planned volumes; returns how many (InputError for an unknown party)."""
        with self._lock:
            unknown = {v.party_id for v in volumes} - self._party_ids()
            if unknown:
                raise unknown_party_error(unknown, "plan volumes")
            self._plans.extend(volumes)
        return len(volumes)

    def plan_volumes(self, exclude_party_id: int | None = None) -> list[PlanVolumeRecord]:
        """Every stored planned volume, but those of ``exclude_party_id``, oldest first."""
        with self._lock:
            return [v for v in self._plans if v.party_id != exclude_party_id]

    def add_overlaps(self, overlaps: list[OverlapRecord]) -> list[OverlapRecord]:
        """Store overlap halves; returns them with their ids."""
        with self._lock:
            unknown = {o.party_id for o in overlaps} - self._party_ids()
            if unknown:
                raise unknown_party_error(unknown, "overlaps")
            first = len(self._overlaps) + 1
            stored = [dataclasses.replace(o, id=first + i) for i, o in enumerate(overlaps)]
            self._overlaps.extend(stored)
        return list(stored)

    def overlaps(self, party_id: int | None) -> list[OverlapRecord]:
        """A party's overlap halves (None: every party's), oldest first."""
        with self._lock:
            return [o for o in self._overlaps if party_id is None or o.party_id == party_id]

    # -- housekeeping ----------------------------------------------------------------

    def health(self) -> bool:
        """Always True: memory always answers."""
        return True

    def close(self) -> None:
        """Nothing to release."""


def memory_hotline(repo: MemoryRepository) -> HotlineStore:
    """A hotline store on in-memory SQLite, with ``repo``'s parties (as they are now) copied in.

    What ``create_app(settings, repo, hotline)`` needs beside a :class:`MemoryRepository`.
    """
    engine = make_engine("sqlite://")
    upgrade_engine(engine)
    with engine.begin() as conn:
        for p in repo.list_parties():
            conn.execute(
                insert(Party.__table__).values(
                    id=p.id,
                    name=p.name,
                    is_admin=p.is_admin,
                    token_hash=f"memory-{p.id}",
                    created_at=p.created_at,
                )
            )
    return HotlineStore(engine)
