"""Soak test of the broker: a long run at steady load, memory and database size over time.

Run ``python bench/soak.py [--aircraft 5000] [--duration 3600]`` (issue 17: one hour at
5,000 aircraft at 1 Hz; on demand, not in CI; ``--duration 120 --warmup 30
--retention 30`` for a quick look). It starts a real broker (``deconflict serve``,
SQLite file in a temporary folder, ``--track-retention-s RETENTION``) on 127.0.0.1;
two parties (blue, red) each fly half of the aircraft (the fleet of
``bench/broker.py``) and send all their states once a second over ``/stream``.

Every ``--every`` seconds it prints the broker's resident memory, its CPU share, the
database's size on disk (file and write-ahead log) and the rows in ``track_states``
and ``alerts``. Targets: resident memory flat within 10 % after the warm-up (the
issue's first 5 minutes: max over min of the samples after it), and the database
bounded by the retention: ``track_states`` holds at most the retention's worth of
states (plus one prune interval), and the file stops growing once the retention is
reached (its size in the last half of the run within 10 % of its size at the end of
the first retention window after the warm-up; SQLite reuses freed pages, it does
not shrink).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import websockets
from rich.console import Console
from rich.table import Table

from broker import Fleet, acknowledge, free_port, parties, start_broker
from deconflict.service.retention import prune_every_s
from deconflict.store.migrate import upgrade

#: Resident memory after the warm-up: largest over smallest sample at most this.
RSS_FLAT = 1.10
#: Database size in the last half of the run, over its size once the retention is reached.
DB_FLAT = 1.10


@dataclass
class Sample:
    t_s: float
    rss_mib: float
    cpu_pct: float
    db_mib: float
    track_rows: int
    alert_rows: int
    accepted: int
    alerts: int


def db_bytes(path: Path) -> int:
    """The database's size on disk: the file and its write-ahead log."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def rows(path: Path, table: str) -> int:
    """Rows in ``table`` (read-only connection; the broker keeps writing)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def soak(
    url: str,
    tokens: dict[str, str],
    n: int,
    duration_s: int,
    every_s: float,
    db: Path,
    proc: psutil.Process,
    console: Console,
) -> tuple[list[Sample], dict[str, int]]:
    fleet = Fleet(n, seed=1)
    counts = {"accepted": 0, "alerts": 0}
    samples: list[Sample] = []

    async def reader(ws: websockets.ClientConnection) -> None:
        async for text in ws:
            msg = json.loads(text)
            if msg["type"] == "accepted":
                counts["accepted"] += msg["accepted"]
            elif msg["type"] == "alert":
                counts["alerts"] += 1

    headers = {name: {"Authorization": f"Bearer {tok}"} for name, tok in tokens.items()}
    async with (
        websockets.connect(url, additional_headers=headers["blue"], max_size=None) as wb,
        websockets.connect(url, additional_headers=headers["red"], max_size=None) as wr,
    ):
        readers = [asyncio.create_task(reader(wb)), asyncio.create_task(reader(wr))]
        proc.cpu_percent()
        start = time.perf_counter()
        next_sample = every_s
        for tick in range(duration_s):
            t = 1000.0 + tick
            await wb.send(fleet.columns("blue", t))
            await wr.send(fleet.columns("red", t))
            fleet.step(1.0)
            elapsed = time.perf_counter() - start
            if elapsed >= next_sample or tick == duration_s - 1:
                next_sample += every_s
                s = Sample(
                    t_s=elapsed,
                    rss_mib=proc.memory_info().rss / 2**20,
                    cpu_pct=proc.cpu_percent(),
                    db_mib=db_bytes(db) / 2**20,
                    track_rows=await asyncio.to_thread(rows, db, "track_states"),
                    alert_rows=await asyncio.to_thread(rows, db, "alerts"),
                    accepted=counts["accepted"],
                    alerts=counts["alerts"],
                )
                samples.append(s)
                console.print(
                    f"{s.t_s:7.0f} s  RSS {s.rss_mib:7.1f} MiB  CPU {s.cpu_pct:4.0f} %  "
                    f"db {s.db_mib:7.1f} MiB  track_states {s.track_rows:>9,}  "
                    f"alerts {s.alert_rows:>7,}  accepted {s.accepted:>11,}"
                )
            await asyncio.sleep(max(0.0, start + tick + 1 - time.perf_counter()))
        await asyncio.sleep(2.0)  # the last acknowledgements
        for r in readers:
            r.cancel()
    return samples, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aircraft", type=int, default=5000)
    parser.add_argument("--duration", type=int, default=3600, help="seconds (default 3600)")
    parser.add_argument(
        "--warmup", type=float, default=300.0, help="seconds before memory must be flat"
    )
    parser.add_argument(
        "--retention", type=float, default=300.0, help="the broker's --track-retention-s"
    )
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    args = parser.parse_args()
    console = Console(markup=False, highlight=False, width=120)
    rate = args.aircraft + 0.0  # states/s
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "soak.db"
        db = f"sqlite:///{path}"
        upgrade(db)
        tokens = parties(db)
        port = free_port()
        proc = start_broker(
            db, port, Path(tmp) / "broker.log", "--track-retention-s", f"{args.retention:g}"
        )
        try:
            acknowledge(f"http://127.0.0.1:{port}", tokens)
            console.print(
                f"soak: {args.aircraft:,} aircraft at 1 Hz for {args.duration} s, track "
                f"retention {args.retention:g} s, warm-up {args.warmup:g} s (SQLite)"
            )
            load_start = os.getloadavg()[0]
            samples, counts = asyncio.run(
                soak(
                    f"ws://127.0.0.1:{port}/stream",
                    tokens,
                    args.aircraft,
                    args.duration,
                    args.every,
                    path,
                    psutil.Process(proc.pid),
                    console,
                )
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    after = [s for s in samples if s.t_s >= args.warmup] or samples[-1:]
    rss = [s.rss_mib for s in after]
    rss_ratio = max(rss) / min(rss)
    bound_rows = rate * (args.retention + prune_every_s(args.retention) + 2.0)
    max_rows = max(s.track_rows for s in after)
    settled = [s for s in samples if s.t_s >= args.warmup + args.retention]
    late = [s for s in settled if s.t_s >= args.duration / 2] or settled[-1:]
    db_ratio = max(s.db_mib for s in late) / settled[0].db_mib if settled else float("nan")

    table = Table(title=f"soak, {args.aircraft:,} aircraft at 1 Hz, {args.duration} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target")
    last = samples[-1]
    table.add_row("states accepted", f"{last.accepted:,} of {int(rate * args.duration):,}", "all")
    table.add_row("alerts pushed", f"{counts['alerts']:,}", "")
    table.add_row(
        f"RSS after {args.warmup:g} s (min / max)",
        f"{min(rss):.0f} / {max(rss):.0f} MiB ({(rss_ratio - 1) * 100:+.1f} %)",
        "within 10 %",
    )
    table.add_row(
        "track_states rows (max after warm-up)",
        f"{max_rows:,}",
        f"≤ {bound_rows:,.0f} (retention × rate)",
    )
    table.add_row(
        "database on disk (end)",
        f"{last.db_mib:.0f} MiB"
        + (f" ({(db_ratio - 1) * 100:+.1f} % since the retention filled)" if settled else ""),
        "flat within 10 % once the retention is reached",
    )
    table.add_row("alerts stored (the record, kept)", f"{last.alert_rows:,}", "")
    console.print(table)
    ok_rss = rss_ratio <= RSS_FLAT
    ok_rows = max_rows <= bound_rows
    db_verdict = ("PASS" if db_ratio <= DB_FLAT else "MISS") if settled else "not reached"
    console.print(
        f"targets: RSS flat {'PASS' if ok_rss else 'MISS'} ({(rss_ratio - 1) * 100:+.1f} %), "
        f"track_states bounded {'PASS' if ok_rows else 'MISS'} ({max_rows:,}), "
        f"database size flat {db_verdict}; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )


if __name__ == "__main__":
    main()
