"""The relays over HTTP and WebSocket with real processes: deadlines, refusals, guard calls."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from deconflict.hotline.audit import entries, verify_log
from deconflict.hotline.client import HotlineClient
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.keys import load_key_file, new_key_file
from deconflict.hotline.messages import Message, new_message
from tests.hotline.conftest import Hotline, Party, until
from tests.service.conftest import quick_party


def client_of(h: Hotline, party: Party, **kw: Any) -> HotlineClient:
    return HotlineClient(
        ClientStore(party.store),
        load_key_file(party.key),
        party.token,
        h.broker_url,
        h.backup_url,
        **kw,
    )


def is_escalation(event: dict[str, Any], msg_id: str) -> bool:
    return event["type"] == "escalation" and event.get("id") == msg_id


def test_an_unanswered_request_is_escalated_once_and_listed_overdue(hotline: Hotline):
    events: list[dict[str, Any]] = []
    got: list[Message] = []

    async def run() -> tuple[str, str]:
        blue = client_of(hotline, hotline.blue, on_event=events.append)
        red = client_of(hotline, hotline.red, on_message=got.extend)
        await blue.start()
        await red.start()
        try:
            req = await blue.send("request", "red", "Confirm corridor C3 closed?", deadline_s=1)
            await until(lambda: any(e["type"] == "escalation" for e in events), 15)
            await until(lambda: any(m.id == req.id for m in got))
            overdue = httpx.get(
                f"{hotline.broker_url}/hotline/overdue",
                headers={"Authorization": f"Bearer {hotline.red.token}"},
                trust_env=False,
            ).json()
            assert [o["id"] for o in overdue] == [req.id]
            assert overdue[0]["to"] == "red" and overdue[0]["escalated"]
            assert [o.direction for o in red.store.owed(time.time())] == ["we owe them"]
            assert [o.direction for o in blue.store.owed(time.time())] == ["they owe us"]
            answer = await red.send("response", "blue", "C3 closed", in_reply_to=req.id)
            await until(lambda: bool(blue.store.outbox_row(req.id)["answered_at"]))  # type: ignore[index]
            assert answer.in_reply_to == req.id
            assert blue.store.owed(time.time()) == []
            # A probe request that falls due later: its escalation shows that a deadline
            # check ran after the answer; that check must not have escalated the first again.
            probe = await blue.send("request", "red", "Radio check?", deadline_s=1)
            await until(lambda: any(is_escalation(e, probe.id) for e in events), 15)
            return req.id, probe.id
        finally:
            await blue.stop()
            await red.stop()

    req_id, probe_id = asyncio.run(run())
    escalations = [e for e in events if e["type"] == "escalation"]
    assert [e["id"] for e in escalations] == [req_id, probe_id]
    hotline.stop()
    log = hotline.tmp / "broker.audit.jsonl"
    assert verify_log(log).ok
    escalated = [e["data"]["id"] for e in entries(log) if e["type"] == "escalation"]
    assert escalated == [req_id, probe_id]


def test_forged_and_misaddressed_messages_are_refused_and_recorded(hotline: Hotline):
    headers = {"Authorization": f"Bearer {hotline.blue.token}"}
    me = load_key_file(hotline.blue.key)
    key_hex = me.verify_key.encode().hex()
    put = httpx.put(
        f"{hotline.broker_url}/hotline/key", json={"public_key": key_hex}, headers=headers
    )
    assert put.status_code == 200
    good = new_message(me, kind="notice", sender="blue", to="red", seq=1, body="hello")
    forged = new_message(
        SigningKey.generate(), kind="notice", sender="blue", to="red", seq=2, body="x"
    )
    altered = good.model_copy(update={"body": "hello, altered"}).model_dump()
    as_red = new_message(me, kind="notice", sender="red", to="blue", seq=1, body="spoof")
    nobody = new_message(me, kind="notice", sender="blue", to="nobody", seq=3, body="?")
    body = {"messages": [m.model_dump() for m in (good, forged, as_red, nobody)] + [altered]}
    out = httpx.post(f"{hotline.broker_url}/hotline/messages", json=body, headers=headers).json()
    assert out["stored"] == [good.id]
    reasons = {r["id"]: r["reason"] for r in out["rejected"]}
    assert reasons[forged.id] == "bad signature"
    assert reasons[good.id] == "bad signature"  # the altered copy of it
    assert "not the authenticated party" in reasons[as_red.id]
    assert "unknown recipient" in reasons[nobody.id]
    # The backup refuses key registration: keys are registered with the broker only.
    again = httpx.put(
        f"{hotline.backup_url}/hotline/key", json={"public_key": key_hex}, headers=headers
    )
    assert again.status_code == 409
    for base in (hotline.broker_url, hotline.backup_url):
        assert (
            httpx.get(f"{base}/hotline/whoami", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
    with pytest.raises((InvalidStatus, WebSocketException, OSError)):
        ws_url = hotline.broker_url.replace("http", "ws") + "/hotline/ws?token=forged"
        with connect(ws_url) as ws:
            ws.recv(timeout=5)
    hotline.stop()
    log = hotline.tmp / "broker.audit.jsonl"
    refused = [e["data"] for e in entries(log) if e["type"] == "rejected"]
    assert len(refused) == 4 and {r["reason"] for r in refused} >= {"bad signature"}
    assert verify_log(log).ok


def test_a_distress_call_to_all_reaches_every_party_through_the_backup_alone(
    hotline: Hotline, tmp_path: Path
):
    db = hotline.broker.args[hotline.broker.args.index("--db") + 1]
    green = Party("green", quick_party(db, "green"), tmp_path / "green.key", tmp_path / "g.db")
    new_key_file(green.key)
    got: dict[str, list[Message]] = {"red": [], "green": []}

    async def run() -> None:
        clients = [
            client_of(hotline, hotline.blue),
            client_of(hotline, hotline.red, on_message=got["red"].extend),
            client_of(hotline, green, on_message=got["green"].extend),
        ]
        for c in clients:
            await c.start()  # registers each key with the broker
        hotline.broker.kill9()  # the broker is gone: the guard call must still get through
        try:
            msg = await clients[0].send("distress", "all", "MAYDAY BLUE11 engine fire")
            await until(lambda: all(any(m.id == msg.id for m in v) for v in got.values()))
            assert await clients[0].wait_relayed(msg.id, 5) == "backup"
            await until(lambda: bool(clients[0].store.outbox_row(msg.id)["acked_at"]))  # type: ignore[index]
        finally:
            for c in clients:
                await c.stop()

    asyncio.run(run())
    assert [m.kind for m in got["red"]] == ["distress"] == [m.kind for m in got["green"]]
    assert json.loads(got["red"][0].to_json())["to"] == "all"
