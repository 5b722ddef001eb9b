"""Benchmark: alerts + advisories + protected airspace against detection alone.

Run ``python bench/advise.py [--n 10000] [--zones 200] [--repeat 7]``. On one
snapshot of N random aircraft of two parties (the detector benchmark's traffic)
and Z random protected zones inside the traffic area, it times, in the same run:

* ``detect``: ``detect_state`` alone (the reference);
* ``advise``: detection + alert tracking + coordinated advisories (``advise_state``);
* ``zones``: predicted and actual zone entries (``zone_entries``);

and prints the ratio (advise + zones) / detect. Target: ≤ 2 at 10k aircraft and
200 zones.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import shapely
from rich.console import Console
from rich.table import Table

from _traffic import PACIFIC, cap_radius_nm, random_traffic
from deconflict import Agreement, TrafficState
from deconflict.airspace.entries import zone_entries
from deconflict.airspace.zones import Zone, Zones
from deconflict.geo import geodetic_from_enu
from deconflict.tactical.advise import advise_state
from deconflict.tactical.detect import detect_state

TARGET_RATIO = 2.0


def two_parties(state: TrafficState, seed: int) -> TrafficState:
    """The same traffic, each aircraft flown by one of two parties at random.

    The party draw uses its own stream: drawn from the traffic's seed it would be
    correlated with the positions.
    """
    rng = np.random.default_rng([seed, 7])
    party = np.where(rng.random(len(state)) < 0.5, "blue", "red").astype(np.str_)
    return replace(state, party=party)


def random_zones(n_zones: int, n_aircraft: int, seed: int) -> Zones:
    """Star-shaped polygons of 8–40 vertices, 5–30 NM across, inside the traffic cap."""
    rng = np.random.default_rng(seed)
    reach_m = cap_radius_nm(n_aircraft) * 1852.0 * 0.8
    zones = []
    for k in range(n_zones):
        # Zone centre: uniform in the cap's tangent plane around its centre.
        cx, cy = rng.uniform(-reach_m, reach_m, 2) / np.sqrt(2.0)
        n_vertices = int(rng.integers(8, 41))
        angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n_vertices))
        radii = rng.uniform(0.5, 1.0, n_vertices) * rng.uniform(2.5, 15.0) * 1852.0
        enu = np.column_stack(
            [cx + radii * np.sin(angles), cy + radii * np.cos(angles), np.zeros(n_vertices)]
        )
        lat, lon, _ = geodetic_from_enu(enu, *PACIFIC)
        lon = np.where(lon < 0.0, lon + 360.0, lon)  # keep rings continuous across 180°
        ring = np.column_stack([lon, lat])
        floor = float(rng.choice([-np.inf, rng.uniform(0.0, 20000.0)]))
        ceiling = float(rng.choice([np.inf, rng.uniform(25000.0, 45000.0)]))
        zones.append(
            Zone(
                name=f"Z{k:03d}",
                geometry=shapely.Polygon(ring),
                floor_ft=floor,
                ceiling_ft=ceiling,
                owner="third state",
            )
        )
    return Zones.from_zones(zones, source="bench")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time (s) of ``fn`` over ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Time the three stages and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--zones", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    ag = Agreement()
    state = two_parties(random_traffic(args.n, args.seed), args.seed)
    zones = random_zones(args.zones, args.n, args.seed)

    t_detect = median_time(lambda: detect_state(state, ag), args.repeat)
    t_advise = median_time(lambda: advise_state(state, ag), args.repeat)
    t_zones = median_time(lambda: zone_entries(state, zones, ag.lookahead_s), args.repeat)
    conflicts = len(detect_state(state, ag))
    advice = advise_state(state, ag).advisories
    entries = zone_entries(state, zones, ag.lookahead_s)

    table = Table(
        title=f"{args.n:,} aircraft (two parties), {args.zones} zones, median of {args.repeat}"
    )
    for col in ("stage", "time", "output"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    table.add_row("detect alone", f"{t_detect * 1e3:.1f} ms", f"{conflicts:,} conflicts")
    table.add_row(
        "detect + alerts + advisories",
        f"{t_advise * 1e3:.1f} ms",
        f"{len(advice):,} advisories",
    )
    table.add_row(
        "zones",
        f"{t_zones * 1e3:.1f} ms",
        f"{int(entries.violation.sum()):,} violations, "
        f"{int((~entries.violation).sum()):,} predicted",
    )
    ratio = (t_advise + t_zones) / t_detect
    console = Console(markup=False)
    console.print(table)
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    console.print(
        f"alerts + advisories + zones / detect alone = {ratio:.2f}× "
        f"(target ≤ {TARGET_RATIO:g}×: {verdict})"
    )


if __name__ == "__main__":
    main()
