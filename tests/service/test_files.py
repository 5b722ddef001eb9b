"""Files the broker and the backup relay create: where (the data directory, never the working
directory unless named) and with which modes (owner only); a relay key others can read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from deconflict.errors import InputError
from deconflict.hotline.audit import AuditLog
from deconflict.hotline.keys import new_key_file
from deconflict.hotline.setup import open_audit
from tests.conftest import run_deconflict
from tests.service.conftest import cli, free_port, start_broker

#: Variables that would name the files this module wants defaulted.
PATH_VARIABLES = (
    "DECONFLICT_DB",
    "DECONFLICT_AUDIT_LOG",
    "DECONFLICT_RELAY_KEY_FILE",
    "DECONFLICT_BROKER_DB",
    "DECONFLICT_BROKER_AUDIT_LOG",
    "DECONFLICT_BROKER_KEY_FILE",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def no_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_paths")
def test_party_add_then_serve_meet_in_the_data_dir_and_write_nothing_here(
    tmp_path: Path, data_dir: Path
):
    here = tmp_path / "here"
    here.mkdir()
    token = cli("party", "add", "blue", cwd=here).stdout.strip().splitlines()[-1]
    broker = start_broker(None, tmp_path, cwd=here)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{broker.url}/agreement", headers=auth).status_code == 200
    finally:
        broker.stop()
    assert list(here.iterdir()) == []
    assert mode(data_dir) == 0o700
    names = {p.name for p in data_dir.iterdir()}
    assert {"deconflict.db", "deconflict.relay.key", "deconflict.audit.jsonl"} <= names
    assert names <= {
        "deconflict.db",
        "deconflict.db-wal",
        "deconflict.db-shm",
        "deconflict.relay.key",
        "deconflict.audit.jsonl",
    }
    assert {name: mode(data_dir / name) for name in names} == dict.fromkeys(names, 0o600)


@pytest.mark.usefixtures("no_paths")
def test_data_dir_flag_and_defaults(tmp_path: Path, data_dir: Path):
    chosen = tmp_path / "chosen"
    res = subprocess.run(
        [sys.executable, "-m", "deconflict", "serve", "--data-dir", str(chosen), "--port", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2 and res.stderr.startswith("error: setting 'port'")
    assert not chosen.exists() and not data_dir.exists()  # bad input: nothing created
    from deconflict.service.settings import Settings

    settings = Settings(data_dir=chosen)
    assert settings.db == f"sqlite:///{chosen / 'deconflict.db'}"
    assert settings.audit_log == chosen / "deconflict.audit.jsonl"
    assert Settings(db="postgresql://u@h/x").relay_key_file == data_dir / "deconflict.relay.key"
    assert Settings(db=f"sqlite:///{tmp_path / 'b.db'}").relay_key_file == tmp_path / "b.relay.key"
    assert Settings(db="sqlite://").audit_log is None  # in memory: nothing written


def test_a_partys_key_variable_never_reaches_the_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from deconflict.hotline.backup import BackupSettings
    from deconflict.service.settings import Settings

    db = f"sqlite:///{tmp_path / 'b.db'}"
    monkeypatch.setenv("DECONFLICT_KEY_FILE", str(tmp_path / "blue.key"))  # the client's
    assert Settings(db=db).relay_key_file == tmp_path / "b.relay.key"
    assert BackupSettings(db=db).relay_key_file == tmp_path / "b.relay.key"
    monkeypatch.setenv("DECONFLICT_RELAY_KEY_FILE", str(tmp_path / "relay.key"))
    monkeypatch.setenv("DECONFLICT_BACKUP_RELAY_KEY_FILE", str(tmp_path / "backup.key"))
    assert Settings(db=db).relay_key_file == tmp_path / "relay.key"
    assert BackupSettings(db=db).relay_key_file == tmp_path / "backup.key"


def relay_command(which: str, tmp_path: Path) -> tuple[list[str], Path]:
    """The command line of a relay on SQLite files in ``tmp_path``, and its key file."""
    broker_db = f"sqlite:///{tmp_path / 'broker.db'}"
    port = str(free_port())
    if which == "broker":
        return ["serve", "--db", broker_db, "--port", port], tmp_path / "broker.relay.key"
    backup_db = f"sqlite:///{tmp_path / 'backup.db'}"
    args = ["hotline", "backup", "--db", backup_db, "--registry-db", broker_db, "--port", port]
    return args, tmp_path / "backup.relay.key"


@pytest.mark.parametrize("which", ["broker", "backup"])
def test_a_relay_refuses_a_key_file_others_can_read(tmp_path: Path, which: str):
    args, key = relay_command(which, tmp_path)
    new_key_file(key)
    key.chmod(0o644)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconflict", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # the old code served on: stop it
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2, err
    assert err.strip() == (
        f"error: signing key file {key}: group or others have access (mode 0644); "
        f"run `chmod 600 {key}`"
    )
    assert "Traceback" not in out + err


@pytest.mark.parametrize("bits", [0o640, 0o604, 0o620])
def test_open_audit_refuses_a_key_others_can_access(tmp_path: Path, bits: int):
    key = tmp_path / "relay.key"
    new_key_file(key)
    key.chmod(bits)
    with pytest.raises(InputError, match=r"chmod 600"):
        open_audit("sqlite://", tmp_path / "a.jsonl", key)
    assert not (tmp_path / "a.jsonl").exists()
    key.chmod(0o600)
    log = open_audit("sqlite://", tmp_path / "a.jsonl", key)
    assert log is not None
    log.close()


def test_audit_logs_are_private(tmp_path: Path):
    key = new_key_file(tmp_path / "k")
    with AuditLog.open(tmp_path / "new.jsonl", key):
        pass
    assert mode(tmp_path / "new.jsonl") == 0o600
    old = tmp_path / "old.jsonl"
    with AuditLog.open(old, key):
        pass
    old.chmod(0o644)  # a log written before logs were private
    with AuditLog.open(old, key):
        pass
    assert mode(old) == 0o600


@pytest.mark.usefixtures("no_paths")
def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = subprocess.run(
        [sys.executable, "-m", "deconflict", "party", "add", "blue"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "DECONFLICT_DATA_DIR": str(blocker / "data")},
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == f"error: cannot create folder {blocker / 'data'}: Not a directory"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_deconflict(*args, cwd=cwd)


@pytest.mark.usefixtures("no_paths")
def test_a_relay_that_cannot_start_says_why_in_one_line_and_makes_nothing(
    tmp_path: Path, data_dir: Path
):
    here = tmp_path / "here"
    here.mkdir()
    broker = start_broker(None, tmp_path, cwd=here)
    try:
        # A second broker on the same data directory: the audit log is taken.
        second = run_cli("serve", "--port", str(free_port()), cwd=here)
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and "open for writing elsewhere" in second.stderr
        assert "Traceback" not in second.stderr and "broker on" not in second.stdout
        # Its port is taken: refused before any file is made.
        other = tmp_path / "other"
        for args in (["serve"], ["hotline", "backup"]):
            res = run_cli(*args, "--data-dir", str(other), "--port", str(broker.port), cwd=here)
            assert res.returncode == 2, res.stderr
            assert res.stderr.startswith(f"error: cannot listen on 127.0.0.1:{broker.port}")
            assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
            assert not other.exists()
        assert list(here.iterdir()) == []
    finally:
        broker.stop()
