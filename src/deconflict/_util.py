"""Ground-floor helpers, one implementation each: files, times, error lines, pair keys.

This module imports only the standard library, pydantic (for its error type) and
:mod:`deconflict.errors`, so every other module of deconflict may use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deconflict.errors import InputError

#: Separator of the two parts of a pair or aircraft key (``party␟id``, ``id_a␟id_b``):
#: the ASCII unit separator, which no id may contain.
KEY_SEP = "\x1f"


# -- files ------------------------------------------------------------------------------------
def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None
) -> None:
    """Replace the file at ``path`` by ``data`` so readers see the old file or the new one.

    The data go to a new temporary file in the same folder, are fsynced, the temporary
    file is renamed over ``path`` (``os.replace``) and the folder is fsynced, so after a
    crash the file is whole, old or new. ``str`` data are written as UTF-8.

    ``mode``: the new file's exact permission bits (e.g. ``0o600`` for keys and secrets,
    whatever the umask); ``None`` makes it as ``open(path, "w")`` would (0666 less the
    umask). Raises :class:`OSError`; the temporary file is then removed.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "a.txt"
    ...     atomic_write(p, "one")
    ...     atomic_write(p, b"two", mode=0o600)
    ...     p.read_text(), oct(p.stat().st_mode & 0o777), sorted(os.listdir(d))
    ('two', '0o600', ['a.txt'])
    """
    target = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666 if mode is None else mode)
            break
        except FileExistsError:  # another writer's temporary file: draw another name
            continue
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)  # O_CREAT's mode is cut by the umask
            write_all(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def write_all(fd: int, blob: bytes) -> None:
    """Write all of ``blob`` to the open file ``fd`` (``os.write`` may write less)."""
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make the folder's entries (a new or renamed file) durable; best effort where unsupported."""
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def make_private(path: Path, what: str) -> None:
    """Create the file ``path`` with mode 0600, or make an existing one private.

    For an SQLite file kept from other users' eyes before SQLite opens it: an existing
    file (and its ``-wal`` and ``-shm`` companions) that others could read or write is
    made 0600. Raises :class:`~deconflict.errors.InputError` ``{what} {path}: {reason}``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "store.db"
    ...     make_private(p, "store")
    ...     oct(p.stat().st_mode & 0o777)
    '0o600'
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            try:
                st = part.stat()
                if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
                    part.chmod(0o600)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise InputError(f"{what} {part}: {err.strerror}") from None
        return
    except OSError as err:
        raise InputError(f"{what} {path}: {err.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)


# -- times ------------------------------------------------------------------------------------
class NaiveTimeError(ValueError):
    """An ISO 8601 time without a UTC offset (ambiguous: local time of which place?)."""


def iso_utc(t_s: float) -> str:
    """Unix seconds → ISO 8601 UTC text: whole seconds, else milli- or microseconds.

    >>> iso_utc(0.0), iso_utc(1.25), iso_utc(1_777_629_600.000001)
    ('1970-01-01T00:00:00Z', '1970-01-01T00:00:01.250Z', '2026-05-01T10:00:00.000001Z')
    """
    dt = datetime.fromtimestamp(float(t_s), tz=UTC)
    if dt.microsecond == 0:
        spec = "seconds"
    elif dt.microsecond % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    return dt.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_iso_utc(text: str) -> float:
    """ISO 8601 time with a UTC offset → Unix seconds (surrounding blanks ignored).

    Raises :class:`NaiveTimeError` for a time without an offset, :class:`ValueError` for
    text that is not an ISO 8601 time.

    >>> parse_iso_utc(" 2026-05-01T10:00:00Z "), parse_iso_utc("1970-01-01T01:00:00+01:00")
    (1777629600.0, 0.0)
    """
    t = datetime.fromisoformat(text.strip())
    if t.tzinfo is None:
        raise NaiveTimeError(f"{text!r} has no UTC offset")
    return t.timestamp()


def clock_utc(t_s: float) -> str:
    """Unix seconds → UTC clock time for people, ``2026-05-01 10:00:00`` (whole seconds).

    >>> clock_utc(1_777_629_600.9)
    '2026-05-01 10:00:00'
    """
    return datetime.fromtimestamp(float(t_s), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- one-line errors --------------------------------------------------------------------------
def one_line_error(
    err: ValidationError | Sequence[Mapping[str, Any]],
    label: str = "",
    *,
    root: str = "",
    whole: str = "",
    got: bool = False,
) -> str:
    """The first error of a pydantic validation as one line: ``{label} '{loc}': {msg}``.

    ``loc`` is the field's path (``root`` first, names joined by dots, list indices in
    brackets: ``body[3].lat``), or ``whole`` when the error is about the whole object.
    Without ``label`` the path stands bare (``body[3].lat: …``); with no path at all only
    the message remains. ``got`` adds ``, got {value!r}`` unless the value is a mapping
    (the whole object) or the message already shows it. Pydantic's ``Value error, ``
    prefix is dropped.

    >>> from pydantic import BaseModel, Field
    >>> class M(BaseModel):
    ...     n: int = Field(gt=0)
    >>> try:
    ...     M(n=0)
    ... except ValidationError as e:
    ...     one_line_error(e, "setting", got=True), one_line_error(e, root="body")
    ("setting 'n': Input should be greater than 0, got 0", 'body.n: Input should be greater than 0')
    """
    errors = err.errors() if isinstance(err, ValidationError) else err
    first = errors[0] if errors else {"loc": (), "msg": "invalid input"}
    msg = str(first["msg"]).removeprefix("Value error, ")
    loc = root
    for part in first.get("loc", ()):
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    loc = loc or whole
    head = (f"{label} '{loc}'" if label else loc) if loc else ""
    text = f"{head}: {msg}" if head else msg
    if got and "input" in first and "got" not in msg:
        value = first["input"]
        if not isinstance(value, Mapping):
            text += f", got {value!r}"
    return text
