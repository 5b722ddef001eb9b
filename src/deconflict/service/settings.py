"""Broker settings: flags, then ``DECONFLICT_*`` environment variables, then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from deconflict.api.limits import RequestLimits
from deconflict.datadir import BROKER, default_data_dir, with_default_paths


class Settings(RequestLimits):
    """Validated broker settings (units in the names)."""

    model_config = SettingsConfigDict(env_prefix="DECONFLICT_", extra="ignore", frozen=True)

    #: Folder of every file nobody named: the default database, and the relay's key and
    #: audit log when the database is not an SQLite file (created 0700 when first used).
    data_dir: Path = Field(default_factory=default_data_dir)
    #: Database URL [default: DATA_DIR/deconflict.db].
    db: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    #: Agreement TOML file; the default agreement when unset.
    agreement: Path | None = None
    #: A track not updated for this long (s, in the tracks' own time base) is dropped.
    stale_after_s: float = Field(30.0, gt=0)
    #: Shortest interval between two detection cycles (s); new data triggers a cycle.
    detect_interval_s: float = Field(0.05, gt=0, le=10)
    #: Longest interval between two cycles even without new data (s).
    idle_interval_s: float = Field(1.0, gt=0, le=60)
    #: The hotline relay's signed audit log [default: beside an SQLite database X.db,
    #: X.audit.jsonl; else DATA_DIR/deconflict.audit.jsonl; none in memory].
    audit_log: Path | None = None
    #: The relay's Ed25519 signing key file, made on first start [default: X.relay.key,
    #: else DATA_DIR/deconflict.relay.key].
    relay_key_file: Path | None = None
    #: Secret mixed into opaque conflict ids; generated at start when empty.
    id_secret: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_paths(cls, values: Any) -> Any:
        return with_default_paths(values, BROKER)
