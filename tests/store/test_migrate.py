"""The alembic migrations: idempotent, shipped in the package, matching the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from deconflict.store.engine import make_engine
from deconflict.store.migrate import current_revision, head_revision, script_location, upgrade
from deconflict.store.models import Base


def test_the_environment_ships_inside_the_package():
    folder = Path(script_location())
    assert (folder / "env.py").is_file()
    assert (folder / "script.py.mako").is_file()
    assert list((folder / "versions").glob("0001_*.py"))
    assert head_revision() == "0006"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_is_idempotent_and_matches_the_models(backend: str, request: pytest.FixtureRequest):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    assert current_revision(url) is None
    upgrade(url)
    upgrade(url)  # a no-op at head
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"parties", "track_states", "alerts", "alembic_version"} <= tables
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
