"""Closed-loop fast-time simulation of coordinated advisories, against no advisories.

Run ``python bench/resolve.py`` (``--help`` for options). It plants N encounters
(head-on, crossing, overtaking, climbing/descending through a level; default
2,000) with one to three background aircraft each, spread over the globe
(:mod:`deconflict.sim.encounters`), and flies them twice for the same time, in
1-s steps: once straight (the reference: no advisories), once with every
aircraft following its advisory from :func:`deconflict.tactical.advise.advise_state` after
a 5-s reaction delay, within the turn rate, vertical acceleration and maximum
vertical speed of the agreement (:mod:`deconflict.sim.pilots`).

It prints both runs side by side, the outcome per geometry, every unresolved or
induced case with what was advised, and a PASS/MISS line per target:
at least 99 % of the conflicts first detected 60 s or more before loss resolved
(no loss of separation), at most 0.5 % induced losses. Exit status 1 only if a
consistency check of the simulation itself fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from deconflict import Agreement
from deconflict.sim.closed_loop import simulate
from deconflict.sim.encounters import (
    KINDS,
    EncounterPairs,
    encounter_pairs,
    make_encounters,
    min_centre_spacing_nm,
)
from deconflict.sim.outcome import Figures, conflict_mask, figures, pair_table
from deconflict.sim.records import Run

#: Targets: share of early conflicts resolved, share of induced losses.
RESOLVED_TARGET = 0.99
INDUCED_TARGET = 0.005


def pct(x: float) -> str:
    """A share as a percentage."""
    return f"{100.0 * x:.2f} %"


def share(k: int, n: int) -> str:
    """``k / n`` as a percentage with the counts."""
    return f"{pct(k / n) if n else '-'} ({k:,}/{n:,})"


def summary_table(f_off: Figures, f_on: Figures, off: Run, on: Run, n_pairs: int) -> Table:
    """Both runs side by side."""
    table = Table(title="closed loop: the same encounters without and with advisories")
    table.add_column("", justify="left")
    table.add_column("no advisories (reference)", justify="right")
    table.add_column("advisories flown", justify="right")
    resolved_off = round(f_off.resolved_early * f_off.early)
    resolved_on = round(f_on.resolved_early * f_on.early)
    all_off = round(f_off.resolved_all * f_off.conflicts)
    all_on = round(f_on.resolved_all * f_on.conflicts)
    rows = [
        ("different-party pairs in the same encounter", f"{n_pairs:,}", f"{n_pairs:,}"),
        (
            "conflicts (predicted without advisories)",
            f"{f_off.conflicts:,}",
            f"{f_on.conflicts:,}",
        ),
        ("  left out: predicted loss after the run", f"{f_off.beyond_run:,}", "same"),
        ("  first detected ≥ 60 s before loss", f"{f_off.early:,}", "same"),
        (
            "resolved, detected ≥ 60 s before loss",
            share(resolved_off, f_off.early),
            share(resolved_on, f_on.early),
        ),
        ("resolved, all conflicts", share(all_off, f_off.conflicts), share(all_on, f_on.conflicts)),
        (
            "unresolved, detected ≥ 60 s before",
            f"{f_off.unresolved_early:,}",
            f"{f_on.unresolved_early:,}",
        ),
        (
            "induced losses (share of conflicts)",
            "- (by definition)",
            share(f_on.induced, f_on.conflicts),
        ),
        ("new predicted conflicts (not without)", "-", f"{f_on.new_predicted:,}"),
        ("pairs losing separation (any)", f"{f_off.losses:,}", f"{f_on.losses:,}"),
        (
            "min / median separation ratio, early conflicts",
            f"{f_off.min_sep_early:.3f} / {f_off.median_min_sep_early:.3f}",
            f"{f_on.min_sep_early:.3f} / {f_on.median_min_sep_early:.3f}",
        ),
        ("aircraft advised", "-", f"{f_on.advised_aircraft:,}"),
        (
            "advisory aircraft-steps: vertical / turn / no safe",
            "-",
            f"{f_on.vertical_steps:,} / {f_on.turn_steps:,} / {f_on.no_safe_steps:,}",
        ),
        ("  climb/descend asking for no change (steps)", "-", f"{f_on.null_vertical_steps:,}"),
        (
            "aircraft ever no_safe / reversed / changed",
            "-",
            f"{f_on.no_safe_aircraft:,} / {f_on.reversal_aircraft:,} / {f_on.changing_aircraft:,}",
        ),
        (
            "advisory reversals (held manoeuvre replaced, counted)",
            "-",
            f"{f_on.advisory_reversals:,}",
        ),
        (
            "pilot releases: resumed plan / vertical only",
            "-",
            f"{f_on.returns:,} / {f_on.level_offs:,}",
        ),
        (
            "simulated time, steps",
            f"{off.duration_s:g} s, {off.dt_s:g} s",
            f"{on.duration_s:g} s, {on.dt_s:g} s",
        ),
        ("wall time", f"{off.runtime_s:.1f} s", f"{on.runtime_s:.1f} s"),
        (
            "wall time per step",
            f"{1e3 * off.runtime_s / (off.duration_s / off.dt_s):.1f} ms",
            f"{1e3 * on.runtime_s / (on.duration_s / on.dt_s):.1f} ms",
        ),
        (
            "checks: stray conflicts / mismatched advisories",
            f"{off.stray} / -",
            f"- / {on.mismatched}",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def kind_table(tab: pd.DataFrame, early: pd.Series) -> Table:
    """Outcome of the early conflicts per geometry."""
    table = Table(
        title="early conflicts by geometry (background: any pair with a background aircraft)"
    )
    for col in ("geometry", "conflicts", "resolved, none", "resolved, advisories", "min sep ratio"):
        table.add_column(col, justify="right" if col != "geometry" else "left")
    sub = tab[early]
    for kind in [*KINDS, "background"]:
        k = sub[sub.kind == kind]
        n = len(k)
        table.add_row(
            kind,
            f"{n:,}",
            share(int((~k.lost_off).sum()), n),
            share(int((~k.lost_on).sum()), n),
            f"{k.min_sep_on.min():.3f}" if n else "-",
        )
    return table


#: Short names of the manoeuvres in the failure table.
SHORT = {
    "climb": "climb",
    "descend": "desc",
    "turn_left": "left",
    "turn_right": "right",
    "no_safe_manoeuvre": "NO-SAFE",
    "": "-",
}


def cause(row: pd.Series) -> str:
    """A first label for a failed case, from what was advised (the details are in the row).

    In order: ``induced`` (never predicted without advisories), ``crossing senses``
    (first advisories make the two cross each other's level), ``no safe`` (either
    got ``no_safe_manoeuvre`` for 10 s or more), ``changing`` (four or more changes
    of advised manoeuvre between them), ``null vertical`` (climb/descend asking for
    no change), else ``other``.
    """
    if not row.predicted_off:
        return "induced"
    if row.crossing:
        return "crossing senses"
    if max(row.no_safe_a, row.no_safe_b) >= 10:
        return "no safe (multi-threat)"
    if row.changes_a + row.changes_b >= 4:
        return "changing"
    if row.null_vertical_a or row.null_vertical_b:
        return "null vertical"
    return "other"


def failure_table(fail: pd.DataFrame, limit: int) -> Table:
    """The unresolved early conflicts and induced losses, with what was advised."""
    table = Table(
        title=f"unresolved (detected ≥ 60 s before) and induced: first {limit} of {len(fail)}"
    )
    cols = (
        "enc",
        "pair",
        "geometry",
        "t_in at det",
        "first advisories",
        "cross",
        "no safe",
        "null v",
        "changes",
        "loss at",
        "loss for",
        "min d, dz",
        "cause",
    )
    for col in cols:
        table.add_column(
            col,
            justify="left" if col in ("pair", "geometry", "first advisories", "cause") else "right",
        )
    for _, r in fail.head(limit).iterrows():
        table.add_row(
            str(r.group),
            f"{r.id_a[-1]}-{r.id_b[-1]}",
            r.kind if r.predicted_off else f"{r.kind} (induced)",
            f"{r.t_in_det_off_s:.0f} s" if r.predicted_off else "-",
            f"{SHORT[r.first_man_a]} / {SHORT[r.first_man_b]}",
            "yes" if r.crossing else "",
            f"{r.no_safe_a}/{r.no_safe_b}",
            f"{r.null_vertical_a}/{r.null_vertical_b}",
            f"{r.changes_a}/{r.changes_b}",
            f"{r.t_lost_on_s:.0f} s",
            f"{r.lost_on_s:.0f} s",
            f"{r.min_d_on_nm:.2f} NM, {r.min_dz_on_ft:.0f} ft",
            r.cause,
        )
    return table


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--encounters", type=int, default=2000, help="planted encounters (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="scenario seed (default: %(default)s)")
    parser.add_argument(
        "--duration", type=float, default=480.0, help="simulated seconds (default: %(default)s)"
    )
    parser.add_argument(
        "--show", type=int, default=40, help="failed cases listed (default: %(default)s)"
    )
    parser.add_argument("--csv", help="write the per-pair table (both runs) to this CSV file")
    args = parser.parse_args(argv)
    if args.encounters < 1:
        parser.error("--encounters must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if a consistency check fails."""
    args = parse_args(argv)
    console = Console(highlight=False, markup=False)
    if not console.is_terminal:
        console = Console(highlight=False, markup=False, width=160)
    ag = Agreement()
    rules = ag.resolution
    t_start = time.perf_counter()
    enc = make_encounters(args.encounters, seed=args.seed, duration_s=args.duration)
    pairs: EncounterPairs = encounter_pairs(enc)
    spacing = min_centre_spacing_nm(enc.center_lat, enc.center_lon)
    console.print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; agreement "
        f"{ag.horizontal_nm:g} NM / {ag.vertical_ft:g} ft / {ag.lookahead_s:g} s, "
        f"margin {rules.margin:g}"
    )
    mix = ", ".join(f"{k} {int((enc.kind == i).sum())}" for i, k in enumerate(KINDS))
    console.print(
        f"scenario: {enc.n_encounters:,} encounters (seed {args.seed}), {len(enc):,} aircraft, "
        f"centres ≥ {spacing:,.0f} NM apart over the globe;\n"
        f"  planted: {mix}; "
        f"designed first loss {enc.t_loss_s.min():.0f}-{enc.t_loss_s.max():.0f} s after the start\n"
        f"pilots: {rules.reaction_s:g} s delay, {rules.turn_rate_dps:g}°/s, "
        f"{rules.vertical_accel_fps2:g} ft/s², ≤ {rules.max_vs_fpm:g} ft/min; "
        "release when clear of conflict (see deconflict.sim.pilots)"
    )

    off = simulate(enc, ag, advisories=False, duration_s=args.duration)
    on = simulate(enc, ag, advisories=True, duration_s=args.duration)
    f_off = figures(off, off, pairs)
    f_on = figures(off, on, pairs)
    n_cross = int(pairs.cross_party.sum())
    console.print(summary_table(f_off, f_on, off, on, n_cross))

    tab = pair_table(enc, pairs, off, on)
    conflict = pd.Series(conflict_mask(off, pairs))
    early = conflict & (tab.t_in_det_off_s >= 60.0)
    console.print(kind_table(tab, early))

    induced = tab.cross_party & tab.lost_on & ~tab.predicted_off & ~tab.lost_off
    fail = tab[(early & tab.lost_on) | induced].copy()
    fail["cause"] = [cause(r) for _, r in fail.iterrows()] if len(fail) else []
    if len(fail):
        console.print(failure_table(fail, args.show))
        counts = fail.cause.value_counts()
        console.print(
            "failed cases by first label: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
    if args.csv:
        tab.to_csv(args.csv, index=False)
        console.print(f"per-pair table written to {args.csv}")

    ok_res = f_on.resolved_early >= RESOLVED_TARGET
    ok_ind = f_on.induced_share <= INDUCED_TARGET
    console.print(
        f"targets: resolved ≥ {pct(RESOLVED_TARGET)} {verdict(ok_res)} "
        f"({pct(f_on.resolved_early)}), "
        f"induced ≤ {pct(INDUCED_TARGET)} {verdict(ok_ind)} ({pct(f_on.induced_share)}); "
        f"reference without advisories: {pct(f_off.resolved_early)} resolved"
    )
    console.print(f"total benchmark time {time.perf_counter() - t_start:.0f} s")
    return 0 if off.stray == 0 and on.mismatched == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
