"""The shared agreement: the bare safety protocol two parties accept, and nothing more.

An :class:`Agreement` is frozen and validated; its :attr:`Agreement.fingerprint` is the
SHA-256 of a canonical JSON form, so two parties can confirm they run identical rules
by comparing 64 hex characters. The text form is TOML (:meth:`Agreement.from_toml`,
:meth:`Agreement.to_toml`); reading and writing files is the outer layers' job.

>>> ag = Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)
>>> ag.horizontal_nm, ag.vertical_ft, ag.lookahead_s
(5.0, 1000.0, 300.0)
>>> Agreement.from_toml(ag.to_toml()).fingerprint == ag.fingerprint
True
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deconflict._util import one_line_error
from deconflict.errors import AgreementError

#: Version of the canonical form hashed by :attr:`Agreement.fingerprint`.
CANONICAL_FORM_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, v: Any) -> Any:
        # ``true`` is no number of feet: pydantic would quietly read it as 1.
        if isinstance(v, bool):
            raise ValueError("expected a number, got a boolean")
        return v


class AlertThresholds(_Frozen):
    """Times to predicted loss of separation (s) at which the alert level rises.

    ``advisory`` is raised for any conflict within the look-ahead; ``caution`` when
    loss is predicted within ``caution_s``; ``warning`` within ``warning_s`` or when
    separation is already lost. A threshold beyond the look-ahead simply means every
    conflict is at least at that level.
    """

    caution_s: float = Field(120.0, gt=0, allow_inf_nan=False)
    warning_s: float = Field(60.0, gt=0, allow_inf_nan=False)
    #: A level is lowered only once time to loss exceeds its threshold by this much (s).
    hysteresis_s: float = Field(10.0, ge=0, allow_inf_nan=False)
    #: A conflict is cleared only after it has been absent this long (s).
    clear_after_s: float = Field(5.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> AlertThresholds:
        if self.warning_s >= self.caution_s:
            raise ValueError(
                f"warning_s ({self.warning_s}) must be less than caution_s ({self.caution_s})"
            )
        return self


class ResolutionRules(_Frozen):
    """What coordinated advisories may ask of an aircraft, and how they break ties.

    ``margin`` is the fraction of each minimum added when clearing a conflict (0.2:
    aim for 6 NM / 1200 ft when the minima are 5 NM / 1000 ft). Magnitudes assume
    the pilot reacts after ``reaction_s`` and then turns at ``turn_rate_dps`` or
    changes vertical speed at ``vertical_accel_fps2``. ``tie_break`` names the rule
    deciding who climbs when neither aircraft is above the other: ``id_hash``, a
    keyed hash of the two ids that both parties compute alike.
    """

    margin: float = Field(0.2, ge=0, le=1, allow_inf_nan=False)
    reaction_s: float = Field(5.0, ge=0, le=60, allow_inf_nan=False)
    max_vs_fpm: float = Field(3000.0, gt=0, le=10000, allow_inf_nan=False)
    min_alt_ft: float = Field(1000.0, ge=-2000, allow_inf_nan=False)
    max_alt_ft: float = Field(45000.0, le=100000, allow_inf_nan=False)
    max_turn_deg: float = Field(90.0, gt=0, le=180, allow_inf_nan=False)
    turn_rate_dps: float = Field(3.0, gt=0, le=30, allow_inf_nan=False)
    vertical_accel_fps2: float = Field(8.0, gt=0, le=64, allow_inf_nan=False)
    tie_break: Literal["id_hash"] = "id_hash"

    @model_validator(mode="after")
    def _altitudes_ordered(self) -> ResolutionRules:
        if self.min_alt_ft >= self.max_alt_ft:
            raise ValueError(
                f"min_alt_ft ({self.min_alt_ft}) must be below max_alt_ft ({self.max_alt_ft})"
            )
        return self


class StrategicRules(_Frozen):
    """The cell grid of the private (PSI) overlap check.

    It sits in the agreement because both sides must discretise alike.

    Fine cells are H3 hexagons at ``h3_fine_res`` × ``band_ft`` altitude bands ×
    ``slot_s`` time slots; a coarse cell is a fine cell's parent: H3 ``h3_coarse_res``
    × ``coarse_bands`` bands × ``coarse_slots`` slots.
    """

    h3_fine_res: int = Field(8, ge=0, le=15)
    h3_coarse_res: int = Field(5, ge=0, le=15)
    band_ft: float = Field(500.0, gt=0, le=100000, allow_inf_nan=False)
    coarse_bands: int = Field(10, ge=1, le=1000)
    slot_s: float = Field(300.0, gt=0, le=86400, allow_inf_nan=False)
    coarse_slots: int = Field(3, ge=1, le=1000)

    @model_validator(mode="after")
    def _coarse_is_coarser(self) -> StrategicRules:
        if self.h3_coarse_res > self.h3_fine_res:
            raise ValueError(
                f"h3_coarse_res ({self.h3_coarse_res}) must not exceed h3_fine_res "
                f"({self.h3_fine_res})"
            )
        return self


class ReplayRules(_Frozen):
    """How ``deconflict replay`` reads recorded traffic and tells real losses from artefacts.

    ``gap_limit_s``: a flight is put on the replay's time grid by linear interpolation
    between consecutive reports, never across a gap longer than this (no position is
    invented there). ``level_adjacent_tol_ft``: a loss whose closest vertical distance
    stays within this of the vertical minimum, between two level aircraft (``|vs|`` at
    most ``level_vs_fpm``) whose altitudes sit on flight levels exactly one minimum
    apart, is ``level_adjacent`` (altitude coding and barometric noise, not a loss).
    ``same_aircraft_nm``: two ids that never separate by more than this while both are
    seen are one aircraft (``same_aircraft``). ``formation_nm`` and ``formation_s``: a
    pair closer than ``formation_nm`` for longer than ``formation_s`` flies in formation.
    ``min_airborne_gs_kt``: reports with a reported ground speed below this are dropped
    as not airborne (aircraft standing or taxiing without the on-ground flag; 0 keeps
    them, e.g. for rotorcraft). Sources and rationale: docs/replay.md.
    """

    gap_limit_s: float = Field(60.0, gt=0, le=3600, allow_inf_nan=False)
    level_adjacent_tol_ft: float = Field(75.0, ge=0, le=500, allow_inf_nan=False)
    level_vs_fpm: float = Field(300.0, ge=0, le=5000, allow_inf_nan=False)
    same_aircraft_nm: float = Field(0.5, ge=0, le=10, allow_inf_nan=False)
    formation_nm: float = Field(0.5, ge=0, le=10, allow_inf_nan=False)
    formation_s: float = Field(60.0, ge=0, le=3600, allow_inf_nan=False)
    min_airborne_gs_kt: float = Field(50.0, ge=0, le=200, allow_inf_nan=False)


class Agreement(_Frozen):
    """Separation minima, look-ahead, alert thresholds and protected airspace.

    Units are in the field names: NM, ft, s. Construct with keywords::

        Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)
    """

    name: str = Field("default", min_length=1, max_length=200)
    version: int = Field(1, ge=1)
    parties: tuple[str, ...] = ()
    horizontal_nm: float = Field(5.0, gt=0, le=100, allow_inf_nan=False)
    vertical_ft: float = Field(1000.0, gt=0, le=20000, allow_inf_nan=False)
    lookahead_s: float = Field(300.0, gt=0, le=3600, allow_inf_nan=False)
    alerts: AlertThresholds = Field(default_factory=AlertThresholds)
    resolution: ResolutionRules = Field(default_factory=ResolutionRules)
    strategic: StrategicRules = Field(default_factory=StrategicRules)
    #: Archive replay: gap limit and the artefact filters (see :class:`ReplayRules`).
    replay: ReplayRules = Field(default_factory=ReplayRules)
    #: Protected airspace (zones); detailed by the zones module. Plain mappings for now.
    protected_areas: tuple[dict[str, Any], ...] = ()

    def __init__(self, **data: Any) -> None:
        """Validate keyword fields; a bad one raises :class:`AgreementError` naming it."""
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise AgreementError(f"agreement: {one_line_error(err, 'field', got=True)}") from None

    @field_validator("parties")
    @classmethod
    def _distinct_parties(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in v):
            raise ValueError("party names must not be empty")
        if len(set(v)) != len(v):
            raise ValueError(f"party names must be distinct, got {list(v)}")
        return v

    # -- canonical form and fingerprint -------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        """Plain, order-independent form: numbers as floats, keys sorted on output.

        The ``replay`` section is left out while it holds the defaults, so agreements
        written before it existed keep their fingerprints; any other value is hashed.
        """
        data = self.model_dump()
        if self.replay == ReplayRules():
            del data["replay"]
        return {"canonical_form": CANONICAL_FORM_VERSION, **_normalise(data)}

    def canonical_json(self) -> str:
        """The exact text hashed by :attr:`fingerprint` (sorted keys, no spaces)."""
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`; equal iff the rules are equal."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    # -- TOML -------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, text: str, source: str = "agreement") -> Agreement:
        """Parse TOML text; errors name ``source`` and the bad field."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise AgreementError(f"{source}: not valid TOML: {err}") from None
        try:
            return cls(**data)
        except AgreementError as err:
            raise AgreementError(f"{source}: {str(err).removeprefix('agreement: ')}") from None

    def to_toml(self) -> str:
        """TOML text that :meth:`from_toml` reads back to an equal agreement."""
        data = self.model_dump()
        data["parties"] = list(data["parties"])
        data["protected_areas"] = [dict(a) for a in data["protected_areas"]]
        return tomli_w.dumps(data)


def _normalise(value: Any) -> Any:
    """Numbers → float (so 5 and 5.0 hash alike), tuples → lists, recursively."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        f = float(value)
        if not math.isfinite(f):
            raise AgreementError(f"agreement: non-finite number {value!r} in canonical form")
        return f
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value
