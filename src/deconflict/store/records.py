"""Plain records exchanged between the repository and the service (no ORM objects leak).

With the rules every :class:`~deconflict.store.repository.Repository` applies to them
alike (checks, NaN as None, ordering, errors), so that implementations agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.errors import InputError

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PartyRecord:
    """A party (or the working group's admin) known to the broker."""

    id: int
    name: str
    is_admin: bool
    revoked: bool
    acked_fingerprint: str | None
    created_at: float  # Unix s


@dataclass(frozen=True)
class TrackBatch:
    """States in the ``detect`` input columns, as arrays; ``party_id`` per row.

    Units as in :mod:`deconflict.tactical.state`: s, deg, ft, kt, deg, ft/min.
    ``received_at`` is None for incoming batches (they are received "now").
    """

    party_id: IntArray
    time: FloatArray
    id: StrArray
    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray
    #: Broker wall time each state was received (Unix s); set on states read from storage.
    received_at: FloatArray | None = None

    def __len__(self) -> int:
        """Number of states."""
        return int(self.time.shape[0])


@dataclass(frozen=True)
class AlertRecord:
    """One alert event as one party may see it: its own aircraft, never the intruder's id.

    Zone alerts (``zone`` set) have no intruder: ``t_in_s`` is the time to entry.

    The intruder appears only as relative geometry at alert time, seen from the own
    aircraft, at a cockpit traffic display's precision: range (NM, to 0.1), true
    bearing (deg, to 1), relative altitude (ft, intruder minus own, to 100) and
    closure rate (kt, positive when closing, to 10); ``t_in_s`` to 1 s.

    ``reason`` says why: on ``cleared`` events ``resolved`` (no longer predicted),
    ``stale`` (an aircraft's track went stale), ``left_zone`` (zone alerts); a short
    free string (at most :data:`REASON_MAX_CHARS`), None when there is nothing to say.
    """

    id: int  # 0 until stored
    conflict_id: str
    party_id: int
    own_id: str
    event: str  # new | updated | cleared
    level: str
    manoeuvre: str
    target_vs_fpm: float | None
    target_track_deg: float | None
    t_in_s: float | None
    time: float  # snapshot time the alert was computed for (s)
    created_at: float  # broker wall time (Unix s)
    intruder_range_nm: float | None
    intruder_bearing_deg: float | None
    intruder_rel_alt_ft: float | None
    intruder_closure_kt: float | None
    #: The protected zone an entry or violation alert is about (None for conflicts).
    zone: str | None = None
    #: Why the event happened (see above); None for most ``new`` and ``updated`` events.
    reason: str | None = None


#: Longest ``AlertRecord.reason``.
REASON_MAX_CHARS = 32


@dataclass(frozen=True)
class PlanVolumeRecord:
    """One planned operation volume a party submitted, kept as its GeoJSON feature (text)."""

    party_id: int
    volume_id: str
    feature: str  # GeoJSON Feature, JSON text, as validated on submission
    created_at: float  # Unix s


@dataclass(frozen=True)
class OverlapRecord:
    """An overlap as one party may see it: its own volume, the overlap region, band, window.

    Never the other party's volume, id or identity: only where, when and at which
    levels the two plans come within the minima.
    """

    id: int  # 0 until stored
    overlap_id: str  # opaque, shared by the two parties' halves
    party_id: int
    own_volume_id: str
    region: str  # GeoJSON geometry of the overlap, JSON text
    alt_lower_ft: float
    alt_upper_ft: float
    time_start_s: float
    time_end_s: float
    created_at: float


#: TrackBatch columns of every state, in order (``received_at`` aside).
BATCH_FIELDS = ("party_id", "id", "time", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")


def empty_batch(*, received: bool = False) -> TrackBatch:
    """A TrackBatch with no states (``received``: with an empty ``received_at`` column)."""
    f = np.zeros(0, dtype=np.float64)
    return TrackBatch(
        party_id=np.zeros(0, dtype=np.int64),
        time=f,
        id=np.zeros(0, dtype=np.str_),
        lat=f,
        lon=f,
        alt_ft=f,
        gs_kt=f,
        track_deg=f,
        vs_fpm=f,
        received_at=f if received else None,
    )


def check_batch(batch: TrackBatch) -> None:
    """Raise :class:`~deconflict.errors.InputError` unless every column is finite and as long.

    (SQLite would store NaN as NULL, so both backends refuse it the same way.)
    """
    n = len(batch)
    for name in BATCH_FIELDS:
        column = np.asarray(getattr(batch, name))
        if column.shape != (n,):
            raise InputError(
                f"track batch column {name!r} has shape {column.shape}; expected ({n},)"
            )
        if name not in ("party_id", "id"):
            bad = np.flatnonzero(~np.isfinite(column.astype(np.float64)))
            if bad.size:
                raise InputError(
                    f"track batch column {name!r} row {int(bad[0])}: {column[bad[0]]!r} "
                    "is not a finite number"
                )


def unknown_party_error(unknown: Iterable[int], what: str) -> InputError:
    """The error for rows naming parties that do not exist."""
    ids = ", ".join(str(i) for i in sorted(unknown))
    return InputError(f"party_id {ids} names no party; no {what} were stored")


#: AlertRecord fields that may be None.
OPTIONAL_ALERT_FLOATS = (
    "target_vs_fpm",
    "target_track_deg",
    "t_in_s",
    "intruder_range_nm",
    "intruder_bearing_deg",
    "intruder_rel_alt_ft",
    "intruder_closure_kt",
)


def optional_float(value: float | None) -> float | None:
    """None for None and NaN (stored as NULL on every backend), else the float."""
    if value is None:
        return None
    value = float(value)
    return None if value != value else value


def clean_alert(alert: AlertRecord) -> AlertRecord:
    """The alert with NaN optional numbers turned into None, as every backend stores them.

    The alert itself when every optional number is already None or a finite-or-infinite
    Python float (the broker's own records): no copy per stored event.
    """
    if all(
        value is None or (type(value) is float and value == value)
        for value in (getattr(alert, name) for name in OPTIONAL_ALERT_FLOATS)
    ):
        return alert
    return dataclasses.replace(
        alert, **{name: optional_float(getattr(alert, name)) for name in OPTIONAL_ALERT_FLOATS}
    )


def sort_latest(batch: TrackBatch) -> TrackBatch:
    """Order states by party id, then aircraft id (code-point order, backend-independent)."""
    if len(batch) < 2:
        return batch
    order = np.lexsort((batch.id, batch.party_id))
    return take_states(batch, order)


def take_states(batch: TrackBatch, index: np.ndarray) -> TrackBatch:
    """The states at ``index`` (``received_at`` too, when the batch has it)."""
    received = None if batch.received_at is None else batch.received_at[index]
    return TrackBatch(
        **{name: getattr(batch, name)[index] for name in BATCH_FIELDS}, received_at=received
    )
