"""The sample plans, random plans and a fast stand-in group for the private-mode tests."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from deconflict.airspace.volumes import Volume, Volumes, circle
from deconflict.io.airspace_files import read_volumes as read
from deconflict.private.cells import records_to_bytes

#: A whole hour, so that slots line up with the windows drawn below.
T0 = 1_780_000_000 - 1_780_000_000 % 3600
#: Days between two plan pairs of a batch: far more than any window or buffer.
PAIR_SPACING_S = 2 * 86_400
#: The sample volumes (tests/data/volumes).
DATA = Path(__file__).resolve().parents[1] / "data" / "volumes"


@pytest.fixture(scope="module")
def plans() -> tuple[Volumes, Volumes]:
    """The sample plans a.geojson and b.geojson (they overlap once)."""
    return read(DATA / "a.geojson"), read(DATA / "b.geojson")


class XorGroup:
    """An insecure but commutative stand-in for ristretto255: blinding is XOR with a key.

    It runs the protocol's logic (hashing, padding, shuffling, messages, matching) at
    numpy speed; tests that run it check the results equal those of the real group.
    """

    def new_scalar(self) -> bytes:
        return os.urandom(32)

    def hash_to_group(self, prefix: bytes, records: np.ndarray) -> bytes:
        raw = records_to_bytes(records)
        return b"".join(
            hashlib.sha256(prefix + raw[i : i + 32]).digest() for i in range(0, len(raw), 32)
        )

    def blind(self, points: bytes, scalar: bytes, workers: int = 1) -> bytes:
        arr = np.frombuffer(points, dtype=np.uint8).reshape(-1, 32)
        return (arr ^ np.frombuffer(scalar, dtype=np.uint8)).tobytes()

    def random_points(self, n: int) -> bytes:
        return os.urandom(32 * n)

    def invalid_points(self, points: bytes) -> list[int]:
        return []


@pytest.fixture(scope="session")
def xor_group() -> XorGroup:
    return XorGroup()


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    dlat = north_m / 111_132.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def random_outline(rng: np.random.Generator, lon: float, lat: float) -> shapely.Geometry:
    """A small outline near (lon, lat): box, rotated rectangle, triangle, circle, two parts
    or a square with a hole; 0.2–6 km across."""
    kind = rng.integers(6)
    size = float(rng.uniform(200.0, 6000.0))
    if kind == 0:  # box
        w, h = size, float(rng.uniform(200.0, 6000.0))
        pts = [(0, 0), (w, 0), (w, h), (0, h)]
    elif kind == 1:  # rotated rectangle
        w, h, a = size, size * float(rng.uniform(0.05, 0.5)), float(rng.uniform(0, math.pi))
        c, s = math.cos(a), math.sin(a)
        pts = [(x * c - y * s, x * s + y * c) for x, y in [(0, 0), (w, 0), (w, h), (0, h)]]
    elif kind == 2:  # triangle
        pts = [tuple(rng.uniform(0, size, 2)) for _ in range(3)]
        if abs(shapely.Polygon(pts).area) < 1e3:
            pts = [(0, 0), (size, 0), (0, size)]
    elif kind == 3:  # circle
        return circle(lon, lat, size / 2)
    elif kind == 4:  # two parts
        a = shapely.Polygon([_offset(lon, lat, x, y) for x, y in [(0, 0), (size, 0), (0, size)]])
        far = size * 1.5
        b = shapely.Polygon(
            [_offset(lon, lat, x + far, y) for x, y in [(0, 0), (size, 0), (size, size)]]
        )
        return shapely.MultiPolygon([a, b])
    else:  # square with a hole
        outer = [(0, 0), (size, 0), (size, size), (0, size)]
        q = size / 4
        hole = [(q, q), (3 * q, q), (3 * q, 3 * q), (q, 3 * q)]
        return shapely.Polygon(
            [_offset(lon, lat, x, y) for x, y in outer],
            [[_offset(lon, lat, x, y) for x, y in hole]],
        )
    return shapely.Polygon([_offset(lon, lat, float(x), float(y)) for x, y in pts])


def _band(rng: np.random.Generator, near: float) -> tuple[float, float]:
    """A band starting within 5000 ft of ``near``; flight-level aligned half the time."""
    if rng.random() < 0.5:
        lo = max(0.0, round((near + float(rng.uniform(-5000, 5000))) / 1000.0) * 1000.0)
        return lo, lo + float(rng.integers(0, 5)) * 1000.0
    lo = max(0.0, near + float(rng.uniform(-5000, 5000)))
    return lo, lo + float(rng.uniform(0, 4000))


def _window(rng: np.random.Generator, near: float) -> tuple[float, float]:
    """A window starting within 2 h of ``near``; whole quarter hours half the time."""
    if rng.random() < 0.5:
        start = near + float(rng.integers(-8, 9)) * 900.0
        return start, start + float(rng.integers(1, 9)) * 900.0
    start = near + float(rng.uniform(-7200, 7200))
    return start, start + float(rng.uniform(60, 2 * 3600))


def random_pair(
    rng: np.random.Generator, k: int, base: float, lon: float, lat: float, reach_m: float
) -> tuple[list[Volume], list[Volume]]:
    """One or two volumes per side near (lon, lat); B's up to ``reach_m`` from A's."""
    a: list[Volume] = []
    b: list[Volume] = []
    alt0 = float(rng.uniform(0, 20000))
    for side, out in (("a", a), ("b", b)):
        for j in range(int(rng.integers(1, 3))):
            dist = float(rng.uniform(0, reach_m)) if side == "b" else float(rng.uniform(0, 3000))
            bearing = float(rng.uniform(0, 2 * math.pi))
            x, y = _offset(lon, lat, dist * math.sin(bearing), dist * math.cos(bearing))
            lo, hi = _band(rng, alt0)
            t0, t1 = _window(rng, base)
            out.append(Volume(f"p{k}{side}{j}", random_outline(rng, x, y), lo, hi, t0, t1))
    return a, b


def random_plans(
    n_pairs: int, seed: int, reach_m: float = 20_000.0, places: str = "world"
) -> tuple[Volumes, Volumes]:
    """``n_pairs`` independent plan pairs, each in its own two days, batched into two plans.

    ``places``: ``world`` (random latitude within ±70°, any longitude) or ``antimeridian``
    (within 0.2° of it). Pairs are far apart in time, so only volumes of the same pair
    can overlap.
    """
    rng = np.random.default_rng(seed)
    a_all: list[Volume] = []
    b_all: list[Volume] = []
    for k in range(n_pairs):
        lat = float(rng.uniform(-70, 70))
        if places == "world":
            lon = float(rng.uniform(-180, 180))
        else:
            lon = float(rng.choice([-1.0, 1.0]) * rng.uniform(179.8, 180.0))
        a, b = random_pair(rng, k, T0 + k * PAIR_SPACING_S, lon, lat, reach_m)
        a_all += a
        b_all += b
    return Volumes(tuple(a_all), source="A"), Volumes(tuple(b_all), source="B")
