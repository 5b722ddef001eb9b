"""The same broker code on a real PostgreSQL server (skips, saying why, without one)."""

from __future__ import annotations

from pathlib import Path

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
