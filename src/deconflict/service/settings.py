"""Broker settings: flags, then ``DECONFLICT_*`` environment variables, then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deconflict.datadir import BROKER, default_data_dir, default_db_url, relay_file


class RequestLimits(BaseSettings):
    """The limits every relay puts on its callers (the broker's and the backup's)."""

    #: Largest request body and WebSocket frame (bytes): bigger gets 413, or close 1009.
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1)
    #: Failed authentications one client address may make per window; then 429.
    auth_max_failures: int = Field(20, ge=1)
    #: The failed-authentication window (s).
    auth_window_s: float = Field(60.0, gt=0)


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


def with_default_paths(values: Any, stem: str, db_fields: tuple[str, ...] = ("db",)) -> Any:
    """Fill the paths nobody gave from the data directory (a settings class's raw input).

    Each of ``db_fields`` defaults to ``DATA_DIR/<stem>.db`` (the first) or the broker's
    database (the others); ``audit_log`` and ``relay_key_file`` to :func:`relay_file` of the first.
    """
    if not isinstance(values, dict):
        return values
    out = dict(values)
    data_dir = Path(str(out.get("data_dir") or default_data_dir())).expanduser()
    out["data_dir"] = data_dir
    for i, name in enumerate(db_fields):
        if not out.get(name):
            out[name] = default_db_url(data_dir, stem if i == 0 else BROKER)
    db = str(out[db_fields[0]])
    for name, suffix in (("audit_log", ".audit.jsonl"), ("relay_key_file", ".relay.key")):
        if not out.get(name):
            out[name] = relay_file(db, suffix, data_dir, stem)
    return out
