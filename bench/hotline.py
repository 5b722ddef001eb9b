"""Benchmark of the hotline: signed, fsynced messages through the primary relay.

Run ``python bench/hotline.py [--messages 20000] [--nats URL]``. It starts a real broker (primary
relay) and backup relay on 127.0.0.1 (SQLite files in a temporary folder), a
receiving party as its own process (``deconflict hotline listen``), and a sending
party in this process, then measures:

1. **Sustained rate**: the sender commits N messages to its outbox as fast as it can;
   each is Ed25519-signed, fsynced in the outbox, verified and committed (fsync) by
   the relay and appended to its signed audit log (fsync), verified and committed by
   the receiver, and answered with a signed ack. Rate = N / (last arrival − first send).
2. **Latency at the target load**: 1,000 messages/s for 10 s; delivery latency is the
   receiver's commit time minus the message's signed send time (one clock).
3. **Failover**: a distress call sent the moment the primary is frozen (SIGSTOP: only
   the heartbeat can tell) and killed (SIGKILL), until it is in the receiver's inbox.

Reference measured in the same run: the bare cost of the cryptography (one signature
and two verifications per message) and of one SQLite fsync commit. Targets: ≥ 1,000
signed messages/s on the primary path; a distress call through in ≤ 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from nacl.signing import SigningKey
from rich.console import Console
from rich.table import Table

from deconflict.hotline.client import HotlineClient
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.keys import new_key_file
from deconflict.hotline.messages import new_message, verify
from deconflict.store.sql import SqlRepository
from deconflict.store.tokens import hash_token, new_token

console = Console()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], log: Path, health: str | None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "deconflict", *args], stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while health and time.monotonic() < deadline:
        try:
            if httpx.get(health, timeout=1, trust_env=False).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    if health:
        proc.kill()
        raise RuntimeError(log.read_text()[-2000:])
    return proc


def reference(n: int = 3000) -> dict[str, float]:
    key = SigningKey.generate()
    pub = key.verify_key.encode().hex()
    t0 = time.perf_counter()
    for k in range(n):
        m = new_message(key, kind="notice", sender="blue", to="red", seq=k + 1, body=f"m{k}")
        verify(m, pub)
        verify(m, pub)
    crypto = n / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "x.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (x)")
        t0 = time.perf_counter()
        for k in range(500):
            db.execute("BEGIN")
            db.execute("INSERT INTO t VALUES (?)", (k,))
            db.execute("COMMIT")
        commits = 500 / (time.perf_counter() - t0)
        db.close()
    return {"crypto": crypto, "commits": commits}


def arrivals(store: Path, sender: str) -> tuple[np.ndarray, np.ndarray]:
    """(signed send time, receiver commit time) of each message from ``sender``."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT json_extract(message, '$.ts'), received_at FROM inbox WHERE sender = ?"
        " AND kind != 'ack' ORDER BY seq",
        (sender,),
    ).fetchall()
    db.close()
    arr = np.array(rows, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


async def run(args: argparse.Namespace, tmp: Path) -> None:
    db = f"sqlite:///{tmp / 'broker.db'}"
    repo = SqlRepository(db, migrate=True)
    tokens = {name: new_token() for name in ("blue", "red")}
    for name, token in tokens.items():
        repo.add_party(name, hash_token(token))
    repo.close()
    port, bport = free_port(), free_port()
    broker_url, backup_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bport}"
    broker = spawn(
        ["serve", "--db", db, "--port", str(port)], tmp / "broker.log", f"{broker_url}/health"
    )
    backup_args = [
        "hotline",
        "backup",
        "--db",
        f"sqlite:///{tmp / 'backup.db'}",
        "--registry-db",
        db,
        "--port",
        str(bport),
    ]
    backup = spawn(backup_args, tmp / "backup.log", f"{backup_url}/health")
    keys = {name: tmp / f"{name}.key" for name in tokens}
    for path in keys.values():
        new_key_file(path)
    red_store = tmp / "red.db"
    listener = spawn(
        [
            "hotline",
            "listen",
            "--quiet",
            "--token",
            tokens["red"],
            "--key-file",
            str(keys["red"]),
            "--store",
            str(red_store),
            "--broker-url",
            broker_url,
            "--backup-url",
            backup_url,
            *(["--nats-url", args.nats] if args.nats else []),
        ],
        tmp / "listen.log",
        None,
    )
    store = ClientStore(tmp / "blue.db")
    events: list[dict[str, Any]] = []
    from deconflict.hotline.keys import load_key_file

    client = HotlineClient(
        store,
        load_key_file(keys["blue"]),
        tokens["blue"],
        broker_url,
        backup_url,
        nats_url=args.nats,
        on_event=events.append,
    )
    results: dict[str, float] = {}
    try:
        await client.start()
        await wait(lambda: client.stats.primary_up, 20)
        first = await client.send("notice", "red", "warm-up")
        await wait(lambda: bool(store.outbox_row(first.id)["acked_at"]), 30)  # type: ignore[index]
        # 1. sustained rate
        n = args.messages
        t0 = time.time()
        for k in range(0, n, 200):
            await client.send_many(
                [("notice", "red", f"burst {k + i}", None, None) for i in range(min(200, n - k))]
            )
        await wait(lambda: arrived(red_store, "blue") >= n + 1, 300)
        sent, got = arrivals(red_store, "blue")
        burst_got = got[1 : n + 1]
        results["rate"] = n / (burst_got.max() - t0)
        results["enqueue_rate"] = n / (max(store_created(store, n)) - t0)
        await wait(lambda: store.outbox_counts()["acked"] >= n + 1, 300)
        # 2. latency at 1,000 messages/s
        paced, per_s, seconds = [], 1000, 10
        t0 = time.monotonic()
        for step in range(seconds * 20):
            batch = [("notice", "red", f"paced {step}.{i}", None, None) for i in range(per_s // 20)]
            paced += await client.send_many(batch)
            ahead = (step + 1) / 20 - (time.monotonic() - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
        total = n + 1 + len(paced)
        await wait(lambda: arrived(red_store, "blue") >= total, 120)
        sent, got = arrivals(red_store, "blue")
        lat = (got - sent)[n + 1 : total] * 1000
        results["p50"], results["p99"] = np.percentile(lat, [50, 99])
        results["max"] = float(lat.max())
        results["false_failovers"] = client.stats.failovers
        reasons = sorted({e.get("reason", "") for e in events if e["type"] == "primary_down"})
        if reasons:
            console.print(f"primary marked down: {', '.join(reasons)}")
        # 3. failover (of the broker's WebSocket; the machine's NATS server is not ours to kill)
        faults = () if args.nats else (("freeze", signal.SIGSTOP), ("kill", signal.SIGKILL))
        for fault, sig in faults:
            before = arrived(red_store, "blue")
            t0 = time.monotonic()
            broker.send_signal(sig)
            await client.send("distress", "red", f"MAYDAY after primary {fault}")
            await wait(lambda b=before: arrived(red_store, "blue") > b, 30)
            results[f"failover_{fault}"] = time.monotonic() - t0
            if fault == "freeze":
                broker.send_signal(signal.SIGCONT)
                await wait(lambda: client.stats.primary_up, 30)
    finally:
        await client.stop()
        store.close()
        for proc in (listener, backup, broker):
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(10)
    ref = reference()
    report(args, results, ref)


def store_created(store: ClientStore, n: int) -> list[float]:
    db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    rows = [r[0] for r in db.execute("SELECT created_at FROM outbox ORDER BY seq DESC LIMIT 1")]
    db.close()
    return rows


def arrived(path: Path, sender: str) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        n = db.execute("SELECT COUNT(*) FROM inbox WHERE sender = ?", (sender,)).fetchone()[0]
        db.close()
        return int(n)
    except sqlite3.Error:
        return 0


async def wait(cond, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("benchmark step did not finish")


def report(args: argparse.Namespace, r: dict[str, float], ref: dict[str, float]) -> None:
    primary = f"NATS JetStream {args.nats}" if args.nats else "the broker's WebSocket"
    table = Table(title=f"hotline, {args.messages:,} messages, primary: {primary}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target / reference", justify="right")
    table.add_row("sustained, signed + fsynced, msg/s", f"{r['rate']:,.0f}", "≥ 1,000")
    table.add_row(
        "  vs bare crypto (1 sign + 2 verify)/s",
        f"{r['rate'] / ref['crypto']:.2f}×",
        f"{ref['crypto']:,.0f}/s",
    )
    table.add_row(
        "  vs one SQLite fsync commit per message",
        f"{r['rate'] / ref['commits']:.2f}×",
        f"{ref['commits']:,.0f}/s",
    )
    table.add_row("latency at 1,000 msg/s, p50 ms", f"{r['p50']:.1f}", "")
    table.add_row("latency at 1,000 msg/s, p99 ms", f"{r['p99']:.1f}", "")
    table.add_row("latency at 1,000 msg/s, max ms", f"{r['max']:.1f}", "")
    table.add_row("failovers while the primary was healthy", f"{r['false_failovers']:.0f}", "0")
    if not args.nats:
        table.add_row("distress after primary frozen, s", f"{r['failover_freeze']:.2f}", "≤ 2")
        table.add_row("distress after primary killed, s", f"{r['failover_kill']:.2f}", "≤ 2")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--nats", metavar="URL", help="NATS JetStream as the primary (e.g. nats://127.0.0.1:4222)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
