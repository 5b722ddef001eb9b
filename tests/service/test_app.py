"""The broker's application in process, on the in-memory repository (no subprocess).

The subprocess tests (``test_broker.py``) cover the same routes against SQL; these pin
the wiring: paths, methods, operation ids, status codes and bodies.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from deconflict.service.app import create_app
from deconflict.service.settings import Settings
from deconflict.store.records import AlertRecord
from deconflict.store.tokens import hash_token
from tests.fakes.memory import MemoryRepository, memory_hotline

with warnings.catch_warnings():  # Starlette asks for httpx2, which is not installed
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

#: Every operation of the broker: (method, path) → operation id. Clients are generated
#: from these: they never change.
OPERATION_IDS = {
    ("get", "/health"): "health",
    ("get", "/agreement"): "get_agreement",
    ("post", "/agreement/ack"): "ack_agreement",
    ("post", "/cycle"): "post_cycle",
    ("post", "/tracks"): "post_tracks",
    ("get", "/tracks"): "get_tracks",
    ("get", "/alerts"): "list_alerts",
    ("get", "/alerts/{conflict_id}"): "get_alert",
    ("get", "/parties"): "list_parties",
    ("post", "/operations"): "post_operations",
    ("get", "/operations/overlaps"): "list_overlaps",
    ("get", "/hotline/head"): "hotline_audit_head",
    ("get", "/hotline/inbox"): "hotline_inbox",
    ("post", "/hotline/inbox/ack"): "hotline_ack",
    ("put", "/hotline/key"): "hotline_register_key",
    ("get", "/hotline/keys"): "hotline_keys",
    ("post", "/hotline/messages"): "hotline_send",
    ("get", "/hotline/overdue"): "hotline_overdue",
    ("get", "/hotline/whoami"): "hotline_whoami",
    ("get", "/hotline/recent"): "hotline_recent",
    ("get", "/hotline/channel"): "hotline_channel",
}
TRACK = {
    "time": 100.0,
    "id": "B1",
    "lat": 48.0,
    "lon": 2.0,
    "alt_ft": 30000.0,
    "gs_kt": 450.0,
    "track_deg": 90.0,
    "vs_fpm": 0.0,
}


class Parties:
    def __init__(self, repo: MemoryRepository) -> None:
        self.ids: dict[str, int] = {}
        self.headers: dict[str, dict[str, str]] = {}
        for name in ("blue", "red", "wg"):
            token = f"token-of-{name}"
            party = repo.add_party(name, hash_token(token), is_admin=name == "wg")
            self.ids[name] = party.id
            self.headers[name] = {"Authorization": f"Bearer {token}"}


@pytest.fixture
def repo() -> MemoryRepository:
    return MemoryRepository()


@pytest.fixture
def parties(repo: MemoryRepository) -> Parties:
    return Parties(repo)


@pytest.fixture
def client(repo: MemoryRepository, parties: Parties) -> Iterator[TestClient]:
    hotline = memory_hotline(repo)
    app = create_app(Settings(db="sqlite://", id_secret="s"), repo, hotline)
    with TestClient(app) as c:
        yield c
    hotline.close()


def test_operation_ids_are_stable(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    found = {(m, p): op["operationId"] for p, ops in paths.items() for m, op in ops.items()}
    assert found == OPERATION_IDS


def test_repo_and_hotline_come_together(repo: MemoryRepository):
    with pytest.raises(TypeError, match="together"):
        create_app(Settings(db="sqlite://"), repo)


def test_health_agreement_and_ack(client: TestClient, parties: Parties):
    assert client.get("/health").json() == {"status": "ok"}
    blue = parties.headers["blue"]
    assert client.get("/agreement").status_code == 401
    agreement = client.get("/agreement", headers=blue).json()
    fp = agreement["fingerprint"]
    wrong = client.post("/agreement/ack", headers=blue, json={"fingerprint": "0" * 64})
    assert wrong.status_code == 409
    assert wrong.json()["detail"].startswith("fingerprint does not match")
    ok = client.post("/agreement/ack", headers=blue, json={"fingerprint": fp})
    assert ok.json() == {"acknowledged": fp}


def test_tracks_need_the_agreement_then_come_back(client: TestClient, parties: Parties):
    blue, admin = parties.headers["blue"], parties.headers["wg"]
    refused = client.post("/tracks", headers=blue, json=[TRACK])
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "acknowledge the agreement (POST /agreement/ack) before sending tracks"
    }
    refused = client.post("/operations", headers=blue, json={})
    assert refused.json() == {
        "detail": "acknowledge the agreement (POST /agreement/ack) before submitting plans"
    }
    fp = client.get("/agreement", headers=blue).json()["fingerprint"]
    client.post("/agreement/ack", headers=blue, json={"fingerprint": fp})
    assert client.post("/tracks", headers=blue, json=[TRACK]).json() == {"accepted": 1}
    assert client.get("/tracks", headers=blue).json() == [{**TRACK, "party": None}]
    assert client.get("/tracks", headers=admin).json() == [{**TRACK, "party": "blue"}]
    assert client.get("/tracks", headers=parties.headers["red"]).json() == []
    with client.websocket_connect("/stream", headers=blue) as ws:
        ws.send_text(
            '[{"time": 101.0, "id": "B2", "lat": 48.0, "lon": 2.1, "alt_ft": 1000.0,'
            ' "gs_kt": 100.0, "track_deg": 0.0, "vs_fpm": 0.0}]'
        )
        assert ws.receive_json() == {"type": "accepted", "accepted": 1}
    assert len(client.get("/tracks", headers=blue).json()) == 2


def test_alerts_as_the_party_and_the_admin(
    client: TestClient, repo: MemoryRepository, parties: Parties
):
    [stored] = repo.add_alerts(
        [
            AlertRecord(
                id=0,
                conflict_id="C1",
                party_id=parties.ids["blue"],
                own_id="B1",
                event="new",
                level="RA",
                manoeuvre="climb",
                target_vs_fpm=1500.0,
                target_track_deg=None,
                t_in_s=20.0,
                time=100.0,
                created_at=1.5,
                intruder_range_nm=3.2,
                intruder_bearing_deg=90.0,
                intruder_rel_alt_ft=-100.0,
                intruder_closure_kt=400.0,
            )
        ]
    )
    expected = {
        "id": stored.id,
        "conflict_id": "C1",
        "own_id": "B1",
        "event": "new",
        "level": "RA",
        "manoeuvre": "climb",
        "target_vs_fpm": 1500.0,
        "target_track_deg": None,
        "t_in_s": 20.0,
        "time": 100.0,
        "created_at": 1.5,
        "intruder": {
            "range_nm": 3.2,
            "bearing_deg": 90.0,
            "rel_alt_ft": -100.0,
            "closure_kt": 400.0,
        },
        "zone": None,
        "reason": None,
        "party": None,
    }
    assert client.get("/alerts", headers=parties.headers["blue"]).json() == [expected]
    assert client.get("/alerts/C1", headers=parties.headers["blue"]).json() == [expected]
    assert client.get("/alerts/C1", headers=parties.headers["red"]).status_code == 404
    admin = parties.headers["wg"]
    assert client.get("/alerts", headers=admin).json() == [{**expected, "party": "blue"}]


def test_parties_for_the_admin_only(client: TestClient, parties: Parties):
    assert client.get("/parties", headers=parties.headers["blue"]).status_code == 404
    listed = client.get("/parties", headers=parties.headers["wg"]).json()
    assert listed[0] == {
        "name": "blue",
        "is_admin": False,
        "revoked": False,
        "acked_fingerprint": None,
    }
    assert [p["name"] for p in listed] == ["blue", "red", "wg"]


def test_cycle_is_the_admins_and_only_in_lockstep(client: TestClient, parties: Parties):
    """POST /cycle: hidden from a party (404); 409 on a broker that runs its own loop."""
    assert client.post("/cycle", headers=parties.headers["blue"]).status_code == 404
    refused = client.post("/cycle", headers=parties.headers["wg"])
    assert refused.status_code == 409
    assert refused.json() == {"detail": "POST /cycle needs a broker started in lockstep"}
