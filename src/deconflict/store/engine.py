"""Database engines for the broker and the relays: SQLite or PostgreSQL through one code path.

- **SQLite** (the default, ``DATA_DIR/deconflict.db``): WAL journal, ``synchronous=FULL``
  (a commit survives power loss), foreign keys on, a busy timeout so concurrent
  writers wait instead of failing, and ``check_same_thread=False`` because the
  service is threaded. SQLAlchemy, not the driver, opens transactions, so DDL in
  migrations is transactional too. A new database file is created mode 0600 (SQLite
  gives its ``-wal`` and ``-shm`` files the mode of the database file).
- **PostgreSQL**: ``postgresql://`` URLs use the psycopg 3 driver.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from deconflict.datadir import is_memory_sqlite
from deconflict.errors import InputError

#: How long an SQLite writer waits for another writer's lock before failing, s.
SQLITE_BUSY_TIMEOUT_S = 30.0


def database_url(url: str) -> URL:
    """Parse a database URL; ``postgresql://`` (or ``postgres://``) selects psycopg 3.

    Raises :class:`~deconflict.errors.InputError` for a malformed URL or a backend
    other than SQLite and PostgreSQL.

    >>> database_url("postgresql://u@db/broker").drivername
    'postgresql+psycopg'
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(
            f"database URL {url!r} is not valid; expected sqlite:///FILE "
            "or postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InputError(
            f"database URL {parsed.render_as_string(hide_password=True)!r} names backend "
            f"{parsed.get_backend_name()!r}; expected sqlite or postgresql"
        )
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url`` configured for the broker (see the module docstring).

    An in-memory SQLite database (``sqlite://``) shares one connection among threads
    (:class:`~sqlalchemy.pool.StaticPool`): for tests only.
    """
    parsed = database_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = 10
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError) as err:
        raise InputError(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: {err}"
        ) from None


def _create_private(url: URL) -> None:
    """Create a missing SQLite database file empty and 0600, before SQLite opens it."""
    if url.query.get("uri") or not url.database:
        return
    # It may exist, or its folder may not: SQLite says so when it opens it.
    with suppress(OSError):
        os.close(os.open(url.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_engine(url: URL) -> Engine:
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
    if is_memory_sqlite(url):
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        _create_private(url)
        engine = create_engine(url, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (below) instead of the driver's implicit one, so
        # transactions also cover reads and DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A transaction that reads before it writes must take the write lock up front:
        # upgrading a WAL read snapshot after another writer committed fails at once
        # with "database is locked" instead of waiting (see :func:`write_transaction`).
        immediate = conn.info.pop(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


_IMMEDIATE = "deconflict_begin_immediate"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the write lock from its start (SQLite ``BEGIN IMMEDIATE``).

    Use it for read-then-write transactions: concurrent ones queue on the busy timeout
    instead of failing. On PostgreSQL it is an ordinary transaction.
    """
    with engine.connect() as conn:
        conn.info[_IMMEDIATE] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop(_IMMEDIATE, None)
