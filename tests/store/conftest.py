"""Repositories to test: the memory fake, SQLite files and a real PostgreSQL server.

PostgreSQL: the URL in ``DECONFLICT_TEST_PG``, else the project machines' server at
``postgresql://postgres@127.0.0.1:5432/test``. Each test gets a fresh schema (unique,
so pytest-xdist workers never collide) through ``search_path`` in the URL, dropped
afterwards. When no server answers within ~2 s the PostgreSQL cases skip, saying
why; when ``DECONFLICT_TEST_PG`` names a server that does not answer, they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import URL, make_url

from deconflict.store.memory import MemoryRepository
from deconflict.store.migrate import upgrade
from deconflict.store.records import AlertRecord, TrackBatch
from deconflict.store.sql import SqlRepository

PG_ENV = "DECONFLICT_TEST_PG"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def libpq_url(url: URL) -> str:
    """The URL as libpq (psycopg.connect) reads it: no SQLAlchemy driver suffix."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server() -> URL:
    """A PostgreSQL server that answers, or skip (fail if one was named and is down)."""
    named = os.environ.get(PG_ENV)
    url = make_url(named or PG_DEFAULT)
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = url.render_as_string(hide_password=True)
        if named:
            pytest.fail(f"{PG_ENV}={where} does not answer: {reason}")
        pytest.skip(
            f"no PostgreSQL server answers at {where} ({reason}); "
            f"set {PG_ENV} to a server URL to run the PostgreSQL tests"
        )
    return url


@pytest.fixture
def pg_url(pg_server: URL) -> Iterator[str]:
    """A URL whose connections work in a fresh, empty schema (dropped afterwards)."""
    schema = f"deconflict_test_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(pg_server)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = pg_server.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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
