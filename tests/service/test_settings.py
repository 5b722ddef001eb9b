"""Broker and backup settings: each role reads its own variables, the old names still work."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from deconflict.api.settings import env_names
from deconflict.cli.main import app
from deconflict.cli.party_cmd import database
from deconflict.hotline.backup import BackupSettings
from deconflict.hotline.keys import load_key_file, new_key_file
from deconflict.service.settings import BrokerDatabase, Settings
from tests.service.conftest import Broker, free_port

#: A party client's variables (``deconflict hotline``): never a relay's.
CLIENT_VARIABLES = ("DECONFLICT_KEY_FILE", "DECONFLICT_TOKEN")


def role_variables(cls: type) -> set[str]:
    return {name for f in cls.model_fields.values() for name in f.validation_alias.choices}


def test_no_relay_reads_a_clients_variable():
    for cls in (Settings, BackupSettings, BrokerDatabase):
        assert role_variables(cls).isdisjoint(CLIENT_VARIABLES), cls
    assert {"DECONFLICT_BROKER_KEY_FILE", "DECONFLICT_RELAY_KEY_FILE"} <= role_variables(Settings)
    assert {"DECONFLICT_BACKUP_KEY_FILE", "DECONFLICT_BACKUP_RELAY_KEY_FILE"} <= role_variables(
        BackupSettings
    )
    # the backup reads no broker variable but the shared data directory
    assert not {
        v for v in role_variables(BackupSettings) if not v.startswith("DECONFLICT_BACKUP_")
    } - {"DECONFLICT_DATA_DIR"}


@pytest.mark.parametrize(
    ("field", "old", "new", "value", "expected"),
    [
        ("db", "DECONFLICT_DB", "DECONFLICT_BROKER_DB", "sqlite:///x.db", "sqlite:///x.db"),
        ("port", "DECONFLICT_PORT", "DECONFLICT_BROKER_PORT", "8123", 8123),
        ("host", "DECONFLICT_HOST", "DECONFLICT_BROKER_HOST", "0.0.0.0", "0.0.0.0"),
        (
            "relay_key_file",
            "DECONFLICT_RELAY_KEY_FILE",
            "DECONFLICT_BROKER_KEY_FILE",
            "k",
            Path("k"),
        ),
        ("max_body_bytes", "DECONFLICT_MAX_BODY_BYTES", "DECONFLICT_BROKER_MAX_BODY_BYTES", "5", 5),
        ("stale_after_s", "DECONFLICT_STALE_AFTER_S", "DECONFLICT_BROKER_STALE_AFTER_S", "9", 9.0),
        ("id_secret", "DECONFLICT_ID_SECRET", "DECONFLICT_BROKER_ID_SECRET", "s", "s"),
        (
            "track_retention_s",
            "DECONFLICT_TRACK_RETENTION_S",
            "DECONFLICT_BROKER_TRACK_RETENTION_S",
            "90",
            90.0,
        ),
    ],
)
def test_broker_names_old_and_new(
    monkeypatch: pytest.MonkeyPatch, field: str, old: str, new: str, value: str, expected: object
):
    monkeypatch.setenv(old, value)
    assert getattr(Settings(), field) == expected  # the old name still works
    monkeypatch.delenv(old)
    monkeypatch.setenv(new, value)
    assert getattr(Settings(), field) == expected  # the new one works
    monkeypatch.setenv(old, "1")
    assert getattr(Settings(), field) == expected  # and wins over the old


def test_flags_win_and_errors_name_the_field(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DECONFLICT_BROKER_PORT", "8123")
    assert Settings(port=8124).port == 8124
    monkeypatch.setenv("DECONFLICT_PORT", "x")
    monkeypatch.setenv("DECONFLICT_BROKER_PORT", "y")
    with pytest.raises(ValueError, match=r"^1 validation error for Settings\nport\n"):
        Settings()


def test_data_dir_and_the_default_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DECONFLICT_DATA_DIR", str(tmp_path / "shared"))
    assert Settings().db == f"sqlite:///{tmp_path / 'shared' / 'deconflict.db'}"
    assert BackupSettings().registry_db == Settings().db
    assert BackupSettings().db == f"sqlite:///{tmp_path / 'shared' / 'deconflict-backup.db'}"
    monkeypatch.setenv("DECONFLICT_BROKER_DATA_DIR", str(tmp_path / "broker"))
    assert Settings().data_dir == tmp_path / "broker"
    assert BackupSettings().data_dir == tmp_path / "shared"
    assert database(None) == Settings().db == BrokerDatabase().db
    monkeypatch.setenv("DECONFLICT_DB", "sqlite:///old.db")
    assert database(None) == Settings().db == "sqlite:///old.db"
    monkeypatch.setenv("DECONFLICT_BROKER_DB", "sqlite:///new.db")
    assert database(None) == Settings().db == "sqlite:///new.db"
    assert database("sqlite:///flag.db") == "sqlite:///flag.db"


def test_backup_key_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DECONFLICT_BACKUP_RELAY_KEY_FILE", "old.key")
    assert BackupSettings().relay_key_file == Path("old.key")
    monkeypatch.setenv("DECONFLICT_BACKUP_KEY_FILE", "new.key")
    assert BackupSettings().relay_key_file == Path("new.key")
    monkeypatch.setenv("DECONFLICT_RELAY_KEY_FILE", "broker.key")  # the broker's, not ours
    assert BackupSettings().relay_key_file == Path("new.key")


def test_env_names_doc():
    assert env_names("BROKER", old_prefix="DECONFLICT_")("port").choices == [
        "DECONFLICT_BROKER_PORT",
        "DECONFLICT_PORT",
    ]


def test_a_broker_started_from_a_clients_shell_keeps_its_own_key(tmp_path: Path):
    """The client's ``DECONFLICT_KEY_FILE`` and ``DECONFLICT_TOKEN`` are set: the broker
    uses its own key (beside ``DECONFLICT_BROKER_DB``, which wins over ``DECONFLICT_DB``)."""
    client_key = tmp_path / "blue.key"
    new_key_file(client_key)
    before = client_key.read_bytes()
    port = free_port()
    broker = Broker(
        db=None,  # from the environment
        port=port,
        log=tmp_path / "broker.log",
        env={
            "DECONFLICT_KEY_FILE": str(client_key),
            "DECONFLICT_TOKEN": "not-the-brokers",
            "DECONFLICT_BROKER_DB": f"sqlite:///{tmp_path / 'b.db'}",
            "DECONFLICT_DB": f"sqlite:///{tmp_path / 'old.db'}",
        },
    )
    broker.start()
    try:
        assert httpx.get(f"{broker.url}/health").status_code == 200
    finally:
        broker.stop()
    assert (tmp_path / "b.db").exists() and not (tmp_path / "old.db").exists()
    relay_key = load_key_file(tmp_path / "b.relay.key", private=True)
    assert client_key.read_bytes() == before
    assert relay_key.encode() != load_key_file(client_key).encode()


def test_track_retention_defaults_to_five_minutes_and_keeps_live_tracks():
    assert Settings().track_retention_s == 300.0
    assert Settings(stale_after_s=600.0).track_retention_s == 600.0  # never below staleness
    assert Settings(stale_after_s=5.0, track_retention_s=5.0).track_retention_s == 5.0
    with pytest.raises(ValueError, match=r"track_retention_s\n.*at least stale_after_s \(30 s\)"):
        Settings(track_retention_s=10.0)


def test_serve_refuses_a_retention_shorter_than_staleness_in_one_line():
    res = CliRunner().invoke(app, ["serve", "--stale-after-s", "60", "--track-retention-s", "30"])
    assert res.exit_code == 2 and "track_retention_s" in res.stderr
    assert "at least stale_after_s (60 s)" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
