"""Benchmark of the broker: live streaming over WebSocket, and batch ingest.

Run ``python bench/broker.py [--aircraft 15000] [--duration 600]`` (issue 17: the
world's airborne traffic at a busy moment, for 10 minutes; ``--duration 60`` for a
quick look). It starts a real broker (``deconflict serve``, SQLite file in a
temporary folder, default track retention) on 127.0.0.1, then:

1. **Streaming**: two parties (blue, red) each fly half of N aircraft and send all
   their states once a second over ``/stream`` for the given time. Every second red
   also makes a new aircraft pop up 6 NM head-on to one of blue's: a fresh
   conflict whose alert latency is measured from the moment red's batch was sent to
   the moment each party's alert arrives on its socket (same clock, one process).
2. **Batch ingest**: blue posts 10,000-state batches to ``POST /tracks`` as Parquet,
   as columnar JSON and as a JSON array, and the states/s of each is reported.

The broker's CPU share (all its threads, % of one core) and resident memory are
sampled with psutil every second. Targets on this 2-core machine: 15,000 aircraft at
1 Hz with p99 alert latency ≤ 250 ms and broker CPU ≤ 50 % of one core (mean over the
run), and ≥ 50,000 states/s on batch ingest. ``bench/soak.py`` is the long run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import websockets
from rich.console import Console
from rich.table import Table

from deconflict.geo import geodetic_from_enu
from deconflict.store.migrate import upgrade
from deconflict.store.sql import SqlRepository
from deconflict.store.tokens import hash_token, new_token

NM = 1852.0
KT = NM / 3600.0
CENTRE = (48.0, 10.0)
#: Surface per aircraft (NM²): a busy but not saturated sky.
AREA_PER_AIRCRAFT_NM2 = 600.0
LATENCY_TARGET_S = 0.250
INGEST_TARGET = 50_000.0
#: Broker CPU target: mean share of one core over the streaming run (%).
CPU_TARGET_PCT = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(db: str, port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``deconflict serve`` on ``db`` (more flags: ``args``), once it answers /health."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deconflict", "serve", "--db", db, "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


def acknowledge(base: str, tokens: dict[str, str]) -> None:
    """Every party acknowledges the broker's agreement (before sending tracks)."""
    for tok in tokens.values():
        h = {"Authorization": f"Bearer {tok}"}
        fp = httpx.get(base + "/agreement", headers=h).json()["fingerprint"]
        httpx.post(base + "/agreement/ack", headers=h, json={"fingerprint": fp}).raise_for_status()


def parties(db: str) -> dict[str, str]:
    repo = SqlRepository(db)
    tokens = {}
    for name in ("blue", "red"):
        tokens[name] = new_token()
        repo.add_party(name, hash_token(tokens[name]))
    repo.close()
    return tokens


class Fleet:
    """N aircraft on a flat patch around CENTRE, flown straight on (ENU metres)."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        half = np.sqrt(n * AREA_PER_AIRCRAFT_NM2) * NM / 2
        self.xy = rng.uniform(-half, half, (n, 2))
        self.alt = rng.choice(np.arange(10000.0, 40001.0, 1000.0), n)
        self.gs = rng.uniform(250, 480, n)
        self.trk = rng.uniform(0, 360, n)
        self.half = half
        self.party = np.where(np.arange(n) % 2 == 0, "blue", "red")
        self.id = np.array([f"{p.upper()}-{i:05d}" for i, p in enumerate(self.party)])

    def step(self, dt: float) -> None:
        v = (
            self.gs[:, None]
            * KT
            * np.column_stack([np.sin(np.radians(self.trk)), np.cos(np.radians(self.trk))])
        )
        self.xy += v * dt
        # Wrap around the patch so density stays constant.
        self.xy = (self.xy + self.half) % (2 * self.half) - self.half

    def columns(self, who: str, t: float, extra: list[dict] | None = None) -> str:
        sel = self.party == who
        enu = np.column_stack([self.xy[sel], np.zeros(sel.sum())])
        lat, lon, _ = geodetic_from_enu(enu, *CENTRE)
        cols = {
            "time": [t] * int(sel.sum()),
            "id": self.id[sel].tolist(),
            "lat": np.round(lat, 6).tolist(),
            "lon": np.round(lon, 6).tolist(),
            "alt_ft": self.alt[sel].tolist(),
            "gs_kt": np.round(self.gs[sel], 1).tolist(),
            "track_deg": np.round(self.trk[sel], 2).tolist(),
            "vs_fpm": [0.0] * int(sel.sum()),
        }
        for row in extra or []:
            for k, v in row.items():
                cols[k].append(v)
        return json.dumps(cols)

    def popup_near(self, k: int, t: float) -> dict:
        """A red aircraft 6 NM ahead of blue aircraft k (at its level), head-on."""
        blue = np.flatnonzero(self.party == "blue")
        i = blue[k % blue.size]
        trk = np.radians(self.trk[i])
        ahead = self.xy[i] + 6 * NM * np.array([np.sin(trk), np.cos(trk)])
        lat, lon, _ = geodetic_from_enu(np.array([[ahead[0], ahead[1], 0.0]]), *CENTRE)
        return {
            "time": t,
            "id": f"POP-{k:05d}",
            "lat": round(float(lat[0]), 6),
            "lon": round(float(lon[0]), 6),
            "alt_ft": float(self.alt[i]),
            "gs_kt": 400.0,
            "track_deg": float((self.trk[i] + 180.0) % 360.0),
            "vs_fpm": 0.0,
        }


async def stream(
    url: str, tokens: dict[str, str], n: int, seconds: int, proc: psutil.Process
) -> dict:
    fleet = Fleet(n, seed=1)
    sent_at: dict[str, float] = {}  # popup id -> wall time red's batch left
    latencies: dict[str, list[float]] = {"blue": [], "red": []}
    accepted = {"blue": 0, "red": 0}
    alerts = {"blue": 0, "red": 0}
    cpu: list[float] = []
    rss: list[float] = []
    popup_blue: dict[str, str] = {}  # blue aircraft id of each popup's conflict
    measured: set[tuple[str, str]] = set()
    blue_ids = fleet.id[fleet.party == "blue"]

    async def reader(name: str, ws: websockets.ClientConnection) -> None:
        async for text in ws:
            now = time.perf_counter()
            msg = json.loads(text)
            if msg["type"] == "accepted":
                accepted[name] += msg["accepted"]
            elif msg["type"] == "alert":
                alerts[name] += 1
                own = msg["own_id"]
                if msg["event"] != "new":
                    continue
                key = own if own.startswith("POP-") else popup_blue.get(own)
                if key in sent_at and (name, key) not in measured:
                    measured.add((name, key))  # the pop-up's first alert; later ones are others
                    latencies[name].append(now - sent_at[key])

    headers = {n_: {"Authorization": f"Bearer {tok}"} for n_, tok in tokens.items()}
    async with (
        websockets.connect(url, additional_headers=headers["blue"], max_size=None) as wb,
        websockets.connect(url, additional_headers=headers["red"], max_size=None) as wr,
    ):
        readers = [asyncio.create_task(reader("blue", wb)), asyncio.create_task(reader("red", wr))]
        proc.cpu_percent()
        start = time.perf_counter()
        for tick in range(seconds):
            t = 1000.0 + tick
            popup = fleet.popup_near(tick, t)
            blue_id = str(blue_ids[tick % blue_ids.size])
            popup_blue[blue_id] = popup["id"]
            await wb.send(fleet.columns("blue", t))
            red = fleet.columns("red", t, [popup])
            sent_at[popup["id"]] = time.perf_counter()
            await wr.send(red)
            fleet.step(1.0)
            cpu.append(proc.cpu_percent())
            rss.append(proc.memory_info().rss / 2**20)
            await asyncio.sleep(max(0.0, start + tick + 1 - time.perf_counter()))
        await asyncio.sleep(2.0)
        for r in readers:
            r.cancel()
    elapsed = time.perf_counter() - start
    return {
        "elapsed": elapsed,
        "accepted": accepted,
        "alerts": alerts,
        "latencies": latencies,
        "popups": seconds,
        "cpu": cpu,
        "rss": rss,
    }


def ingest(base: str, token: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    n = 10_000
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "time": 5000.0,
            "id": [f"ING-{i:05d}" for i in range(n)],
            "lat": rng.uniform(-60, -50, n),
            "lon": rng.uniform(-60, -50, n),
            "alt_ft": rng.uniform(1000, 40000, n),
            "gs_kt": rng.uniform(100, 500, n),
            "track_deg": rng.uniform(0, 360, n),
            "vs_fpm": 0.0,
        }
    )
    buf = io.BytesIO()
    frame.to_parquet(buf)
    bodies = {
        "Parquet": (buf.getvalue(), "application/vnd.apache.parquet"),
        "columnar JSON": (json.dumps(frame.to_dict(orient="list")).encode(), "application/json"),
        "JSON array": (json.dumps(frame.to_dict(orient="records")).encode(), "application/json"),
    }
    rates = {}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for label, (body, ctype) in bodies.items():
            total, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 5.0:
                r = client.post("/tracks", content=body, headers={"content-type": ctype})
                r.raise_for_status()
                total += r.json()["accepted"]
            rates[label] = total / (time.perf_counter() - t0)
    return rates


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aircraft", type=int, default=15_000)
    parser.add_argument(
        "--duration",
        "--seconds",
        dest="seconds",
        type=int,
        default=600,
        help="seconds of streaming at 1 Hz (default 600, the issue's 10 minutes)",
    )
    args = parser.parse_args()
    console = Console(markup=False, width=120)
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(db)
        tokens = parties(db)
        port = free_port()
        proc = start_broker(db, port, Path(tmp) / "broker.log")
        try:
            base = f"http://127.0.0.1:{port}"
            acknowledge(base, tokens)
            ps = psutil.Process(proc.pid)
            load_start = os.getloadavg()[0]
            res = asyncio.run(
                stream(f"ws://127.0.0.1:{port}/stream", tokens, args.aircraft, args.seconds, ps)
            )
            rates = ingest(base, tokens["blue"])
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    lat = res["latencies"]["blue"] + res["latencies"]["red"]
    offered = (args.aircraft + 1) * args.seconds
    table = Table(
        title=f"broker, {args.aircraft:,} aircraft at 1 Hz over WebSocket, "
        f"{args.seconds} s (SQLite)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        "states accepted (committed)", f"{sum(res['accepted'].values()):,} of {offered:,}"
    )
    table.add_row(
        "streaming ingest", f"{sum(res['accepted'].values()) / res['elapsed']:,.0f} states/s"
    )
    table.add_row(
        "alerts pushed (blue / red)", f"{res['alerts']['blue']:,} / {res['alerts']['red']:,}"
    )
    table.add_row(
        "pop-up conflicts alerted",
        f"{len(res['latencies']['red'])} red, {len(res['latencies']['blue'])} blue "
        f"of {res['popups']}",
    )
    table.add_row("alert latency p50", f"{pct(lat, 50) * 1e3:.0f} ms")
    table.add_row("alert latency p99", f"{pct(lat, 99) * 1e3:.0f} ms")
    table.add_row("alert latency max", f"{max(lat) * 1e3 if lat else float('nan'):.0f} ms")
    cpu = res["cpu"][1:]
    table.add_row(
        "broker CPU (mean / p95 / max, % of one core)",
        f"{statistics.mean(cpu):.0f} / {pct(cpu, 95):.0f} / {max(cpu):.0f}",
    )
    table.add_row("broker RSS (max)", f"{max(res['rss']):.0f} MiB")
    for label, rate in rates.items():
        table.add_row(f"batch ingest, {label}, 10k per POST", f"{rate:,.0f} states/s")
    console.print(table)
    p99 = pct(lat, 99)
    best = max(rates.values())
    mean_cpu = statistics.mean(cpu)
    console.print(
        f"targets: p99 alert latency ≤ 250 ms {'PASS' if p99 <= LATENCY_TARGET_S else 'MISS'} "
        f"({p99 * 1e3:.0f} ms), broker CPU ≤ {CPU_TARGET_PCT:.0f} % of one core "
        f"{'PASS' if mean_cpu <= CPU_TARGET_PCT else 'MISS'} ({mean_cpu:.0f} %), "
        f"batch ingest ≥ 50,000 states/s "
        f"{'PASS' if best >= INGEST_TARGET else 'MISS'} ({best:,.0f}/s); "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )


if __name__ == "__main__":
    main()
