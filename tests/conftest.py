from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import URL, make_url

from deconflict import TrafficState

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PARIS = SHARED_DATA / "adsb" / "paris_2021-10-07.parquet"
HEADON = SHARED_DATA / "daidalus" / "headon.daa"


def make_state(rows: list[dict], party: bool = False) -> TrafficState:
    """States from dicts; missing fields default to a level 0-kt aircraft at t=0."""
    defaults = {"time": 0.0, "alt_ft": 30000.0, "gs_kt": 0.0, "track_deg": 0.0, "vs_fpm": 0.0}
    frame = pd.DataFrame([{**defaults, **r} for r in rows])
    if "id" not in frame:
        frame["id"] = [f"AC{i:03d}" for i in range(len(frame))]
    if not party and "party" in frame:
        frame = frame.drop(columns="party")
    return TrafficState.from_frame(frame)


@pytest.fixture(scope="session")
def paris_reports() -> pd.DataFrame:
    if not PARIS.exists():
        pytest.skip(f"real ADS-B data not found at {PARIS} (../shared is absent)")
    from deconflict.replay.archive import clean_reports

    return clean_reports(pd.read_parquet(PARIS)).frame


def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# --- PostgreSQL: the URL in DECONFLICT_TEST_PG, else the project machines' server at
# postgresql://postgres@127.0.0.1:5432/test. Each test gets a fresh schema (unique, so
# pytest-xdist workers never collide) through search_path in the URL, dropped afterwards.
# When no server answers within ~2 s the PostgreSQL cases skip, saying why; when
# DECONFLICT_TEST_PG names a server that does not answer, they fail.

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
