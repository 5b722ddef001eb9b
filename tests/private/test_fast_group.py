"""The direct libsodium calls give byte for byte what the per-element rbcl calls give."""

from __future__ import annotations

import os

import numpy as np
import pytest

from deconflict.errors import InputError
from deconflict.private.psi import (
    POINT_BYTES,
    Ristretto255,
    Ristretto255Reference,
    split,
)

FAST, REFERENCE = Ristretto255(), Ristretto255Reference()


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(17)


@pytest.mark.parametrize("n", [0, 1, 37, 2500])
def test_hash_to_group_equals_the_reference(rng, n):
    records = rng.integers(-(2**63), 2**63 - 1, (n, 4), dtype=np.int64, endpoint=True)
    prefix = os.urandom(int(rng.integers(0, 200)))
    fast = FAST.hash_to_group(prefix, records)
    assert len(fast) == n * POINT_BYTES
    assert fast == REFERENCE.hash_to_group(prefix, records)


@pytest.mark.parametrize(("n", "workers"), [(0, 1), (1, 1), (300, 1), (4200, 2)])
def test_blind_equals_the_reference(rng, n, workers):
    points = FAST.random_points(n)
    scalar = FAST.new_scalar()
    fast = FAST.blind(points, scalar, workers)
    assert fast == REFERENCE.blind(points, scalar)
    if n <= 300:  # commutative, as the exchange needs
        other = FAST.new_scalar()
        assert FAST.blind(fast, other) == REFERENCE.blind(REFERENCE.blind(points, other), scalar)


def test_blind_on_random_scalar_bytes_equals_the_reference(rng):
    """Any 32 bytes as the scalar (libsodium ignores the top bit), as rbcl takes them."""
    points = FAST.random_points(50)
    for _ in range(5):
        scalar = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        assert FAST.blind(points, scalar) == REFERENCE.blind(points, scalar)


def test_bad_elements_are_found_and_refused_as_by_the_reference(rng):
    points = bytearray(FAST.random_points(200))
    bad = sorted(rng.choice(200, 12, replace=False).tolist())
    for k, i in enumerate(bad):
        if k % 3 == 0:
            points[i * 32 : (i + 1) * 32] = bytes(32)  # the identity
        elif k % 3 == 1:
            points[i * 32 : (i + 1) * 32] = b"\xff" * 32  # not a field element
        else:
            points[i * 32] ^= 1  # a "negative" encoding
    data = bytes(points)
    assert FAST.invalid_points(data) == REFERENCE.invalid_points(data) == bad
    scalar = FAST.new_scalar()
    for group in (FAST, REFERENCE):
        with pytest.raises(InputError, match="not a valid ristretto255 group element"):
            group.blind(data, scalar)
    with pytest.raises(InputError, match="not a valid ristretto255 group element"):
        FAST.blind(bytes(points[: bad[0] * 32]) + bytes(32) * 5000, scalar, workers=2)


def test_lengths_are_checked_before_any_call():
    scalar = FAST.new_scalar()
    with pytest.raises(InputError, match="not a multiple of 32"):
        FAST.blind(bytes(33), scalar)
    with pytest.raises(InputError, match="not a multiple of 32"):
        FAST.invalid_points(bytes(31))
    with pytest.raises(InputError, match="a scalar is 32 bytes"):
        FAST.blind(FAST.random_points(2), scalar[:31])


def test_random_points_are_fresh_valid_elements():
    points = FAST.random_points(300)
    assert len(points) == 300 * POINT_BYTES
    assert FAST.invalid_points(points) == []
    assert len(set(split(points))) == 300
