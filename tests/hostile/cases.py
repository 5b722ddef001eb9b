"""The hostile-input corpus: bodies, frames, query values and files no one should send.

Every generator is deterministic and bounded, so the corpus runs in seconds:
whole-input cases (deep nesting, oversize, truncated, empty, invalid UTF-8, NUL,
huge numbers, NaN) and, for a valid example, each node replaced by a hostile value
(wrong types, control and bidirectional-override characters, huge numbers,
NaN/Infinity, null).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Deeper than any reader's recursion could take (the report's ``[`` × 200,000).
#: A valid track state: the corpora mutate it.
TRACK: dict[str, Any] = {
    "time": 1.7e9,
    "id": "B1",
    "lat": 48.0,
    "lon": 2.0,
    "alt_ft": 30000,
    "gs_kt": 450,
    "track_deg": 90,
    "vs_fpm": 0,
}
#: A well-formed (unsigned) hotline message: the corpora mutate it.
MESSAGE: dict[str, Any] = {
    "v": 1,
    "id": "0" * 32,
    "kind": "notice",
    "sender": "blue",
    "to": "red",
    "seq": 1,
    "ts": 1.7e9,
    "body": "hello",
    "sig": "0" * 128,
}

DEEP = 200_000


@dataclass(frozen=True)
class Case:
    """One hostile input: a label for the report, the bytes, and (HTTP) a content type."""

    label: str
    data: bytes
    content_type: str = "application/json"
    #: The issue item that owns the fault this case finds, where another engineer fixes it.
    owner_item: int | None = None


def whole_inputs(oversize_bytes: int) -> list[Case]:
    """Inputs that are hostile as a whole, whatever the endpoint or file expects."""
    valid = json.dumps([{"a": [1, 2, {"b": "c"}]}]).encode()
    return [
        Case("deep array", b"[" * DEEP),
        Case("deep object", b'{"a":' * DEEP),
        Case("deep but closed (65 levels)", b"[" * 65 + b"]" * 65),
        Case("deep inside a string-looking text", b'["\\"' + b"[" * DEEP),
        Case("oversize", b"[" + b"0," * (oversize_bytes // 2) + b"0]"),
        Case("truncated", valid[: len(valid) // 2]),
        Case("empty", b""),
        Case("whitespace", b" \n\t "),
        Case("invalid UTF-8", b'["\xff\xfe\xc3"]'),
        Case("NUL bytes", b"\x00" * 16),
        Case("not JSON", b"<kml/>"),
        Case("null", b"null"),
        Case("a string", b'"\\u0000\\u202e"'),
        Case("a number", b"1e999"),
        Case("NaN", b"NaN"),
        Case("-Infinity", b"-Infinity"),
        Case("a 5000-digit integer", b"[" + b"9" * 5000 + b"]"),
        Case("an empty array", b"[]"),
        Case("an empty object", b"{}"),
        Case("lone surrogate", b'["\\ud800"]'),
        Case("binary as octet-stream", b"\x00\x01PAR1\xff" * 8, "application/octet-stream"),
        Case("JSON as text/plain", valid, "text/plain"),
    ]


#: Values that replace one node of a valid example at a time.
HOSTILE_VALUES: dict[str, Any] = {
    "string for number": "12",
    "NUL": "a\x00b",
    "control characters": "\x1b[31m\r\n\x07",
    "bidi override": "\u202eB1",
    "long string": "x" * 5000,
    "null": None,
    "object": {"a": 1},
    "array": [1],
    "bool": True,
    "huge number": 1e308,
    "huge integer": 10**400,
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "negative": -1,
}


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every node below the root, shallowest first within each branch."""
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    )
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {k: _replaced(v, rest, value) if k == head else v for k, v in obj.items()}
    return [_replaced(v, rest, value) if i == head else v for i, v in enumerate(obj)]


def mutations(example: Any, limit: int) -> list[Case]:
    """``example`` with one node replaced by each hostile value; at most ``limit`` cases.

    Spread evenly over nodes and values when there are more (deterministic).
    """
    cases = [
        Case(
            f"{'.'.join(map(str, path))} = {name}",
            json.dumps(_replaced(example, path, value), allow_nan=True).encode(),
        )
        for path in _paths(example)
        for name, value in HOSTILE_VALUES.items()
    ]
    step = max(1, -(-len(cases) // limit))
    return cases[::step][:limit]


def hostile_query_values() -> dict[str, str]:
    """Raw (already percent-encoded) query values."""
    return {
        "text": "x",
        "negative": "-1",
        "huge": "1e999",
        "NaN": "NaN",
        "Infinity": "Infinity",
        "5000 digits": "9" * 5000,
        "NUL": "%00",
        "invalid UTF-8": "%ff%fe",
        "bidi": "%E2%80%AEx",
        "empty": "",
        "long": "a" * 5000,
    }


def hostile_path_segments() -> dict[str, str]:
    """Raw (percent-encoded) path segments."""
    return {
        "NUL": "%00",
        "invalid UTF-8": "%ff",
        "dot-dot": "..%2F..%2Fetc",
        "bidi": "%E2%80%AEx",
        "long": "a" * 5000,
        "control": "%1b%5b31m",
    }
