"""Repositories to test: the memory fake, SQLite files and a real PostgreSQL server.

PostgreSQL comes from the ``pg_url`` fixture in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from deconflict.store.migrate import upgrade
from deconflict.store.records import AlertRecord, TrackBatch
from deconflict.store.sql import SqlRepository
from tests.fakes.memory import MemoryRepository


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'broker.db'}"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Each Repository implementation, with an empty, migrated database."""
    if request.param == "memory":
        yield MemoryRepository()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'broker.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    upgrade(url)
    repository = SqlRepository(url)
    try:
        yield repository
    finally:
        repository.close()


def make_batch(
    party_id: list[int] | int,
    ids: list[str],
    time: list[float],
    **columns: list[float],
) -> TrackBatch:
    """A TrackBatch; unspecified numeric columns are 0 except ``lat`` = row number."""
    n = len(ids)
    pid = [party_id] * n if isinstance(party_id, int) else party_id

    def col(name: str, default: np.ndarray) -> np.ndarray:
        return np.asarray(columns.get(name, default), dtype=np.float64)

    zeros = np.zeros(n)
    return TrackBatch(
        party_id=np.asarray(pid, dtype=np.int64),
        id=np.asarray(ids, dtype=np.str_),
        time=np.asarray(time, dtype=np.float64),
        lat=col("lat", np.arange(n, dtype=np.float64)),
        lon=col("lon", zeros),
        alt_ft=col("alt_ft", zeros),
        gs_kt=col("gs_kt", zeros),
        track_deg=col("track_deg", zeros),
        vs_fpm=col("vs_fpm", zeros),
    )


def make_alert(party_id: int, conflict_id: str = "c1", **fields: object) -> AlertRecord:
    values: dict[str, object] = {
        "id": 0,
        "conflict_id": conflict_id,
        "party_id": party_id,
        "own_id": "AC1",
        "event": "new",
        "level": "caution",
        "manoeuvre": "climb",
        "target_vs_fpm": 1500.0,
        "target_track_deg": None,
        "t_in_s": 42.5,
        "time": 100.0,
        "created_at": 1.7e9,
        "intruder_range_nm": 7.25,
        "intruder_bearing_deg": 123.0,
        "intruder_rel_alt_ft": -400.0,
        "intruder_closure_kt": 480.0,
    }
    values.update(fields)
    return AlertRecord(**values)  # type: ignore[arg-type]
