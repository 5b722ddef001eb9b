"""Plain records exchanged between the repository and the service (no ORM objects leak)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
