"""Cells of the private mode: H3 hexagon × altitude band × time slot, at two levels.

A buffered volume is turned into the product of three index sets:

- the **fine hexagons** that cover its outline at ``Grid.fine_res``, in H3's
  *overlap* containment mode (every cell whose outline touches the polygon, not
  only those whose centre lies inside it);
- the **bands** ``floor(lower / band_ft) … ceil(upper / band_ft) - 1``;
- the **slots** ``floor(start / slot_s) … ceil(end / slot_s) - 1``.

The **coarse** cell of a fine cell ``(hexagon, band, slot)`` is its logical parent
``(cell_to_parent(hexagon, coarse_res), band // coarse_bands, slot // coarse_slots)``.
Defining the coarse level *logically* (rather than covering the outline a second
time at the coarse resolution) makes the two rounds nest exactly: a fine cell that
both plans hold has a coarse parent that both plans hold, so the fine round, run only
inside the common coarse cells, loses nothing.

Records
-------
Everything that is hashed to the group is a **record**: four 64-bit integers
``(kind, hexagon, x, y)`` (an ``(n, 4)`` int64 array; H3 indexes are stored as their
int64 bit pattern):

==========  ================================  =========================================
kind        fields                            meaning
==========  ================================  =========================================
``COARSE``  parent, coarse band, coarse slot  one coarse 4-D cell (round 1)
``HEX``     parent, fine hexagon, 0           a fine hexagon under a common parent
``BAND``    parent, coarse band, band         a fine band in a common (parent, c. band)
``SLOT``    parent, coarse slot, slot         a fine slot in a common (parent, c. slot)
==========  ================================  =========================================

The fine round sends each dimension separately, keyed by its common coarse cell,
instead of the 4-D product: a 50 km × 2 h × 20-band block holds millions of fine
4-D cells but only thousands of fine hexagons, bands and slots. Because every
volume is a product of its three index sets, two volumes ``a`` and ``b`` share a
fine 4-D cell exactly when they share a hexagon, a band and a slot, so the
two-sided join of what both parties learned is exact (see
:func:`deconflict.private.results.join`).

Soundness of the cover
----------------------
H3 evaluates *overlap* containment in the plane of (lat, lng): a cell is taken
when its centre is inside the polygon, when its boundary (straight segments
between the cell's vertices) crosses the polygon's edges, or when the polygon's
first vertex lies in the cell (by :func:`h3.latlng_to_cell`, i.e. on the sphere).
Shapely's polygons are planar in (lon, lat) too, and the planar cell outlines tile
the plane, so two polygons sharing a point share a covering cell, with two
exceptions that :func:`cover` closes: a polygon lying entirely inside one planar
cell whose first vertex falls in the millimetre-wide sliver where the planar and
spherical cell outlines disagree (a cover of one or two cells is widened to its
neighbours), and a hole small enough to fit inside one cell around that cell's
centre (such holes are filled). Buffers are widened by ``Grid.margin_m`` against
rounding. ``tests/private`` checks the guarantee on thousands of random plans.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from deconflict.errors import InputError

IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]

#: Record kinds (the first column of a record).
COARSE, HEX, BAND, SLOT = 0, 1, 2, 3
KIND_NAMES = {COARSE: "coarse", HEX: "hexagon", BAND: "band", SLOT: "slot"}

#: Bits of an H3 index holding its resolution, and the width of one digit.
_RES_SHIFT = 52
_RES_MASK = np.uint64(0xF << _RES_SHIFT)

#: Most records a plan may send in one round (a message holds at most 2**24 elements).
MAX_RECORDS = 12_000_000

#: A cover with at most this many cells may be a polygon inside one cell: widen it.
_SMALL_COVER = 2
#: A hole whose own cover has at most this many cells may sit inside one cell: fill it.
_SMALL_HOLE = 3


@dataclass(frozen=True)
class Grid:
    """Resolutions of the two rounds; both parties must use the same grid.

    ``band_ft`` and ``slot_s`` are the fine band height and slot length; a coarse
    band is ``coarse_bands`` fine bands, a coarse slot ``coarse_slots`` fine slots.
    With the default 500 ft bands (half the usual 1000 ft minimum), volumes on
    flight-level boundaries that are exactly the minimum apart never share a band.
    ``margin_m`` widens every horizontal buffer against rounding (a local choice,
    not part of the wire format).

    >>> Grid().fine_res, Grid().coarse_res
    (8, 5)
    >>> Grid(coarse_res=9)
    Traceback (most recent call last):
    ...
    deconflict.errors.InputError: grid: coarse_res (9) must not exceed fine_res (8)
    """

    fine_res: int = 8
    coarse_res: int = 5
    band_ft: float = 500.0
    coarse_bands: int = 10
    slot_s: float = 300.0
    coarse_slots: int = 3
    margin_m: float = field(default=20.0, compare=False)

    def __post_init__(self) -> None:
        """Check ranges; a bad value raises :class:`InputError` naming it."""
        for name in ("fine_res", "coarse_res"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 15:
                raise InputError(f"grid: {name} must be an H3 resolution 0–15, got {value!r}")
        if self.coarse_res > self.fine_res:
            raise InputError(
                f"grid: coarse_res ({self.coarse_res}) must not exceed fine_res ({self.fine_res})"
            )
        for name in ("coarse_bands", "coarse_slots"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 10_000:
                raise InputError(f"grid: {name} must be an integer 1–10000, got {value!r}")
        for name in ("band_ft", "slot_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(f"grid: {name} must be a positive number, got {value!r}")
        if not (math.isfinite(self.margin_m) and self.margin_m >= 0):
            raise InputError(f"grid: margin_m must be ≥ 0, got {self.margin_m!r}")

    @classmethod
    def from_agreement(cls, agreement: Any, **overrides: Any) -> Grid:
        """The grid named by ``agreement.strategic`` where it has one, else the defaults.

        Reads ``h3_fine_res``, ``h3_coarse_res``, ``band_ft``, ``coarse_bands``,
        ``slot_s``, ``coarse_slots`` and ``margin_m`` from that section when present;
        keyword ``overrides`` win.
        """
        names = {
            "fine_res": "h3_fine_res",
            "coarse_res": "h3_coarse_res",
            "band_ft": "band_ft",
            "coarse_bands": "coarse_bands",
            "slot_s": "slot_s",
            "coarse_slots": "coarse_slots",
            "margin_m": "margin_m",
        }
        section = getattr(agreement, "strategic", None)
        values: dict[str, Any] = {}
        if section is not None:
            for ours, theirs in names.items():
                if getattr(section, theirs, None) is not None:
                    values[ours] = getattr(section, theirs)
        values.update(overrides)
        return cls(**values)

    def to_bytes(self) -> bytes:
        """The fields both parties must share, packed (goes into messages and hashes)."""
        return struct.pack(
            "<BBHHdd",
            self.fine_res,
            self.coarse_res,
            self.coarse_bands,
            self.coarse_slots,
            float(self.band_ft),
            float(self.slot_s),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Grid:
        """Inverse of :meth:`to_bytes` (``margin_m`` takes its default)."""
        fine, coarse, cb, cs, band, slot = struct.unpack("<BBHHdd", data)
        return cls(
            fine_res=fine,
            coarse_res=coarse,
            band_ft=band,
            coarse_bands=cb,
            slot_s=slot,
            coarse_slots=cs,
        )

    def describe(self) -> str:
        """One line for messages: ``H3 8/6, 500 ft ×10, 300 s ×3``."""
        return (
            f"H3 {self.fine_res}/{self.coarse_res}, {self.band_ft:g} ft ×{self.coarse_bands}, "
            f"{self.slot_s:g} s ×{self.coarse_slots}"
        )


GRID_BYTES = struct.calcsize("<BBHHdd")


# -- H3 helpers ----------------------------------------------------------------------
def parents(cells: UIntArray, res: int) -> UIntArray:
    """The H3 parents of ``cells`` at ``res``, vectorised (bit operations).

    Same as :func:`h3.cell_to_parent` for cells at ``res`` or finer.

    >>> import h3
    >>> c = h3.str_to_int(h3.latlng_to_cell(48.85, 2.35, 8))
    >>> int(parents(np.array([c], dtype=np.uint64), 6)[0]) == h3.str_to_int(
    ...     h3.cell_to_parent(h3.int_to_str(c), 6))
    True
    """
    cells = np.asarray(cells, dtype=np.uint64)
    low = np.uint64((1 << (3 * (15 - res))) - 1)
    return (cells & ~_RES_MASK & ~low) | np.uint64(res << _RES_SHIFT) | low


def _latlng_ring(coords: Any) -> list[list[float]]:
    """(lat, lng) pairs of a shapely ring, without the closing repeat."""
    return np.asarray(coords)[:-1, 1::-1].tolist()  # type: ignore[no-any-return]


def _h3_cover(exterior: Any, holes: list[Any], res: int) -> UIntArray:
    import h3
    import h3.api.numpy_int as h3n

    shape = h3.LatLngPoly(_latlng_ring(exterior), *[_latlng_ring(h) for h in holes])
    # A copy: sorting h3's memoryview-backed array directly is ten times slower.
    return np.array(h3n.h3shape_to_cells_experimental(shape, res, contain="overlap"), np.uint64)


def cover(geometry: shapely.Polygon | shapely.MultiPolygon, res: int) -> UIntArray:
    """Sorted unique H3 cells (uint64) at ``res`` whose outline touches ``geometry``.

    ``geometry`` is in lon/lat degrees. Overlap containment, with the two repairs
    described in the module docstring (small covers widened by one ring, holes that
    fit in a cell filled), so that two geometries sharing an interior point always
    share a cell.
    """
    import h3.api.numpy_int as h3n

    polygons = list(geometry.geoms) if isinstance(geometry, shapely.MultiPolygon) else [geometry]
    found: list[UIntArray] = []
    for poly in polygons:
        if poly.is_empty:
            continue
        holes = [
            ring.coords
            for ring in poly.interiors
            if len(_h3_cover(ring.coords, [], res)) > _SMALL_HOLE
        ]
        cells = _h3_cover(poly.exterior.coords, holes, res)
        if len(cells) <= _SMALL_COVER:
            ring = [np.asarray(h3n.grid_disk(int(c), 1), dtype=np.uint64) for c in cells]
            cells = np.concatenate([cells, *ring]) if ring else cells
        found.append(cells)
    if not found:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.concatenate(found))


# -- a plan's cells ------------------------------------------------------------------
@dataclass(frozen=True)
class PlanCells:
    """One party's buffered plan as fine index sets, per volume.

    Attributes
    ----------
    ids:
        Volume ids, in plan order; ``volume`` arrays below index into it.
    hex_volume, hexes:
        One row per (volume, fine hexagon): the volume's index and the uint64 H3 cell.
    band_lo, band_hi, slot_lo, slot_hi:
        Per volume, the inclusive range of fine band and slot indexes.

    """

    ids: tuple[str, ...]
    hex_volume: IntArray
    hexes: UIntArray
    band_lo: IntArray
    band_hi: IntArray
    slot_lo: IntArray
    slot_hi: IntArray

    def __len__(self) -> int:
        return len(self.ids)

    def fine_cell_count(self) -> int:
        """Number of fine 4-D cells (with repeats across volumes)."""
        per_hex = np.bincount(self.hex_volume, minlength=len(self.ids))
        return int(
            np.sum(per_hex * (self.band_hi - self.band_lo + 1) * (self.slot_hi - self.slot_lo + 1))
        )

    def to_state(self) -> dict[str, Any]:
        """Plain JSON-able form (arrays as lists)."""
        return {
            "ids": list(self.ids),
            "hex_volume": self.hex_volume.tolist(),
            "hexes": [f"{int(h):x}" for h in self.hexes],
            "band_lo": self.band_lo.tolist(),
            "band_hi": self.band_hi.tolist(),
            "slot_lo": self.slot_lo.tolist(),
            "slot_hi": self.slot_hi.tolist(),
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> PlanCells:
        """Inverse of :meth:`to_state`."""
        return cls(
            ids=tuple(data["ids"]),
            hex_volume=np.asarray(data["hex_volume"], dtype=np.int64),
            hexes=np.array([int(h, 16) for h in data["hexes"]], dtype=np.uint64),
            band_lo=np.asarray(data["band_lo"], dtype=np.int64),
            band_hi=np.asarray(data["band_hi"], dtype=np.int64),
            slot_lo=np.asarray(data["slot_lo"], dtype=np.int64),
            slot_hi=np.asarray(data["slot_hi"], dtype=np.int64),
        )


def index_range(lo: npt.ArrayLike, hi: npt.ArrayLike, step: float) -> tuple[IntArray, IntArray]:
    """Inclusive index range of the half-open steps ``[k·step, (k+1)·step)`` meeting ``(lo, hi)``.

    An empty interval (``hi == lo``) keeps the one step holding ``lo``.

    >>> index_range([9500.0], [30500.0], 500.0)
    (array([19]), array([60]))
    """
    lo_a = np.asarray(lo, dtype=np.float64)
    hi_a = np.asarray(hi, dtype=np.float64)
    first = np.floor(lo_a / step).astype(np.int64)
    last = np.ceil(hi_a / step).astype(np.int64) - 1
    return first, np.maximum(last, first)


def discretise(buffered_volumes: Any, grid: Grid) -> PlanCells:
    """Fine cells of already buffered volumes (a :class:`deconflict.airspace.volumes.Volumes`)."""
    items = buffered_volumes.items
    ids = tuple(v.id for v in items)
    covers = [cover(v.geometry, grid.fine_res) for v in items]
    hex_volume = np.repeat(np.arange(len(items), dtype=np.int64), [len(c) for c in covers])
    hexes = np.concatenate(covers) if covers else np.zeros(0, dtype=np.uint64)
    lower = [v.alt_lower_ft for v in items]
    upper = [v.alt_upper_ft for v in items]
    start = [v.time_start_s for v in items]
    end = [v.time_end_s for v in items]
    band_lo, band_hi = index_range(lower, upper, grid.band_ft)
    slot_lo, slot_hi = index_range(start, end, grid.slot_s)
    return PlanCells(ids, hex_volume, hexes.astype(np.uint64), band_lo, band_hi, slot_lo, slot_hi)


# -- records -------------------------------------------------------------------------
def _ranges(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """Concatenated ``arange(lo[i], hi[i] + 1)`` and the row ``i`` of each value."""
    counts = np.maximum(hi - lo + 1, 0)
    row = np.repeat(np.arange(len(lo)), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return starts + np.arange(int(counts.sum())), row


def unique_rows(rows: IntArray) -> IntArray:
    """Rows of an ``(n, k)`` int64 array, sorted (first column first), without repeats.

    >>> unique_rows(np.array([[2, 1], [1, 5], [2, 1]]))
    array([[1, 5],
           [2, 1]])
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return rows.reshape(0, rows.shape[1] if rows.ndim == 2 else 4)
    ordered = rows[np.lexsort(rows.T[::-1])]
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    return ordered[keep]


def isin_rows(rows: IntArray, table: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each row of ``rows`` appears in ``table`` (both ``(n, k)`` int64).

    >>> isin_rows(np.array([[1, 2], [3, 4]]), np.array([[3, 4], [5, 6]]))
    array([False,  True])
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0 or len(table) == 0:
        return np.zeros(len(rows), dtype=bool)
    both = np.concatenate([np.asarray(table, dtype=np.int64), rows])
    from_table = np.arange(len(both)) < len(table)
    order = np.lexsort(both.T[::-1])
    ordered = both[order]
    new = np.ones(len(both), dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    group = np.cumsum(new) - 1
    has = np.zeros(int(group[-1]) + 1, dtype=bool)
    has[group[from_table[order]]] = True
    out = np.empty(len(rows), dtype=bool)
    is_row = ~from_table[order]
    out[order[is_row] - len(table)] = has[group[is_row]]
    return out


def coarse_by_volume(cells: PlanCells, grid: Grid) -> tuple[IntArray, IntArray]:
    """Coarse records ``(COARSE, parent, coarse band, coarse slot)`` of every volume.

    Returns ``(volume, records)``: one row per (volume, coarse cell).
    """
    par = parents(cells.hexes, grid.coarse_res).view(np.int64)
    pv = unique_rows(np.column_stack([cells.hex_volume, par]))  # (volume, parent)
    cb_lo = cells.band_lo // grid.coarse_bands
    cb_hi = cells.band_hi // grid.coarse_bands
    cs_lo = cells.slot_lo // grid.coarse_slots
    cs_hi = cells.slot_hi // grid.coarse_slots
    vol = pv[:, 0]
    per_row = (cb_hi - cb_lo + 1)[vol] * (cs_hi - cs_lo + 1)[vol]
    _check_size(cells, grid, vol, per_row, "coarse")
    # (volume, parent) × coarse bands × coarse slots, vectorised with two range expansions.
    cb, row = _ranges(cb_lo[vol], cb_hi[vol])
    vol_b, par_b = vol[row], pv[row, 1]
    cs, row2 = _ranges(cs_lo[vol_b], cs_hi[vol_b])
    records = np.column_stack([np.full(len(cs), COARSE, dtype=np.int64), par_b[row2], cb[row2], cs])
    return vol_b[row2], records


def _check_size(
    cells: PlanCells, grid: Grid, volume: IntArray, counts: IntArray, level: str
) -> None:
    """Refuse a round that would exceed :data:`MAX_RECORDS`, naming the largest volume."""
    total = int(np.sum(counts, dtype=np.int64))
    if total <= MAX_RECORDS:
        return
    worst = int(np.argmax(np.bincount(volume, weights=counts, minlength=len(cells.ids))))
    raise InputError(
        f"plan too large for the private mode at grid {grid.describe()}: {total:,} {level} "
        f"records (limit {MAX_RECORDS:,}); the largest volume is {cells.ids[worst]!r}: "
        "split it, or use a coarser grid"
    )


def coarse_records(cells: PlanCells, grid: Grid) -> IntArray:
    """Sorted unique coarse records of a plan (round 1)."""
    return unique_rows(coarse_by_volume(cells, grid)[1])


def fine_by_volume(cells: PlanCells, grid: Grid, common: IntArray) -> tuple[IntArray, IntArray]:
    """Fine records of every volume inside the ``common`` coarse cells (round 2).

    ``common`` holds coarse records (``(n, 4)``). For each volume and each common
    coarse cell it holds, the records are its fine hexagons under the cell's parent,
    its fine bands in the cell's coarse band and its fine slots in the cell's coarse
    slot, each keyed by the part of the coarse cell it refines. Returns
    ``(volume, records)``, one row per (volume, record).
    """
    vol, coarse = coarse_by_volume(cells, grid)
    keep = isin_rows(coarse, common)
    vol, coarse = vol[keep], coarse[keep]
    out_vol: list[IntArray] = []
    out_rec: list[IntArray] = []
    # Hexagons: (volume, parent) pairs that hold a common cell.
    vp = unique_rows(np.column_stack([vol, coarse[:, 1]]))
    par = parents(cells.hexes, grid.coarse_res).view(np.int64)
    hx = np.column_stack([cells.hex_volume, par])
    sel = isin_rows(hx, vp)
    out_vol.append(cells.hex_volume[sel])
    out_rec.append(
        np.column_stack(
            [
                np.full(int(sel.sum()), HEX, dtype=np.int64),
                par[sel],
                cells.hexes[sel].view(np.int64),
                np.zeros(int(sel.sum()), dtype=np.int64),
            ]
        )
    )
    # Bands and slots: per (volume, parent, coarse band) and (volume, parent, coarse slot).
    for kind, col, lo, hi, factor in (
        (BAND, 2, cells.band_lo, cells.band_hi, grid.coarse_bands),
        (SLOT, 3, cells.slot_lo, cells.slot_hi, grid.coarse_slots),
    ):
        key = unique_rows(np.column_stack([vol, coarse[:, 1], coarse[:, col]]))
        v, c = key[:, 0], key[:, 2]
        first = np.maximum(lo[v], c * factor)
        last = np.minimum(hi[v], c * factor + factor - 1)
        _check_size(cells, grid, v, last - first + 1, "fine")
        values, row = _ranges(first, last)
        out_vol.append(v[row])
        out_rec.append(
            np.column_stack(
                [np.full(len(values), kind, dtype=np.int64), key[row, 1], c[row], values]
            )
        )
    return np.concatenate(out_vol), np.concatenate(out_rec)


def fine_records(cells: PlanCells, grid: Grid, common: IntArray) -> IntArray:
    """Sorted unique fine records of a plan inside the ``common`` coarse cells."""
    return unique_rows(fine_by_volume(cells, grid, common)[1])


def records_to_bytes(records: IntArray) -> bytes:
    """Little-endian packing of records, 32 bytes each (the hash input after the prefix)."""
    return np.ascontiguousarray(records, dtype="<i8").tobytes()
