"""The map's feed in process: ``picture`` frames on ``/stream``, token as a subprotocol,
the hotline panel's endpoints; need-to-know in each (no browser)."""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from nacl.signing import SigningKey

from deconflict.hotline.keys import public_hex
from deconflict.hotline.messages import new_message
from deconflict.service.app import create_app
from deconflict.service.hub import PICTURE_DUE, Hub
from deconflict.service.picture import MAP_PROTOCOL, Picture
from deconflict.service.settings import Settings
from deconflict.store.tokens import hash_token
from deconflict.web.routes import mount_map
from tests.fakes.memory import MemoryRepository, memory_hotline

with warnings.catch_warnings():  # Starlette asks for httpx2, which is not installed
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def track(t: float, id_: str, lat: float, lon: float) -> dict[str, object]:
    return {
        "time": t,
        "id": id_,
        "lat": lat,
        "lon": lon,
        "alt_ft": 20000.0,
        "gs_kt": 450.0,
        "track_deg": 90.0,
        "vs_fpm": 0.0,
    }


@pytest.fixture
def repo() -> MemoryRepository:
    repo = MemoryRepository()
    for name in ("blue", "red", "wg"):
        repo.add_party(name, hash_token(f"token-{name}"), is_admin=name == "wg")
    return repo


@pytest.fixture
def client(repo: MemoryRepository) -> Iterator[TestClient]:
    hotline = memory_hotline(repo)
    app = mount_map(create_app(Settings(db="sqlite://", id_secret="s"), repo, hotline))
    with TestClient(app) as c:
        yield c
    hotline.close()


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{name}"}


def ack(client: TestClient, name: str) -> None:
    fp = client.get("/agreement", headers=auth(name)).json()["fingerprint"]
    assert client.post("/agreement/ack", headers=auth(name), json={"fingerprint": fp}).is_success


def next_picture(ws: object, cycle_after: int = 0) -> dict[str, object]:
    while True:
        frame = ws.receive_json()  # type: ignore[attr-defined]
        if frame["type"] == "picture" and frame["cycle"] > cycle_after and frame["aircraft"]["id"]:
            return frame


def test_the_map_feed_carries_own_aircraft_only(client: TestClient) -> None:
    for name in ("blue", "red"):
        ack(client, name)
    now = time.time()
    client.post("/tracks", headers=auth("blue"), json=[track(now, "B1", 35.0, 38.0)])
    client.post("/tracks", headers=auth("red"), json=[track(now, "R1", 35.0, 38.5)])
    # The browser's way: the token as a subprotocol beside the map's; only the map's echoed.
    with client.websocket_connect(
        "/stream", subprotocols=[MAP_PROTOCOL, "bearer.token-blue"]
    ) as ws:
        assert ws.accepted_subprotocol == MAP_PROTOCOL
        frame = next_picture(ws)
        assert frame["aircraft"]["id"] == ["B1"] and "party" not in frame["aircraft"]
        assert frame["at_s"] == pytest.approx(time.time(), abs=30)
    with client.websocket_connect("/stream", subprotocols=[MAP_PROTOCOL, "bearer.token-wg"]) as ws:
        frame = next_picture(ws)
        assert sorted(zip(frame["aircraft"]["party"], frame["aircraft"]["id"], strict=True)) == [
            ("blue", "B1"),
            ("red", "R1"),
        ]


def test_a_stream_without_the_map_protocol_gets_no_pictures(client: TestClient) -> None:
    ack(client, "blue")
    with client.websocket_connect("/stream", headers=auth("blue")) as ws:
        assert ws.accepted_subprotocol is None
        ws.send_text(json.dumps([track(time.time(), "B1", 35.0, 38.0)]))
        assert ws.receive_json() == {"type": "accepted", "accepted": 1}


def test_a_bad_subprotocol_token_is_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/stream", subprotocols=[MAP_PROTOCOL, "bearer.nope"]) as ws,
    ):
        ws.receive_json()


def test_a_slow_reader_gets_the_newest_picture_only() -> None:
    async def run() -> list[object]:
        hub = Hub()
        sub = hub.subscribe(1, False, wants_picture=True)
        one = np.ones(1)
        for cycle in (1, 2, 3):
            hub.publish_picture(
                Picture(
                    cycle,
                    0.0,
                    0.0,
                    np.array([1]),
                    np.array(["blue"]),
                    np.array(["B1"]),
                    one,
                    one,
                    one,
                    one,
                    one,
                    one,
                )
            )
        await asyncio.sleep(0)
        items = []
        while not sub.queue.empty():
            items.append(sub.queue.get_nowait())
        return [items, sub.picture]

    items, picture = asyncio.run(run())
    assert items == [PICTURE_DUE]
    assert json.loads(picture.text(1))["cycle"] == 3  # type: ignore[union-attr]


def test_hotline_panel_endpoints_keep_to_need_to_know(
    client: TestClient, repo: MemoryRepository
) -> None:
    keys = {name: SigningKey.generate() for name in ("blue", "red", "wg")}
    for name, key in keys.items():
        body = {"public_key": public_hex(key)}
        assert client.put("/hotline/key", headers=auth(name), json=body).is_success

    def send(sender: str, to: str, body: str, seq: int) -> None:
        msg = new_message(keys[sender], kind="notice", sender=sender, to=to, seq=seq, body=body)
        r = client.post(
            "/hotline/messages", headers=auth(sender), json={"messages": [msg.model_dump()]}
        )
        assert r.json()["stored"] == [msg.id]

    send("blue", "red", "blue to red", 1)
    send("wg", "red", "wg to red only", 1)
    send("wg", "all", "wg to all", 2)
    seen = {
        name: [
            r["message"]["body"] for r in client.get("/hotline/recent", headers=auth(name)).json()
        ]
        for name in ("blue", "red", "wg")
    }
    assert seen["blue"] == ["wg to all", "blue to red"]  # newest first; not wg's note to red
    assert seen["red"] == ["wg to all", "wg to red only", "blue to red"]
    assert seen["wg"] == seen["red"]
    status = client.get("/hotline/channel", headers=auth("blue")).json()
    assert status == {"relay": "primary", "connected": False, "since": None, "parties": None}
    with client.websocket_connect("/hotline/ws", headers=auth("blue")):
        assert client.get("/hotline/channel", headers=auth("blue")).json()["connected"] is True
        wg = client.get("/hotline/channel", headers=auth("wg")).json()
        assert wg["parties"] == {"blue": True}
    assert client.get("/hotline/channel", headers=auth("blue")).json()["connected"] is False
    assert client.get("/hotline/whoami", headers=auth("wg")).json()["admin"] is True


def test_unknown_basemap_layer_is_404(client: TestClient) -> None:
    assert client.get("/map/basemap/secrets.geojson").status_code == 404
    assert client.get("/map/static/vendor/maplibre-gl/VERSION").text.strip() == (
        "maplibre-gl@5.24.1"
    )


def test_one_picture_in_flight_until_the_map_is_ready() -> None:
    async def run() -> list[object]:
        hub = Hub()
        sub = hub.subscribe(1, False, wants_picture=True)
        one = np.ones(1)

        def picture(cycle: int) -> Picture:
            return Picture(
                cycle,
                0.0,
                0.0,
                np.array([1]),
                np.array(["blue"]),
                np.array(["B1"]),
                one,
                one,
                one,
                one,
                one,
                one,
            )

        hub.publish_picture(picture(1))
        await asyncio.sleep(0)
        got = [sub.queue.get_nowait() is PICTURE_DUE, sub.take_picture().cycle]
        for cycle in (2, 3):  # drawn slower than the cycles run: nothing more is queued
            hub.publish_picture(picture(cycle))
        await asyncio.sleep(0)
        got += [sub.queue.empty(), sub.take_picture()]
        sub.ready_for_picture()  # drawn: the newest comes next
        got += [sub.queue.get_nowait() is PICTURE_DUE, sub.take_picture().cycle]
        return got

    assert asyncio.run(run()) == [True, 1, True, None, True, 3]
