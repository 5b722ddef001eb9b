"""Read JSON with one-line errors: files, request bodies and WebSocket frames alike.

Every JSON text deconflict reads from outside goes through :func:`parse_json`, which
refuses nesting deeper than :data:`MAX_DEPTH` before parsing (a linear scan in C and
numpy, no recursion), so hostile input such as ``[`` × 200,000 is a one-line
:class:`InputError`, never a ``RecursionError``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from deconflict.errors import InputError

#: Deepest nesting of arrays and objects accepted in any JSON input (levels).
MAX_DEPTH = 64

#: Byte classes for the depth scan: 1 opens, 2 closes, 3 a quote, 4 a backslash, 0 the rest.
_CLASS = np.zeros(256, dtype=np.int8)
_CLASS[[ord("["), ord("{")]] = 1
_CLASS[[ord("]"), ord("}")]] = 2
_CLASS[ord('"')] = 3
_CLASS[ord("\\")] = 4
_CHUNK = 1 << 20


def nesting_depth(data: bytes | str, stop_above: int | None = None) -> int:
    """Deepest nesting of ``[``/``{`` outside string literals (levels; 0 for a scalar).

    Linear in the input and vectorised (numpy over 1 MiB chunks, no recursion, no
    per-byte Python loop); stops early once the depth exceeds ``stop_above``. Text that
    is not JSON still gets a number (its brackets counted as if it were).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    return DepthScan().feed(raw, stop_above)


class DepthScan:
    """:func:`nesting_depth` fed piece by piece (a body as it streams in)."""

    def __init__(self) -> None:
        self.deepest = 0
        self._level = 0
        self._inside = False  # in a string literal where the last piece ended
        self._odd = False  # after an odd run of backslashes where the last piece ended

    def feed(self, data: bytes, stop_above: int | None = None) -> int:
        """Scan the next piece; the deepest level so far (early out above ``stop_above``)."""
        for start in range(0, len(data), _CHUNK):
            self._level, deepest, self._inside, self._odd = _scan(
                data[start : start + _CHUNK], self._level, self._inside, self._odd
            )
            self.deepest = max(self.deepest, deepest)
            if stop_above is not None and self.deepest > stop_above:
                break
        return self.deepest


def _scan(chunk: bytes, level: int, inside: bool, odd: bool) -> tuple[int, int, bool, bool]:
    """One chunk: level after it, deepest level in it, and ``inside``/``odd`` after it."""
    cls = _CLASS[np.frombuffer(chunk, dtype=np.uint8)]
    pos = np.flatnonzero(cls)
    k = cls[pos]
    if odd:  # the previous chunk ended in an odd run of backslashes: one stands in for it
        pos = np.concatenate([[-1], pos])
        k = np.concatenate([np.array([4], dtype=np.int8), k])
    quote = k == 3
    bs = k == 4
    run = np.zeros(len(k), dtype=np.int64)
    if bs.any():  # a quote is escaped after an odd run of backslashes right before it
        joined = np.zeros(len(k), dtype=bool)
        joined[1:] = bs[1:] & bs[:-1] & (np.diff(pos) == 1)
        count = np.cumsum(bs)
        base = np.maximum.accumulate(np.where(bs & ~joined, count - 1, 0))
        run = np.where(bs, count - base, 0)
        escaped = np.zeros(len(k), dtype=bool)
        escaped[1:] = bs[:-1] & (np.diff(pos) == 1) & (run[:-1] % 2 == 1)
        quote &= ~escaped
    if not len(k):
        return level, level, inside, False
    in_string = (np.cumsum(quote) + int(inside)) % 2 == 1
    step = np.where(k == 1, 1, np.where(k == 2, -1, 0)).astype(np.int32)
    step[in_string] = 0
    depth = level + np.cumsum(step, dtype=np.int64)
    odd_after = bool(bs[-1] and pos[-1] == len(chunk) - 1 and run[-1] % 2 == 1)
    return int(depth[-1]), int(depth.max()), bool(in_string[-1]), odd_after


def check_depth(data: bytes | str, source: str) -> None:
    """:class:`InputError` naming ``source`` when ``data`` nests deeper than :data:`MAX_DEPTH`."""
    if nesting_depth(data, stop_above=MAX_DEPTH) > MAX_DEPTH:
        raise InputError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")


def parse_json(data: bytes | str, source: str) -> Any:
    """Parsed JSON from text or bytes; any fault is one :class:`InputError` naming ``source``."""
    check_depth(data, source)
    try:
        return json.loads(data)
    except ValueError as err:  # bad syntax or UTF-8, or an integer over 4300 digits
        raise InputError(f"{source}: not valid JSON ({err})") from None
    except RecursionError:  # not reachable below MAX_DEPTH; kept as a last line of defence
        raise InputError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels") from None


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parsed JSON from ``path``; :class:`InputError` names the file and what it should hold."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{p}: cannot read {what} file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: not UTF-8 text: {err.reason} at byte {err.start}") from None
    return parse_json(text, str(p))
