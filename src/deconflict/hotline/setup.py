"""Wiring a relay: its signing key and audit log, beside its database or in the data dir."""

from __future__ import annotations

from pathlib import Path

from deconflict.datadir import BROKER, make_private_dir, relay_file
from deconflict.hotline.audit import AuditLog, check_log_free
from deconflict.hotline.keys import load_key_file, new_key_file


def open_audit(
    db_url: str,
    audit_log: Path | None,
    key_file: Path | None,
    data_dir: Path | None = None,
    stem: str = BROKER,
) -> AuditLog | None:
    """The relay's audit log (0600), signed with its own key (made 0600 on first start).

    Unless given, both lie beside an SQLite database ``X.db`` (``X.audit.jsonl``,
    ``X.relay.key``), else in the data directory (``<stem>.audit.jsonl``, …); None for an
    in-memory database. A key file that group or others can read is refused
    (:class:`InputError`).
    """
    log_path = audit_log or relay_file(db_url, ".audit.jsonl", data_dir, stem)
    key_path = key_file or relay_file(db_url, ".relay.key", data_dir, stem)
    if log_path is None or key_path is None:
        return None
    for path in (log_path, key_path):
        make_private_dir(path.parent)
    key = load_key_file(key_path, private=True) if key_path.exists() else new_key_file(key_path)
    return AuditLog.open(log_path, key)


def check_relay_files(key_file: Path | None, audit_log: Path | None) -> None:
    """Before start-up: :class:`InputError` for a bad relay key or a busy audit log.

    A key file that others can access is refused, and so is an audit log that another
    relay is writing (say, a second broker on one data directory).
    """
    if key_file is not None and key_file.exists():
        load_key_file(key_file, private=True)
    if audit_log is not None:
        check_log_free(audit_log)
