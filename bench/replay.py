"""Benchmark of ``deconflict replay`` on a synthetic archive of ten million reports and more.

Run ``python bench/replay.py`` (``--help`` for options). It writes a Parquet archive
in the detector's columns (one report per aircraft per second, flights of 50 minutes
at random levels and tracks over western Europe, a few climbing or descending), chunk
by chunk so that generating it never holds more than one chunk, into a temporary
directory; then it replays it:

- single-process: windows one after another in this process;
- on a ``LocalCluster`` of 2 worker processes (one thread each).

Reports/s is the archive's reports over the wall time of the whole replay (reading,
cleaning, gridding, episodes, merging); CPU s is the replaying process's CPU time, the
honest figure on a shared machine. Each single-process replay runs in a fresh process;
its peak memory is that process's peak resident set (``ru_maxrss``) above its level
before the replay, measured on the archive and on one half as long, to show that it
depends on the window, not on the archive's length. For the cluster, the largest
worker's peak RSS (imports included). Ends with PASS/MISS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from deconflict import Agreement
from deconflict.replay.parallel import WINDOW_S, replay

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


def _single(path: Path, window_s: float) -> tuple[pd.DataFrame, float, float, float, int]:
    """In a fresh process: episodes, wall s, CPU s, peak RSS above the start (MiB), windows."""
    import resource

    ag = Agreement()
    start_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, c = time.perf_counter(), time.process_time()
    result = replay([path], ag, window_s=window_s)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result.episodes, wall, cpu, (peak_kib - start_kib) / 1024.0, result.windows


def single_process(path: Path, window_s: float) -> tuple[pd.DataFrame, float, float, float, int]:
    """:func:`_single` in a fresh (spawned) process, so that its peak RSS is its own."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_single, path, window_s).result()


def _worker_peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=2000, help="aircraft airborne at once")
    parser.add_argument("--duration-s", type=int, default=5000, help="archive length, s")
    parser.add_argument("--window-s", type=float, default=WINDOW_S, help="window length, s")
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster run")
    args = parser.parse_args()
    console = Console(width=130)
    table = Table(title="deconflict replay: synthetic archive", title_justify="left")
    cols = ("run", "reports", "windows", "episodes", "wall s", "CPU s", "reports/s", "peak MiB")
    for col in cols:
        table.add_column(col, justify="left" if col == "run" else "right")
    rows = []
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
        for label, path, n in (("single, ½ length", small, n_small), ("single", big, n_big)):
            episodes, wall, cpu, mib, windows = single_process(path, args.window_s)
            rows.append((label, n, episodes, windows, wall, cpu, mib))
        single = rows[1]
        if not args.no_dask:
            import logging

            from distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
            ):
                t = time.perf_counter()
                result = replay([big], Agreement(), client=client, window_s=args.window_s)
                wall = time.perf_counter() - t
                peak = max(client.run(_worker_peak_mib).values())
                same = result.episodes.equals(single[2])
                label = f"LocalCluster, 2 workers (equal: {same})"
                rows.append((label, n_big, result.episodes, result.windows, wall, None, peak))
    for label, n, episodes, windows, wall, cpu, mib in rows:
        table.add_row(
            label,
            f"{n:,}",
            str(windows),
            str(len(episodes)),
            f"{wall:.1f}",
            "" if cpu is None else f"{cpu:.1f}",
            f"{n / wall:,.0f}",
            f"{mib:.0f}",
        )
    console.print(table)
    kinds = single[2]["kind"].value_counts().to_dict()
    console.print(f"episodes by kind: {kinds}; window {args.window_s:g} s")
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"numpy {np.__version__}; load average {os.getloadavg()[0]:.1f} at the end"
    )
    rate = single[1] / single[4]
    verdict = "PASS" if rate >= TARGET_REPORTS_PER_S else "MISS"
    console.print(f"{verdict}: single process {rate:,.0f} reports/s (target ≥ 1,000,000)")
    per_cpu = single[1] / single[5]
    verdict = "PASS" if per_cpu >= TARGET_REPORTS_PER_S else "MISS"
    console.print(
        f"{verdict} (CPU time, for a shared machine): {per_cpu:,.0f} reports per CPU second"
    )
    console.print(
        f"peak RSS above start: {rows[1][6]:.0f} MiB for the archive, {rows[0][6]:.0f} MiB for "
        f"half of it (bounded by the largest window with its margins, not the archive)"
    )


if __name__ == "__main__":
    main()
