"""Benchmark of the exact overlap check between two parties' operation volumes.

Run ``python bench/volumes.py`` (``--help`` for options). Each side gets N random
volumes scattered over a square region (default 1000 km across, straddling the
antimeridian): 70% star-shaped polygons (6-12 vertices, 2-25 km from their centre),
20% circles (1-15 km), 10% two-part MultiPolygons; windows of 30 min to 3 h within a
day; bands 1,000-8,000 ft thick between the surface and FL400. It times
``deconflict.airspace.overlaps.overlaps`` at 5 NM / 1000 ft (median of several runs after
a warm-up), and ``buffered`` of one side by 2.5 NM. The reference is an obvious
all-pairs loop (band and window tests, then a per-pair azimuthal equidistant
projection with pyproj and shapely's distance), run on a subset and scaled to N x N;
its result on the subset is checked against the vectorised check. It ends with a
PASS/MISS line for the target (2,000 x 2,000 in under 1 s).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import shapely
from pyproj import Geod, Transformer
from rich.console import Console
from rich.table import Table

from deconflict.airspace.overlaps import overlaps
from deconflict.airspace.volumes import Volume, Volumes, buffered, circle

GEOD = Geod(ellps="WGS84")
H_NM, V_FT = 5.0, 1000.0
TARGET_N, TARGET_S = 2000, 1.0
DAY_S = 86_400.0
T0 = 1_777_593_600.0  # 2026-05-01T00:00:00Z


def random_volumes(n: int, seed: int, centre: tuple[float, float], size_km: float) -> Volumes:
    """``n`` random volumes around ``centre`` (lat, lon) within a square ``size_km`` across."""
    rng = np.random.default_rng(seed)
    half = 500.0 * size_km
    east, north = rng.uniform(-half, half, (2, n))
    dist = np.hypot(east, north)
    az = np.degrees(np.arctan2(east, north))
    lon_c, lat_c, _ = GEOD.fwd(np.full(n, centre[1]), np.full(n, centre[0]), az, dist)
    kind = rng.choice(3, n, p=[0.7, 0.2, 0.1])
    items = []
    for i in range(n):
        if kind[i] == 1:
            geom = circle(float(lon_c[i]), float(lat_c[i]), float(rng.uniform(1e3, 15e3)))
        elif kind[i] == 0:
            geom = _star(rng, float(lon_c[i]), float(lat_c[i]), 2e3, 25e3)
        else:
            parts = []
            for bearing in (0.0, 180.0):
                lo, la, _ = GEOD.fwd(lon_c[i], lat_c[i], bearing + rng.uniform(-30, 30), 15e3)
                parts.append(_star(rng, float(lo), float(la), 2e3, 10e3))
            geom = shapely.MultiPolygon(parts)
        lower = float(rng.integers(0, 64) * 500.0)
        start = T0 + float(rng.uniform(0.0, DAY_S))
        items.append(
            Volume(
                id=f"op{i:05d}",
                geometry=geom,
                alt_lower_ft=lower,
                alt_upper_ft=lower + float(rng.uniform(1000.0, 8000.0)),
                time_start_s=start,
                time_end_s=start + float(rng.uniform(1800.0, 3 * 3600.0)),
            )
        )
    return Volumes(tuple(items), source=f"random{seed}")


def _star(rng: np.random.Generator, lon: float, lat: float, r_min: float, r_max: float):
    k = int(rng.integers(6, 13))
    az = (np.arange(k) + rng.uniform(0.0, 0.8, k)) * (360.0 / k)  # gaps < 120°: simple
    r = rng.uniform(r_min, r_max, k)
    lo, la, _ = GEOD.fwd(np.full(k, lon), np.full(k, lat), az, r)
    lo = lon + (np.asarray(lo) - lon + 180.0) % 360.0 - 180.0
    return shapely.Polygon(np.column_stack([lo, la]))


def reference(a: Volumes, b: Volumes, h_m: float, v_ft: float, tb_s: float) -> set[tuple[int, int]]:
    """All pairs, one at a time: band, window, then distance in a per-pair AEQD plane."""
    found = set()
    for i, va in enumerate(a.items):
        for j, vb in enumerate(b.items):
            if max(vb.alt_lower_ft - va.alt_upper_ft, va.alt_lower_ft - vb.alt_upper_ft) >= v_ft:
                continue
            if max(vb.time_start_s - va.time_end_s, va.time_start_s - vb.time_end_s) >= tb_s:
                continue
            ca, cb = va.geometry.centroid, vb.geometry.centroid
            lon0 = ca.x + ((cb.x - ca.x + 180.0) % 360.0 - 180.0) / 2.0
            lat0 = (ca.y + cb.y) / 2.0
            proj = Transformer.from_crs(
                "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84", always_xy=True
            )
            ga = shapely.transform(va.geometry, proj.transform, interleaved=False)
            gb = shapely.transform(vb.geometry, proj.transform, interleaved=False)
            if shapely.distance(ga, gb) < h_m:
                found.add((i, j))
    return found


def timed(fn, runs: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-km", type=float, default=1000.0)
    parser.add_argument("--centre", type=float, nargs=2, default=[35.0, 180.0])
    parser.add_argument("--reference-n", type=int, default=150)
    args = parser.parse_args()
    centre = (args.centre[0], args.centre[1])
    console = Console()
    h_m = H_NM * 1852.0

    table = Table(
        title=f"Exact overlap check, {H_NM:g} NM / {V_FT:g} ft, region {args.size_km:g} km "
        f"around {centre}",
        title_justify="left",
    )
    for col in ("N x N", "overlaps", "build s", "overlaps s", "buffered s", "reference s (est.)"):
        table.add_column(col, justify="right")

    # Reference on a subset (five times denser, for more overlaps), scaled to N x N: its
    # cost is per pair.
    m = args.reference_n
    sub_km = args.size_km / 5.0
    sub_a, sub_b = random_volumes(m, 1, centre, sub_km), random_volumes(m, 2, centre, sub_km)
    t = time.perf_counter()
    ref = reference(sub_a, sub_b, h_m, V_FT, 0.0)
    ref_per_pair = (time.perf_counter() - t) / (m * m)
    got = overlaps(sub_a, sub_b, H_NM, V_FT)
    same = ref == set(zip(got.a_index.tolist(), got.b_index.tolist(), strict=True))
    console.print(
        f"reference on {m} x {m} within {sub_km:g} km: {len(ref)} overlap(s); vectorised check "
        f"{'agrees' if same else 'DIFFERS'} ({len(got)} overlap(s))"
    )

    at_target = None
    for n in args.sizes:
        t = time.perf_counter()
        a = random_volumes(n, 10 + n, centre, args.size_km)
        b = random_volumes(n, 20 + n, centre, args.size_km)
        build = (time.perf_counter() - t) / 2.0
        seconds, found = timed(lambda a=a, b=b: overlaps(a, b, H_NM, V_FT), args.runs)
        buf_s, _ = timed(
            lambda a=a: buffered(a, h_m / 2.0, V_FT / 2.0, 0.0), max(1, args.runs // 2)
        )
        table.add_row(
            f"{n:,} x {n:,}",
            f"{len(found):,}",
            f"{build:.2f}",
            f"{seconds:.3f}",
            f"{buf_s:.3f}",
            f"{ref_per_pair * n * n:,.0f}",
        )
        if n == TARGET_N:
            at_target = seconds
    console.print(table)
    console.print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"shapely {shapely.__version__}; 'build' = constructing one side's Volumes (validation)"
    )
    if at_target is not None:
        ok = at_target < TARGET_S
        console.print(
            f"{'PASS' if ok else 'MISS'}: {TARGET_N:,} x {TARGET_N:,} in {at_target:.3f} s "
            f"(target < {TARGET_S:g} s); ~{ref_per_pair * TARGET_N**2 / at_target:,.0f}x "
            "faster than the all-pairs reference"
        )
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
