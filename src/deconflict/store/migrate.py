"""Schema migrations: ``alembic upgrade head`` run programmatically, no ``alembic.ini``.

The alembic environment and revisions live in the package
(:mod:`deconflict.store.migrations`), so an installed broker migrates its own
database::

    from deconflict.store.migrate import upgrade
    upgrade("sqlite:///deconflict.db")   # idempotent: a no-op when already at head

To author a revision after changing :mod:`deconflict.store.models`::

    from alembic import command
    from deconflict.store.migrate import alembic_config
    command.revision(alembic_config("sqlite:///scratch.db"), "what changed", autogenerate=True)

(upgrade the scratch database to head first, and review the generated file).
"""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from deconflict.store.engine import make_engine


def script_location() -> str:
    """The folder of the alembic environment inside the installed package."""
    return str(files("deconflict.store.migrations"))


def alembic_config(url: str | None = None) -> Config:
    """An alembic :class:`~alembic.config.Config` for the package's migrations.

    ``url`` (optional) is the database that commands without a connection use.
    """
    config = Config()
    # configparser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", script_location().replace("%", "%%"))
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade_engine(engine: Engine) -> None:
    """Bring the database behind ``engine`` to the newest revision, in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest revision (idempotent).

    Creates the SQLite file if needed. Raises :class:`~deconflict.errors.InputError`
    for a malformed or unsupported URL.
    """
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this version of deconflict."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
