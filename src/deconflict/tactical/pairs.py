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

The inner loops are compiled with numba (cached on disk after the first call);
every array they work in is allocated by numpy, so memory is O(N + entries +
pairs) and visible to ``tracemalloc``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Boxes covering more grid cells than this are treated by brute force.
MAX_CELLS_PER_BOX = 256
#: A bucket per grid cell (no hash table) while cells are at most this many per entry.
DENSE_CELLS_PER_ENTRY = 4
#: Buckets at most this large are sorted by insertion; larger ones by quicksort.
_INSERTION_SORT_MAX = 24


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
    _bounds(lo, hi, origin, top)
    inv_cell = 1.0 / np.asarray(cell, dtype=np.float64)[:h]
    if h and float(((top - origin) * inv_cell).max()) >= 2.0**31 - 2:
        raise OverflowError("more than 2**31 grid cells along one dimension; use larger cells")
    c_lo = np.empty((n, h), dtype=np.int32)
    spans = np.empty((n, h), dtype=np.int32)
    big = np.empty(n, dtype=np.bool_)
    dims = np.ones(h, dtype=np.int64)
    entries = int(_cells(lo, hi, origin, inv_cell, MAX_CELLS_PER_BOX, c_lo, spans, big, dims))
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
    n_used = _bucket(
        group, c_lo, spans, big, strides, table_key, table_bucket, bucket_key, bucket_start
    )
    _fill_members(
        group, c_lo, spans, big, strides, table_key, table_bucket, n_used, bucket_start, members
    )
    capacity = max(1024, entries)  # more pairs than entries is rare: then sweep again
    while True:
        out_i = np.empty(capacity, dtype=np.int32)
        out_j = np.empty(capacity, dtype=np.int32)
        found, examined = _sweep(
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


# -- compiled kernels ----------------------------------------------------------------------
# Every array they fill is allocated by the caller (numpy), so tracemalloc sees it.


@numba.njit(cache=True, nogil=True)
def _bounds(lo, hi, origin, top):  # pragma: no cover - compiled
    """Lowest ``lo`` and highest ``hi`` of the hashed dimensions (all but the last)."""
    for k in range(origin.size):
        origin[k] = lo[0, k]
        top[k] = hi[0, k]
    for i in range(lo.shape[0]):
        for k in range(origin.size):
            origin[k] = min(origin[k], lo[i, k])
            top[k] = max(top[k], hi[i, k])


@numba.njit(cache=True, nogil=True)
def _cells(lo, hi, origin, inv_cell, max_cells, c_lo, spans, big, dims):  # pragma: no cover
    """Lowest cell and cell span of every box; flags big boxes; returns the entry count."""
    n, d = lo.shape
    h = d - 1
    entries = 0
    for i in range(n):
        count = 1.0
        for k in range(h):
            a = np.floor((lo[i, k] - origin[k]) * inv_cell[k])
            b = np.floor((hi[i, k] - origin[k]) * inv_cell[k])
            c_lo[i, k] = int(a)
            spans[i, k] = int(b - a) + 1
            count *= b - a + 1.0
        big[i] = count > max_cells
        if not big[i]:
            entries += int(count)
            for k in range(h):
                top = c_lo[i, k] + spans[i, k]
                if top > dims[k]:
                    dims[k] = top
    return entries


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(key, mask):  # pragma: no cover - compiled
    """Home slot of a key (Fibonacci hashing)."""
    mixed = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    return int(mixed >> np.uint64(20)) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _find(key, table_key, table_bucket):  # pragma: no cover - compiled
    """Bucket of a key already in the table (the key itself without a table)."""
    if table_key.size == 0:
        return key
    mask = table_key.size - 1
    s = _slot(key, mask)
    while table_key[s] != key:
        s = (s + 1) & mask
    return table_bucket[s]


@numba.njit(cache=True, nogil=True, inline="always")
def _next_cell(off, spans, i):  # pragma: no cover - compiled
    """Advance ``off`` to the box's next cell (an odometer); False after the last."""
    k = off.size - 1
    while k >= 0:
        off[k] += 1
        if off[k] < spans[i, k]:
            return True
        off[k] = 0
        k -= 1
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _key(group, c_lo, off, strides, i):  # pragma: no cover - compiled
    """Key of the box's cell at offset ``off`` from its lowest cell."""
    key = group[i] * strides[0]
    for k in range(off.size):
        key += (c_lo[i, k] + off[k]) * strides[k + 1]
    return key


@numba.njit(cache=True, nogil=True)
def _bucket(
    group, c_lo, spans, big, strides, table_key, table_bucket, bucket_key, bucket_start
):  # pragma: no cover - compiled
    """Give every occupied cell a bucket (hash table) and count its entries."""
    n, h = c_lo.shape
    off = np.zeros(h, dtype=np.int64)
    mask = table_key.size - 1
    n_used = 0
    for i in range(n):
        if big[i]:
            continue
        off[:] = 0
        while True:
            key = _key(group, c_lo, off, strides, i)
            if table_key.size == 0:
                b = key
            else:
                s = _slot(key, mask)
                while table_key[s] != -1 and table_key[s] != key:
                    s = (s + 1) & mask
                if table_key[s] == -1:
                    table_key[s] = key
                    table_bucket[s] = n_used
                    bucket_key[n_used] = key
                    n_used += 1
                b = table_bucket[s]
            bucket_start[b + 1] += 1
            if not _next_cell(off, spans, i):
                break
    if table_key.size == 0:
        n_used = bucket_start.size - 1
    for b in range(n_used):
        bucket_start[b + 1] += bucket_start[b]
    return n_used


@numba.njit(cache=True, nogil=True)
def _fill_members(
    group, c_lo, spans, big, strides, table_key, table_bucket, n_used, bucket_start, members
):  # pragma: no cover - compiled
    """Counting sort: every box into each of its buckets."""
    n, h = c_lo.shape
    off = np.zeros(h, dtype=np.int64)
    total = bucket_start[n_used]
    # Cursors: bucket_start[b + 1] (the end of bucket b) counts down to its start.
    for i in range(n - 1, -1, -1):
        if big[i]:
            continue
        off[:] = 0
        while True:
            b = _find(_key(group, c_lo, off, strides, i), table_key, table_bucket)
            bucket_start[b + 1] -= 1
            members[bucket_start[b + 1]] = i
            if not _next_cell(off, spans, i):
                break
    # bucket_start[b + 1] is now the start of bucket b: shift down by one.
    for b in range(n_used):
        bucket_start[b] = bucket_start[b + 1]
    bucket_start[n_used] = total


@numba.njit(cache=True, nogil=True)
def _sweep(
    lo, hi, group, c_lo, strides, bucket_key, bucket_start, n_used, members, out_i, out_j
):  # pragma: no cover - compiled
    """Sweep every bucket along the last dimension; returns (pairs found, pairs examined).

    Writes at most ``out_i.size`` pairs; a larger count asks for a rerun with room.
    """
    d = lo.shape[1]
    h = d - 1
    sweep = d - 1
    found = 0
    examined = 0
    cap = out_i.size
    for b in range(n_used):
        first = bucket_start[b]
        last = bucket_start[b + 1]
        size = last - first
        if size < 2:
            continue
        seg = members[first:last]
        if size <= _INSERTION_SORT_MAX:
            for p in range(1, size):
                v = seg[p]
                x = lo[v, sweep]
                q = p - 1
                while q >= 0 and lo[seg[q], sweep] > x:
                    seg[q + 1] = seg[q]
                    q -= 1
                seg[q + 1] = v
        else:
            vals = np.empty(size, dtype=np.float64)
            for p in range(size):
                vals[p] = lo[seg[p], sweep]
            seg[:] = seg[np.argsort(vals)]
        key_b = bucket_key[b] if bucket_key.size else b
        for p in range(size - 1):
            i = seg[p]
            top = hi[i, sweep]
            for q in range(p + 1, size):
                j = seg[q]
                if lo[j, sweep] > top:
                    break
                examined += 1
                ok = True
                for k in range(h):
                    if lo[i, k] > hi[j, k] or lo[j, k] > hi[i, k]:
                        ok = False
                        break
                if not ok:
                    continue
                # Report only in the cell holding the lower corner of the intersection
                # (floor is monotonic: that cell is the larger of the two lowest cells).
                ref = group[i] * strides[0]
                for k in range(h):
                    ref += max(c_lo[i, k], c_lo[j, k]) * strides[k + 1]
                if ref != key_b:
                    continue
                if found < cap:
                    out_i[found] = i
                    out_j[found] = j
                found += 1
    return found, examined


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
