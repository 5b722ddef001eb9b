"""Broad phase: every pair of axis-aligned boxes that overlap, in time near-linear in N.

Boxes live in D dimensions and belong to groups (snapshots): only boxes of the
same group are paired. The first D - 1 dimensions are *hashed*: a uniform grid
puts each box into every cell it covers (a hash table maps the occupied cells to
buckets, so the grid may span the globe). The last dimension is *swept*: inside a
bucket the boxes are sorted by their lower bound in it and each box is compared
only with the boxes whose lower bound lies within its own extent, so the pairs
examined are those sharing a cell **and** overlapping in the swept dimension
(altitude, for the detector). Each overlapping pair is reported exactly once, in
the cell that holds the lower corner of the two boxes' intersection. The few boxes
that would cover too many cells (implausibly fast aircraft, say) are tested by
brute force against their own group instead, so one outlier cannot blow up the
grid.

The inner loops are compiled with numba (:mod:`deconflict.tactical._sweep`,
imported on first use and cached on disk); every array they work in is allocated
by numpy, so memory is O(N + entries + pairs) and visible to ``tracemalloc``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Boxes covering more grid cells than this are treated by brute force.
MAX_CELLS_PER_BOX = 256
#: A bucket per grid cell (no hash table) while cells are at most this many per entry.
DENSE_CELLS_PER_ENTRY = 4


@dataclass(frozen=True)
class PairStats:
    """What the broad phase did: for benchmarks and tests.

    ``cell_entries`` counts (box, cell) entries in the grid; ``pairs_examined`` the
    pairs of boxes tested for overlap (in every dimension); ``pairs_overlapping``
    the pairs reported; ``brute_force_boxes`` the boxes tested against their whole
    group instead of through the grid.
    """

    cell_entries: int
    pairs_examined: int
    pairs_overlapping: int
    brute_force_boxes: int

    def __add__(self, other: PairStats) -> PairStats:
        """Field-wise sum (the work of several broad-phase calls)."""
        return PairStats(
            cell_entries=self.cell_entries + other.cell_entries,
            pairs_examined=self.pairs_examined + other.pairs_examined,
            pairs_overlapping=self.pairs_overlapping + other.pairs_overlapping,
            brute_force_boxes=self.brute_force_boxes + other.brute_force_boxes,
        )


#: No work done.
NO_PAIRS = PairStats(0, 0, 0, 0)


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
        Grid cell size per dimension, > 0. The last dimension is swept, not
        hashed, so its cell size is not used.

    Examples
    --------
    >>> lo = np.array([[0.0, 0.0], [0.5, 0.5], [3.0, 0.0]])
    >>> found = overlapping_pairs(lo, lo + 1.0, np.zeros(3, dtype=np.int64), np.ones(2))
    >>> found.i.tolist(), found.j.tolist()
    ([0], [1])

    """
    lo = np.ascontiguousarray(lo, dtype=np.float64)
    hi = np.ascontiguousarray(hi, dtype=np.float64)
    group = np.ascontiguousarray(group, dtype=np.int64)
    n, d = lo.shape
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return BoxPairs(empty, empty, NO_PAIRS)
    h = d - 1  # hashed dimensions
    origin = np.empty(h)
    top = np.empty(h)
    from deconflict.tactical import _sweep  # numba, imported on first use

    _sweep.bounds(lo, hi, origin, top)
    inv_cell = 1.0 / np.asarray(cell, dtype=np.float64)[:h]
    if h and float(((top - origin) * inv_cell).max()) >= 2.0**31 - 2:
        raise OverflowError("more than 2**31 grid cells along one dimension; use larger cells")
    c_lo = np.empty((n, h), dtype=np.int32)
    spans = np.empty((n, h), dtype=np.int32)
    big = np.empty(n, dtype=np.bool_)
    dims = np.ones(h, dtype=np.int64)
    entries = int(_sweep.cells(lo, hi, origin, inv_cell, MAX_CELLS_PER_BOX, c_lo, spans, big, dims))
    shape = np.concatenate([[int(group.max()) + 1], dims]).astype(np.int64)
    strides = _strides(shape)
    space = int(np.prod(shape.astype(np.float64)))
    if space <= max(DENSE_CELLS_PER_ENTRY * entries, 1 << 16):
        # Few enough cells: a bucket per cell, indexed by its key.
        n_slots = 0
        n_buckets = space
    else:
        # A sparse grid (a globe of cells, many snapshots): buckets through a hash table.
        n_slots = 1 << max(4, (2 * entries).bit_length())  # load factor <= 1/2
        n_buckets = max(entries, 1)
    table_key = np.full(n_slots, -1, dtype=np.int64)
    table_bucket = np.empty(n_slots, dtype=np.int64)
    bucket_key = np.empty(n_buckets if n_slots else 0, dtype=np.int64)
    bucket_start = np.zeros(n_buckets + 1, dtype=np.int64)
    members = np.empty(max(entries, 1), dtype=np.int32)
    n_used = _sweep.bucket(
        group, c_lo, spans, big, strides, table_key, table_bucket, bucket_key, bucket_start
    )
    _sweep.fill_members(
        group, c_lo, spans, big, strides, table_key, table_bucket, n_used, bucket_start, members
    )
    capacity = max(1024, entries)  # more pairs than entries is rare: then sweep again
    while True:
        out_i = np.empty(capacity, dtype=np.int32)
        out_j = np.empty(capacity, dtype=np.int32)
        found, examined = _sweep.sweep(
            lo, hi, group, c_lo, strides, bucket_key, bucket_start, n_used, members, out_i, out_j
        )
        if found <= capacity:
            break
        capacity = found
    bi, bj, b_examined = _brute_force_pairs(np.flatnonzero(big), lo, hi, group)
    i = np.concatenate([out_i[:found].astype(np.int64), bi])
    j = np.concatenate([out_j[:found].astype(np.int64), bj])
    stats = PairStats(
        cell_entries=entries,
        pairs_examined=int(examined) + b_examined,
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
