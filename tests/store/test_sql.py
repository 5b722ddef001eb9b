"""SqlRepository specifics: engine settings, URLs, durability, threads, bulk ingest, modes."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from deconflict.errors import InputError
from deconflict.store.engine import database_url, make_engine
from deconflict.store.migrate import upgrade
from deconflict.store.sql import SqlRepository
from tests.store.conftest import make_batch


def test_sqlite_engine_settings(sqlite_url: str):
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:

            def pragma(name: str) -> object:
                return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") >= 1000
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_database_urls(url: str, driver: str):
    assert database_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "message"),
    [("not a url", "is not valid"), ("mysql://u@h/db", "expected sqlite or postgresql")],
)
def test_bad_database_urls(url: str, message: str):
    with pytest.raises(InputError, match=message):
        SqlRepository(url)


def test_in_memory_sqlite_with_migrate():
    repo = SqlRepository("sqlite://", migrate=True)
    try:
        p = repo.add_party("blue", "h")
        repo.add_tracks(make_batch(p.id, ["A"], [1.0]))
        assert repo.latest_tracks(0.0).id.tolist() == ["A"]
    finally:
        repo.close()


def test_writes_are_committed_before_returning(sqlite_url: str):
    upgrade(sqlite_url)
    writer, reader = SqlRepository(sqlite_url), SqlRepository(sqlite_url)
    try:
        p = writer.add_party("blue", "h")
        writer.add_tracks(make_batch(p.id, ["A", "B"], [1.0, 2.0]))
        writer.add_alerts([])
        writer.ack_agreement(p.id, "fp")
        assert reader.party_by_token_hash("h").acked_fingerprint == "fp"
        assert reader.latest_tracks(0.0).id.tolist() == ["A", "B"]
    finally:
        writer.close()
        reader.close()


def test_concurrent_writers_on_sqlite_wait_instead_of_failing(sqlite_url: str):
    upgrade(sqlite_url)
    repo = SqlRepository(sqlite_url)
    try:
        parties = [repo.add_party(f"p{i}", f"h{i}").id for i in range(4)]
        errors: list[BaseException] = []

        def ingest(pid: int) -> None:
            try:
                for k in range(10):
                    ids = [f"AC{i}" for i in range(200)]
                    repo.add_tracks(make_batch(pid, ids, [float(k)] * 200))
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=ingest, args=(pid,)) for pid in parties]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(len(repo.tracks_of_party(pid, 10_000)) for pid in parties) == 4 * 10 * 200
        assert len(repo.latest_tracks(9.0)) == 4 * 200
    finally:
        repo.close()


def test_a_failed_write_leaves_no_transaction_open(sqlite_url: str):
    upgrade(sqlite_url)
    repo = SqlRepository(sqlite_url)
    try:
        repo.add_party("blue", "h")
        with pytest.raises(InputError):
            repo.add_party("blue", "h2")
        with repo.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM parties")).scalar() == 1
    finally:
        repo.close()


def test_sqlite_bulk_ingest_stores_every_state(sqlite_url: str):
    """Batches of 5,000 states: all stored, the newest per aircraft found (rate: bench/store.py)."""
    upgrade(sqlite_url)
    repo = SqlRepository(sqlite_url)
    try:
        p = repo.add_party("blue", "h").id
        n, batches = 5000, 10
        ids = [f"AC{i % 500:03d}" for i in range(n)]
        rng = np.random.default_rng(1)
        for k in range(batches):
            times = (k * 10 + np.arange(n) / n).tolist()
            assert repo.add_tracks(make_batch(p, ids, times, lat=rng.uniform(size=n))) == n
        with repo.engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM track_states")).scalar()
        assert stored == n * batches
        latest = repo.latest_tracks(0.0)
        expected = {f"AC{j:03d}": (batches - 1) * 10 + (n - 500 + j) / n for j in range(500)}
        assert dict(zip(latest.id.tolist(), latest.time.tolist(), strict=True)) == expected
    finally:
        repo.close()


def test_sqlite_files_are_created_private(tmp_path: Path):
    """The database and its WAL and shared-memory files: owner only (0600), whatever the umask."""
    url = f"sqlite:///{tmp_path / 'broker.db'}"
    old = os.umask(0o022)
    try:
        repo = SqlRepository(url, migrate=True)
        try:
            repo.add_party("blue", "h")
            files = sorted(p.name for p in tmp_path.iterdir())
            assert files == ["broker.db", "broker.db-shm", "broker.db-wal"]
            assert {p.name: mode(p) for p in tmp_path.iterdir()} == dict.fromkeys(files, 0o600)
        finally:
            repo.close()
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
