"""Compiled inner loops of the broad phase (:mod:`deconflict.tactical.pairs`).

Imported on first use, so that importing :mod:`deconflict` does not import numba.
Every array the kernels fill is allocated by the caller (numpy), so ``tracemalloc``
sees it; they are compiled once and cached on disk (numba's ``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

#: Buckets at most this large are sorted by insertion; larger ones by quicksort.
_INSERTION_SORT_MAX = 24


@numba.njit(cache=True, nogil=True)
def bounds(lo, hi, origin, top):  # pragma: no cover - compiled
    """Lowest ``lo`` and highest ``hi`` of the hashed dimensions (all but the last)."""
    for k in range(origin.size):
        origin[k] = lo[0, k]
        top[k] = hi[0, k]
    for i in range(lo.shape[0]):
        for k in range(origin.size):
            origin[k] = min(origin[k], lo[i, k])
            top[k] = max(top[k], hi[i, k])


@numba.njit(cache=True, nogil=True)
def cells(lo, hi, origin, inv_cell, max_cells, c_lo, spans, big, dims):  # pragma: no cover
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
def bucket(
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
def fill_members(
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
def sweep(
    lo, hi, group, c_lo, strides, bucket_key, bucket_start, n_used, members, out_i, out_j
):  # pragma: no cover - compiled
    """Sweep every bucket along the last dimension; returns (pairs found, pairs examined).

    Writes at most ``out_i.size`` pairs; a larger count asks for a rerun with room.
    """
    d = lo.shape[1]
    h = d - 1
    ax = d - 1  # the swept dimension
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
                x = lo[v, ax]
                q = p - 1
                while q >= 0 and lo[seg[q], ax] > x:
                    seg[q + 1] = seg[q]
                    q -= 1
                seg[q + 1] = v
        else:
            vals = np.empty(size, dtype=np.float64)
            for p in range(size):
                vals[p] = lo[seg[p], ax]
            seg[:] = seg[np.argsort(vals)]
        key_b = bucket_key[b] if bucket_key.size else b
        for p in range(size - 1):
            i = seg[p]
            top = hi[i, ax]
            for q in range(p + 1, size):
                j = seg[q]
                if lo[j, ax] > top:
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


@numba.njit(cache=True, nogil=True)
def relative_filter(
    i, j, pos, vel, pad, alt, vs, horizon, half_v, slack, keep
):  # pragma: no cover - compiled
    """Keep the pairs that may come within their boxes' padding at one moment of [0, horizon].

    For each pair, relative position ``d(t) = d0 + w t`` (any orthonormal frame) and
    altitude ``dz(t)``: keeps it iff some t in [0, horizon] has |d_k(t)| <= pad_i +
    pad_j + slack on every axis k and |dz(t)| <= 2 half_v + slack, a closed, widened
    form of what every conflict satisfies (the padding argument).
    """
    for p in range(i.size):
        a = i[p]
        b = j[p]
        lo = 0.0
        hi = horizon
        reach = pad[a] + pad[b] + slack
        for k in range(4):
            if k < 3:
                d0 = pos[b, k] - pos[a, k]
                w = vel[b, k] - vel[a, k]
                r = reach
            else:
                d0 = alt[b] - alt[a]
                w = vs[b] - vs[a]
                r = 2.0 * half_v + slack
            if w == 0.0:
                if abs(d0) > r:
                    hi = -1.0
                    break
                continue
            t1 = (-r - d0) / w
            t2 = (r - d0) / w
            if t1 > t2:
                t1, t2 = t2, t1
            lo = max(lo, t1)
            hi = min(hi, t2)
            if lo > hi:
                break
        keep[p] = lo <= hi
