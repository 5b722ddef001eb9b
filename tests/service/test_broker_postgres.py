"""The same broker code on a real PostgreSQL server (skips, saying why, without one)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from deconflict.store.migrate import upgrade
from tests.service.conftest import start_broker
from tests.service.test_broker import A1, setup_conflict


def test_broker_on_postgresql_survives_kill_9(pg_url: str, tmp_path: Path):
    upgrade(pg_url)
    broker = start_broker(pg_url, tmp_path)
    try:
        a, b, admin = setup_conflict(broker, 50.0)
        alert = a.get("/alerts").json()[0]
        assert alert["own_id"] == "BLUE-A1" and "RED" not in str(a.get("/alerts").json())
        for k in range(10):
            batch = [
                {**A1, "id": f"PG-{k}-{j}", "lat": -20 - j, "time": 300.0 + k} for j in range(3)
            ]
            assert a.post("/tracks", json=batch).json() == {"accepted": 3}
        raised = {x["id"] for x in admin.get("/alerts").json()}
        broker.kill9()
        broker = start_broker(pg_url, tmp_path)
        a.base = admin.base = broker.url
        ids = {t["id"] for t in a.get("/tracks", params={"limit": 5000}).json()}
        assert {f"PG-{k}-{j}" for k in range(10) for j in range(3)} <= ids
        assert raised <= {x["id"] for x in admin.get("/alerts").json()}
        assert b.name not in str(a.get("/tracks").json())
    finally:
        broker.stop()


def test_serve_on_postgresql_with_no_paths_writes_nothing_in_its_working_directory(
    pg_url: str, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """The relay's key and audit log go to the data directory (0700), owner-only."""
    for name in ("DECONFLICT_AUDIT_LOG", "DECONFLICT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    upgrade(pg_url)
    here = tmp_path / "here"
    here.mkdir()
    broker = start_broker(pg_url, tmp_path, cwd=here)
    broker.stop()
    assert list(here.iterdir()) == []
    files = sorted(p.name for p in data_dir.iterdir())
    assert files == ["deconflict.audit.jsonl", "deconflict.relay.key"]
    modes = {name: stat.S_IMODE((data_dir / name).stat().st_mode) for name in files}
    assert modes == dict.fromkeys(files, 0o600)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
