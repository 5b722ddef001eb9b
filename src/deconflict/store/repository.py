"""The storage seam: a :class:`Repository` protocol, implemented over SQL and in memory.

Every query the service needs lives behind this protocol; routes never touch SQL.
Writes return only after they are committed (durable): the service acknowledges a
batch only then.

Semantics both implementations share (tests/store runs one suite over both):

- writes naming an unknown party id raise :class:`~deconflict.errors.InputError`
  and store nothing; so does a non-finite number in a track batch;
- "latest" state means newest by ``time`` (ties: the one stored last), so a late,
  older report never overrides a newer one: one row per (party, aircraft), ordered by
  party, then id, with the broker time it was received (``received_at``, Unix s);
- :meth:`Repository.prune_tracks` deletes track states only: alerts, overlaps and
  parties are the record and are never pruned;
- NaN in an alert's optional numbers is stored and returned as None;
- revoking twice keeps the first revocation.
"""

from __future__ import annotations

from typing import Protocol

from deconflict.store.records import (
    AlertRecord,
    OverlapRecord,
    PartyRecord,
    PlanVolumeRecord,
    TrackBatch,
)


class Repository(Protocol):
    """What the broker stores: parties, track states and alerts."""

    def add_party(self, name: str, token_hash: str, *, is_admin: bool = False) -> PartyRecord:
        """Create a party; raises :class:`~deconflict.errors.InputError` if the name exists."""
        ...

    def party_by_token_hash(self, token_hash: str) -> PartyRecord | None:
        """The party holding this (hashed) token, revoked or not; None if unknown."""
        ...

    def list_parties(self) -> list[PartyRecord]:
        """All parties, in creation order."""
        ...

    def party_names(self) -> dict[int, str]:
        """Every party's name by id (revoked ones too): how admin views name parties."""
        ...

    def revoke_party(self, name: str) -> bool:
        """Revoke a party's token; False if there is no such party."""
        ...

    def ack_agreement(self, party_id: int, fingerprint: str) -> None:
        """Record that the party acknowledged the agreement with this fingerprint."""
        ...

    def add_tracks(self, batch: TrackBatch) -> int:
        """Append states (committed before returning); returns how many."""
        ...

    def latest_tracks(self, since_time: float, *, party_id: int | None = None) -> TrackBatch:
        """The latest state of every (party, aircraft) reported at or after ``since_time``.

        One row per aircraft (of ``party_id`` only, when given), with ``received_at``.
        """
        ...

    def tracks_of_party(self, party_id: int, limit: int) -> TrackBatch:
        """A party's own most recent states (at most ``limit``), newest first."""
        ...

    def prune_tracks(self, received_before: float) -> int:
        """Delete the states received before ``received_before`` (Unix s); returns how many.

        Only track states: the live picture's history, bounded by the broker's retention.
        """
        ...

    def add_alerts(self, alerts: list[AlertRecord]) -> list[AlertRecord]:
        """Store alert events (committed); returns them with their ids."""
        ...

    def alerts(
        self, party_id: int | None, *, after_id: int = 0, limit: int = 1000
    ) -> list[AlertRecord]:
        """Alert events of a party (None: of every party), oldest first, ids > ``after_id``."""
        ...

    def alerts_of_conflict(self, conflict_id: str, party_id: int | None) -> list[AlertRecord]:
        """One conflict's events as a party sees them (None: every party's), oldest first."""
        ...

    def add_plan_volumes(self, volumes: list[PlanVolumeRecord]) -> int:
        """Store planned volumes (committed); returns how many."""
        ...

    def plan_volumes(self, exclude_party_id: int | None = None) -> list[PlanVolumeRecord]:
        """Every stored planned volume, but those of ``exclude_party_id``, oldest first."""
        ...

    def add_overlaps(self, overlaps: list[OverlapRecord]) -> list[OverlapRecord]:
        """Store overlap halves (committed); returns them with their ids."""
        ...

    def overlaps(self, party_id: int | None) -> list[OverlapRecord]:
        """A party's overlap halves (None: every party's), oldest first."""
        ...

    def health(self) -> bool:
        """True when the database answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
