"""Where two parties' operation volumes overlap: exactly, as arrays, or as a table.

Two volumes **overlap** under minima ``H`` (horizontal) and ``V`` (vertical) and a time
buffer ``tb`` when all three hold:

- the horizontal distance between the two outlines on the ground is ``< H``
  (0 where they meet);
- the vertical gap between the bands is ``< V`` (negative where they overlap);
- the gap between the time windows is ``< tb`` (negative where they overlap; with
  ``tb = 0``, windows that only touch, one ending when the other starts, do not
  overlap).

This is the same as growing each volume by half of each (``H/2`` on the ground,
``V/2`` up and down, ``tb/2`` before and after) and asking whether the grown
volumes intersect; :func:`overlaps` reports that intersection: the region where the
two outlines grown by ``H/2`` meet, the band and the window.

Accuracy
--------
Distances are metric, on the WGS84 ellipsoid. Each edge is cut into pieces short
enough (:data:`~deconflict.airspace.planes.DENSIFY_STEP_DEG` of arc, less above 45°
latitude) that the longitude/latitude line strays less than
:data:`~deconflict.airspace.planes.DENSIFY_TOLERANCE_M` (1 m) from the straight
pieces used; that is the outline's tolerance. For a candidate pair, both
outlines are projected into the tangent plane at a point between them (east, north:
an orthographic view of the surface). That projection never lengthens a distance,
and shortens one by at most the factor ``cos θ`` (``θ``: the angle between the
verticals at the plane's origin and at the far end), so a plane distance ``d``
decides the pair when ``d >= H`` (apart) or ``d < H cos θ`` (overlap). The few pairs
in between are projected again into the plane at the midpoint of their closest
points (twice at most), where the band shrinks to millimetres (2.5 mm at 5 NM),
and the geodesic distance between the closest points found decides the rest. A
pair exactly ``H`` apart is decided by rounding either way.

Cost
----
Each volume's surface is bounded by a box in Earth-centred (ECEF) coordinates; a
:class:`shapely.STRtree` over one side's boxes (grown by ``H/2``) is queried in bulk
with the other side's, then the band and window gaps prune the candidates, all
vectorised; only the remaining pairs are projected and measured, with shapely 2's
vectorised ``shortest_line``. Thousands of volumes per side take well under a
second (``bench/volumes.py``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Geod

from deconflict._util import iso_utc
from deconflict.airspace.geojson import geometry_mapping, is_number
from deconflict.airspace.planes import (
    BOX_SLACK_M,
    Prepared,
    cut_antimeridian,
    ecef_surface_latlon,
    grow,
    mid_planes,
    polygonal_parts,
    prepare,
    project,
    surface_ecef,
)
from deconflict.airspace.volumes import Volumes, check_nonnegative
from deconflict.errors import InputError
from deconflict.geo import WGS84_MIN_RADIUS
from deconflict.units import nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

#: Most vertices projected at once when measuring candidate pairs (bounds peak memory).
_CHUNK_VERTICES = 1 << 21
#: Re-projections of a pair whose plane distance does not decide it.
_REFINE_ROUNDS = 2
_GEOD = Geod(ellps="WGS84")


#: Columns of an overlap table (exact or private), in order: the two volumes' ids, the
#: overlap's band (ft) and window (ISO 8601 UTC), the mode and the region.
OVERLAP_COLUMNS = (
    "a_id",
    "b_id",
    "alt_lower_ft",
    "alt_upper_ft",
    "time_start",
    "time_end",
    "mode",
    "geometry",
)


@dataclass(frozen=True, eq=False)
class Overlaps:
    """Overlapping pairs of volumes, one entry per pair in every array.

    ``a_index``/``b_index`` index the two :class:`Volumes`. ``geometry`` holds the
    overlap regions (shapely, lon/lat deg; cut at the antimeridian as RFC 7946
    asks): where the two outlines grown by ``H/2`` meet. The band
    ``[alt_lower_ft, alt_upper_ft]`` and the window ``[time_start_s, time_end_s]``
    are the intersections of the bands grown by ``V/2`` and of the windows grown by
    ``tb/2``. ``distance_m`` is the horizontal distance between the outlines (0 where
    they meet): a lower bound, short by at most a factor ``cos θ`` (see the module's
    notes: under 0.1 % for outlines within 300 km); near ``H``, the geodesic
    distance between the closest points found. Entries are sorted by ``a_index``, then ``b_index``.
    """

    a_index: IntArray
    b_index: IntArray
    geometry: ObjArray
    alt_lower_ft: FloatArray
    alt_upper_ft: FloatArray
    time_start_s: FloatArray
    time_end_s: FloatArray
    distance_m: FloatArray

    def __len__(self) -> int:
        """Return the number of overlapping pairs."""
        return int(self.a_index.size)


def overlaps(
    a: Volumes, b: Volumes, horizontal_nm: float, vertical_ft: float, time_buffer_s: float = 0.0
) -> Overlaps:
    """Pairs of volumes of ``a`` and ``b`` that overlap under the minima (see the module's notes).

    ``horizontal_nm`` (NM) and ``vertical_ft`` (ft) are positive; ``time_buffer_s``
    (s) is at least 0.

    >>> from deconflict.airspace.volumes import Volume
    >>> sq = shapely.box(0.0, 0.0, 0.1, 0.1)
    >>> a = Volumes((Volume("a", sq, 0.0, 1000.0, 0.0, 3600.0),))
    >>> east = shapely.box(0.17, 0.0, 0.2, 0.1)  # 7.8 km east
    >>> b = Volumes((Volume("b", east, 1500.0, 3000.0, 1800.0, 7200.0),))
    >>> o = overlaps(a, b, horizontal_nm=5, vertical_ft=1000)
    >>> len(o), float(o.alt_lower_ft[0]), float(o.alt_upper_ft[0])
    (1, 1000.0, 1500.0)
    >>> float(o.time_start_s[0]), float(o.time_end_s[0]), round(float(o.distance_m[0]))
    (1800.0, 3600.0, 7792)
    >>> len(overlaps(a, b, horizontal_nm=4, vertical_ft=1000))
    0
    """
    for name, value in (("horizontal_nm", horizontal_nm), ("vertical_ft", vertical_ft)):
        if not is_number(value) or not math.isfinite(value) or value <= 0.0:
            raise InputError(f"{name}: {value!r} is not a finite number > 0")
    check_nonnegative("time_buffer_s", time_buffer_s)
    H = nm_to_m(float(horizontal_nm))
    V = float(vertical_ft)
    tb = float(time_buffer_s)
    if len(a) == 0 or len(b) == 0:
        return _no_overlaps()
    pa, pb = prepare(a.outlines()), prepare(b.outlines())
    ta, tb_ = _Spans.of(a), _Spans.of(b)
    ia, ib = _candidates(pa, pb, 0.5 * H + BOX_SLACK_M)
    band_gap = np.maximum(tb_.lower[ib] - ta.upper[ia], ta.lower[ia] - tb_.upper[ib])
    time_gap = np.maximum(tb_.start[ib] - ta.end[ia], ta.start[ia] - tb_.end[ib])
    keep = (band_gap < V) & (time_gap < tb)
    ia, ib = ia[keep], ib[keep]
    hit = np.zeros(ia.size, dtype=bool)
    dist = np.zeros(ia.size)
    for sl in _chunks(pa.count[ia] + pb.count[ib]):
        hit[sl], dist[sl] = _decide(pa, ia[sl], pb, ib[sl], H)
    ia, ib, dist = ia[hit], ib[hit], dist[hit]
    order = np.lexsort((ib, ia))
    ia, ib, dist = ia[order], ib[order], dist[order]
    return Overlaps(
        a_index=ia.astype(np.int64),
        b_index=ib.astype(np.int64),
        geometry=_regions(pa, ia, pb, ib, 0.5 * H),
        alt_lower_ft=np.maximum(ta.lower[ia], tb_.lower[ib]) - 0.5 * V,
        alt_upper_ft=np.minimum(ta.upper[ia], tb_.upper[ib]) + 0.5 * V,
        time_start_s=np.maximum(ta.start[ia], tb_.start[ib]) - 0.5 * tb,
        time_end_s=np.minimum(ta.end[ia], tb_.end[ib]) + 0.5 * tb,
        distance_m=dist,
    )


@dataclass(frozen=True)
class _Spans:
    """Each volume's band (ft) and window (s) as arrays."""

    lower: FloatArray
    upper: FloatArray
    start: FloatArray
    end: FloatArray

    @classmethod
    def of(cls, volumes: Volumes) -> _Spans:
        def column(name: str) -> FloatArray:
            return np.array([getattr(v, name) for v in volumes.items], dtype=np.float64)

        return cls(
            column("alt_lower_ft"),
            column("alt_upper_ft"),
            column("time_start_s"),
            column("time_end_s"),
        )


def _no_overlaps() -> Overlaps:
    empty = np.zeros(0, dtype=np.int64)
    return Overlaps(
        empty,
        empty.copy(),
        np.zeros(0, dtype=object),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
    )


def _chunks(vertices: IntArray) -> list[slice]:
    """Consecutive slices of pairs holding at most :data:`_CHUNK_VERTICES` vertices each."""
    if vertices.size == 0:
        return []
    total = np.cumsum(vertices)
    bounds = [0]
    while bounds[-1] < vertices.size:
        base = total[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(total, base + _CHUNK_VERTICES, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    return [slice(s, e) for s, e in itertools.pairwise(bounds)]


def _candidates(pa: Prepared, pb: Prepared, pad_m: float) -> tuple[IntArray, IntArray]:
    """Pairs whose ECEF boxes, each grown by ``pad_m``, overlap.

    Points of the two surfaces less than ``2 pad_m`` apart on the ground are less
    than that apart in a straight line, so their boxes grown by ``pad_m`` meet. The
    tree holds 2-D boxes on the two ECEF axes least aligned with the volumes' mean
    vertical; the third axis is checked in numpy.
    """
    up = np.concatenate([pa.origin, pb.origin]).sum(axis=0)
    drop = int(np.argmax(np.abs(up)))
    k0, k1 = (k for k in range(3) if k != drop)
    lo_a, hi_a = pa.lo - pad_m, pa.hi + pad_m
    lo_b, hi_b = pb.lo - pad_m, pb.hi + pad_m
    tree = shapely.STRtree(shapely.box(lo_b[:, k0], lo_b[:, k1], hi_b[:, k0], hi_b[:, k1]))
    ia, ib = tree.query(shapely.box(lo_a[:, k0], lo_a[:, k1], hi_a[:, k0], hi_a[:, k1]))
    near = (lo_a[ia, drop] <= hi_b[ib, drop]) & (hi_a[ia, drop] >= lo_b[ib, drop])
    return ia[near].astype(np.int64), ib[near].astype(np.int64)


def _decide(
    pa: Prepared, ia: IntArray, pb: Prepared, ib: IntArray, H: float
) -> tuple[BoolArray, FloatArray]:
    """Whether each pair's outlines are less than ``H`` (m) apart, and that distance (m)."""
    k = ia.size
    origin, basis = mid_planes(pa.origin[ia], pb.origin[ib])
    yes = np.zeros(k, dtype=bool)
    todo = np.arange(k)
    dist = np.zeros(k)
    for round_ in range(_REFINE_ROUNDS + 1):
        d, p, q = _closest(pa, ia[todo], pb, ib[todo], origin[todo], basis[todo])
        dist[todo] = d
        rho = np.maximum(np.hypot(p[:, 0], p[:, 1]), np.hypot(q[:, 0], q[:, 1]))
        theta = np.minimum(1.01 * rho / WGS84_MIN_RADIUS, 0.5 * math.pi)
        sure_yes = d < H * np.cos(theta)
        yes[todo[sure_yes]] = True
        open_ = ~sure_yes & (d < H)
        if not open_.any():
            break
        todo, p, q = todo[open_], p[open_], q[open_]
        pe = surface_ecef(p, origin[todo], basis[todo])
        qe = surface_ecef(q, origin[todo], basis[todo])
        if round_ == _REFINE_ROUNDS:
            # Millimetres from H: the geodesic between the closest points decides.
            lat_p, lon_p = ecef_surface_latlon(pe)
            lat_q, lon_q = ecef_surface_latlon(qe)
            _, _, geo = _GEOD.inv(lon_p, lat_p, lon_q, lat_q)
            geo = np.asarray(geo, dtype=np.float64)
            yes[todo[geo < H]] = True
            dist[todo] = geo
            break
        new_origin, new_basis = mid_planes(pe, qe)
        origin = origin.copy()
        basis = basis.copy()
        origin[todo], basis[todo] = new_origin, new_basis
    return yes, dist


def _closest(
    pa: Prepared,
    ia: IntArray,
    pb: Prepared,
    ib: IntArray,
    origin: FloatArray,
    basis: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distance (m) and closest points (plane, m) of each pair in its plane."""
    ga = project(pa, ia, origin, basis)
    gb = project(pb, ib, origin, basis)
    line = shapely.get_coordinates(shapely.shortest_line(ga, gb)).reshape(-1, 2, 2)
    p, q = line[:, 0], line[:, 1]
    return np.hypot(*(q - p).T), p, q


def _regions(pa: Prepared, ia: IntArray, pb: Prepared, ib: IntArray, r_m: float) -> ObjArray:
    """Where the outlines grown by ``r_m`` meet, per pair (lon/lat, cut at the antimeridian)."""
    if ia.size == 0:
        return np.zeros(0, dtype=object)
    ua, inv_a = np.unique(ia, return_inverse=True)
    ub, inv_b = np.unique(ib, return_inverse=True)
    ga = grow(pa, ua, r_m)[inv_a]
    gb = grow(pb, ub, r_m)[inv_b]
    shift = 360.0 * np.round((pa.ref_lon[ia] - pb.ref_lon[ib]) / 360.0)
    _, owner = shapely.get_coordinates(gb, return_index=True)
    gb = shapely.transform(gb, lambda c: c + np.column_stack([shift[owner], np.zeros(owner.size)]))
    try:
        region = shapely.intersection(ga, gb)
    except shapely.errors.GEOSException:  # pragma: no cover - a grown outline out of shape
        region = shapely.intersection(shapely.make_valid(ga), shapely.make_valid(gb))
    return cut_antimeridian(polygonal_parts(np.asarray(region, dtype=object)))


# -- tables ----------------------------------------------------------------------------


def overlap_table(a: Volumes, b: Volumes, found: Overlaps, mode: str = "exact") -> pd.DataFrame:
    """Tabulate :class:`Overlaps` of ``a`` and ``b`` (columns :data:`OVERLAP_COLUMNS`).

    ============ ==========================================================
    a_id, b_id   the volumes' ids in A and B
    alt_lower_ft the overlap's band, ft: the bands grown by V/2 each, intersected
    alt_upper_ft
    time_start   the overlap's window (ISO 8601 UTC): the windows grown by
    time_end     ``time_buffer_s / 2`` each, intersected
    mode         ``mode`` (``exact``)
    geometry     the overlap region: the outlines grown by H/2 each, intersected
                 (shapely, lon/lat deg, cut at the antimeridian)
    ============ ==========================================================
    """
    a_ids = np.array([v.id for v in a.items] or [""], dtype=object)
    b_ids = np.array([v.id for v in b.items] or [""], dtype=object)
    return pd.DataFrame(
        {
            "a_id": a_ids[found.a_index],
            "b_id": b_ids[found.b_index],
            "alt_lower_ft": found.alt_lower_ft.astype(np.float64),
            "alt_upper_ft": found.alt_upper_ft.astype(np.float64),
            "time_start": np.array([iso_utc(t) for t in found.time_start_s], dtype=object),
            "time_end": np.array([iso_utc(t) for t in found.time_end_s], dtype=object),
            "mode": np.full(len(found), mode, dtype=object),
            "geometry": found.geometry.astype(object),
        },
        columns=list(OVERLAP_COLUMNS),
    )


def areas_km2(geometries: Sequence[Any] | npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Geodesic area (km², WGS84) of each lon/lat geometry."""
    return np.array(
        [abs(_GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in geometries], dtype=np.float64
    )


#: Properties of each feature :func:`to_geojson` writes, in order.
OVERLAP_PROPERTIES = OVERLAP_COLUMNS[:-1]


def to_geojson(frame: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: one feature per row, the region as its geometry.

    Properties are :data:`OVERLAP_PROPERTIES` (``a_id, b_id, alt_lower_ft,
    alt_upper_ft, time_start, time_end, mode``).
    """
    missing = [c for c in OVERLAP_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"overlaps: missing column(s) {missing}")
    features = []
    for row in frame.itertuples(index=False):
        props: dict[str, Any] = {}
        for col in OVERLAP_PROPERTIES:
            value = getattr(row, col)
            if col in ("alt_lower_ft", "alt_upper_ft"):
                value = float(value)
            elif value is not None:
                value = str(value)
            props[col] = value
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": geometry_mapping(row.geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}
