"""Broker settings: flags, then ``DECONFLICT_BROKER_*`` variables, then defaults.

The names the broker read before (``DECONFLICT_DB``, ``DECONFLICT_PORT``,
``DECONFLICT_RELAY_KEY_FILE``, …: ``DECONFLICT_`` and the field) still work; the
``DECONFLICT_BROKER_*`` name wins when both are set. A party client's variables
(``DECONFLICT_KEY_FILE``, ``DECONFLICT_TOKEN``) are never read.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from deconflict.api.settings import RelaySettings, Storage, role_config
from deconflict.datadir import BROKER

#: Default ``track_retention_s`` (s): five minutes of live picture.
DEFAULT_TRACK_RETENTION_S = 300.0

#: Where the broker's settings come from (see the module docstring).
BROKER_CONFIG = role_config("BROKER", old_prefix="DECONFLICT_")


class BrokerDatabase(Storage):
    """The broker's database alone, as the commands that share it (``party``) find it."""

    model_config = BROKER_CONFIG
    stem = BROKER


class Settings(RelaySettings):
    """Validated broker settings (units in the names)."""

    model_config = BROKER_CONFIG
    stem = BROKER

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    #: Agreement TOML file; the default agreement when unset.
    agreement: Path | None = None
    #: A track not updated for this long (s, in the tracks' own time base) is dropped.
    stale_after_s: float = Field(30.0, gt=0)
    #: Track states received longer ago than this (s, broker clock) are deleted from the
    #: database: the live picture's history, not the record (alerts are kept). At least
    #: ``stale_after_s``, so a restart still finds every live track [default: 300, or
    #: ``stale_after_s`` if longer].
    track_retention_s: float = Field(None, gt=0, validate_default=True)  # type: ignore[assignment]
    #: Shortest interval between two detection cycles (s); new data triggers a cycle.
    detect_interval_s: float = Field(0.05, gt=0, le=10)
    #: Longest interval between two cycles even without new data (s).
    idle_interval_s: float = Field(1.0, gt=0, le=60)
    #: Secret mixed into opaque conflict ids; generated at start when empty.
    id_secret: str = ""
    #: Exercises in fast time: the clock is the newest track time (s), and detection runs
    #: only on ``POST /cycle`` (the admin), each cycle announced on every ``/stream``.
    lockstep: bool = False

    @field_validator("track_retention_s", mode="before")
    @classmethod
    def _default_retention(cls, value: object, info: ValidationInfo) -> object:
        if value is None or value == "":
            return max(DEFAULT_TRACK_RETENTION_S, info.data.get("stale_after_s") or 0.0)
        return value

    @field_validator("track_retention_s")
    @classmethod
    def _keeps_live_tracks(cls, value: float, info: ValidationInfo) -> float:
        stale = info.data.get("stale_after_s")
        if stale is not None and value < stale:
            raise ValueError(
                f"must be at least stale_after_s ({stale:g} s): a restart reads live tracks back"
            )
        return value
