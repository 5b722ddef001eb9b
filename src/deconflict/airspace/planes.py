"""Outlines in local tangent planes: densify, project, lift back, grow; shared by volumes.

An outline (a shapely Polygon or MultiPolygon of longitude, latitude in degrees) is
*prepared* once (:func:`prepare`): its edges cut into pieces short enough that the
longitude/latitude line strays less than :data:`DENSIFY_TOLERANCE_M` from them, its
vertices in ECEF (m), its own tangent plane at its centre and a box bounding the
surface under it. Pieces of it are then projected into any tangent plane
(:func:`project`, orthographic: east, north in m), and plane points lifted back to
the surface under them (:func:`lift`). :func:`grow` buffers outlines on the ground.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from deconflict.geo import WGS84_A, WGS84_E2, WGS84_F, WGS84_MIN_RADIUS, enu_basis, geodetic_to_ecef

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

#: Outlines stay within this latitude (deg, north or south).
MAX_ABS_LAT_DEG = 89.0
#: Largest angle (deg, at the Earth's centre) between an outline's centre and any vertex:
#: the extent within which a local tangent plane serves (zones and volumes alike).
MAX_RADIUS_DEG = 20.0
#: Longest piece (degrees of arc; less above 45° latitude) an edge is cut into.
DENSIFY_STEP_DEG = 0.045
#: Most an edge strays (m) from the straight pieces it is cut into.
DENSIFY_TOLERANCE_M = 1.0
#: Segments per quarter circle of the round joins of a buffer.
QUAD_SEGS = 16
#: Extra growth (m) of a buffered outline: the input's and the output's edge tolerance.
GROW_MARGIN_M = 2.0 * DENSIFY_TOLERANCE_M + 0.5
#: Extra width (m) of every box beyond the proven bounds: numerical headroom.
BOX_SLACK_M = 50.0
_B = WGS84_A * (1.0 - WGS84_F)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Outlines ready for measuring: densified, their ECEF vertices, planes, boxes.

    ``dense`` holds each outline with its edges cut (see :data:`DENSIFY_STEP_DEG`),
    longitudes unwrapped within 180° of ``ref_lon``; ``ecef`` its vertices (m) in
    ``shapely.get_coordinates`` order, volume ``i``'s from ``start[i]``, ``count[i]``
    of them. Each volume's own plane is at ``origin`` (ECEF) with ``basis`` (east,
    north, up rows); ``lo``/``hi`` bound the surface under the outline (ECEF, m).
    """

    dense: ObjArray
    ref_lon: FloatArray
    lat_max_abs: FloatArray
    ecef: FloatArray
    start: IntArray
    count: IntArray
    origin: FloatArray
    basis: FloatArray
    lo: FloatArray
    hi: FloatArray


def prepare(geoms: ObjArray) -> Prepared:
    """Prepare outlines (an object array of lon/lat Polygons or MultiPolygons, none empty)."""
    n = geoms.size
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    first = starts(idx, n)
    ref = coords[first, 0]
    lon = ref[idx] + wrap(coords[:, 0] - ref[idx])
    lat = coords[:, 1]
    lat_max = np.maximum.reduceat(np.abs(lat), first)
    crosses = (np.minimum.reduceat(lat, first) < 0.0) & (np.maximum.reduceat(lat, first) > 0.0)
    lat_min = np.where(crosses, 0.0, np.minimum.reduceat(np.abs(lat), first))

    # Cut edges in (lon cos(lat_min), lat): pieces no longer than the step in arc.
    scale = np.cos(np.radians(lat_min))
    scaled = shapely.transform(geoms, set_lon(lon * scale[idx]))
    step = DENSIFY_STEP_DEG / np.sqrt(np.maximum(1.0, np.tan(np.radians(lat_max))))
    dense = shapely.segmentize(scaled, step)
    dcoords, didx = shapely.get_coordinates(dense, return_index=True)
    dlon = dcoords[:, 0] / scale[didx]
    dense = np.asarray(shapely.transform(dense, set_lon(dlon)), dtype=object)

    ecef = geodetic_to_ecef(dcoords[:, 1], dlon, 0.0)
    count = np.bincount(didx, minlength=n).astype(np.int64)
    start = (np.cumsum(count) - count).astype(np.int64)
    lat0, lon0 = ecef_surface_latlon(np.add.reduceat(ecef, start, axis=0))
    origin = geodetic_to_ecef(lat0, lon0, 0.0)
    basis = enu_basis(lat0, lon0)
    d = ecef - origin[didx]
    own = np.einsum("ij,ikj->ik", d, basis[didx])  # (east, north, up) per vertex
    plane_lo = np.minimum.reduceat(own, start, axis=0)
    plane_hi = np.maximum.reduceat(own, start, axis=0)
    # The surface under the outline: its plane box, from the lowest vertex to the plane.
    corners = np.stack(
        [
            np.stack([x, y, u], axis=-1)
            for x in (plane_lo[:, 0], plane_hi[:, 0])
            for y in (plane_lo[:, 1], plane_hi[:, 1])
            for u in (plane_lo[:, 2], np.zeros(n))
        ],
        axis=1,
    )  # (n, 8, 3)
    corners_ecef = origin[:, None, :] + np.einsum("nck,nkj->ncj", corners, basis)
    return Prepared(
        dense=dense,
        ref_lon=ref,
        lat_max_abs=lat_max,
        ecef=ecef,
        start=start,
        count=count,
        origin=origin,
        basis=basis,
        lo=corners_ecef.min(axis=1) - BOX_SLACK_M,
        hi=corners_ecef.max(axis=1) + BOX_SLACK_M,
    )


def project(prep: Prepared, idx: IntArray, origin: FloatArray, basis: FloatArray) -> ObjArray:
    """Outlines ``idx`` in the planes ``origin[k]``, ``basis[k]`` (one per entry of ``idx``)."""
    owner, vert = expand(prep.count[idx], prep.start[idx])
    d = prep.ecef[vert] - origin[owner]
    x = np.einsum("ij,ij->i", d, basis[owner, 0])
    y = np.einsum("ij,ij->i", d, basis[owner, 1])
    return np.asarray(
        shapely.transform(prep.dense[idx], lambda _c: np.column_stack([x, y])), dtype=object
    )


def grow(prep: Prepared, idx: IntArray, radius_m: float) -> ObjArray:
    """Outlines ``idx`` grown by ``radius_m`` (m), as continuous lon/lat polygons.

    See :func:`deconflict.airspace.volumes.buffered` for the guarantee. Longitudes
    stay within 180° of each outline's reference longitude.
    """
    planar = project(prep, idx, prep.origin[idx], prep.basis[idx])
    # GEOS rounds the number of chords of a round join: each spans up to 1.5 × 90°/QUAD_SEGS.
    dist = (radius_m + GROW_MARGIN_M) / math.cos(3.0 * math.pi / (8 * QUAD_SEGS))
    grown = shapely.buffer(planar, dist, quad_segs=QUAD_SEGS)
    lat_far = np.minimum(
        prep.lat_max_abs[idx] + np.degrees(dist / WGS84_MIN_RADIUS) + 0.01, MAX_ABS_LAT_DEG + 0.5
    )
    grown = shapely.segmentize(grown, step_m(lat_far))
    coords, owner = shapely.get_coordinates(grown, return_index=True)
    lat, lon = lift(coords, prep.origin[idx][owner], prep.basis[idx][owner])
    ref = prep.ref_lon[idx][owner]
    lon = ref + wrap(lon - ref)
    out = np.asarray(shapely.transform(grown, lambda _c: np.column_stack([lon, lat])), dtype=object)
    # Lifting is smooth and one-to-one, but rounding may pinch a near-degenerate spot.
    pinched = ~shapely.is_valid(out)
    if pinched.any():
        out[pinched] = polygonal_parts(np.asarray(shapely.make_valid(out[pinched]), dtype=object))
    return out


def step_m(lat_abs_deg: FloatArray) -> FloatArray:
    """Longest piece (m, in a plane) that keeps a lon/lat line within 1 m of its chord."""
    t = np.maximum(1.0, np.tan(np.radians(lat_abs_deg)))
    # Pieces of DENSIFY_STEP_DEG / sqrt(t) of arc (5 km at most): _sag_m ≤ 0.9 m anywhere.
    step = np.radians(DENSIFY_STEP_DEG) * WGS84_MIN_RADIUS / np.sqrt(t)
    return np.asarray(0.95 * step, dtype=np.float64)


def polygonal_parts(geoms: ObjArray) -> ObjArray:
    """Keep only the polygonal parts of each geometry (drop touching lines and points)."""
    out = geoms.copy()
    kind = shapely.get_type_id(geoms)
    for j in np.flatnonzero((kind != 3) & (kind != 6)):
        parts = [p for p in shapely.get_parts(geoms[j]) if isinstance(p, shapely.Polygon)]
        out[j] = (
            shapely.Polygon()
            if not parts
            else parts[0]
            if len(parts) == 1
            else shapely.MultiPolygon(parts)
        )
    return out


def cut_antimeridian(geoms: ObjArray) -> ObjArray:
    """Longitudes into [-180, 180]: outlines crossing ±180° become two-sided MultiPolygons."""
    out = np.asarray(geoms, dtype=object).copy()
    if out.size == 0:
        return out
    bounds = shapely.bounds(out)
    outside = np.flatnonzero((bounds[:, 0] < -180.0) | (bounds[:, 2] > 180.0))
    for j in outside:
        g = out[j]
        parts: list[shapely.Polygon] = []
        for lo, shift in ((-540.0, 360.0), (-180.0, 0.0), (180.0, -360.0)):
            piece = shapely.intersection(g, shapely.box(lo, -90.0, lo + 360.0, 90.0))
            if shift:
                piece = shapely.transform(piece, lambda c, s=shift: c + np.array([s, 0.0]))
            parts.extend(p for p in shapely.get_parts(piece) if isinstance(p, shapely.Polygon))
        out[j] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return out


def mid_planes(p: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Tangent planes (origin ECEF, basis) on the surface halfway between ECEF points."""
    mid = p / np.linalg.norm(p, axis=1)[:, None] + q / np.linalg.norm(q, axis=1)[:, None]
    lat, lon = ecef_surface_latlon(mid)
    return geodetic_to_ecef(lat, lon, 0.0), enu_basis(lat, lon)


def ecef_surface_latlon(xyz: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Geodetic (lat, lon) deg of the surface point on the ray from the centre through ``xyz``.

    Exact for points on the surface: there ``tan(lat) = z / ((1 - e²) p)``.
    """
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lat = np.degrees(np.arctan2(z, (1.0 - WGS84_E2) * np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def surface_ecef(xy: FloatArray, origin: FloatArray, basis: FloatArray) -> FloatArray:
    """Plane points (m) → the surface points under them along the planes' verticals (ECEF).

    The line ``origin + x e + y n + h u`` meets the ellipsoid where ``|P / (a, a, b)|² = 1``,
    a quadratic in ``h``; the near root (0 at the origin) is taken.
    """
    base = origin + xy[:, 0:1] * basis[:, 0] + xy[:, 1:2] * basis[:, 1]
    scale = np.array([1.0 / WGS84_A, 1.0 / WGS84_A, 1.0 / _B])
    b, u = base * scale, basis[:, 2] * scale
    qa = np.einsum("ij,ij->i", u, u)
    qb = np.einsum("ij,ij->i", b, u)
    qc = np.einsum("ij,ij->i", b, b) - 1.0
    h = (-qb + np.sqrt(np.maximum(qb * qb - qa * qc, 0.0))) / qa
    return np.asarray(base + h[:, None] * basis[:, 2], dtype=np.float64)


def lift(xy: FloatArray, origin: FloatArray, basis: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Plane points (m) → (lat, lon) deg of the surface under them (inverse of projecting)."""
    return ecef_surface_latlon(surface_ecef(xy, origin, basis))


def wrap(dlon: FloatArray) -> FloatArray:
    """Longitude differences into [-180, 180)."""
    return np.asarray((dlon + 180.0) % 360.0 - 180.0, dtype=np.float64)


def set_lon(lon: FloatArray) -> Callable[[FloatArray], FloatArray]:
    """A ``shapely.transform`` function that replaces the x coordinates by ``lon``."""
    return lambda c: np.column_stack([lon, c[:, 1]])


def starts(idx: IntArray, n: int) -> IntArray:
    """First coordinate of each of ``n`` geometries in a sorted owner index (none empty)."""
    return np.searchsorted(idx, np.arange(n)).astype(np.int64)


def expand(count: IntArray, first: IntArray) -> tuple[IntArray, IntArray]:
    """For ``j`` with ``count[j]`` items from ``first[j]``: (owner j, item index) per item."""
    count = np.asarray(count, dtype=np.int64)
    total = int(count.sum())
    owner = np.repeat(np.arange(count.size, dtype=np.int64), count)
    start = np.cumsum(count) - count
    item = np.arange(total, dtype=np.int64) + (np.asarray(first, dtype=np.int64) - start)[owner]
    return owner, item
