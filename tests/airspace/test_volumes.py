"""Operation volumes: the exact overlap check against an all-pairs reference, buffers, files."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from deconflict import Agreement, InputError
from deconflict.airspace.overlaps import OVERLAP_COLUMNS, overlap_table, overlaps, to_geojson
from deconflict.airspace.volume4d import from_volume4d
from deconflict.airspace.volume4d import parse_volumes as parse
from deconflict.airspace.volumes import (
    CIRCLE_TOLERANCE_M,
    Volume,
    Volumes,
    buffered,
    circle,
    outline_problem,
)
from deconflict.io.airspace_files import read_volumes as read
from deconflict.io.airspace_files import write_overlaps

DATA = Path(__file__).resolve().parents[1] / "data" / "volumes"
GEOD = Geod(ellps="WGS84")
NM_M = 1852.0
H_NM, V_FT = 5.0, 1000.0
H_M = H_NM * NM_M
T0 = 1_777_593_600.0  # 2026-05-01T00:00:00Z
#: Where the random plans are: the equator, the antimeridian (both hemispheres), high up.
CENTRES = [(0.0, 10.0), (35.0, 180.0), (-20.0, -179.9), (72.0, 25.0), (-66.0, 179.95)]
#: Reference and check may disagree only this close to H (m): outline tolerances.
BOUNDARY_TOL_M = 3.0


def wrap(lon: Any) -> Any:
    return (np.asarray(lon) + 180.0) % 360.0 - 180.0


# -- random plans -------------------------------------------------------------------------


def star(rng: np.random.Generator, lon: float, lat: float, r_min: float, r_max: float):
    """A simple star-shaped polygon around (lon, lat), radii in metres, continuous longitudes."""
    k = int(rng.integers(5, 11))
    az = (np.arange(k) + rng.uniform(0.0, 0.8, k)) * (360.0 / k)  # gaps < 120°: simple
    r = rng.uniform(r_min, r_max, k)
    lo, la, _ = GEOD.fwd(np.full(k, lon), np.full(k, lat), az, r)
    return shapely.Polygon(np.column_stack([lon + wrap(np.asarray(lo) - lon), la]))


def cut_at_antimeridian(poly: shapely.Polygon) -> shapely.Polygon | shapely.MultiPolygon:
    """RFC 7946 style: parts either side of ±180°, each within [-180, 180]."""
    parts = []
    for lo, shift in ((-540.0, 360.0), (-180.0, 0.0), (180.0, -360.0)):
        piece = shapely.intersection(poly, shapely.box(lo, -90, lo + 360, 90))
        piece = shapely.transform(piece, lambda c, s=shift: c + np.array([s, 0.0]))
        parts += [p for p in shapely.get_parts(piece) if isinstance(p, shapely.Polygon)]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def random_outline(rng: np.random.Generator, lon: float, lat: float):
    kind = rng.choice(4, p=[0.45, 0.25, 0.15, 0.15])
    if kind == 0:
        return star(rng, lon, lat, 1e3, 12e3)
    if kind == 1:
        return circle(lon, lat, float(rng.uniform(500.0, 10e3)))
    if kind == 2:  # two parts, apart or overlapping
        parts = []
        for bearing in (0.0, 180.0):
            lo, la, _ = GEOD.fwd(lon, lat, bearing + rng.uniform(-40, 40), rng.uniform(3e3, 9e3))
            parts.append(star(rng, float(lon + wrap(lo - lon)), float(la), 1e3, 6e3))
        return shapely.MultiPolygon(parts)
    # With a hole, cut at the antimeridian where it crosses it.
    shell = star(rng, lon, lat, 6e3, 12e3)
    hole = shapely.Point(lon, lat).buffer(0.2 * 3e3 / 111e3 / max(math.cos(math.radians(lat)), 0.2))
    return cut_at_antimeridian(shapely.difference(shell, hole))


def random_plan(rng: np.random.Generator, n: int, centre: tuple[float, float], spread_m: float):
    lat0, lon0 = centre
    az = rng.uniform(0.0, 360.0, n)
    dist = spread_m * np.sqrt(rng.uniform(0.0, 1.0, n))
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, dist)
    items = []
    for i in range(n):
        lower = float(rng.integers(0, 30) * 500.0)
        start = T0 + float(rng.integers(0, 24) * 900.0)
        items.append(
            Volume(
                id=f"v{i}",
                geometry=random_outline(rng, float(wrap(lon[i])), float(lat[i])),
                alt_lower_ft=lower,
                alt_upper_ft=lower + float(rng.integers(0, 12) * 500.0),
                time_start_s=start,
                time_end_s=start + float(rng.integers(1, 12) * 900.0),
            )
        )
    return Volumes(tuple(items))


# -- the reference: an obvious all-pairs loop in one azimuthal equidistant plane ----------


class Plane:
    """Azimuthal equidistant projection at a point; outlines densified in lon/lat first."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lon0 = lon0
        self.t = Transformer.from_crs(
            "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84", always_xy=True
        )

    def __call__(self, geom):
        # Each part's longitudes continuous around lon0 (edges take the short way round).
        parts = []
        for part in shapely.get_parts(geom):
            part = shapely.transform(
                part, lambda c: np.column_stack([self.lon0 + wrap(c[:, 0] - self.lon0), c[:, 1]])
            )
            parts.append(shapely.segmentize(part, 0.002))
        dense = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        return shapely.transform(dense, self.t.transform, interleaved=False)


def reference(a: Volumes, b: Volumes, plane: Plane, h_m: float, v_ft: float, tb_s: float):
    """{(i, j): distance (m)} for every pair that passes the band and window tests."""
    pa = [plane(v.geometry) for v in a.items]
    pb = [plane(v.geometry) for v in b.items]
    out = {}
    for i, va in enumerate(a.items):
        for j, vb in enumerate(b.items):
            band_gap = max(vb.alt_lower_ft - va.alt_upper_ft, va.alt_lower_ft - vb.alt_upper_ft)
            time_gap = max(vb.time_start_s - va.time_end_s, va.time_start_s - vb.time_end_s)
            if band_gap < v_ft and time_gap < tb_s:
                out[(i, j)] = shapely.distance(pa[i], pb[j])
    return out, pa, pb


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    centre=st.sampled_from(CENTRES),
    tb_s=st.sampled_from([0.0, 900.0]),
    h_nm=st.sampled_from([2.0, 5.0]),
)
def test_exact_check_matches_all_pairs_reference(seed, centre, tb_s, h_nm):
    rng = np.random.default_rng(seed)
    a = random_plan(rng, 12, centre, 40e3)
    b = random_plan(rng, 12, centre, 40e3)
    h_m = h_nm * NM_M
    plane = Plane(*centre)
    ref, pa, pb = reference(a, b, plane, h_m, V_FT, tb_s)
    got = overlaps(a, b, h_nm, V_FT, tb_s)
    got_pairs = dict(
        zip(
            zip(got.a_index.tolist(), got.b_index.tolist(), strict=True),
            range(len(got)),
            strict=True,
        )
    )
    for (i, j), d in ref.items():
        if abs(d - h_m) < BOUNDARY_TOL_M:
            continue
        assert ((i, j) in got_pairs) == (d < h_m), (i, j, d)
        if (i, j) in got_pairs:
            assert got.distance_m[got_pairs[(i, j)]] == pytest.approx(d, abs=BOUNDARY_TOL_M)
    assert set(got_pairs) <= set(ref)  # never a pair that fails the band or window test

    for k, (i, j) in enumerate(got_pairs):
        va, vb = a.items[i], b.items[j]
        assert got.alt_lower_ft[k] == max(va.alt_lower_ft, vb.alt_lower_ft) - V_FT / 2
        assert got.alt_upper_ft[k] == min(va.alt_upper_ft, vb.alt_upper_ft) + V_FT / 2
        assert got.alt_lower_ft[k] < got.alt_upper_ft[k]
        assert got.time_start_s[k] == max(va.time_start_s, vb.time_start_s) - tb_s / 2
        assert got.time_end_s[k] == min(va.time_end_s, vb.time_end_s) + tb_s / 2
        assert got.time_start_s[k] < got.time_end_s[k]
        # The region: the outlines grown by H/2 each, intersected; it may be larger by
        # the growth's tolerance (0.28 % of H/2 + 2.5 m, plus up to 0.11 % of H/2 for the
        # projection), never smaller. Where the two outlines meet at a shallow angle a
        # sliver's tip moves far for a small growth, so "larger" is checked against the
        # outlines grown by H/2 plus the tolerance, intersected.
        region = got.geometry[k]
        assert isinstance(region, shapely.Polygon | shapely.MultiPolygon) and not region.is_empty
        assert (shapely.bounds(region)[[0, 2]] >= -180).all()
        assert (shapely.bounds(region)[[0, 2]] <= 180).all()
        expect = shapely.intersection(pa[i].buffer(h_m / 2, 64), pb[j].buffer(h_m / 2, 64))
        mine = plane(region)
        assert shapely.difference(expect, mine).area <= 1.0 * expect.length
        tol_m = 0.005 * h_m / 2 + 3.0
        outer = shapely.intersection(
            pa[i].buffer(h_m / 2 + tol_m, 64), pb[j].buffer(h_m / 2 + tol_m, 64)
        )
        assert shapely.difference(mine, outer).area <= 1e-3 * expect.length


@pytest.mark.parametrize(
    ("lat", "lon", "az"),
    [(0.0, 0.0, 90.0), (45.0, 10.0, 30.0), (70.0, 179.99, 90.0), (-60.0, -179.995, 250.0)],
)
@pytest.mark.parametrize(("delta_m", "expect"), [(-1e-3, True), (1e-3, False)])
@pytest.mark.parametrize("h_nm", [5.0, 30.0])
def test_touching_at_exactly_h(lat, lon, az, delta_m, expect, h_nm):
    """Two thin wedges whose apexes are H ± 1 mm apart (geodesic): the apexes are closest."""
    h_m = h_nm * NM_M
    qlon, qlat, back = GEOD.fwd(lon, lat, az, h_m + delta_m)

    def wedge(x, y, away):
        lo, la, _ = GEOD.fwd([x, x], [y, y], [away - 5.0, away + 5.0], [5e3, 5e3])
        return shapely.Polygon([(x, y), *zip(x + wrap(np.asarray(lo) - x), la, strict=True)])

    a = Volumes((Volume("a", wedge(lon, lat, az + 180.0), 0, 1000, 0, 60),))
    b = Volumes((Volume("b", wedge(float(qlon), float(qlat), back + 180.0), 0, 1000, 0, 60),))
    got = overlaps(a, b, h_nm, V_FT)
    assert (len(got) == 1) == expect
    if expect:
        assert got.distance_m[0] == pytest.approx(h_m, abs=5e-3)


def _square(lon: float = 0.0) -> shapely.Polygon:
    return shapely.box(lon, 0.0, lon + 0.1, 0.1)


@pytest.mark.parametrize(
    ("b_lower", "b_upper", "expect"),
    [(2000.0, 3000.0, None), (1999.0, 3000.0, (1499.0, 1500.0)), (-5000.0, -1000.0, None)],
)
def test_vertical_gap_exactly_v(b_lower, b_upper, expect):
    a = Volumes((Volume("a", _square(), 0.0, 1000.0, 0.0, 60.0),))
    b = Volumes((Volume("b", _square(0.05), b_lower, b_upper, 0.0, 60.0),))
    got = overlaps(a, b, H_NM, V_FT)
    if expect is None:
        assert len(got) == 0
    else:
        assert (got.alt_lower_ft[0], got.alt_upper_ft[0]) == expect


@pytest.mark.parametrize(
    ("tb_s", "b_start", "expect"),
    [
        (0.0, 3600.0, None),  # windows that only touch do not overlap
        (0.0, 3599.0, (3599.0, 3600.0)),
        (60.0, 3660.0, None),  # exactly the buffer apart
        (60.0, 3659.0, (3629.0, 3630.0)),
        (60.0, -7260.0, None),  # B before A
    ],
)
def test_time_gap_exactly_the_buffer(tb_s, b_start, expect):
    a = Volumes((Volume("a", _square(), 0.0, 1000.0, 0.0, 3600.0),))
    b = Volumes((Volume("b", _square(), 0.0, 1000.0, b_start, b_start + 3600.0),))
    got = overlaps(a, b, H_NM, V_FT, tb_s)
    if expect is None:
        assert len(got) == 0
    else:
        assert (got.time_start_s[0], got.time_end_s[0]) == expect


def test_overlaps_of_nothing_and_bad_minima():
    a = Volumes((Volume("a", _square(), 0.0, 1000.0, 0.0, 60.0),))
    assert len(overlaps(a, Volumes(()), H_NM, V_FT)) == 0
    for args in [(0.0, V_FT, 0.0), (H_NM, -1.0, 0.0), (H_NM, V_FT, -1.0), (math.nan, V_FT, 0)]:
        with pytest.raises(InputError):
            overlaps(a, a, *args)


# -- buffering ---------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    centre=st.sampled_from([*CENTRES, (88.0, 40.0)]),
    r_m=st.sampled_from([300.0, 4630.0, 25e3]),
)
def test_buffered_contains_the_true_metric_buffer(seed, centre, r_m):
    rng = np.random.default_rng(seed)
    vol = random_plan(rng, 1, centre, 1e3).items[0]
    if centre[0] == 88.0:  # close to the pole: a plain star
        vol = Volume("p", star(rng, centre[1], centre[0], 1e3, 8e3), 0, 1, 0, 1)
    grown = buffered(Volumes((vol,)), r_m, 250.0, 30.0).items[0]
    assert (grown.alt_lower_ft, grown.alt_upper_ft) == (
        vol.alt_lower_ft - 250,
        vol.alt_upper_ft + 250,
    )
    assert (grown.time_start_s, grown.time_end_s) == (vol.time_start_s - 30, vol.time_end_s + 30)
    lo_x, _, hi_x, _ = shapely.bounds(grown.geometry)
    assert lo_x >= -180.0 and hi_x <= 180.0

    # Points at exactly r from the outline's boundary, all round: the true buffer's edge.
    plane = Plane(*centre)
    boundary = []
    for part in shapely.get_parts(vol.geometry):
        for ring in [part.exterior, *part.interiors]:
            dense = shapely.segmentize(shapely.LinearRing(ring.coords), 0.002)
            boundary.append(np.asarray(dense.coords)[:-1])
    pts = np.concatenate(boundary)
    az = np.arange(0.0, 360.0, 15.0)
    lon, lat, _ = GEOD.fwd(
        np.repeat(pts[:, 0], az.size),
        np.repeat(pts[:, 1], az.size),
        np.tile(az, len(pts)),
        np.full(len(pts) * az.size, r_m),
    )
    inside = shapely.covers(grown.geometry, shapely.points(wrap(lon), lat))
    assert inside.all(), f"{(~inside).sum()} of {inside.size} points at {r_m} m left out"

    # And not much more: every vertex of the grown outline is within r (+ tolerance).
    vertices = shapely.points(shapely.get_coordinates(plane(grown.geometry)))
    far = shapely.distance(plane(vol.geometry), vertices)
    assert far.max() <= r_m * 1.003 + 6.0


def test_buffered_zero_keeps_outlines_and_rejects_negative():
    vs = Volumes((Volume("a", _square(), 0.0, 1000.0, 0.0, 60.0),))
    same = buffered(vs, 0.0, 0.0, 0.0)
    assert same == vs
    with pytest.raises(InputError, match="horizontal_m"):
        buffered(vs, -1.0, 0.0, 0.0)


def test_circle_contains_the_geodesic_circle_within_tolerance():
    for lat, lon, r in [(0.0, 0.0, 1000.0), (60.0, 179.99, 20e3), (-80.0, 10.0, 50e3)]:
        c = circle(lon, lat, r)
        az = np.linspace(0.0, 360.0, 2000)
        lo, la, _ = GEOD.fwd(np.full(az.size, lon), np.full(az.size, lat), az, np.full(az.size, r))
        lo = lon + wrap(np.asarray(lo) - lon)
        assert shapely.covers(c, shapely.points(lo, la)).all()
        vx, vy = np.asarray(c.exterior.coords).T
        _, _, d = GEOD.inv(np.full(vx.size, lon), np.full(vx.size, lat), vx, vy)
        assert np.asarray(d).max() <= r + CIRCLE_TOLERANCE_M + 1.5 + r * 1e-5


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "field", "message"),
    [
        (Volume("", _square(), 0, 1, 0, 1), "id", "empty value"),
        (Volume("a\x00", _square(), 0, 1, 0, 1), "id", "control character U+0000 not allowed"),
        (Volume("a\u202e", _square(), 0, 1, 0, 1), "id", "format character U+202E"),
        (Volume("v" * 65, _square(), 0, 1, 0, 1), "id", "65 characters; at most 64"),
        (Volume("x", _square(), 2, 1, 0, 1), "alt_lower_ft", "above"),
        (Volume("x", _square(), 0, 1, 5, 5), "time_end_s", "not after"),
        (Volume("x", _square(), 0, math.inf, 0, 1), "alt_upper_ft", "finite"),
        (Volume("x", shapely.Point(0, 0), 0, 1, 0, 1), "geometry", "Point is not a Polygon"),
        (Volume("x", shapely.box(0, 89.5, 1, 89.9), 0, 1, 0, 1), "geometry", "beyond ±89"),
        (Volume("x", shapely.box(0, 0, 30, 30), 0, 1, 0, 1), "geometry", "from its centre"),
        (
            Volume("x", shapely.Polygon([(0, 80), (120, 80), (-120, 80)]), 0, 1, 0, 1),
            "geometry",
            "enclose a pole",
        ),
        (Volume("x", shapely.Polygon(), 0, 1, 0, 1), "geometry", "empty"),
    ],
)
def test_bad_volumes_name_volume_and_field(volume, field, message):
    ok = Volume("ok", _square(), 0, 1, 0, 1)
    with pytest.raises(InputError) as err:
        Volumes((ok, volume), source="plan.json")
    text = str(err.value)
    assert text.startswith("plan.json: volume 1 (") and f"field '{field}'" in text
    assert message in text and "\n" not in text


def test_duplicate_ids_and_self_intersection():
    v = Volume("x", _square(), 0, 1, 0, 1)
    with pytest.raises(InputError, match=r"volume 1 \('x'\): field 'id': duplicate id"):
        Volumes((v, v))
    bowtie = shapely.Polygon([(0, 0), (0.1, 0.1), (0.1, 0), (0, 0.1)])
    assert outline_problem(bowtie) == (
        "invalid polygon: self-intersection near lon 0.05000, lat 0.05000"
    )
    across = shapely.Polygon([(179.9, 0), (-179.9, 0), (-179.9, 0.1), (179.9, 0.1)])
    assert outline_problem(across) is None  # short way round, not a bow tie


# -- files -------------------------------------------------------------------------------


def test_read_geojson_polygons_multipolygons_and_circles():
    a = read(DATA / "a.geojson")
    assert [v.id for v in a.items] == ["A-survey", "A-corridor", "A-orbit"]
    assert isinstance(a.items[1].geometry, shapely.MultiPolygon)
    orbit = a.items[2]
    assert orbit.geometry.geom_type == "Polygon" and orbit.geometry.contains(
        shapely.Point(2.5, 49.2)
    )
    assert orbit.time_start_s == T0 + 14 * 3600 and orbit.time_end_s == T0 + 15 * 3600
    assert (orbit.alt_lower_ft, orbit.alt_upper_ft) == (5000.0, 8000.0)
    assert a.source == str(DATA / "a.geojson")


def test_read_volume4d_matches_the_geojson():
    b = read(DATA / "b.geojson")
    b4 = read(DATA / "b_volume4d.json")
    assert [v.id for v in b4.items] == [v.id for v in b.items]
    for v, w in zip(b.items, b4.items, strict=True):
        assert w.alt_lower_ft == pytest.approx(v.alt_lower_ft)
        assert w.alt_upper_ft == pytest.approx(v.alt_upper_ft)
        assert (w.time_start_s, w.time_end_s) == (v.time_start_s, v.time_end_s)
        assert shapely.equals_exact(
            shapely.normalize(w.geometry), shapely.normalize(v.geometry), 1e-9
        )
    # A bare list, ids from the index.
    raw = json.loads((DATA / "b_volume4d.json").read_text())["volumes"]
    for item in raw:
        del item["id"]
    listed = from_volume4d(raw, source="ops")
    assert [v.id for v in listed.items] == ["v0", "v1", "v2"]


def test_overlaps_frame_and_geojson_round_trip(tmp_path: Path):
    a, b = read(DATA / "a.geojson"), read(DATA / "b.geojson")
    ag = Agreement()
    frame = overlap_table(a, b, overlaps(a, b, ag.horizontal_nm, ag.vertical_ft, 600.0))
    assert list(frame.columns) == list(OVERLAP_COLUMNS)
    assert list(zip(frame.a_id, frame.b_id, strict=True)) == [
        ("A-survey", "B-patrol"),
        ("A-orbit", "B-late"),
    ]
    assert list(frame.time_start) == ["2026-05-01T11:25:00Z", "2026-05-01T14:55:00Z"]
    assert list(frame.time_end) == ["2026-05-01T12:05:00Z", "2026-05-01T15:05:00Z"]
    assert set(frame["mode"]) == {"exact"}
    out = tmp_path / "o.geojson"
    write_overlaps(frame, out)
    fc = json.loads(out.read_text())
    assert fc == to_geojson(frame)
    assert [f["properties"]["a_id"] for f in fc["features"]] == ["A-survey", "A-orbit"]
    assert list(fc["features"][0]["properties"]) == list(OVERLAP_COLUMNS[:-1])
    region = shapely.geometry.shape(fc["features"][0]["geometry"])
    assert region.equals_exact(frame.geometry[0], 1e-12)
    assert not list(tmp_path.glob(".*.tmp"))
    # Tighter minima: the 3.7 km gap between survey and patrol is more than 1 NM.
    assert len(overlaps(a, b, 1.0, ag.vertical_ft)) == 0


GOOD_FEATURE = {
    "type": "Feature",
    "properties": {
        "id": "op-1",
        "alt_lower_ft": 0,
        "alt_upper_ft": 1000,
        "time_start": "2026-05-01T10:00:00Z",
        "time_end": "2026-05-01T11:00:00Z",
    },
    "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [0.1, 0], [0.1, 0.1], [0, 0]]]},
}


def _props(**kw):
    def edit(f):
        for k, v in kw.items():
            if v is None:
                del f["properties"][k]
            else:
                f["properties"][k] = v

    return edit


def _geometry(geometry):
    def edit(f):
        f["geometry"] = geometry

    return edit


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (_props(alt_upper_ft=None), "alt_upper_ft", "missing"),
        (_props(alt_lower_ft="low"), "alt_lower_ft", "not a finite number"),
        (_props(alt_lower_ft=5000), "alt_lower_ft", "above alt_upper_ft 1000"),
        (_props(time_end="2026-05-01T09:00:00Z"), "time_end", "not after time_start"),
        (_props(time_start="yesterday"), "time_start", "not an ISO 8601 time"),
        (_props(time_start="2026-05-01T10:00:00"), "time_start", "no UTC offset"),
        (_props(time_end=None), "time_end", "missing"),
        (_props(id=None), "id", "missing"),
        (_geometry(None), "geometry", "missing"),
        (_geometry({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}), "geometry", "type"),
        (
            _geometry(
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
            ),
            "geometry",
            "self-intersection",
        ),
        (_geometry({"type": "Point", "coordinates": [0, 0]}), "radius_m", "missing"),
        (
            lambda f: (
                _geometry({"type": "Point", "coordinates": [0, 0]})(f),
                _props(radius_m=-5)(f),
            ),
            "radius_m",
            "not a number > 0",
        ),
    ],
)
def test_bad_geojson_is_one_line_naming_feature_and_field(tmp_path: Path, edit, field, message):
    bad = copy.deepcopy(GOOD_FEATURE)
    bad["properties"]["id"] = "op-2"
    edit(bad)
    path = tmp_path / "plan.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [GOOD_FEATURE, bad]}))
    with pytest.raises(InputError) as err:
        read(path)
    text = str(err.value)
    assert text.startswith(f"{path}: feature 1 (") and f"field '{field}'" in text, text
    assert message in text and "\n" not in text
    if field != "id":
        assert "feature 1 ('op-2')" in text


def test_bad_files_and_collections(tmp_path: Path):
    path = tmp_path / "x.geojson"
    path.write_text("<kml/>")
    with pytest.raises(InputError, match="not valid JSON"):
        read(path)
    with pytest.raises(InputError, match="cannot read"):
        read(tmp_path / "missing.geojson")
    with pytest.raises(InputError, match="duplicate id"):
        parse({"type": "FeatureCollection", "features": [GOOD_FEATURE, GOOD_FEATURE]})
    with pytest.raises(InputError, match="FeatureCollection"):
        parse({"type": "Feature"})
    with pytest.raises(InputError, match="Volume4D"):
        parse(42)


VOLUME4D = {
    "volume": {
        "outline_circle": {
            "center": {"lat": 10.0, "lng": 20.0},
            "radius": {"value": 500, "units": "M"},
        },
        "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": 100, "reference": "W84", "units": "M"},
    },
    "time_start": {"value": "2026-05-01T10:00:00Z", "format": "RFC3339"},
    "time_end": {"value": "2026-05-01T11:00:00Z", "format": "RFC3339"},
}


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("volume", "altitude_lower", "units"), "KM", "volume.altitude_lower.units", "not M or FT"),
        (
            ("volume", "altitude_upper", "reference"),
            "AGL",
            "volume.altitude_upper.reference",
            "W84",
        ),
        (("volume", "altitude_lower", "value"), 500, "volume.altitude_lower", "above"),
        (("time_end", "value"), "2026-05-01T09:00:00Z", "time_end.value", "not after"),
        (("time_start", "value"), "noon", "time_start.value", "ISO 8601"),
        (("volume", "outline_circle", "radius", "value"), 0, "volume.outline_circle.radius", "> 0"),
        (
            ("volume", "outline_polygon"),
            {"vertices": [{"lat": 0, "lng": 0}]},
            "volume",
            "exactly one",
        ),
    ],
)
def test_bad_volume4d_names_item_and_field(path, value, field, message):
    bad = copy.deepcopy(VOLUME4D)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InputError) as err:
        parse({"volumes": [VOLUME4D, bad]}, source="intent.json")
    text = str(err.value)
    assert text.startswith("intent.json: volume 1 ('v1')") and f"field '{field}" in text, text
    assert message in text and "\n" not in text


def test_volume4d_units():
    feet = copy.deepcopy(VOLUME4D)
    feet["volume"]["altitude_upper"] = {"value": 400, "reference": "W84", "units": "FT"}
    feet["id"] = "mine"
    vs = parse([VOLUME4D, feet])
    assert vs.items[0].alt_upper_ft == pytest.approx(100 / 0.3048)
    assert vs.items[1].id == "mine" and vs.items[1].alt_upper_ft == 400.0
