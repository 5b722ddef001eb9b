"""Wiring a relay: its store, its signing key and audit log beside the database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, make_url

from deconflict.hotline.audit import AuditLog
from deconflict.hotline.keys import load_key_file, new_key_file


def beside_database(url: str, suffix: str) -> Path | None:
    """``X.db`` → ``X<suffix>`` next to an SQLite file; the working directory otherwise.

    None for an in-memory database (nothing is written).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return None
        return Path(parsed.database).with_suffix(suffix)
    return Path(f"deconflict{suffix}")


def open_audit(db_url: str, audit_log: Path | None, key_file: Path | None) -> AuditLog | None:
    """The relay's audit log, signed with its own key (made on first start)."""
    log_path = audit_log or beside_database(db_url, ".audit.jsonl")
    key_path = key_file or beside_database(db_url, ".relay.key")
    if log_path is None or key_path is None:
        return None
    key = load_key_file(key_path) if key_path.exists() else new_key_file(key_path)
    return AuditLog.open(log_path, key)


def sqlite_memory(engine: Engine) -> bool:
    """True for an in-memory SQLite engine (tests)."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
