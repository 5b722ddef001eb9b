"""Fault tests with real processes on 127.0.0.1: nothing lost, nothing twice, order kept.

The broker (primary relay) is killed with SIGKILL and restarted, frozen with SIGSTOP
(connections stay open but nothing answers: only the heartbeat can tell), the backup
relay is killed and restarted, and both the sending and the receiving party are
killed and restarted, while 10,000 messages flow. Messages that reach both relays
arrive twice and out of order; the receiving inbox must still hand each one to the
application exactly once, in the sender's order.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from deconflict.hotline.audit import entries, verify_log
from deconflict.hotline.client import HotlineClient
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.keys import load_key_file
from tests.hotline.conftest import Hotline, read_jsonl, until


def wait_until(cond: Callable[[], bool], timeout_s: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


#: A distress call reaches the recipient within this long of the primary failing (s).
FAILOVER_TARGET_S = 2.0


def undelivered(db: Path, party: str) -> int:
    """Deliveries to ``party`` that a relay's database holds unacknowledged."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM hotline_deliveries d JOIN parties p ON p.id = d.party_id "
                "WHERE p.name = ? AND d.delivered_at IS NULL",
                (party,),
            ).fetchone()[0]
        )
    finally:
        conn.close()


def test_ten_thousand_messages_survive_kills_freezes_and_restarts(hotline: Hotline):
    total = 10_000
    out = hotline.tmp / "red.jsonl"
    listener = hotline.listener(hotline.red, out).start()
    sender = hotline.sender(hotline.blue, "red", total, rate=800).start()
    got = lambda: count_lines(out)  # noqa: E731

    wait_until(lambda: got() > 800, what="first messages")
    hotline.broker.kill9()  # the primary dies mid-stream
    wait_until(lambda: got() > 2000, what="messages over the backup")
    hotline.broker.start()  # and comes back: traffic returns to it
    wait_until(lambda: got() > 3000, what="messages after the broker restart")
    listener.kill9()  # the receiving party crashes
    listener.start()
    wait_until(lambda: got() > 4500, what="messages after the receiver restart")
    sender.kill9()  # the sending party crashes
    sender.start()
    wait_until(lambda: got() > 6000, what="messages after the sender restart")
    hotline.broker.freeze()  # a hung primary: connections open, nothing answers
    frozen_at = got()
    more = min(frozen_at + 500, total)
    wait_until(lambda: got() >= more, what="messages over the backup while frozen")
    hotline.broker.thaw()  # frames queued in it are processed late: duplicates
    wait_until(lambda: got() > 7500, what="messages after the freeze")
    hotline.backup.kill9()  # the backup dies too, and comes back
    hotline.backup.start()

    try:
        code = sender.wait(timeout_s=180)
    except subprocess.TimeoutExpired:
        store = ClientStore(hotline.blue.store)
        counts = store.outbox_counts()
        store.close()
        raise AssertionError(f"sender unfinished: outbox {counts}, red got {got()}") from None
    assert code == 0, (hotline.tmp / "send-blue.log").read_text()[-3000:]
    wait_until(lambda: got() >= total, what="every message")
    # Every copy either relay holds for red has reached red's inbox and been acknowledged:
    # a duplicate could only have come from one of those, so none is still on its way.
    relays = (hotline.tmp / "broker.db", hotline.tmp / "backup.db")
    wait_until(lambda: all(undelivered(db, "red") == 0 for db in relays), what="red's acks")
    listener.stop()

    rows = [r for r in read_jsonl(out) if r["sender"] == "blue"]
    assert len(rows) == total
    assert len({r["id"] for r in rows}) == total
    assert [r["seq"] for r in rows] == list(range(1, total + 1))
    assert [r["body"] for r in rows] == [f"m{k}" for k in range(1, total + 1)]
    numbers = [r["n"] for r in read_jsonl(out)]
    assert numbers == sorted(set(numbers))  # the file never repeats a delivery

    blue = ClientStore(hotline.blue.store)
    counts = blue.outbox_counts()
    heads = blue.heads()
    vias = dict(blue._db.execute("SELECT relayed_via, COUNT(*) FROM outbox GROUP BY 1"))
    blue.close()
    assert counts == {"total": total, "relayed": total, "acked": total, "rejected": 0}
    assert vias["primary"] > 0 and vias["backup"] > 0  # both channels really carried traffic

    # Both relays' signed records survived the kills: complete, untampered, and
    # consistent with the heads the sending party kept.
    hotline.stop()
    for relay in ("broker", "backup"):
        path = hotline.tmp / f"{relay}.audit.jsonl"
        name = "primary" if relay == "broker" else "backup"
        report = verify_log(path, heads=[heads[name]])
        assert report.ok, report.problem
        logged = {e["data"]["relay_id"] for e in entries(path) if e["type"] == "message"}
        db = sqlite3.connect(hotline.tmp / f"{relay}.db")
        held = {r[0] for r in db.execute("SELECT id FROM hotline_messages")}
        db.close()
        assert logged == held


def test_a_distress_call_fails_over_to_the_backup(hotline: Hotline):
    """Measure how long a distress call takes to arrive after the primary dies."""
    out = hotline.tmp / "red.jsonl"
    listener = hotline.listener(hotline.red, out).start()
    store = ClientStore(hotline.blue.store)
    key = load_key_file(hotline.blue.key)

    async def run() -> dict[str, float]:
        client = HotlineClient(
            store, key, hotline.blue.token, hotline.broker_url, hotline.backup_url
        )
        await client.start()
        measured = {}
        try:
            first = await client.send("notice", "red", "radio check")
            assert await client.wait_relayed(first.id, 20) == "primary"
            await until(lambda: count_lines(out) >= 1)
            for fault in ("freeze", "kill"):
                t0 = time.monotonic()
                if fault == "freeze":
                    hotline.broker.freeze()
                else:
                    hotline.broker.kill9()
                before = count_lines(out)
                msg = await client.send("distress", "red", f"MAYDAY after primary {fault}")
                await until(lambda b=before: count_lines(out) > b, 20)
                measured[fault] = time.monotonic() - t0
                assert await client.wait_relayed(msg.id, 5) == "backup"
                if fault == "freeze":
                    hotline.broker.thaw()
                    await until(lambda: client.stats.primary_up, 20)
            return measured
        finally:
            await client.stop()

    measured = asyncio.run(run())
    store.close()
    listener.stop()
    print(
        f"\ndistress delivered after the primary was frozen: {measured['freeze']:.2f} s, "
        f"killed: {measured['kill']:.2f} s (target {FAILOVER_TARGET_S:.0f} s)"
    )
    rows = read_jsonl(out)
    assert [r["kind"] for r in rows if r["sender"] == "blue"] == ["notice", "distress", "distress"]
    assert measured["freeze"] <= FAILOVER_TARGET_S, measured
    assert measured["kill"] <= FAILOVER_TARGET_S, measured


def test_messages_stranded_in_a_dead_primary_are_sent_again_over_the_backup(hotline: Hotline):
    """The primary confirmed them, then died before the recipient got them: no gap stays."""
    out = hotline.tmp / "red.jsonl"
    listener = hotline.listener(hotline.red, out).start()
    store = ClientStore(hotline.blue.store)
    key = load_key_file(hotline.blue.key)

    async def run() -> int:
        client = HotlineClient(
            store, key, hotline.blue.token, hotline.broker_url, hotline.backup_url
        )
        await client.start()
        try:
            first = await client.send("notice", "red", "m1")
            await until(lambda: count_lines(out) >= 1)
            listener.freeze()  # red stops reading: the broker holds what it confirms
            sent = await client.send_many(
                [("notice", "red", f"m{k}", None, None) for k in range(2, 302)]
            )
            await until(lambda: store.outbox_counts()["relayed"] == 301)
            assert {store.outbox_row(m.id)["relayed_via"] for m in sent} == {"primary"}  # type: ignore[index]
            hotline.broker.kill9()  # and dies with them, for good
            listener.thaw()
            await until(lambda: count_lines(out) >= 301, 60)
            del first
            return client.stats.resent
        finally:
            await client.stop()

    resent = asyncio.run(run())
    store.close()
    listener.stop()
    rows = [r for r in read_jsonl(out) if r["sender"] == "blue"]
    assert [r["body"] for r in rows] == [f"m{k}" for k in range(1, 302)]
    assert resent >= 300
