from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import URL, make_url

from deconflict import TrafficState
from deconflict.datadir import DATA_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PARIS = SHARED_DATA / "adsb" / "paris_2021-10-07.parquet"
HEADON = SHARED_DATA / "daidalus" / "headon.daa"


# --- Every test runs in its own temporary working directory, with its own data directory
# (DECONFLICT_DATA_DIR; not created beforehand), so that nothing a test or a process it
# starts writes lands in the checkout or in the real per-user state folder. Processes that
# module- or session-scoped fixtures start get a session-wide data directory.


@pytest.fixture(scope="session", autouse=True)
def _session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("session") / "data"
    patch = pytest.MonkeyPatch()
    patch.setenv(DATA_DIR_ENV, str(path))
    yield path
    patch.undo()


@pytest.fixture(autouse=True)
def _own_directories(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("run")
    (base / "cwd").mkdir()
    monkeypatch.chdir(base / "cwd")
    monkeypatch.setenv(DATA_DIR_ENV, str(base / "data"))


@pytest.fixture
def data_dir() -> Path:
    """This test's data directory (``$DECONFLICT_DATA_DIR``; it may not exist yet)."""
    return Path(os.environ[DATA_DIR_ENV])


# --- The checkout must stay clean: a session whose tests create or change files in it
# fails, naming them (CI checks `git status --porcelain` after `make test` too).

_GIT_BEFORE = pytest.StashKey[set[str] | None]()


def _git_status() -> set[str] | None:
    try:
        res = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(res.stdout.splitlines()) if res.returncode == 0 else None


def _is_controller(session: pytest.Session) -> bool:
    return not hasattr(session.config, "workerinput")  # pytest-xdist workers have it


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_controller(session):
        session.config.stash[_GIT_BEFORE] = _git_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _is_controller(session):
        return
    before = session.config.stash.get(_GIT_BEFORE, None)
    after = _git_status()
    if before is None or after is None:
        return
    new = sorted(after - before)
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["the tests left the checkout dirty (git status --porcelain):", *new]
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def run_deconflict(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    timeout_s: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """``python -m deconflict ARGS`` as a user's shell runs it: output captured, never raises.

    ``cwd`` defaults to the test's own temporary directory; ``env`` adds variables to
    this process's environment and ``drop`` removes some.
    """
    import sys

    environ = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=cwd,
        env={**environ, **(env or {})},
    )


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


# --- NATS JetStream: the URL in DECONFLICT_TEST_NATS, else the project machines' server at
# nats://127.0.0.1:4222. When none answers within ~2 s the NATS cases skip, saying why;
# when DECONFLICT_TEST_NATS names a server that does not answer, they fail (CI names it).

NATS_ENV = "DECONFLICT_TEST_NATS"
NATS_DEFAULT = "nats://127.0.0.1:4222"


async def _nats_problem(url: str) -> str | None:
    """None if a NATS server with JetStream answers at ``url``; what is wrong otherwise."""
    import nats

    async def quiet(_err: Exception) -> None:
        return None

    try:  # nats-py keeps retrying a refused connection: bound it
        nc = await asyncio.wait_for(
            nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, error_cb=quiet), 5
        )
    except Exception as err:
        return f"no NATS server answers at {url} ({err.__class__.__name__})"
    try:
        await nc.jetstream().account_info()
    except Exception as err:
        return f"NATS at {url} has no JetStream ({err.__class__.__name__})"
    finally:
        await nc.close()
    return None


@pytest.fixture(scope="session")
def nats_server() -> str:
    """The URL of a NATS server with JetStream, or skip (fail if one was named and is down)."""
    named = os.environ.get(NATS_ENV)
    url = named or NATS_DEFAULT
    problem = asyncio.run(_nats_problem(url))
    if problem:
        if named:
            pytest.fail(f"{NATS_ENV}={url}: {problem}")
        pytest.skip(f"{problem}; set {NATS_ENV} to a server URL to run the NATS tests")
    return url
