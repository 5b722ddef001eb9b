"""Where the broker and the backup relay keep the files nobody named: one data directory.

``--data-dir``, else ``$DECONFLICT_DATA_DIR``, else the per-user state directory
(``platformdirs.user_state_dir("deconflict")``: ``~/.local/state/deconflict`` on Linux).
It holds the default SQLite databases (``deconflict.db``, the backup's
``deconflict-backup.db``) and, for a relay whose database is not an SQLite file, its
signing key and audit log. Nothing is written into the working directory unless a path
names it. The directory is created mode 0700 when a file is first put in it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from deconflict.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import URL

#: Environment variable naming the data directory.
DATA_DIR_ENV = "DECONFLICT_DATA_DIR"
#: File stem of the broker's files in the data directory (``deconflict.db``, …).
BROKER = "deconflict"
#: File stem of the backup relay's files (``deconflict-backup.db``, …).
BACKUP = "deconflict-backup"


def default_data_dir() -> Path:
    """``$DECONFLICT_DATA_DIR``, else the per-user state directory (not created)."""
    named = os.environ.get(DATA_DIR_ENV)
    if named:
        return Path(named).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("deconflict"))


def resolve_data_dir(given: Path | str | None = None) -> Path:
    """``given`` (``~`` expanded), else :func:`default_data_dir`."""
    return Path(given).expanduser() if given else default_data_dir()


def default_db_url(data_dir: Path | str | None = None, stem: str = BROKER) -> str:
    """The SQLite database used when none is named: ``DATA_DIR/<stem>.db``.

    The one default of the broker, the backup relay and every command that reads the
    broker's database (``party``, …), so that they meet without flags.
    """
    return f"sqlite:///{resolve_data_dir(data_dir) / stem}.db"


def sqlite_file(url: str) -> Path | None:
    """The file behind an SQLite URL; None for PostgreSQL or an in-memory database."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or is_memory_sqlite(parsed):
        return None
    return Path(parsed.database or "")


def is_memory_sqlite(url: URL) -> bool:
    """Whether an SQLite URL names an in-memory database (no name, ``:memory:``, ``mode=memory``).

    >>> from sqlalchemy import make_url
    >>> is_memory_sqlite(make_url("sqlite://")), is_memory_sqlite(make_url("sqlite:///x.db"))
    (True, False)
    """
    name = url.database or ""
    return name in ("", ":memory:") or "mode=memory" in name or url.query.get("mode") == "memory"


def relay_file(url: str, suffix: str, data_dir: Path | str | None, stem: str) -> Path | None:
    """A relay's own file next to its database: ``X<suffix>`` beside an SQLite ``X.db``.

    For PostgreSQL, ``DATA_DIR/<stem><suffix>``; None for an in-memory database
    (nothing is written). Never the working directory unless the database is there.
    """
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:  # a bad URL is reported when the database is opened
        return None
    if backend == "sqlite":
        path = sqlite_file(url)
        return None if path is None else path.with_suffix(suffix)
    return resolve_data_dir(data_dir) / f"{stem}{suffix}"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing, the last one mode 0700; returns it.

    An existing directory is left as it is. :class:`InputError` if it cannot be made.
    """
    if not path.is_dir():
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)  # mkdir's mode is cut by the umask
        except OSError as err:
            raise InputError(f"cannot create folder {path}: {err.strerror or err}") from None
    return path


def prepare_for(url: str, data_dir: Path | str | None = None) -> None:
    """Create the data directory (0700) when the SQLite database at ``url`` is to live in it."""
    path = sqlite_file(url)
    folder = resolve_data_dir(data_dir)
    if path is not None and path.parent.resolve() == folder.resolve():
        make_private_dir(folder)
