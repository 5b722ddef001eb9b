"""Broker settings: flags, then ``DECONFLICT_*`` environment variables, then defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Validated broker settings (units in the names)."""

    model_config = SettingsConfigDict(env_prefix="DECONFLICT_", extra="ignore", frozen=True)

    db: str = "sqlite:///deconflict.db"
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
    #: The hotline relay's signed audit log [default: beside an SQLite database, X.audit.jsonl].
    audit_log: Path | None = None
    #: The relay's Ed25519 signing key file, made on first start [default: X.relay.key].
    key_file: Path | None = None
    #: Secret mixed into opaque conflict ids; generated at start when empty.
    id_secret: str = ""
    #: Largest request body and WebSocket frame (bytes): bigger gets 413, or close 1009.
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1)
    #: Failed authentications one client address may make per window; then 429.
    auth_max_failures: int = Field(20, ge=1)
    #: The failed-authentication window (s).
    auth_window_s: float = Field(60.0, gt=0)
