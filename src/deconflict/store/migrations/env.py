"""Alembic environment: migrate the broker's schema over a given connection or URL.

:func:`deconflict.store.migrate.upgrade_engine` passes a connection in
``config.attributes["connection"]``; otherwise a URL from ``config.attributes["url"]``
(or the ``sqlalchemy.url`` option) is opened with the broker's engine settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from deconflict.store.engine import make_engine
from deconflict.store.models import Base

#: Serialises concurrent upgrades of one PostgreSQL database (brokers starting together).
PG_LOCK_KEY = 0x6465636F  # "deco"


def run_migrations(connection: Connection) -> None:
    """Run the pending revisions over ``connection`` inside one transaction."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        context.run_migrations()


def run_online() -> None:
    """Use the caller's connection, or open the configured URL."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or a URL to the alembic config")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run upgrade() instead")
run_online()
