"""Benchmark of the live map: 5,000 aircraft at 1 Hz, from the broker's cycle to the page.

Run ``python bench/map.py [--aircraft 5000] [--duration 600]``. It starts a real broker
(``deconflict serve``, SQLite in a temporary folder) on 127.0.0.1; two parties each fly
half of the aircraft around Syria (600 NM² each, as ``bench/broker.py``) and post all
their states once a second; the working group's map (every aircraft: the heaviest
view) runs in headless Chromium (``tests/browser.py``). For every cycle the page drew,
it records when the picture frame arrived and when the map had rendered it; the broker
stamps each picture with the wall time its cycle started (one machine, one clock).
Reported: p50/p99 of cycle → frame received and cycle → drawn, how many cycles were
drawn, and the browser's memory (JS heap, and the resident memory of all Chromium
processes) at the start and at the end. Target: drawn within 1 s of the cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import websockets
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import chromium_page  # noqa: E402
from tests.service.conftest import free_port, wait_healthy  # noqa: E402

from deconflict.store.migrate import upgrade  # noqa: E402
from deconflict.store.sql import SqlRepository  # noqa: E402
from deconflict.store.tokens import hash_token, new_token  # noqa: E402

TARGET_S = 1.0
#: Surface per aircraft (NM²), as in bench/broker.py: a busy but not saturated sky.
AREA_PER_AIRCRAFT_NM2 = 600.0
KT_DEG_PER_S = 1.0 / 60.0 / 3600.0  # 1 kt in degrees of latitude per second


class Fleet:
    """N aircraft on circles around Syria (vectorised), split between two parties."""

    def __init__(self, n: int, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        # As dense as bench/broker.py's sky (600 NM² per aircraft), centred on Syria.
        half_deg = np.sqrt(n * AREA_PER_AIRCRAFT_NM2) / 60.0 / 2.0
        self.lat0 = rng.uniform(35.0 - half_deg, 35.0 + half_deg, n)
        self.lon0 = 39.0 + rng.uniform(-half_deg, half_deg, n) / np.cos(np.radians(self.lat0))
        self.r_deg = rng.uniform(0.05, 0.4, n)
        self.w = 450.0 * KT_DEG_PER_S / self.r_deg * rng.choice([-1.0, 1.0], n)  # rad/s
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.alt_ft = rng.choice(np.arange(10000.0, 40000.0, 1000.0), n)
        self.ids = np.array([f"A{i:05d}" for i in range(n)])

    def batch(self, t: float, part: slice) -> dict[str, list[object]]:
        a = self.phase[part] + self.w[part] * t
        lat = self.lat0[part] + self.r_deg[part] * np.sin(a)
        lon = self.lon0[part] + self.r_deg[part] * np.cos(a) / np.cos(np.radians(lat))
        trk = np.mod(np.degrees(np.arctan2(-np.sin(a), np.cos(a))) * np.sign(self.w[part]), 360)
        k = lat.size
        return {
            "time": [t] * k,
            "id": self.ids[part].tolist(),
            "lat": lat.tolist(),
            "lon": lon.tolist(),
            "alt_ft": self.alt_ft[part].tolist(),
            "gs_kt": [450.0] * k,
            "track_deg": trk.tolist(),
            "vs_fpm": [0.0] * k,
        }


def wait_js(page: object, expr: str, timeout_s: float) -> None:
    """Poll ``expr`` in the page (the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expr):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise SystemExit(f"the page never satisfied {expr}")
        time.sleep(0.1)


def browser_rss_mib() -> float:
    """Resident memory of every Chromium process this script started (MiB)."""
    total = 0
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name().lower():
                total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--aircraft", type=int, default=5000)
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of traffic")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds not counted")
    args = ap.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'broker.db'}"
        upgrade(db)
        repo = SqlRepository(db)
        tokens = {name: new_token() for name in ("blue", "red", "wg")}
        for name, token in tokens.items():
            repo.add_party(name, hash_token(token), is_admin=name == "wg")
        repo.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "broker.log"
        env = {**os.environ, "DECONFLICT_DATA_DIR": str(Path(tmp) / "data")}
        with log.open("ab") as out:
            broker = subprocess.Popen(
                [sys.executable, "-m", "deconflict", "serve", "--db", db, "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                env=env,
            )
        try:
            wait_healthy(broker, url, log, 60.0, "broker")
            run(console, url, tokens, args)
        finally:
            broker.terminate()
            broker.wait(timeout=15)


def run(console: Console, url: str, tokens: dict[str, str], args: argparse.Namespace) -> None:
    fleet = Fleet(args.aircraft)
    half = args.aircraft // 2
    parts = {"blue": slice(0, half), "red": slice(half, args.aircraft)}
    http = httpx.Client(timeout=30.0)
    for name in parts:
        h = {"Authorization": f"Bearer {tokens[name]}"}
        fp = http.get(f"{url}/agreement", headers=h).json()["fingerprint"]
        http.post(f"{url}/agreement/ack", headers=h, json={"fingerprint": fp})
    stop = threading.Event()
    posted = [0]

    def feed(name: str) -> None:
        h = {"Authorization": f"Bearer {tokens[name]}"}
        with httpx.Client(timeout=30.0) as c:
            nxt = time.monotonic()
            while not stop.is_set():
                c.post(f"{url}/tracks", headers=h, json=fleet.batch(time.time(), parts[name]))
                posted[0] += 1
                nxt += 1.0
                stop.wait(max(0.0, nxt - time.monotonic()))

    feeders = [threading.Thread(target=feed, args=(n,), daemon=True) for n in parts]
    # Beside the page, a plain client on the same feed: the broker's share of the latency.
    plain: list[tuple[float, float]] = []  # (cycle start, received), Unix s

    async def listen() -> None:
        ws_url = url.replace("http", "ws", 1) + "/stream"
        protocols = ["deconflict.map", f"bearer.{tokens['wg']}"]
        async with websockets.connect(ws_url, subprotocols=protocols, max_size=None) as ws:
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                if text.startswith('{"type":"picture"'):
                    plain.append((json.loads(text)["at_s"], time.time()))
                    await ws.send('{"type":"ready"}')

    listener = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
    listener.start()
    feeders.append(listener)
    with chromium_page() as (page, log):
        page.goto(f"{url}/map")
        page.fill("#token", tokens["wg"])
        page.click("#login button[type=submit]")
        wait_js(page, "document.getElementById('link').textContent === 'live'", 60)
        for f in feeders[:-1]:
            f.start()
        start = time.monotonic()
        wait_js(page, f"window.deconflictMap.summary().aircraft >= {args.aircraft}", 120)
        time.sleep(args.warmup)
        t0_ms = time.time() * 1000
        heap0 = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
        rss0 = browser_rss_mib()
        while time.monotonic() - start < args.duration:
            time.sleep(1.0)
        stop.set()
        for f in feeders:
            f.join(timeout=30)
        page.wait_for_timeout(1500)
        timings = page.evaluate("window.deconflictMap.timings()")
        summary = page.evaluate("window.deconflictMap.summary()")
        heap1 = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
        rss1 = browser_rss_mib()
        errors = log.console_errors + log.page_errors
    counted = [t for t in timings if t["at_s"] * 1000 >= t0_ms]
    recv = np.array([t["received_ms"] - t["at_s"] * 1000 for t in counted]) / 1000
    drawn = np.array([t["drawn_ms"] - t["at_s"] * 1000 for t in counted]) / 1000
    build = np.array([t.get("build_ms", np.nan) for t in counted]) / 1000
    broker_only = np.array([r - a for a, r in plain if a * 1000 >= t0_ms])
    cycles = summary["cycle"]
    table = Table(
        title=f"Live map: {args.aircraft} aircraft at 1 Hz, working group's view, "
        f"{args.duration:g} s (first {args.warmup:g} s not counted)",
        title_justify="left",
    )
    for col in ("measure", "p50", "p99", "max"):
        table.add_column(col, justify="right" if col != "measure" else "left")
    rows = (
        ("broker: cycle → frame received by a Python client (s)", broker_only),
        ("page: cycle → frame received (s)", recv),
        ("page: picture → features built (s)", build),
        ("page: cycle → drawn (s)", drawn),
    )
    for label, x in rows:
        if x.size:
            table.add_row(
                label,
                f"{np.percentile(x, 50):.3f}",
                f"{np.percentile(x, 99):.3f}",
                f"{x.max():.3f}",
            )
    console.print(table)
    ok = drawn.size and np.percentile(drawn, 99) <= TARGET_S
    console.print(
        f"cycles drawn (counted) {drawn.size} of {len(timings)}, broker cycles {cycles}, "
        f"batches posted "
        f"{posted[0]}; page: {summary['aircraft']} aircraft, {summary['frames']} frames "
        f"drawn; console errors {len(errors)}",
        highlight=False,
    )
    console.print(
        f"browser memory: JS heap {heap0 / 2**20:.0f} → {heap1 / 2**20:.0f} MiB, "
        f"Chromium resident {rss0:.0f} → {rss1:.0f} MiB "
        f"(after {args.duration:g} s); p99 drawn ≤ {TARGET_S:g} s: {'yes' if ok else 'NO'}",
        highlight=False,
    )


if __name__ == "__main__":
    main()
