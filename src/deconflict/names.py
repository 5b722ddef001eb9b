r"""Ids and names: the one rule for every id, the one rule for party names.

**Ids** (aircraft ids in states files and track batches, volume and operation ids) are
non-empty text of at most :data:`MAX_ID_CHARS` characters, every character printable
(Python's :meth:`str.isprintable`: no control characters (Unicode category Cc, e.g.
NUL), no format characters (Cf: bidirectional overrides U+202A–U+202E, U+2066–U+2069,
zero-width characters), no line or paragraph separators, no spaces other than
U+0020, no surrogates, private-use or unassigned code points), and no space at
either end.

**Party names** (``party add``, a hotline message's sender and recipient) are
:data:`PARTY_NAME_PATTERN`: 1 to 64 ASCII letters, digits, ``_``, ``.`` or ``-``,
starting with a letter or digit. :data:`BROADCAST` (``all``, in any case) is reserved:
it is no party's name, only the recipient meaning every party.

Pure functions, no I/O. Error texts name the problem and, for a bad character, its
code point, so the caller only adds where it was (``row 3, column 'id': ...``).

>>> id_problem("AFR123") is None
True
>>> id_problem("B1\x00")
'control character U+0000 not allowed'
>>> party_name_problem("all")
"reserved ('all' means every party)"
>>> terminal_text("x\u202egnp.exe")
'x\\u202egnp.exe'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from deconflict.errors import InputError

#: Most characters in an id or a party name.
MAX_ID_CHARS = 64
#: A party name: what the hotline has always accepted, now for the broker too.
PARTY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
#: The recipient meaning every party; reserved, never a party's own name.
BROADCAST = "all"

_PARTY_NAME = re.compile(PARTY_NAME_PATTERN)
_KIND = {
    "Cc": "control character",
    "Cf": "format character",
    "Cs": "surrogate",
    "Co": "private-use character",
    "Cn": "unassigned code point",
    "Zl": "line separator",
    "Zp": "paragraph separator",
    "Zs": "space character",
}


def char_problem(text: str) -> str | None:
    """The first non-printable character of ``text`` in words, or None.

    E.g. ``control character U+0000 not allowed``; None when every character is printable.
    """
    if text.isprintable():
        return None
    c = next(ch for ch in text if not ch.isprintable())
    kind = _KIND.get(unicodedata.category(c), "non-printable character")
    return f"{kind} U+{ord(c):04X} not allowed"


def id_problem(value: object) -> str | None:
    """What is wrong with one id, in words, or None when it follows the id rule."""
    if not isinstance(value, str):
        return f"{type(value).__name__} value, expected text"
    if not value:
        return "empty value"
    bad = char_problem(value)
    if bad is not None:
        return bad
    if len(value) > MAX_ID_CHARS:
        return f"{len(value)} characters; at most {MAX_ID_CHARS}"
    if value[0] == " " or value[-1] == " ":
        return f"{terminal_text(value)!r} starts or ends with a space"
    return None


def check_id(value: object, field: str) -> str:
    """``value`` when it follows the id rule, else :class:`InputError` ``field: problem``."""
    problem = id_problem(value)
    if problem is not None:
        raise InputError(f"{field}: {problem}")
    assert isinstance(value, str)
    return value


def first_bad_id(values: Sequence[str] | npt.NDArray[np.object_]) -> tuple[int, str] | None:
    """(index, problem) of the first element of ``values`` (text) breaking the id rule.

    Vectorised for track batches: one :meth:`str.isprintable` over all the ids joined,
    then lengths and end characters as numpy arrays of code points; only when something
    is wrong are the ids looked at one by one. Give the values as Python strings (an
    object array or list): a numpy ``str_`` array has already dropped trailing NULs.
    """
    arr = np.asarray(values, dtype=object)
    if arr.size == 0:
        return None
    try:
        joined = "".join(arr)
    except TypeError:  # not all text
        joined = None
    if joined is not None and joined.isprintable():
        lengths = np.fromiter(map(len, arr), dtype=np.int64, count=arr.size)
        code = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        ends = np.cumsum(lengths)
        filled = lengths > 0
        spaced = (code[(ends - lengths)[filled]] == 0x20) | (code[ends[filled] - 1] == 0x20)
        if filled.all() and (lengths <= MAX_ID_CHARS).all() and not spaced.any():
            return None
    for i, value in enumerate(arr):  # the error path only
        problem = id_problem(value)
        if problem is not None:
            return i, problem
    raise AssertionError("unreachable: a check above failed for no id")


def party_name_problem(name: object) -> str | None:
    """What is wrong with a party name, in words, or None when it is one."""
    if not isinstance(name, str):
        return f"{type(name).__name__} value, expected text"
    if not name:
        return "empty; expected a name such as 'blue'"
    if name.lower() == BROADCAST:
        return f"reserved ({BROADCAST!r} means every party)"
    if _PARTY_NAME.fullmatch(name) is None:
        return (
            f"expected 1 to {MAX_ID_CHARS} ASCII letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return None


def check_party_name(name: object, field: str = "party name") -> str:
    """``name`` when it is a party name, else :class:`InputError` ``field 'name': problem``."""
    problem = party_name_problem(name)
    if problem is not None:
        shown = "is" if name == "" else f"{name!r}:"  # repr escapes control characters
        raise InputError(f"{field} {shown} {problem}")
    assert isinstance(name, str)
    return name


def terminal_text(text: str) -> str:
    r"""``text`` safe to print on a terminal.

    Each non-printable character becomes ``\xNN``, ``\uNNNN`` or ``\UNNNNNNNN``, as
    :func:`repr` writes it; printable text is returned as it is.

    Terminal markup (rich's ``[red]``) is the printer's business, not this function's.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
