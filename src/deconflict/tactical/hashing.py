"""Deterministic, vectorised, keyed 64-bit hashes of strings (FNV-1a + splitmix64).

Both parties must derive the same tie-breaks and opaque ids from the same inputs,
on any machine, in any batch: the hash of a string depends only on its UTF-8
bytes and the key, never on array widths or process state (unlike Python's
``hash``). Not a cryptographic MAC: where secrecy matters, the key is a secret.

>>> h = hash_strings(np.array(["AFR123", "BAW9"]), key="k")
>>> bool(h[0] == hash_strings(np.array(["AFR123"]), key="k")[0])
True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def splitmix64(x: U64) -> U64:
    """Avalanche finaliser: every input bit affects every output bit."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_strings(strings: npt.NDArray[np.str_], key: str = "") -> U64:
    """Keyed 64-bit hash of each string (FNV-1a over ``key`` NUL ``string``, then splitmix64)."""
    data = np.char.encode(np.asarray(strings, dtype=np.str_), "utf-8")
    n = data.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    width = data.dtype.itemsize
    with np.errstate(over="ignore"):
        h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
        for byte in key.encode("utf-8") + b"\x00":
            h = (h ^ np.uint64(byte)) * _FNV_PRIME
        if width:
            raw = np.frombuffer(data.tobytes(), dtype=np.uint8).reshape(n, width)
            length = np.char.str_len(data)
            for pos in range(width):
                step = (h ^ raw[:, pos].astype(np.uint64)) * _FNV_PRIME
                h = np.where(pos < length, step, h)
        return splitmix64(h)


def combine(a: U64, b: U64) -> U64:
    """Order-sensitive combination of two hashes."""
    with np.errstate(over="ignore"):
        return splitmix64(a * np.uint64(0x9E3779B97F4A7C15) ^ splitmix64(b))


def float_bits(x: npt.NDArray[np.float64]) -> U64:
    """The IEEE-754 bit pattern of each float, as an unsigned 64-bit hash input."""
    return np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)


def hex_ids(h: U64, prefix: str = "") -> npt.NDArray[np.str_]:
    """16 hex digits per hash, with an optional prefix: opaque, fixed-width ids."""
    if h.size == 0:
        return np.zeros(0, dtype=f"<U{len(prefix) + 16}")
    return np.char.add(prefix, np.char.zfill(np.char.mod("%x", h.astype(np.uint64)), 16))
