"""Benchmark of the private mode: two-round ECDH-PSI over ristretto255 on H3 cells.

Run ``python bench/private.py`` (``--help`` for options). Three parts:

1. **Two operations**, each 50 × 50 km × 2 h × FL100–FL300, at the default grid: a
   typical pair (B 25 km east of A and an hour later), the worst case (the very same
   block) and a pair that never meets. For each: fine 4-D cells per side, elements
   sent in each round, message bytes, and seconds per side (each side on one core,
   its discretisation included), against the target of 5 s for the whole check.
2. **Blinding throughput**: 100,000 records hashed to the group and blinded on one
   core (the target is 20,000 blinded elements/s), against the old path (one rbcl
   call per element, ``Ristretto255Reference``) on the same elements in the same run,
   alternating chunks so both see the same load, checked byte for byte; then on all
   cores; and a full PSI of two 100k sets half of which are shared (both directions,
   checked).
3. **False overlaps**: random small plan pairs through the real exchange, checked
   against the exact check (``deconflict.airspace.overlaps.overlaps``): misses (must be 0)
   and the share of reported pairs that are not exact overlaps.

It ends with a PASS/MISS line per target.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from rich.console import Console
from rich.table import Table

from deconflict import Agreement
from deconflict.airspace.overlaps import areas_km2, overlaps
from deconflict.airspace.volumes import Volume, Volumes, circle
from deconflict.private import Grid, Party, join, local_check
from deconflict.private.cells import coarse_records
from deconflict.private.psi import RISTRETTO255, Ristretto255Reference, split

T0 = 1_777_593_600.0  # 2026-05-01T00:00:00Z
ELEMENTS_TARGET = 20_000.0
CHECK_TARGET_S = 5.0
console = Console(width=170)


def square(lon: float, lat: float, km: float) -> shapely.Polygon:
    dlon = km / (111.32 * math.cos(math.radians(lat)))
    return shapely.box(lon, lat, lon + dlon, lat + km / 110.57)


def block(ident: str, east_km: float, hours_later: float) -> Volumes:
    lon = 2.0 + east_km / (111.32 * math.cos(math.radians(45.0)))
    start = T0 + 10 * 3600 + hours_later * 3600
    return Volumes((Volume(ident, square(lon, 45.0, 50.0), 10_000, 30_000, start, start + 7200),))


class Clock:
    """Wall and CPU seconds spent in one party's calls."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        return out


def two_operations(grid: Grid, workers: int) -> tuple[Table, float]:
    table = Table(title=f"Two operations, 50 × 50 km × 2 h × FL100–FL300, grid {grid.describe()}")
    for col in (
        "case",
        "fine 4-D cells/side",
        "coarse elem. A/B",
        "fine elem. A/B",
        "messages (KiB)",
        "s side A",
        "s side B",
        "s total",
        "result",
        "area private/exact",
    ):
        table.add_column(col, justify="right" if col != "case" else "left")
    typical_total = 0.0
    ag = Agreement()
    for case, (east, later) in {
        "typical: 25 km east, 1 h later": (25.0, 1.0),
        "worst: the same block": (0.0, 0.0),
        "apart: 200 km east": (200.0, 0.0),
    }.items():
        ca, cb = Clock(), Clock()
        a = ca(Party.initiator, block("A", 0.0, 0.0), ag, 0.0, grid, workers)
        b = cb(Party.responder, block("B", east, later), ag, 0.0, grid, workers)
        m1 = ca(a.offer)
        m2 = cb(b.answer, m1)
        m3 = ca(a.refine, m2)
        m4 = cb(b.refine, m3)
        m5 = ca(a.finish, m4)
        cb(b.finish, m5)
        found = join(a, b)
        exact = overlaps(block("A", 0.0, 0.0), block("B", east, later), 5.0, 1000.0)
        area = (
            f"{areas_km2(found['geometry'])[0]:,.0f} / {areas_km2(exact.geometry)[0]:,.0f} km²"
            if len(found) and len(exact)
            else "–"
        )
        n_coarse = (len(coarse_records(a.cells, grid)), len(coarse_records(b.cells, grid)))
        n_fine = (_fine_sent(a), _fine_sent(b))
        total = ca.wall + cb.wall
        if case.startswith("typical"):
            typical_total = total
        kib = " / ".join(f"{len(m) / 1024:.0f}" for m in (m1, m2, m3, m4, m5))
        result = (
            f"{found.iloc[0]['alt_lower_ft']:,.0f}–{found.iloc[0]['alt_upper_ft']:,.0f} ft, "
            f"{found.iloc[0]['time_start'][11:16]}–{found.iloc[0]['time_end'][11:16]}"
            if len(found)
            else "no overlap"
        )
        table.add_row(
            case,
            f"{a.cells.fine_cell_count():,}",
            f"{n_coarse[0]:,} / {n_coarse[1]:,}",
            f"{n_fine[0]:,} / {n_fine[1]:,}",
            kib,
            f"{ca.wall:.2f} ({ca.cpu:.2f} cpu)",
            f"{cb.wall:.2f} ({cb.cpu:.2f} cpu)",
            f"{total:.2f}",
            result,
            area,
        )
    return table, typical_total


def _fine_sent(party: Party) -> int:
    from deconflict.private.cells import fine_records

    return len(fine_records(party.cells, party.grid, party.common))


def _paired(
    fast: Callable[[bytes], bytes], old: Callable[[bytes], bytes], data: bytes, chunk: int
) -> tuple[float, float]:
    """CPU seconds of ``fast`` and ``old`` over ``data``, taken in alternating chunks.

    Alternating ``chunk`` elements at a time puts both paths under the same load, so
    their ratio holds on a busy machine. Checks that both give the same bytes.
    """
    t_fast = t_old = 0.0
    for i in range(0, len(data), 32 * chunk):
        part = data[i : i + 32 * chunk]
        c = time.process_time()
        a = old(part)
        t_old += time.process_time() - c
        c = time.process_time()
        b = fast(part)
        t_fast += time.process_time() - c
        assert a == b
    return t_fast, t_old


def throughput(n: int, workers: int) -> tuple[Table, float, float]:
    """Blinded elements per second on one core, the old per-element path, and all cores.

    Returns the table, blinded elements/s per core and its ratio to the old path
    (one ``rbcl`` call per element, :class:`Ristretto255Reference`) in this run.
    """
    rng = np.random.default_rng(0)
    records = np.column_stack(
        [np.zeros(n, dtype=np.int64), rng.integers(0, 2**62, (n, 3), dtype=np.int64)]
    )
    prefix = os.urandom(96)
    g, ref = RISTRETTO255, Ristretto255Reference()
    scalar = g.new_scalar()
    table = Table(title=f"Blinding {n:,} elements (hash to the group, then × scalar)")
    for col in ("how", "seconds", "elements/s", "per core, elements/s"):
        table.add_column(col, justify="right" if col != "how" else "left")

    w, c = time.perf_counter(), time.process_time()
    points = g.hash_to_group(prefix, records)
    hash_wall, hash_cpu = time.perf_counter() - w, time.process_time() - c
    w, c = time.perf_counter(), time.process_time()
    blinded = g.blind(points, scalar, workers=1)
    blind_wall, blind_cpu = time.perf_counter() - w, time.process_time() - c
    for how, wall, cpu in (
        ("blind (× scalar), 1 thread", blind_wall, blind_cpu),
        ("hash to the group, 1 thread", hash_wall, hash_cpu),
        ("hash + blind (own elements), 1 thread", hash_wall + blind_wall, hash_cpu + blind_cpu),
    ):
        table.add_row(how, f"{wall:.2f}", f"{n / wall:,.0f}", f"{n / cpu:,.0f}")
    one_core = n / blind_cpu

    # The old path, one rbcl call per element, against the new one on the same
    # elements, alternating in chunks of 2,500 (both give the same bytes).
    m = min(n, 20_000)
    fast_cpu, old_cpu = _paired(
        lambda p: g.blind(p, scalar), lambda p: ref.blind(p, scalar), points[: 32 * m], 2_500
    )
    ratio = old_cpu / fast_cpu
    table.add_row(f"old path: blind, one rbcl call each ({m:,})", "", "", f"{m / old_cpu:,.0f}")
    table.add_row(f"new path: blind, same elements ({m:,})", "", "", f"{m / fast_cpu:,.0f}")
    raw = records[:m]
    fast_cpu_h, old_cpu_h = _paired(
        lambda r: g.hash_to_group(prefix, _records(r)),
        lambda r: ref.hash_to_group(prefix, _records(r)),
        raw.astype("<i8").tobytes(),
        2_500,
    )
    table.add_row(f"old path: hash, one rbcl call each ({m:,})", "", "", f"{m / old_cpu_h:,.0f}")
    table.add_row(f"new path: hash, same records ({m:,})", "", "", f"{m / fast_cpu_h:,.0f}")
    if workers > 1:
        w = time.perf_counter()
        again = g.blind(points, scalar, workers=workers)
        wall = time.perf_counter() - w
        assert again == blinded
        table.add_row(f"blind only, {workers} threads", f"{wall:.2f}", f"{n / wall:,.0f}", "")

    # A full PSI of two n-sets sharing half their records, both directions.
    other = records.copy()
    other[n // 2 :, 1] += 1
    a, b = g.new_scalar(), g.new_scalar()
    w = time.perf_counter()
    xa = g.blind(g.hash_to_group(prefix, records), a, workers)
    yb = g.blind(g.hash_to_group(prefix, other), b, workers)
    xab = set(split(g.blind(xa, b, workers)))
    yba = split(g.blind(yb, a, workers))
    common = sum(p in xab for p in yba)
    wall = time.perf_counter() - w
    assert common == n - n // 2
    table.add_row(
        f"PSI of two {n:,}-sets ({common:,} common), {workers} thread(s)",
        f"{wall:.2f}",
        f"{4 * n / wall:,.0f}",
        "",
    )
    table.caption = (
        f"new / old path per core, same elements, same run: blind {ratio:.3f}×, "
        f"hash {old_cpu_h / fast_cpu_h:.3f}×"
    )
    return table, one_core, ratio


def _records(raw: bytes) -> np.ndarray:
    """Records back from their little-endian bytes (4 × int64 each)."""
    return np.frombuffer(raw, dtype="<i8").reshape(-1, 4)


def random_pairs(n: int, seed: int) -> tuple[Volumes, Volumes]:
    """``n`` small plan pairs, one pair per two days, anywhere within ±70° latitude."""
    rng = np.random.default_rng(seed)
    a: list[Volume] = []
    b: list[Volume] = []
    for k in range(n):
        lat, lon = float(rng.uniform(-70, 70)), float(rng.uniform(-179, 179))
        base = T0 + k * 2 * 86_400
        alt = float(rng.uniform(0, 20_000))
        for side, out, spread in (("a", a, 0.0), ("b", b, 0.12)):
            for j in range(int(rng.integers(1, 3))):
                x = lon + float(rng.uniform(-spread, spread)) / math.cos(math.radians(lat))
                y = lat + float(rng.uniform(-spread, spread))
                if rng.random() < 0.5:
                    geom = circle(x, y, float(rng.uniform(300, 4000)))
                else:
                    geom = square(x, y, float(rng.uniform(0.3, 6.0)))
                lo = max(0.0, round(alt + rng.uniform(-4000, 4000), -3))
                t0 = base + float(rng.integers(-6, 7)) * 900 + float(rng.uniform(0, 600))
                out.append(
                    Volume(
                        f"{k}{side}{j}",
                        geom,
                        lo,
                        lo + float(rng.integers(0, 4)) * 1000,
                        t0,
                        t0 + float(rng.uniform(600, 5400)),
                    )
                )
    return Volumes(tuple(a)), Volumes(tuple(b))


def false_overlaps(n: int, horizontal_nm: float) -> tuple[str, int]:
    a, b = random_pairs(n, 5)
    ag = Agreement(horizontal_nm=horizontal_nm)
    w = time.perf_counter()
    found = local_check(a, b, ag, 0.0)
    wall = time.perf_counter() - w
    exact = overlaps(a, b, horizontal_nm, 1000.0, 0.0)
    pairs = zip(exact.a_index, exact.b_index, strict=True)
    want = {(a.items[i].id, b.items[j].id) for i, j in pairs}
    got = set(zip(found["a_id"], found["b_id"], strict=True))
    missed = len(want - got)
    extra = len(got - want)
    line = (
        f"{n} random plan pairs at {horizontal_nm:g} NM ({len(a)} + {len(b)} volumes, "
        f"{wall:.1f} s): {len(want)} exact overlaps, {missed} missed, {extra} false "
        f"({extra / max(1, len(got)):.1%} of the {len(got)} reported)"
    )
    return line, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=100_000, help="set size for part 2")
    parser.add_argument("--pairs", type=int, default=300, help="plan pairs for part 3")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="threads where parallel"
    )
    args = parser.parse_args()
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    ops, typical = two_operations(Grid(), workers=1)
    console.print(ops)
    console.print(
        "Each side on one core (workers=1); seconds are wall (and CPU) per side, "
        "discretisation included. Messages: offer / answer / refine / refine-answer / finish."
    )
    rates, one_core, ratio = throughput(args.elements, args.workers)
    console.print(rates)
    line, missed = false_overlaps(args.pairs, 2.0)
    console.print(line)
    console.print(
        f"targets: ≥ {ELEMENTS_TARGET:,.0f} blinded elements/s per core "
        f"{'PASS' if one_core >= ELEMENTS_TARGET else 'MISS'} ({one_core:,.0f}/s, "
        f"{ratio:.3f}× the old per-element path in this run); "
        f"typical two-operation check ≤ {CHECK_TARGET_S:g} s "
        f"{'PASS' if typical <= CHECK_TARGET_S else 'MISS'} ({typical:.2f} s, both sides); "
        f"no missed overlap {'PASS' if missed == 0 else 'MISS'}"
    )


if __name__ == "__main__":
    main()
