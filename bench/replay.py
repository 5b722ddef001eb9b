"""Benchmark of ``deconflict replay`` on a synthetic archive of ten million reports and more.

Run ``python bench/replay.py`` (``--help`` for options). It writes a Parquet archive
in the detector's columns (one report per aircraft per second, flights of 50 minutes
at random levels and tracks over western Europe, a few climbing or descending), chunk
by chunk so that generating it never holds more than one chunk, into a temporary
directory; then it replays it:

- single-process: windows one after another in this process;
- on a ``LocalCluster`` of 2 worker processes (one thread each).

Reports/s is the archive's reports over the wall time of the whole replay (reading,
cleaning, gridding, episodes, merging). Peak memory is the process's resident set
(RSS) sampled every 20 ms during the single-process replay, above its level before;
it is measured first on an archive half as long (which also warms up the imports), to
show that it depends on the window, not on the archive's length. Ends with PASS/MISS.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from deconflict import Agreement
from deconflict.replay.parallel import replay

#: Target: reports per second, single process.
TARGET_REPORTS_PER_S = 1_000_000
#: Flight length (s) and the box the flights start in (deg).
FLIGHT_S = 3000
LAT = (43.0, 53.0)
LON = (-4.0, 14.0)
#: Seconds of reports generated per Parquet row group.
CHUNK_S = 200

SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("id", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("alt_ft", pa.float64()),
        ("gs_kt", pa.float64()),
        ("track_deg", pa.float64()),
        ("vs_fpm", pa.float64()),
    ]
)


def write_archive(path: Path, slots: int, duration_s: int, seed: int = 7) -> int:
    """Write ``slots`` aircraft at a time for ``duration_s`` s; returns the number of reports."""
    rng = np.random.default_rng(seed)
    n_seg = duration_s // FLIGHT_S + 2
    phase = rng.integers(0, FLIGHT_S, slots)
    lat0 = rng.uniform(*LAT, (slots, n_seg))
    lon0 = rng.uniform(*LON, (slots, n_seg))
    trk = rng.uniform(0.0, 360.0, (slots, n_seg))
    gs = rng.uniform(250.0, 480.0, (slots, n_seg))
    alt0 = rng.integers(100, 400, (slots, n_seg)) * 100.0
    vs = np.where(
        rng.random((slots, n_seg)) < 0.2, rng.choice([-1500.0, 1500.0], (slots, n_seg)), 0
    )
    t0 = 1_633_600_000
    rows = 0
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for c0 in range(0, duration_s, CHUNK_S):
            t = np.arange(c0, min(c0 + CHUNK_S, duration_s), dtype=np.int64)
            tt = np.repeat(t, slots)
            s = np.tile(np.arange(slots), t.size)
            seg = (tt + phase[s]) // FLIGHT_S
            tau = ((tt + phase[s]) % FLIGHT_S).astype(np.float64)
            dist_nm = gs[s, seg] * tau / 3600.0
            rad = np.radians(trk[s, seg])
            lat = lat0[s, seg] + dist_nm * np.cos(rad) / 60.0
            lon = lon0[s, seg] + dist_nm * np.sin(rad) / 60.0 / np.cos(np.radians(lat0[s, seg]))
            alt = np.clip(alt0[s, seg] + vs[s, seg] * tau / 60.0, 2000.0, 45000.0)
            ids = np.char.add(np.char.add(s.astype("U5"), "-"), seg.astype("U3"))
            table = pa.table(
                {
                    "time": (tt + t0).astype(np.float64),
                    "id": ids,
                    "lat": lat,
                    "lon": lon,
                    "alt_ft": alt,
                    "gs_kt": gs[s, seg],
                    "track_deg": trk[s, seg],
                    "vs_fpm": np.where((alt > 2000.0) & (alt < 45000.0), vs[s, seg], 0.0),
                },
                schema=SCHEMA,
            )
            writer.write_table(table)
            rows += table.num_rows
    return rows


class PeakRss:
    """Peak resident set of this process above its level at start, sampled in a thread."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.proc = psutil.Process()
        self.every_s = every_s
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


def timed_replay(path: Path, ag: Agreement, client=None):
    """The replay, its wall time and this process's CPU time (s)."""
    t, c = time.perf_counter(), time.process_time()
    result = replay([path], ag, client=client)
    return result, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=2000, help="aircraft airborne at once")
    parser.add_argument("--duration-s", type=int, default=5000, help="archive length, s")
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster run")
    args = parser.parse_args()
    console = Console()
    ag = Agreement()
    table = Table(title="deconflict replay: synthetic archive", title_justify="left")
    console.width = max(console.width, 120)
    cols = ("run", "reports", "windows", "episodes", "wall s", "CPU s", "reports/s", "peak RSS MiB")
    for col in cols:
        table.add_column(col, justify="left" if col == "run" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "archive.parquet"
        small = Path(tmp) / "half.parquet"
        t = time.perf_counter()
        n_big = write_archive(big, args.slots, args.duration_s)
        n_small = write_archive(small, args.slots, args.duration_s // 2)
        console.print(
            f"generated {n_big:,} + {n_small:,} reports in {time.perf_counter() - t:.1f} s "
            f"({big.stat().st_size / 2**20:.0f} MiB Parquet)"
        )
        rows = []
        for label, path, n in (
            ("single, ½ length", small, n_small),
            ("single process", big, n_big),
        ):
            with PeakRss() as mem:
                result, wall, cpu = timed_replay(path, ag)
            rows.append((label, n, result, wall, cpu, mem.mib))
        single = rows[1]
        if not args.no_dask:
            import logging

            from distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
            ):
                result, wall, _cpu = timed_replay(big, ag, client)
                same = result.episodes.equals(single[2].episodes)
                label = f"LocalCluster, 2 workers (equal: {same})"
                rows.append((label, n_big, result, wall, None, None))
    for label, n, result, wall, cpu, mib in rows:
        table.add_row(
            label,
            f"{n:,}",
            str(result.windows),
            str(len(result.episodes)),
            f"{wall:.1f}",
            "" if cpu is None else f"{cpu:.1f}",
            f"{n / wall:,.0f}",
            "" if mib is None else f"{mib:.0f}",
        )
    console.print(table)
    kinds = single[2].by_kind()
    console.print("episodes by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"numpy {np.__version__}"
    )
    rate = single[1] / single[3]
    verdict = "PASS" if rate >= TARGET_REPORTS_PER_S else "MISS"
    console.print(f"{verdict}: single process {rate:,.0f} reports/s (target ≥ 1,000,000)")
    load = os.getloadavg()[0]
    console.print(
        f"CPU-bound rate {single[1] / single[4]:,.0f} reports per CPU second "
        f"(load average {load:.1f} on {os.cpu_count()} CPUs during the run)"
    )
    ratio = rows[1][5] / max(rows[0][5], 1.0)
    console.print(
        f"peak RSS: {rows[1][5]:.0f} MiB for the archive, {rows[0][5]:.0f} MiB for half of it "
        f"(ratio {ratio:.2f}; bounded by the window when close to 1)"
    )


if __name__ == "__main__":
    main()
