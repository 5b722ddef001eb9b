"""The broker as parties use it: a real server on 127.0.0.1, HTTP and WebSocket."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import text
from websockets.sync.client import connect

from deconflict.store.migrate import upgrade
from deconflict.store.sql import SqlRepository
from tests.service.conftest import Broker, Client, cli, clients, start_broker, wait_for

# Blue's A1 and red's B1 head-on, 12 NM apart at FL300: a conflict at once.
A1 = {
    "time": 100.0,
    "id": "BLUE-A1",
    "lat": 45.0,
    "lon": 5.0,
    "alt_ft": 30000.0,
    "gs_kt": 400.0,
    "track_deg": 0.0,
    "vs_fpm": 0.0,
}
B1 = {
    "time": 100.0,
    "id": "RED-B1",
    "lat": 45.2,
    "lon": 5.0,
    "alt_ft": 30000.0,
    "gs_kt": 400.0,
    "track_deg": 180.0,
    "vs_fpm": 0.0,
}
# A small plan of blue's, for the walk through POST /operations.
OPS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [5.0, 20.0]},
            "properties": {
                "id": "blue-op",
                "radius_m": 5000,
                "alt_lower_ft": 0,
                "alt_upper_ft": 5000,
                "time_start": "2026-11-23T10:00:00Z",
                "time_end": "2026-11-23T11:00:00Z",
            },
        }
    ],
}
# Red's other aircraft, far away: blue must never learn of it.
B2 = {
    "time": 100.0,
    "id": "RED-B2-SECRET",
    "lat": 47.123456,
    "lon": 8.654321,
    "alt_ft": 21000.0,
    "gs_kt": 300.0,
    "track_deg": 90.0,
    "vs_fpm": 0.0,
}


def setup_conflict(broker: Broker, lat0: float) -> tuple[Client, Client, Client]:
    """A fresh blue/red pair in conflict near latitude ``lat0`` (tests keep apart by it)."""
    a, b, admin = clients(broker)
    a.ack()
    b.ack()
    assert a.post("/tracks", json=[{**A1, "lat": lat0}]).json() == {"accepted": 1}
    assert b.post("/tracks", json=[{**B1, "lat": lat0 + 0.2}, B2]).json() == {"accepted": 2}
    wait_for(lambda: a.get("/alerts").json())
    wait_for(lambda: b.get("/alerts").json())
    return a, b, admin


def test_health_needs_no_token_everything_else_does(broker: Broker):
    assert httpx.get(broker.url + "/health").json() == {"status": "ok"}
    for path in ("/agreement", "/alerts", "/tracks"):
        r = httpx.get(broker.url + path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    bad = Client("x", "not-a-token", broker.url)
    assert bad.get("/alerts").status_code == 401


def test_tracks_need_the_agreement_acknowledged(broker: Broker):
    a, _, _ = clients(broker)
    r = a.post("/tracks", json=[A1])
    assert r.status_code == 403 and "acknowledge" in r.json()["detail"]
    r = a.post("/agreement/ack", json={"fingerprint": "0" * 64})
    assert r.status_code == 409
    agreement = a.get("/agreement").json()
    assert agreement["horizontal_nm"] == 5.0 and len(agreement["fingerprint"]) == 64
    a.ack()
    assert a.post("/tracks", json=[A1]).json() == {"accepted": 1}


def test_conflict_alerts_disclose_only_relative_geometry(broker: Broker):
    a, b, admin = setup_conflict(broker, 10.0)
    alert_a = a.get("/alerts").json()[0]
    alert_b = b.get("/alerts").json()[0]
    assert alert_a["conflict_id"] == alert_b["conflict_id"]
    assert alert_a["own_id"] == "BLUE-A1" and alert_b["own_id"] == "RED-B1"
    assert {alert_a["manoeuvre"], alert_b["manoeuvre"]} == {"climb", "descend"}
    assert alert_a["level"] in ("advisory", "caution", "warning")
    intruder = alert_a["intruder"]
    assert intruder["range_nm"] == pytest.approx(12.0, abs=0.2)
    assert (intruder["bearing_deg"] + 180) % 360 - 180 == pytest.approx(0.0, abs=0.5)
    assert intruder["closure_kt"] == pytest.approx(800.0, abs=5)
    assert "RED" not in json.dumps(a.get("/alerts").json())
    # History of one conflict; someone else's (or an unknown) conflict is a 404.
    assert a.get(f"/alerts/{alert_a['conflict_id']}").status_code == 200
    assert a.get("/alerts/Cdeadbeefdeadbeef").status_code == 404
    # Own tracks only; the admin sees every party's.
    assert {t["id"] for t in a.get("/tracks").json()} == {"BLUE-A1"}
    every = {(t["party"], t["id"]) for t in admin.get("/tracks", params={"limit": 10000}).json()}
    assert {(a.name, "BLUE-A1"), (b.name, "RED-B1"), (b.name, "RED-B2-SECRET")} <= every
    assert {a.name, b.name} <= {x["party"] for x in admin.get("/alerts").json()}
    assert a.get("/parties").status_code == 404
    assert {a.name, b.name, admin.name} <= {p["name"] for p in admin.get("/parties").json()}


def test_disclosure_walk_of_every_endpoint(broker: Broker):
    """Party blue walks the whole OpenAPI schema: nothing of red's leaks."""
    a, b, _ = setup_conflict(broker, 20.0)
    conflict_id = a.get("/alerts").json()[0]["conflict_id"]
    schema = httpx.get(broker.url + "/openapi.json").json()
    forbidden = ["RED-B1", "RED-B2-SECRET", b.name, "47.123", "8.654", "20.2", "21000"]
    walked = 0
    for path, ops in schema["paths"].items():
        for method in ops:
            url = path.replace("{conflict_id}", conflict_id)
            if method == "get":
                r = a.get(url, params={"name": ["nobody"]} if path == "/hotline/keys" else None)
            elif path == "/tracks":
                r = a.post(url, json=[{**A1, "lat": 20.0, "time": 101.0}])
            elif path == "/operations":
                r = a.post(url, json=OPS)
            elif path == "/agreement/ack":
                r = a.post(url, json={"fingerprint": a.get("/agreement").json()["fingerprint"]})
            elif path == "/hotline/key":
                r = httpx.put(a.base + url, headers=a.headers, json={"public_key": "ab" * 32})
            elif path == "/hotline/messages":
                r = a.post(url, json={"messages": [{"kind": "notice", "to": b.name}]})
            elif path == "/hotline/inbox/ack":
                r = a.post(url, json={"ids": [1, 2, 3]})
            elif path == "/cycle":  # the exercise host's (admin) only: hidden from a party
                r = a.post(url)
                assert r.status_code == 404, r.text
            else:
                pytest.fail(f"unwalked endpoint {method.upper()} {path}")
            walked += 1
            assert r.status_code < 500, (path, r.text)
            for secret in forbidden:
                assert secret not in r.text, f"{method.upper()} {path} leaks {secret!r}"
    assert walked >= 8
    # The stream pushes only blue's half too.
    with connect(broker.url.replace("http", "ws") + "/stream", additional_headers=a.headers) as ws:
        ws.send(json.dumps([{**A1, "lat": 20.0, "time": 102.0}]))
        b.post("/tracks", json=[{**B1, "lat": 20.2, "time": 102.0}])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                text = ws.recv(timeout=1)
            except TimeoutError:
                continue
            for secret in forbidden:
                assert secret not in text


def test_websocket_batches_and_pushed_alerts(broker: Broker):
    a, b, _ = clients(broker)
    a.ack()
    b.ack()
    ws_url = broker.url.replace("http", "ws") + "/stream"
    with connect(ws_url + f"?token={a.token}") as ws:
        ws.send(json.dumps([{**A1, "lat": 30.0}]))
        assert json.loads(ws.recv(timeout=10)) == {"type": "accepted", "accepted": 1}
        # Columnar form over the same socket.
        cols = {k: [v] for k, v in {**A1, "lat": 30.0, "time": 101.0}.items()}
        ws.send(json.dumps(cols))
        assert json.loads(ws.recv(timeout=10))["accepted"] == 1
        ws.send(json.dumps([{**A1, "lat": 95}]))
        err = json.loads(ws.recv(timeout=10))
        assert err["type"] == "error" and err["status"] == 422 and "lat" in err["detail"]
        b.post("/tracks", json=[{**B1, "lat": 30.2, "time": 101.0}])
        pushed = json.loads(ws.recv(timeout=10))
        assert pushed["type"] == "alert" and pushed["own_id"] == "BLUE-A1"
        assert pushed["event"] == "new" and "RED" not in json.dumps(pushed)
    with pytest.raises(Exception), connect(ws_url + "?token=wrong") as ws:  # noqa: B017
        ws.recv(timeout=5)


def test_bad_payloads_are_422_naming_the_field(broker: Broker):
    a, _, _ = clients(broker)
    a.ack()
    r = a.post("/tracks", json=[{**A1, "lat": 95.0}])
    assert r.status_code == 422 and "[0].lat" in r.json()["detail"]
    r = a.post("/tracks", json=[{**A1, "party": "red"}])
    assert r.status_code == 422 and "party" in r.json()["detail"]
    r = a.post("/tracks", json=[{k: v for k, v in A1.items() if k != "vs_fpm"}])
    assert r.status_code == 422 and "vs_fpm" in r.json()["detail"]
    r = a.post("/tracks", json=[A1, A1])
    assert r.status_code == 422 and "duplicate id" in r.json()["detail"]
    r = a.post(
        "/tracks", content=b"not json", headers={**a.headers, "content-type": "application/json"}
    )
    assert r.status_code == 422
    r = a.post("/tracks", json={"time": [1.0], "id": ["X"]})
    assert r.status_code == 422 and "lat" in r.json()["detail"]
    r = a.post("/agreement/ack", json={"fingerprint": "xyz"})
    assert r.status_code == 422 and "fingerprint" in r.json()["detail"]


def test_parquet_and_columnar_batches(broker: Broker):
    a, _, _ = clients(broker)
    a.ack()
    frame = pd.DataFrame([{**A1, "id": f"BLUE-{k}", "lat": -60 + k * 0.5} for k in range(50)])
    buf = io.BytesIO()
    frame.to_parquet(buf)
    r = a.post(
        "/tracks",
        content=buf.getvalue(),
        headers={**a.headers, "content-type": "application/vnd.apache.parquet"},
    )
    assert r.json() == {"accepted": 50}
    cols = frame.assign(time=101.0).to_dict(orient="list")
    assert a.post("/tracks", json=cols).json() == {"accepted": 50}
    latest = a.get("/tracks").json()  # one row per aircraft: its latest state
    assert len(latest) == 50 and {t["time"] for t in latest} == {101.0}


def test_party_commands_and_revocation(broker: Broker):
    res = cli("party", "add", "cli-blue", "--db", broker.db)
    token = res.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token), "the token alone on the last line"
    a = Client("cli-blue", token, broker.url)
    assert a.get("/alerts").status_code == 200
    assert "cli-blue" in cli("party", "list", "--db", broker.db).stdout
    cli("party", "revoke", "cli-blue", "--db", broker.db)
    assert a.get("/alerts").status_code == 401


def test_acknowledged_batches_and_alerts_survive_kill_9(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'kill.db'}"
    upgrade(db)
    broker = start_broker(db, tmp_path)
    a, _, admin = setup_conflict(broker, 40.0)
    raised = {x["id"] for x in admin.get("/alerts").json()}
    n = 40
    for k in range(n):
        batch = [
            {**A1, "id": f"BLUE-K{k}-{j}", "lat": -10 - j, "time": 200.0 + k} for j in range(5)
        ]
        assert a.post("/tracks", json=batch).json() == {"accepted": 5}
    broker.kill9()
    again = start_broker(db, tmp_path)
    try:
        a.base = again.url
        admin.base = again.url
        ids = {t["id"] for t in a.get("/tracks", params={"limit": 5000}).json()}
        assert {f"BLUE-K{k}-{j}" for k in range(n) for j in range(5)} <= ids
        assert raised <= {x["id"] for x in admin.get("/alerts").json()}
    finally:
        again.stop()


def test_openapi_has_stable_operation_ids(broker: Broker):
    schema = httpx.get(broker.url + "/openapi.json").json()
    ops = {op["operationId"] for p in schema["paths"].values() for op in p.values()}
    assert {
        "health",
        "get_agreement",
        "ack_agreement",
        "post_tracks",
        "get_tracks",
        "list_alerts",
        "get_alert",
        "list_parties",
    } <= ops
    assert all(re.fullmatch(r"[a-z_]+", o) for o in ops)


# -- issue 11 items 2, 3: stale tracks clear their alerts, before and after a restart ------


def cleared_halves(admin: Client, conflict_id: str) -> list[dict]:
    """The conflict's ``cleared`` events once both halves have one, else []."""
    events = admin.get(f"/alerts/{conflict_id}").json()
    cleared = [e for e in events if e["event"] == "cleared"]
    return cleared if len(cleared) == 2 else []


def test_conflicts_clear_when_every_track_goes_stale(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'stale.db'}"
    upgrade(db)
    broker = start_broker(db, tmp_path, "--stale-after-s", "3")
    try:
        a, b, admin = setup_conflict(broker, 50.0)  # one report per aircraft, then silence
        cid = a.get("/alerts").json()[0]["conflict_id"]
        cleared = wait_for(lambda: cleared_halves(admin, cid), timeout_s=30.0, step_s=0.2)
        assert {(e["party"], e["own_id"], e["reason"]) for e in cleared} == {
            (a.name, "BLUE-A1", "stale"),
            (b.name, "RED-B1", "stale"),
        }
        # Each party sees its own half cleared, with the reason.
        assert [(e["event"], e["reason"]) for e in a.get("/alerts").json()][-1] == (
            "cleared",
            "stale",
        )
    finally:
        broker.stop()


def test_a_restart_judges_staleness_by_when_the_broker_received_the_report(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'restart.db'}"
    upgrade(db)
    stale_after_s = 8.0
    broker = start_broker(db, tmp_path, "--stale-after-s", str(stale_after_s))
    try:
        a, _, admin = setup_conflict(broker, 55.0)
        cid = a.get("/alerts").json()[0]["conflict_id"]
    finally:
        broker.kill9()
    repo = SqlRepository(db)
    try:
        before = repo.alerts(None)
        with repo.engine.connect() as conn:
            newest = conn.execute(text("SELECT max(received_at) FROM track_states")).scalar_one()
    finally:
        repo.close()
    assert [x.event for x in before if x.conflict_id == cid] == ["new", "new"], (
        "the conflict was still open when the broker died"
    )
    # Wait (on the clock) until every report is older than stale_after_s, then restart.
    wait_for(lambda: time.time() - newest > stale_after_s + 0.5, timeout_s=30.0)
    again = start_broker(db, tmp_path, "--stale-after-s", str(stale_after_s))
    try:
        admin.base = again.url
        cleared = wait_for(lambda: cleared_halves(admin, cid), timeout_s=30.0, step_s=0.2)
        assert {(e["own_id"], e["reason"]) for e in cleared} == {
            ("BLUE-A1", "stale"),
            ("RED-B1", "stale"),
        }
        since = admin.get("/alerts", params={"after_id": before[-1].id}).json()
        assert [(e["event"], e["reason"]) for e in since] == [("cleared", "stale")] * 2, (
            "no new advisory for aircraft that were stale at the restart"
        )
    finally:
        again.stop()


# -- issue 11 item 18: GET /tracks gives each aircraft's latest state, once ---------------


def test_get_tracks_gives_one_row_per_aircraft(broker: Broker):
    a, _, admin = clients(broker)
    a.ack()
    for lat in (60.0, 60.1, 60.2):  # the same aircraft and time, three times
        batch = [{**A1, "id": "BLUE-DUP", "lat": lat, "time": 500.0}]
        assert a.post("/tracks", json=batch).json() == {"accepted": 1}
    own = [t for t in a.get("/tracks").json() if t["id"] == "BLUE-DUP"]
    assert [t["lat"] for t in own] == [60.2], "one row: the one received last"
    every = admin.get("/tracks", params={"limit": 10000}).json()
    assert [t["lat"] for t in every if (t["party"], t["id"]) == (a.name, "BLUE-DUP")] == [60.2]


# -- issue 11 item 19: what a party learns of the other, at display precision -------------

#: Disclosed alert numbers and the step each is rounded to.
STEPS = {
    "t_in_s": 1.0,
    "range_nm": 0.1,
    "bearing_deg": 1.0,
    "rel_alt_ft": 100.0,
    "closure_kt": 10.0,
}


def coarse(alert: dict) -> bool:
    """True when no disclosed number of ``alert`` is finer than its step."""
    values = {"t_in_s": alert["t_in_s"], **alert["intruder"]}
    for name, step in STEPS.items():
        v = values[name]
        if v is not None and abs(v / step - round(v / step)) > 1e-6:
            return False
    bearing = values["bearing_deg"]
    return bearing is None or 0 <= bearing < 360


def test_alerts_disclose_nothing_finer_than_a_traffic_display(broker: Broker):
    a, b, admin = clients(broker)
    a.ack()
    b.ack()
    # Odd geometry: every exact value has many decimals.
    odd_a = {**A1, "lat": 65.0, "lon": 5.0, "track_deg": 3.7, "time": 700.0}
    odd_b = {**B1, "lat": 65.1789, "lon": 5.0123, "alt_ft": 30370.0, "track_deg": 181.3}
    with connect(broker.url.replace("http", "ws") + "/stream", additional_headers=a.headers) as ws:
        ws.send(json.dumps([odd_a]))
        assert json.loads(ws.recv(timeout=10))["type"] == "accepted"
        assert b.post("/tracks", json=[{**odd_b, "time": 700.0}]).json() == {"accepted": 1}
        pushed = json.loads(ws.recv(timeout=10))
    assert pushed["type"] == "alert" and pushed["own_id"] == "BLUE-A1"
    assert pushed["intruder"]["range_nm"] is not None and coarse(pushed), pushed
    assert pushed["intruder"]["rel_alt_ft"] == 400.0
    alerts = a.get("/alerts").json() + b.get("/alerts").json() + admin.get("/alerts").json()
    assert len(alerts) >= 4
    assert all(coarse(x) for x in alerts), [x for x in alerts if not coarse(x)]


def stored_rows(db: str, table: str) -> int:
    repo = SqlRepository(db)
    try:
        with repo.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        repo.close()


def test_track_history_is_pruned_after_the_retention_and_alerts_are_kept(tmp_path: Path):
    """Issue 17 item 3: the track table stays bounded by the retention; the record stays."""
    db = f"sqlite:///{tmp_path / 'retention.db'}"
    upgrade(db)
    retention_s = 1.5
    broker = start_broker(
        db, tmp_path, "--stale-after-s", "1", "--track-retention-s", str(retention_s)
    )
    try:
        a, _, admin = setup_conflict(broker, 60.0)
        cid = a.get("/alerts").json()[0]["conflict_id"]
        # Blue reports 10 states a second for 4 s: the table holds about the retention's worth.
        sent, rows = 0, []
        start = time.monotonic()
        while time.monotonic() - start < 4.0:
            batch = [
                {**A1, "id": f"BLUE-R{j}", "lat": -20.0 - j, "time": 300.0 + sent} for j in range(5)
            ]
            assert a.post("/tracks", json=batch).json() == {"accepted": 5}
            sent += 5
            rows.append(stored_rows(db, "track_states"))
            time.sleep(0.5)
        assert sent >= 35
        # At most the retention (plus one prune interval and the delay of a post) of states.
        assert max(rows[-3:]) <= 10 * (retention_s + 0.5) + 5
        # Silence: every state goes, the alerts (new, then cleared as stale) stay.
        wait_for(lambda: stored_rows(db, "track_states") == 0, timeout_s=10.0)
        events = [(e["own_id"], e["event"]) for e in admin.get(f"/alerts/{cid}").json()]
        assert ("BLUE-A1", "new") in events and ("RED-B1", "new") in events
        wait_for(lambda: cleared_halves(admin, cid))
        assert a.get("/tracks").json() == []
    finally:
        broker.stop()
