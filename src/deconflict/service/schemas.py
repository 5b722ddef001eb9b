"""Request and response bodies of the broker's API, per role.

Responses are built from the repository's records by pydantic (``from_attributes``),
not field by field.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from deconflict._util import iso_utc
from deconflict.names import MAX_ID_CHARS
from deconflict.store.records import AlertRecord, OverlapRecord, TrackBatch
from deconflict.tactical.state import BOUNDS

FiniteFloat = float


def _lo(col: str) -> float:
    """Lower bound of a state column (the one set of bounds, :data:`BOUNDS`)."""
    return BOUNDS[col][0]


def _hi(col: str) -> float:
    """Upper bound of a state column."""
    return BOUNDS[col][1]


class TrackIn(BaseModel):
    """One aircraft state; the party is the authenticated one (units in the names).

    Strict: a number is a JSON number (not ``true`` or ``"20"``), an id a JSON string.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    time: float = Field(ge=_lo("time"), le=_hi("time"), allow_inf_nan=False, description="s")
    id: str = Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="aircraft id (own party): printable, no control or format characters",
    )
    lat: float = Field(ge=_lo("lat"), le=_hi("lat"), allow_inf_nan=False, description="deg WGS84")
    lon: float = Field(ge=_lo("lon"), le=_hi("lon"), allow_inf_nan=False, description="deg WGS84")
    alt_ft: float = Field(ge=_lo("alt_ft"), le=_hi("alt_ft"), allow_inf_nan=False)
    gs_kt: float = Field(ge=_lo("gs_kt"), le=_hi("gs_kt"), allow_inf_nan=False)
    track_deg: float = Field(
        ge=_lo("track_deg"),
        le=_hi("track_deg"),
        allow_inf_nan=False,
        description="deg, stored normalised into [0, 360)",
    )
    vs_fpm: float = Field(ge=_lo("vs_fpm"), le=_hi("vs_fpm"), allow_inf_nan=False)


class TrackColumns(BaseModel):
    """The compact columnar form of a batch: one equal-length list per column (strict types)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    time: list[float]
    id: list[str]
    lat: list[float]
    lon: list[float]
    alt_ft: list[float]
    gs_kt: list[float]
    track_deg: list[float]
    vs_fpm: list[float]


class Accepted(BaseModel):
    """A batch was committed."""

    accepted: int


class AckIn(BaseModel):
    """A party's acknowledgement of the agreement it runs."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")


class AckOut(BaseModel):
    """The acknowledged fingerprint."""

    acknowledged: str


class Intruder(BaseModel):
    """The other aircraft, only as geometry relative to one's own at alert time.

    At a cockpit traffic display's precision: range to 0.1 NM, true bearing to 1 deg,
    relative altitude (intruder minus own) to 100 ft, closure (positive closing) to 10 kt.
    """

    # Read from an AlertRecord's intruder_* attributes too (validation only).
    range_nm: float | None = Field(
        description="NM, to 0.1", validation_alias=AliasChoices("range_nm", "intruder_range_nm")
    )
    bearing_deg: float | None = Field(
        description="deg true, to 1, in [0, 360)",
        validation_alias=AliasChoices("bearing_deg", "intruder_bearing_deg"),
    )
    rel_alt_ft: float | None = Field(
        description="ft, intruder minus own, to 100",
        validation_alias=AliasChoices("rel_alt_ft", "intruder_rel_alt_ft"),
    )
    closure_kt: float | None = Field(
        description="kt, positive when closing, to 10",
        validation_alias=AliasChoices("closure_kt", "intruder_closure_kt"),
    )


class AlertOut(BaseModel):
    """One alert event as the receiving party may see it."""

    id: int
    conflict_id: str
    own_id: str
    event: Literal["new", "updated", "cleared"]
    level: str
    manoeuvre: str
    target_vs_fpm: float | None
    target_track_deg: float | None
    t_in_s: float | None = Field(description="s to loss of separation (or zone entry), to 1")
    time: float
    created_at: float
    intruder: Intruder
    zone: str | None = Field(None, description="protected zone (zone alerts only)")
    reason: str | None = Field(
        None,
        max_length=32,
        description="why: on cleared events resolved, stale or left_zone",
    )
    party: str | None = Field(None, description="receiving party (admin views only)")

    @classmethod
    def of(cls, record: AlertRecord, party: str | None = None) -> AlertOut:
        """The event as its party sees it; ``party`` names that party (admin views)."""
        return cls.model_validate(
            {
                **dataclasses.asdict(record),
                "intruder": Intruder.model_validate(record, from_attributes=True),
                "party": party,
            }
        )


class TrackOut(BaseModel):
    """One of the party's own latest states."""

    time: float
    id: str
    lat: float
    lon: float
    alt_ft: float
    gs_kt: float
    track_deg: float
    vs_fpm: float
    party: str | None = Field(None, description="owning party (admin views only)")

    @classmethod
    def rows(
        cls, batch: TrackBatch, limit: int, names: dict[int, str] | None = None
    ) -> list[TrackOut]:
        """The first ``limit`` states of ``batch``; ``names`` (admin views) names their parties."""
        fields = [name for name in cls.model_fields if name != "party"]
        columns = [getattr(batch, name)[:limit].tolist() for name in fields]
        names = names if names is not None else {}
        parties = batch.party_id[:limit].tolist()
        return [
            cls.model_validate({**dict(zip(fields, row, strict=True)), "party": names.get(pid)})
            for pid, *row in zip(parties, *columns, strict=True)
        ]


class PartyOut(BaseModel):
    """A party as the admin sees it."""

    name: str
    is_admin: bool
    revoked: bool
    acked_fingerprint: str | None


class OverlapOut(BaseModel):
    """One overlap as the receiving party may see it."""

    overlap_id: str
    own_volume_id: str
    region: dict[str, Any] = Field(description="GeoJSON geometry of the overlap (lon/lat)")
    alt_lower_ft: float
    alt_upper_ft: float
    time_start: str = Field(description="ISO 8601 UTC")
    time_end: str = Field(description="ISO 8601 UTC")
    party: str | None = Field(None, description="receiving party (admin views only)")

    @classmethod
    def of(cls, record: OverlapRecord, party: str | None = None) -> OverlapOut:
        """The overlap as its party sees it; ``party`` names that party (admin views)."""
        return cls.model_validate(
            {
                **dataclasses.asdict(record),
                "region": json.loads(record.region),
                "time_start": iso_utc(record.time_start_s),
                "time_end": iso_utc(record.time_end_s),
                "party": party,
            }
        )


class OperationsAccepted(BaseModel):
    """Volumes stored, and the overlaps they have with other parties' plans."""

    accepted: int
    overlaps: list[OverlapOut]


class Health(BaseModel):
    """Service health."""

    status: Literal["ok"]


class Problem(BaseModel):
    """An error: ``detail`` says what is wrong and, for bad input, names the field."""

    detail: str


#: The answers every authenticated operation may give.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, unknown or revoked token"},
    422: {"model": Problem, "description": "Bad input; the detail names the field"},
}
