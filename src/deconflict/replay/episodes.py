"""Episodes of actual loss of separation on the grid, how early they were warned, and their kind.

At every grid step every pair closer than the horizontal minimum **and** the vertical
minimum (strictly, as the detector decides) is in loss; an **episode** is a maximal run
of consecutive grid steps in loss for one pair. Candidates come from the detector's
broad phase (:func:`deconflict.tactical.pairs.overlapping_pairs`) on boxes around each
position, exact distances from the detector's own pair geometry
(:func:`deconflict.tactical.detect.pair_geometry`): no Python loop over aircraft or pairs.

``warned_s`` is ``t_start`` minus the earliest grid step, at most one look-ahead before
``t_start`` and after the pair's previous loss, at which the detector
(:func:`deconflict.tactical.detect.windows`, the exact test that ``detect`` applies to
every candidate pair) predicted a loss of separation for the pair; blank when it did not
before the loss began.

Work is split in two so that time windows can be processed apart and merged exactly:
:func:`loss_runs` summarises the runs of loss inside one window's core steps, and
:func:`merge_runs` joins runs that touch across window borders and classifies each
episode (see :data:`KINDS`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.geo import WGS84_MIN_RADIUS
from deconflict.replay.grid import Grid
from deconflict.tactical.detect import Kinematics, pair_geometry, windows
from deconflict.tactical.pairs import overlapping_pairs
from deconflict.tactical.state import TrafficState
from deconflict.units import nm_to_m

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Episode kinds, in the order they are decided (the first that fits wins).
KINDS = ("same_aircraft", "formation", "level_adjacent", "loss")
#: Columns of an episodes table (times in Unix epoch s; ``id_a < id_b``).
EPISODE_COLUMNS = (
    "id_a",
    "id_b",
    "t_start",
    "t_end",
    "t_closest",
    "h_nm_closest",
    "v_ft_closest",
    "warned_s",
    "kind",
)
#: Columns of the per-window run summaries that :func:`merge_runs` joins.
RUN_COLUMNS = (
    "id_a",
    "id_b",
    "k_start",
    "k_end",
    "k_closest",
    "h_m_closest",
    "dz_ft_closest",
    "h_m_max",
    "dz_ft_min",
    "n_formation",
    "vs_fpm_max",
    "alt_ft_min_a",
    "alt_ft_max_a",
    "alt_ft_min_b",
    "alt_ft_max_b",
    "seen_before",
    "seen_after",
    "warned_s",
)
#: Flight levels are multiples of this (ft), for the level-adjacent test.
FLIGHT_LEVEL_FT = 100.0
#: Headroom (m) on the loss boxes beyond half the minimum and the tangent-plane tilt.
_BOX_SLACK_M = 50.0
#: Broad-phase cell edge (ECEF) in horizontal minima: boxes about one minimum wide then
#: fall in ~2 cells each, not ~3.5 as with 2 minima, which halves the hashing; the sweep
#: along altitude keeps the extra pairs examined few (measured on the Paris sample: 65,000
#: cell entries and 12,800 pairs examined for 1,963 found, against 152,000 and 9,700).
_CELL_PER_H = 6.0


def kinematics(grid: Grid) -> Kinematics:
    """The detector's kinematics of every grid point (snapshot = grid step)."""
    state = TrafficState(
        time=grid.t_s,
        id=grid.ids[grid.flight],
        party=None,
        lat=grid.lat,
        lon=grid.lon,
        alt_ft=grid.alt_ft,
        gs_kt=grid.gs_kt,
        track_deg=grid.track_deg,
        vs_fpm=grid.vs_fpm,
    )
    return Kinematics.from_state(state)


def loss_pairs(
    grid: Grid,
    kin: Kinematics,
    agreement: Agreement,
    *,
    all_pairs: bool = False,
    points: IntArray | None = None,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Every pair of grid points in loss at the same step: ``(a, b, h_m, dz_ft)``.

    ``a`` and ``b`` index grid points with ``flight[a] < flight[b]``; ``h_m`` is the
    horizontal distance (m) in the pair's tangent plane, ``dz_ft`` the absolute
    vertical distance (ft). With parties, only cross-party pairs unless ``all_pairs``.
    ``points`` limits the search to those grid points (default: all).
    """
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=np.float64)
    if points is None:
        points = np.arange(len(grid), dtype=np.int64)
    if points.size < 2:
        return empty_i, empty_i, empty_f, empty_f
    H = nm_to_m(agreement.horizontal_nm)
    V = agreement.vertical_ft
    pad = H / 2.0 + 1.5 * H * H / (2.0 * WGS84_MIN_RADIUS) + _BOX_SLACK_M
    pos, alt = kin.pos[points], grid.alt_ft[points]
    lo = np.column_stack([pos - pad, alt - V / 2.0])
    hi = np.column_stack([pos + pad, alt + V / 2.0])
    del pos, alt
    c = _CELL_PER_H * H
    cell = np.array([c, c, c, 4.0 * V])
    found = overlapping_pairs(lo, hi, kin.snap[points], cell)
    i, j = points[found.i], points[found.j]
    if grid.party is not None and not all_pairs:
        differ = grid.party[i] != grid.party[j]
        i, j = i[differ], j[differ]
    swap = grid.flight[i] > grid.flight[j]
    a = np.where(swap, j, i)
    b = np.where(swap, i, j)
    g = pair_geometry(kin, a, b)
    h = np.sqrt(np.einsum("ij,ij->i", g.r, g.r))
    dz = np.abs(g.dz_ft)
    loss = (h < H) & (dz < V)
    return a[loss], b[loss], h[loss], dz[loss]


def _point_index(grid: Grid, k: IntArray, flight: IntArray) -> IntArray:
    """Index of the grid point of ``flight`` at step ``k``, or -1 where it has none."""
    n = np.int64(grid.ids.size)
    key = grid.k * n + grid.flight  # sorted: the grid is sorted by (k, flight)
    want = k * n + flight
    pos = np.searchsorted(key, want)
    pos_c = np.minimum(pos, max(key.size - 1, 0))
    found = (pos < key.size) & (key[pos_c] == want) if key.size else np.zeros(want.size, bool)
    return np.where(found, pos_c, -1)


def loss_runs(
    grid: Grid,
    agreement: Agreement,
    core: tuple[int, int],
    *,
    all_pairs: bool = False,
    formation_m: float | None = None,
) -> pd.DataFrame:
    """Runs of loss inside the core steps ``k_lo <= k < k_hi``, one row each (:data:`RUN_COLUMNS`).

    The grid must cover ``[k_lo - lookahead/step - 1, k_hi]`` (so that a run's start,
    the pair's previous loss, the detector's warnings and whether both aircraft were
    seen just before and after can be decided) and may cover more. A run that touches
    a core border is cut there; :func:`merge_runs` joins the pieces.
    """
    k_lo, k_hi = core
    step = grid.step_s
    kin = kinematics(grid)
    # The broad phase runs on the core and the step before it only; the margin's earlier
    # steps are looked at pair by pair, for the pairs in loss in the core.
    points = np.flatnonzero((grid.k >= k_lo - 1) & (grid.k < k_hi))
    a, b, h, dz = loss_pairs(grid, kin, agreement, all_pairs=all_pairs, points=points)
    fa, fb, k = grid.flight[a], grid.flight[b], grid.k[a]
    order = np.lexsort((k, fb, fa))
    a, b, h, dz, fa, fb, k = (x[order] for x in (a, b, h, dz, fa, fb, k))
    same_pair_prev = np.r_[False, (fa[1:] == fa[:-1]) & (fb[1:] == fb[:-1])]
    k_prev_all = np.where(same_pair_prev, np.r_[0, k[:-1]], np.iinfo(np.int64).min // 2)
    in_core = (k >= k_lo) & (k < k_hi)
    a, b, h, dz, fa, fb, k, k_prev_all = (x[in_core] for x in (a, b, h, dz, fa, fb, k, k_prev_all))
    if k.size == 0:
        return empty_runs()
    new = np.r_[True, (fa[1:] != fa[:-1]) | (fb[1:] != fb[:-1]) | (k[1:] != k[:-1] + 1)]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], k.size] - 1
    run = np.cumsum(new) - 1
    # Closest point: least horizontal distance, the earliest on a tie.
    by_h = np.lexsort((k, h, run))
    first_of_run = by_h[np.r_[True, run[by_h][1:] != run[by_h][:-1]]]
    if formation_m is None:
        formation_m = nm_to_m(agreement.replay.formation_nm)
    alt_a, alt_b = grid.alt_ft[a], grid.alt_ft[b]
    vs_max = np.maximum(np.abs(grid.vs_fpm[a]), np.abs(grid.vs_fpm[b]))
    ks, ke = k[starts], k[ends]
    fa_r, fb_r = fa[starts], fb[starts]
    seen_before = (_point_index(grid, ks - 1, fa_r) >= 0) & (_point_index(grid, ks - 1, fb_r) >= 0)
    seen_after = (_point_index(grid, ke + 1, fa_r) >= 0) & (_point_index(grid, ke + 1, fb_r) >= 0)
    k_prev = k_prev_all[starts]
    unknown = k_prev < k_lo - 1  # no loss seen from k_lo - 1 on: look further back
    n_look = int(np.floor(agreement.lookahead_s / step + 1e-9))
    k_prev[unknown] = _previous_loss(
        grid, kin, agreement, fa_r[unknown], fb_r[unknown], ks[unknown] - n_look, k_lo - 2
    )
    warned = _warned_s(grid, kin, agreement, fa_r, fb_r, ks, k_prev)
    return pd.DataFrame(
        {
            "id_a": grid.ids[fa_r],
            "id_b": grid.ids[fb_r],
            "k_start": ks,
            "k_end": ke,
            "k_closest": k[first_of_run],
            "h_m_closest": h[first_of_run],
            "dz_ft_closest": dz[first_of_run],
            "h_m_max": np.maximum.reduceat(h, starts),
            "dz_ft_min": np.minimum.reduceat(dz, starts),
            "n_formation": np.add.reduceat((h < formation_m).astype(np.int64), starts),
            "vs_fpm_max": np.maximum.reduceat(vs_max, starts),
            "alt_ft_min_a": np.minimum.reduceat(alt_a, starts),
            "alt_ft_max_a": np.maximum.reduceat(alt_a, starts),
            "alt_ft_min_b": np.minimum.reduceat(alt_b, starts),
            "alt_ft_max_b": np.maximum.reduceat(alt_b, starts),
            "seen_before": seen_before,
            "seen_after": seen_after,
            "warned_s": np.where(ks - 1 == k_prev, np.nan, warned * step),
        }
    )


def empty_runs() -> pd.DataFrame:
    """A table of no runs, with the columns and dtypes :func:`loss_runs` gives."""
    return pd.DataFrame({c: [] for c in RUN_COLUMNS}).astype(_run_dtypes())


def _run_dtypes() -> dict[str, str]:
    ints = {"k_start", "k_end", "k_closest", "n_formation"}
    bools = {"seen_before", "seen_after"}
    strs = {"id_a", "id_b"}
    return {
        c: "int64" if c in ints else "bool" if c in bools else "object" if c in strs else "float64"
        for c in RUN_COLUMNS
    }


def _pair_steps(
    grid: Grid, fa: IntArray, fb: IntArray, k_first: IntArray, k_last: IntArray | int
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """For each pair ``i``, the steps ``k_first[i]..k_last[i]`` where both are on the grid.

    Returns ``(pair, k, point_a, point_b)``, by pair then step.
    """
    count = np.maximum(np.asarray(k_last) - k_first + 1, 0)
    pair = np.repeat(np.arange(fa.size), count)
    offs = np.arange(pair.size) - np.repeat(np.cumsum(count) - count, count)
    k = np.repeat(k_first, count) + offs
    ia = _point_index(grid, k, fa[pair])
    ib = _point_index(grid, k, fb[pair])
    both = (ia >= 0) & (ib >= 0)
    return pair[both], k[both], ia[both], ib[both]


def _previous_loss(
    grid: Grid,
    kin: Kinematics,
    agreement: Agreement,
    fa: IntArray,
    fb: IntArray,
    k_first: IntArray,
    k_last: int,
) -> IntArray:
    """The last step in ``k_first..k_last`` at which each pair was in loss (else a sentinel)."""
    none = np.iinfo(np.int64).min // 2
    out = np.full(fa.size, none, dtype=np.int64)
    pair, k, ia, ib = _pair_steps(grid, fa, fb, k_first, k_last)
    if k.size:
        g = pair_geometry(kin, ia, ib)
        h = np.sqrt(np.einsum("ij,ij->i", g.r, g.r))
        loss = (h < nm_to_m(agreement.horizontal_nm)) & (np.abs(g.dz_ft) < agreement.vertical_ft)
        np.maximum.at(out, pair[loss], k[loss])
    return out


def _warned_s(
    grid: Grid,
    kin: Kinematics,
    agreement: Agreement,
    fa: IntArray,
    fb: IntArray,
    ks: IntArray,
    k_prev: IntArray,
) -> FloatArray:
    """Steps from each run's start back to the first prediction for its pair (NaN: none)."""
    n_look = int(np.floor(agreement.lookahead_s / grid.step_s + 1e-9))
    first_p = np.maximum(ks - n_look, k_prev + 1)
    run, p, ia, ib = _pair_steps(grid, fa, fb, first_p, ks - 1)
    predicted = windows(kin, ia, ib, agreement).conflict
    out = np.full(ks.size, np.nan)
    if predicted.any():
        earliest = np.full(ks.size, np.iinfo(np.int64).max)
        np.minimum.at(earliest, run[predicted], p[predicted])
        has = earliest != np.iinfo(np.int64).max
        out[has] = (ks[has] - earliest[has]).astype(np.float64)
    return out


def merge_runs(runs: pd.DataFrame, agreement: Agreement, step_s: float) -> pd.DataFrame:
    """Join runs that continue across window borders into episodes and classify them.

    Returns one row per episode with :data:`EPISODE_COLUMNS`, sorted by ``t_start``,
    ``id_a``, ``id_b``. ``kind`` is decided in the order of :data:`KINDS`:

    - ``same_aircraft``: never more than ``same_aircraft_nm`` apart, and the pair was
      not seen together just before or just after the episode (so, while both ids were
      seen, they never separated);
    - ``formation``: closer than ``formation_nm`` for longer than ``formation_s``
      (grid steps closer, times ``step_s``);
    - ``level_adjacent``: the vertical distance never below ``V - level_adjacent_tol_ft``,
      both aircraft level (``|vs|`` at most ``level_vs_fpm``) throughout, and their
      altitudes (mid-range over the episode) on flight levels exactly ``V`` apart;
    - ``loss`` otherwise.
    """
    if runs.empty:
        return pd.DataFrame({c: [] for c in EPISODE_COLUMNS}).astype(
            {"t_start": "float64", "t_end": "float64", "t_closest": "float64",
             "h_nm_closest": "float64", "v_ft_closest": "float64", "warned_s": "float64",
             "id_a": "object", "id_b": "object", "kind": "object"}
        )  # fmt: skip
    r = runs.sort_values(["id_a", "id_b", "k_start"], kind="stable").reset_index(drop=True)
    ida, idb = r["id_a"].to_numpy(), r["id_b"].to_numpy()
    ks, ke = r["k_start"].to_numpy(), r["k_end"].to_numpy()
    new = np.r_[True, (ida[1:] != ida[:-1]) | (idb[1:] != idb[:-1]) | (ks[1:] != ke[:-1] + 1)]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(r)] - 1
    ep = np.cumsum(new) - 1
    h_c = r["h_m_closest"].to_numpy()
    by_h = np.lexsort((r["k_closest"].to_numpy(), h_c, ep))
    closest = by_h[np.r_[True, ep[by_h][1:] != ep[by_h][:-1]]]

    def red(col: str, fn: np.ufunc) -> FloatArray:
        return fn.reduceat(r[col].to_numpy(), starts)

    rules = agreement.replay
    V = agreement.vertical_ft
    h_max = red("h_m_max", np.maximum)
    dz_min = red("dz_ft_min", np.minimum)
    n_form = red("n_formation", np.add)
    vs_max = red("vs_fpm_max", np.maximum)
    mid_a = 0.5 * (red("alt_ft_min_a", np.minimum) + red("alt_ft_max_a", np.maximum))
    mid_b = 0.5 * (red("alt_ft_min_b", np.minimum) + red("alt_ft_max_b", np.maximum))
    level_a = np.round(mid_a / FLIGHT_LEVEL_FT) * FLIGHT_LEVEL_FT
    level_b = np.round(mid_b / FLIGHT_LEVEL_FT) * FLIGHT_LEVEL_FT
    seen_before = r["seen_before"].to_numpy()[starts]
    seen_after = r["seen_after"].to_numpy()[ends]
    same = (h_max <= nm_to_m(rules.same_aircraft_nm)) & ~seen_before & ~seen_after
    formation = n_form * step_s > rules.formation_s
    level_adjacent = (
        (dz_min >= V - rules.level_adjacent_tol_ft)
        & (vs_max <= rules.level_vs_fpm)
        & (np.abs(np.abs(level_a - level_b) - V) < 1e-6)
    )
    kind = np.where(
        same,
        "same_aircraft",
        np.where(formation, "formation", np.where(level_adjacent, "level_adjacent", "loss")),
    )
    out = pd.DataFrame(
        {
            "id_a": ida[starts],
            "id_b": idb[starts],
            "t_start": ks[starts].astype(np.float64) * step_s,
            "t_end": ke[ends].astype(np.float64) * step_s,
            "t_closest": r["k_closest"].to_numpy()[closest].astype(np.float64) * step_s,
            "h_nm_closest": h_c[closest] / nm_to_m(1.0),
            "v_ft_closest": r["dz_ft_closest"].to_numpy()[closest],
            "warned_s": r["warned_s"].to_numpy()[starts],
            "kind": kind.astype(object),
        }
    )
    return out.sort_values(["t_start", "id_a", "id_b"], kind="stable").reset_index(drop=True)
