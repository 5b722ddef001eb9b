"""Benchmark of the store's bulk ingest of track states on SQLite (the broker's default).

Run ``python bench/store.py [--states 5000] [--batches 10] [--repeat 5]``. It times
``SqlRepository.add_tracks`` (WAL, ``synchronous=FULL``, one committed transaction per
batch) and, as a reference measured in the same run on the same disk, the plainest
equivalent: ``sqlite3.executemany`` of the same rows into a table of the same shape, under
the same pragmas, one transaction per batch. The ratio says what the repository's own work
costs, whatever the machine; the target is ≥ 10,000 states/s and a ratio ≥ 0.5.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from deconflict.store.migrate import upgrade
from deconflict.store.records import TrackBatch
from deconflict.store.sql import SqlRepository

RATE_TARGET = 10_000.0
RATIO_TARGET = 0.5
COLUMNS = ("party_id", "id", "time", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")


def batches(n: int, count: int, party_id: int, seed: int = 1) -> list[TrackBatch]:
    """``count`` batches of ``n`` states of 500 aircraft, each batch 10 s after the last."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"AC{i % 500:03d}" for i in range(n)])
    out = []
    for k in range(count):
        cols = {name: rng.uniform(0, 1, n) for name in COLUMNS[3:]}
        out.append(
            TrackBatch(
                party_id=np.full(n, party_id, dtype=np.int64),
                id=ids,
                time=k * 10 + np.arange(n) / n,
                **cols,
            )
        )
    return out


def time_repository(folder: Path, n: int, count: int) -> float:
    """States per second through ``SqlRepository.add_tracks``."""
    url = f"sqlite:///{folder / 'repo.db'}"
    upgrade(url)
    repo = SqlRepository(url)
    try:
        work = batches(n, count, repo.add_party("blue", "h").id)
        start = time.perf_counter()
        for batch in work:
            repo.add_tracks(batch)
        return n * count / (time.perf_counter() - start)
    finally:
        repo.close()


def time_reference(folder: Path, n: int, count: int) -> float:
    """States per second through bare ``sqlite3.executemany``, same pragmas and commits."""
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute(
            "CREATE TABLE track_states (n INTEGER PRIMARY KEY, party_id INTEGER, "
            "aircraft_id TEXT, time REAL, lat REAL, lon REAL, alt_ft REAL, gs_kt REAL, "
            "track_deg REAL, vs_fpm REAL, received_at REAL)"
        )
        db.execute("CREATE INDEX ix_party_id ON track_states (party_id, aircraft_id)")
        db.execute("CREATE INDEX ix_time ON track_states (time)")
        work = batches(n, count, 1)
        sql = "INSERT INTO track_states VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        start = time.perf_counter()
        for batch in work:
            now = time.time()
            rows = zip(*(getattr(batch, c).tolist() for c in COLUMNS), strict=True)
            db.execute("BEGIN")
            db.executemany(sql, [(*row, now) for row in rows])
            db.execute("COMMIT")
        return n * count / (time.perf_counter() - start)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=5000, help="states per batch")
    parser.add_argument("--batches", type=int, default=10, help="batches per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median)")
    args = parser.parse_args()

    repo_rates, ref_rates = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            repo_rates.append(time_repository(Path(tmp), args.states, args.batches))
        with tempfile.TemporaryDirectory() as tmp:
            ref_rates.append(time_reference(Path(tmp), args.states, args.batches))
    repo_rate, ref_rate = statistics.median(repo_rates), statistics.median(ref_rates)
    ratio = repo_rate / ref_rate

    table = Table(
        title=f"SQLite ingest, {args.batches} × {args.states:,} states, median of {args.repeat}"
    )
    table.add_column("path")
    table.add_column("states/s", justify="right")
    table.add_row("SqlRepository.add_tracks", f"{repo_rate:,.0f}")
    table.add_row("reference: sqlite3.executemany", f"{ref_rate:,.0f}")
    table.add_row("ratio", f"{ratio:.2f}×")
    console = Console()
    console.print(table)
    for name, ok in (
        (f"rate ≥ {RATE_TARGET:,.0f} states/s", repo_rate >= RATE_TARGET),
        (f"ratio to the reference ≥ {RATIO_TARGET}", ratio >= RATIO_TARGET),
    ):
        console.print(f"{name}: {'PASS' if ok else 'MISS'}", highlight=False)


if __name__ == "__main__":
    main()
