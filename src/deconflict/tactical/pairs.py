"""Broad phase: every pair of axis-aligned boxes that overlap, near-linear in N.

Boxes live in D dimensions and belong to groups (snapshots): only boxes of the
same group are paired. A uniform grid hashes each box into the cells it covers;
pairs are generated inside each cell and each overlapping pair is reported exactly
once, in the cell that holds the lower corner of the two boxes' intersection. The
few boxes that would cover too many cells (implausibly fast aircraft, say) are
tested by brute force against their own group instead, so one outlier cannot blow
up the grid. Everything is numpy: no Python loop over boxes or pairs; memory is
O(N + pairs) and pair generation runs in bounded chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Boxes covering more grid cells than this are treated by brute force.
MAX_CELLS_PER_BOX = 256
#: Pairs materialised at once while scanning cells (bounds peak memory).
PAIR_CHUNK = 4_000_000


@dataclass(frozen=True)
class PairStats:
    """What the broad phase did: for benchmarks and tests."""

    cell_entries: int
    pairs_examined: int
    pairs_overlapping: int
    brute_force_boxes: int


@dataclass(frozen=True)
class BoxPairs:
    """Overlapping box pairs ``(i, j)`` with ``i != j``, each unordered pair once."""

    i: IntArray
    j: IntArray
    stats: PairStats


def overlapping_pairs(
    lo: FloatArray, hi: FloatArray, group: IntArray, cell: FloatArray
) -> BoxPairs:
    """All pairs of boxes in the same group whose closed boxes overlap.

    Parameters
    ----------
    lo, hi : (N, D) arrays
        Box corners, ``lo <= hi``.
    group : (N,) int array
        Group (snapshot) index of each box, ``>= 0``.
    cell : (D,) array
        Grid cell size per dimension, > 0.

    """
    n, _d = lo.shape
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return BoxPairs(empty, empty, PairStats(0, 0, 0, 0))
    origin = lo.min(axis=0)
    c_lo = np.floor((lo - origin) / cell).astype(np.int64)
    c_hi = np.floor((hi - origin) / cell).astype(np.int64)
    spans = c_hi - c_lo + 1
    ncells = np.prod(spans.astype(np.float64), axis=1)
    big = ncells > MAX_CELLS_PER_BOX
    small = np.flatnonzero(~big)

    dims = c_hi.max(axis=0) + 1
    n_groups = int(group.max()) + 1
    strides = _strides(np.concatenate([[n_groups], dims]))

    gi, gj, entries, examined = _grid_pairs(small, lo, hi, c_lo, spans, group, strides)
    bi, bj, b_examined = _brute_force_pairs(np.flatnonzero(big), lo, hi, group)
    i = np.concatenate([gi, bi])
    j = np.concatenate([gj, bj])
    stats = PairStats(
        cell_entries=entries,
        pairs_examined=examined + b_examined,
        pairs_overlapping=int(i.size),
        brute_force_boxes=int(big.sum()),
    )
    return BoxPairs(i, j, stats)


def _strides(shape: IntArray) -> IntArray:
    """Row-major strides for a key space of ``shape``; refuses int64 overflow."""
    total = float(np.prod(shape.astype(np.float64)))
    if total >= 2.0**62:
        raise OverflowError(f"grid key space {total:.3g} exceeds int64; use larger cells")
    strides = np.ones(shape.size, dtype=np.int64)
    for k in range(shape.size - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    return strides


def _grid_pairs(
    idx: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    c_lo: IntArray,
    spans: IntArray,
    group: IntArray,
    strides: IntArray,
) -> tuple[IntArray, IntArray, int, int]:
    """Pairs among the boxes ``idx`` through the grid; returns (i, j, entries, examined)."""
    empty = np.zeros(0, dtype=np.int64)
    if idx.size < 2:
        return empty, empty, 0, 0
    d = lo.shape[1]
    sp = spans[idx]
    counts = np.prod(sp, axis=1)
    owner = np.repeat(idx, counts)
    # Offset of each entry inside its box's cell block, decomposed per dimension.
    starts = np.cumsum(counts) - counts
    k = np.arange(owner.size, dtype=np.int64) - np.repeat(starts, counts)
    key = group[owner] * strides[0]
    sp_rep = sp[np.repeat(np.arange(idx.size), counts)]
    for dim in range(d - 1, -1, -1):
        off = k % sp_rep[:, dim]
        k //= sp_rep[:, dim]
        key += (c_lo[owner, dim] + off) * strides[dim + 1]
    del k, sp_rep

    order = np.argsort(key, kind="stable")
    key = key[order]
    owner = owner[order]
    # Runs of equal keys; pairs of entries inside each run.
    run_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    run_len = np.diff(np.r_[run_start, key.size])
    pos_in_run = np.arange(key.size) - np.repeat(run_start, run_len)
    partners = np.repeat(run_len, run_len) - pos_in_run - 1  # later entries in the same run
    has = np.flatnonzero(partners > 0)
    partners = partners[has]
    examined = int(partners.sum())

    lo_cols = [np.ascontiguousarray(lo[:, k]) for k in range(d)]
    hi_cols = [np.ascontiguousarray(hi[:, k]) for k in range(d)]
    c_lo_cols = [np.ascontiguousarray(c_lo[:, k]) for k in range(d)]
    out_i: list[IntArray] = []
    out_j: list[IntArray] = []
    # Chunk the entries so that at most ~PAIR_CHUNK pairs exist at once.
    cum = np.cumsum(partners)
    bounds = np.searchsorted(cum, np.arange(PAIR_CHUNK, examined + PAIR_CHUNK, PAIR_CHUNK))
    first = 0
    for last in np.unique(np.minimum(bounds + 1, has.size)):
        sel = has[first:last]
        cnt = partners[first:last]
        first = int(last)
        if sel.size == 0:
            continue
        a = np.repeat(sel, cnt)
        b = a + 1 + (np.arange(a.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        i, j = owner[a], owner[b]
        # Test one dimension at a time on contiguous columns, shrinking as we go.
        for dim in range(d):
            lo_d, hi_d = lo_cols[dim], hi_cols[dim]
            ok = (lo_d[i] <= hi_d[j]) & (lo_d[j] <= hi_d[i])
            a, i, j = a[ok], i[ok], j[ok]
        # Report each pair only in the cell holding the lower corner of the intersection
        # (floor is monotonic, so that cell is the larger of the two boxes' lowest cells).
        ref = group[i] * strides[0]
        for dim in range(d):
            ref += np.maximum(c_lo_cols[dim][i], c_lo_cols[dim][j]) * strides[dim + 1]
        keep = ref == key[a]
        out_i.append(i[keep])
        out_j.append(j[keep])
    if not out_i:
        return empty, empty, int(owner.size), examined
    return np.concatenate(out_i), np.concatenate(out_j), int(owner.size), examined


def _brute_force_pairs(
    big: IntArray, lo: FloatArray, hi: FloatArray, group: IntArray
) -> tuple[IntArray, IntArray, int]:
    """Pairs involving at least one box in ``big``, tested against its whole group."""
    empty = np.zeros(0, dtype=np.int64)
    if big.size == 0:
        return empty, empty, 0
    order = np.argsort(group, kind="stable")
    g_sorted = group[order]
    g_start = np.searchsorted(g_sorted, group[big], side="left")
    g_end = np.searchsorted(g_sorted, group[big], side="right")
    cnt = g_end - g_start
    a = np.repeat(big, cnt)
    b = order[
        np.repeat(g_start, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    ]
    is_big = np.zeros(lo.shape[0], dtype=bool)
    is_big[big] = True
    # Drop self pairs and count big–big pairs once (from the lower index).
    keep = (a != b) & (~is_big[b] | (a < b))
    a, b = a[keep], b[keep]
    ok = np.all((lo[a] <= hi[b]) & (lo[b] <= hi[a]), axis=1)
    return a[ok], b[ok], int(keep.sum())
