"""Protected airspace: analytic cases, shapely's exact predicates as reference, bad files."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconflict import Agreement, InputError, TrafficState
from deconflict.airspace.entries import (
    ZONE_COLUMNS,
    ZoneEntries,
    candidate_pairs,
    entry_table,
    pair_entries,
    zone_entries,
)
from deconflict.airspace.zones import MAX_RADIUS_DEG, Zone, Zones
from deconflict.geo import (
    WGS84_A,
    enu_basis,
    enu_from_geodetic,
    geodetic_from_enu,
    geodetic_to_ecef,
    horizontal_velocity_ecef,
)
from deconflict.io.airspace_files import read_zones as read
from deconflict.tactical.detect import Kinematics
from deconflict.units import KT

DATA = Path(__file__).resolve().parents[1] / "data" / "zones"
AG = Agreement(lookahead_s=300)
#: Degrees of longitude along the equator for a distance in metres.
EQ_DEG_PER_M = math.degrees(1.0 / WGS84_A)
NM_M = 1852.0


def ring(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[float]]:
    """Closed lon/lat rectangle ring."""
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def feature(name: str | None, rings: list, **props: Any) -> dict:
    properties = {"name": name, **props} if name is not None else dict(props)
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": rings},
    }


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def states(rows: list[dict]) -> pd.DataFrame:
    defaults = {"time": 0.0, "alt_ft": 15000.0, "gs_kt": 0.0, "track_deg": 0.0, "vs_fpm": 0.0}
    frame = pd.DataFrame([{**defaults, **r} for r in rows])
    if "id" not in frame:
        frame["id"] = [f"AC{i:03d}" for i in range(len(frame))]
    return frame


def east_box(near_nm: float, far_nm: float = 30.0, half_deg: float = 0.15, **props: Any) -> dict:
    """A zone from ``near_nm`` to ``far_nm`` east of (0, 0) along the equator."""
    w = near_nm * NM_M * EQ_DEG_PER_M
    e = far_nm * NM_M * EQ_DEG_PER_M
    return collection(feature("BOX", [ring(w, -half_deg, e, half_deg)], **props))


def check(
    states: pd.DataFrame | TrafficState, zones: Zones | dict, agreement: Agreement
) -> pd.DataFrame:
    """What ``deconflict zones`` does: states validated once, zones compiled, the table."""
    state = states if isinstance(states, TrafficState) else TrafficState.from_frame(states)
    compiled = zones if isinstance(zones, Zones) else Zones.from_geojson(zones)
    return entry_table(state, compiled, zone_entries(state, compiled, agreement.lookahead_s))


def only(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1, frame
    return frame.iloc[0]


# --- analytic geometry ---------------------------------------------------------------


def test_head_on_into_square_zone():
    s = states([{"id": "A", "lat": 0.0, "lon": 0.0, "gs_kt": 600.0, "track_deg": 90.0}])
    out = check(s, east_box(10.0), AG)
    row = only(out)
    assert list(out.columns) == list(ZONE_COLUMNS)
    assert (row.id, row.zone, row.status) == ("A", "BOX", "predicted")
    assert row.t_entry_s == pytest.approx(60.0, abs=0.01)
    assert row.party is None


def test_too_far_for_the_lookahead():
    s = TrafficState.from_frame(
        states([{"lat": 0.0, "lon": 0.0, "gs_kt": 600.0, "track_deg": 90.0}])
    )
    zones = Zones.from_geojson(east_box(10.0))
    assert len(zone_entries(s, zones, 59.99)) == 0
    assert len(zone_entries(s, zones, 60.01)) == 1


def test_passing_above_the_ceiling():
    s = states([{"lat": 0.0, "lon": 0.0, "alt_ft": 25000, "gs_kt": 600, "track_deg": 90}])
    assert check(s, east_box(10.0, ceiling_ft=20000), AG).empty
    assert len(check(s, east_box(10.0, ceiling_ft=25000), AG)) == 1  # the band is closed


def test_flying_away_or_alongside():
    s = states(
        [
            {"id": "W", "lat": 0.0, "lon": 0.0, "gs_kt": 600, "track_deg": 270},
            {"id": "N", "lat": 0.0, "lon": 0.0, "gs_kt": 600, "track_deg": 0},
        ]
    )
    assert check(s, east_box(10.0), AG).empty


def test_climbing_into_the_band():
    # Horizontally inside after 60 s; the floor (12,000 ft) is reached at 120 s.
    s = states(
        [
            {"id": "UP", "lat": 0, "lon": 0, "alt_ft": 8000, "vs_fpm": 2000, "gs_kt": 600,
             "track_deg": 90},
            {"id": "DOWN", "lat": 0, "lon": 0, "alt_ft": 13000, "vs_fpm": -2000, "gs_kt": 600,
             "track_deg": 90},
        ]
    )  # fmt: skip
    out = check(s, east_box(10.0, floor_ft=12000), AG)
    row = only(out)  # DOWN leaves the band at 30 s, before reaching the zone
    assert row.id == "UP"
    assert row.t_entry_s == pytest.approx(120.0, abs=1e-9)


def test_violation_now_with_party():
    s = states(
        [
            {"id": "IN", "party": "blue", "lat": 0.0, "lon": 0.25, "gs_kt": 450},
            {"id": "OUT", "party": "red", "lat": 0.0, "lon": 0.0},
        ]
    )
    row = only(check(s, east_box(10.0), AG))
    assert (row.id, row.party, row.status, row.t_entry_s) == ("IN", "blue", "violation", 0.0)


def test_activity_windows_in_seconds_and_iso():
    box = east_box(0.0, 20.0, active=[[100.0, 200.0]])
    inside = {"id": "A", "lat": 0.0, "lon": 0.1}
    row = only(check(states([inside]), box, AG))
    assert (row.status, row.t_entry_s) == ("predicted", 100.0)
    assert check(states([{**inside, "time": 201.0}]), box, AG).empty
    assert only(check(states([{**inside, "time": 150.0}]), box, AG)).status == "violation"
    # ISO 8601 UTC windows become Unix seconds: the states' time base.
    iso = east_box(0.0, 20.0, active=[["2015-10-07T04:01:40Z", "2015-10-07T05:00:00+00:00"]])
    t0 = 1444190400.0  # 2015-10-07T04:00:00Z
    row = only(check(states([{**inside, "time": t0}]), iso, AG))
    assert row.t_entry_s == pytest.approx(100.0, abs=1e-6)


def test_window_starting_before_the_band_is_reached():
    # Horizontally inside now, active from 100 s; climbs through the floor at 60 s.
    box = east_box(0.0, 20.0, floor_ft=10000, active=[[100.0, 400.0]])
    s = states([{"lat": 0.0, "lon": 0.1, "alt_ft": 8000, "vs_fpm": 2000}])
    assert only(check(s, box, AG)).t_entry_s == 100.0
    # Active 0-50 s and 300 s on: in the band only from 60 s, so first at 300 s: too late.
    box = east_box(0.0, 20.0, floor_ft=10000, active=[[-10.0, 50.0], [300.5, 900.0]])
    assert check(s, box, AG).empty


def test_stationary_aircraft():
    s = states(
        [
            {"id": "IN", "lat": 0.0, "lon": 0.25},
            {"id": "OUT", "lat": 0.0, "lon": 0.0},
        ]
    )
    row = only(check(s, east_box(10.0), AG))
    assert (row.id, row.status) == ("IN", "violation")


def test_hole_and_multipolygon_from_file():
    zones = read(DATA / "zones.geojson")
    lat_speed = 600.0 * KT  # m/s
    s = states(
        [
            # In the hole of NFZ-RING, flying east: enters the ring at the hole's edge.
            {"id": "HOLE", "lat": 35.2, "lon": 35.2, "gs_kt": 600, "track_deg": 90},
            {"id": "HOLE-STILL", "lat": 35.2, "lon": 35.2},
            {"id": "RING", "lat": 35.05, "lon": 35.2},
            # Between the two parts of MISSILE-1, flying east (active only in windows).
            {"id": "GAP", "lat": 35.05, "lon": 39.55, "gs_kt": 600, "track_deg": 90,
             "time": 1444186800.0},
            {"id": "NORTH", "lat": 37.0, "lon": 37.0, "alt_ft": 45000},
        ]
    )  # fmt: skip
    out = check(s, zones, AG)
    got = {(r.id, r.zone): (r.status, r.t_entry_s) for r in out.itertuples()}
    d_hole = Geod(ellps="WGS84").inv(35.2, 35.2, 35.3, 35.2)[2]
    assert got[("HOLE", "NFZ-RING")][0] == "predicted"
    assert got[("HOLE", "NFZ-RING")][1] == pytest.approx(d_hole / lat_speed, rel=2e-3)
    assert got[("RING", "NFZ-RING")] == ("violation", 0.0)
    d_gap = Geod(ellps="WGS84").inv(39.55, 35.05, 39.6, 35.05)[2]
    assert got[("GAP", "MISSILE-1")][1] == pytest.approx(d_gap / lat_speed, rel=2e-3)
    assert got[("NORTH", "BORDER-N")] == ("violation", 0.0)  # no ceiling
    assert ("HOLE-STILL", "NFZ-RING") not in got
    assert len(got) == 4
    keys = list(zip(out.time, out.id, out.zone, strict=True))
    assert keys == sorted(keys)


def test_across_the_antimeridian_three_ways():
    wrapped = collection(feature("DATELINE", [ring(179.9, -0.1, -179.9, 0.1)]))
    continued = collection(feature("DATELINE", [ring(179.9, -0.1, 180.1, 0.1)]))
    cut = read(DATA / "antimeridian_cut.geojson")
    s = states(
        [
            {"id": "E", "lat": 0.0, "lon": 179.8, "gs_kt": 600, "track_deg": 90},
            {"id": "IN", "lat": 0.05, "lon": -179.95},
            {"id": "IN2", "lat": -0.05, "lon": 179.95, "gs_kt": 300, "track_deg": 45},
            {"id": "W", "lat": 0.0, "lon": -179.8, "gs_kt": 600, "track_deg": 270},
            {"id": "FAR", "lat": 0.0, "lon": 0.0},
        ]
    )
    frames = [check(s, z, AG) for z in (wrapped, continued, cut)]
    expected_t = 0.1 * WGS84_A * math.radians(1.0) / (600 * KT)
    for out in frames:
        assert list(out.id) == ["E", "IN", "IN2", "W"]
        assert list(out.status) == ["predicted", "violation", "violation", "predicted"]
        assert out.t_entry_s.iloc[0] == pytest.approx(expected_t, abs=0.01)
        assert out.t_entry_s.iloc[3] == pytest.approx(expected_t, abs=0.01)
    for out in frames[1:]:
        np.testing.assert_allclose(out.t_entry_s, frames[0].t_entry_s, atol=1e-4)  # mm
    assert isinstance(cut.local[0], shapely.Polygon)  # the two halves are merged


def test_long_edges_follow_parallels():
    # 10° of longitude along 36°N: a single chord would bulge ~11 km north of it.
    zone = collection(feature("STRIP", [ring(30.0, 35.0, 40.0, 36.0)]))
    s = states(
        [
            {"id": "N-IN", "lat": 35.999, "lon": 35.0},
            {"id": "N-OUT", "lat": 36.001, "lon": 35.0},
            {"id": "S-IN", "lat": 35.001, "lon": 35.0},
            {"id": "S-OUT", "lat": 34.999, "lon": 35.0},
        ]
    )
    assert list(check(s, zone, AG).id) == ["N-IN", "S-IN"]


def test_local_polygon_matches_geodesic_area():
    zones = read(DATA / "zones.geojson")
    geod = Geod(ellps="WGS84")
    for z, local in zip(zones.zones, zones.local, strict=True):
        area = abs(geod.geometry_area_perimeter(z.geometry)[0])
        assert local.area == pytest.approx(area, rel=2e-3), z.name


def test_several_snapshots_sorted():
    s = states(
        [
            {"time": 10.0, "id": "B", "lat": 0.0, "lon": 0.25},
            {"time": 0.0, "id": "B", "lat": 0.0, "lon": 0.0, "gs_kt": 600, "track_deg": 90},
            {"time": 0.0, "id": "A", "lat": 0.0, "lon": 0.25},
        ]
    )
    two = copy.deepcopy(east_box(10.0))
    two["features"].append(feature("ALL", [ring(-1, -1, 1, 1)], floor_ft=10000))
    out = check(s, two, AG)
    assert list(zip(out.time, out.id, out.zone, out.status, strict=True)) == [
        (0.0, "A", "ALL", "violation"),
        (0.0, "A", "BOX", "violation"),
        (0.0, "B", "ALL", "violation"),
        (0.0, "B", "BOX", "predicted"),
        (10.0, "B", "ALL", "violation"),
        (10.0, "B", "BOX", "violation"),
    ]


def test_empty_inputs():
    none = Zones.from_geojson(collection())
    s = states([{"lat": 0.0, "lon": 0.25}])
    out = check(s, none, AG)
    assert out.empty and list(out.columns) == list(ZONE_COLUMNS)
    assert check(s.iloc[:0], east_box(10.0), AG).empty


def test_zones_read_or_parsed_give_the_same_entries(tmp_path: Path):
    obj = json.loads((DATA / "zones.geojson").read_text())
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps(obj))
    s = states([{"lat": 35.05, "lon": 35.2}, {"lat": 37.0, "lon": 37.0}])
    expected = check(s, read(path), AG)
    assert len(expected) == 2
    for given_zones in (
        read(str(path)),
        Zones.from_geojson(obj),
        Zones.from_geojson(json.dumps(obj)),
    ):
        pd.testing.assert_frame_equal(check(s, given_zones, AG), expected)
    state = TrafficState.from_frame(s)
    pd.testing.assert_frame_equal(check(state, read(path), AG), expected)


def test_zones_from_the_agreement():
    fc = east_box(10.0)
    ag = Agreement(lookahead_s=300, protected_areas=tuple(fc["features"]))
    s = states([{"lat": 0.0, "lon": 0.0, "gs_kt": 600.0, "track_deg": 90.0}])
    pd.testing.assert_frame_equal(
        check(s, Zones.from_agreement(ag), ag), check(s, Zones.from_geojson(fc), ag)
    )
    assert len(Zones.from_agreement(AG)) == 0


def test_read_properties():
    zones = read(DATA / "zones.geojson")
    assert list(zones.name) == ["BORDER-N", "NFZ-RING", "MISSILE-1"]
    border, ring_zone, missile = zones.zones
    assert border.owner == "third state" and missile.owner == "missile corridor"
    assert border.floor_ft == -math.inf and border.ceiling_ft == math.inf
    assert (ring_zone.floor_ft, ring_zone.ceiling_ft) == (0.0, 25000.0)
    assert border.active is None
    assert missile.active == ((1444186800.0, 1444192200.0), (1444222800.0, 1444226400.0))
    assert isinstance(missile.geometry, shapely.MultiPolygon)


def test_zone_objects_directly():
    geom = shapely.Polygon(ring(0.2, -0.1, 0.4, 0.1))
    zones = Zones.from_zones([Zone("Z", geom, floor_ft=0.0, ceiling_ft=20000.0, owner="X")])
    s = TrafficState.from_frame(states([{"lat": 0.0, "lon": 0.0, "gs_kt": 600, "track_deg": 90}]))
    got = zone_entries(s, zones, 300.0)
    assert isinstance(got, ZoneEntries) and len(got) == 1 and not got.violation[0]
    with pytest.raises(InputError, match=r"zone 1 \('Z'\): field 'name': duplicate"):
        Zones.from_zones([Zone("Z", geom), Zone("Z", geom)])
    with pytest.raises(InputError, match=r"zone 0 \('W'\): field 'active': window 0"):
        Zones.from_zones([Zone("W", geom, active=(5,))])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"zone 0 \('P'\): field 'geometry': Point"):
        Zones.from_zones([Zone("P", shapely.Point(0, 0))])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"zone 0 \('F'\): field 'floor_ft'"):
        Zones.from_zones([Zone("F", geom, floor_ft=math.nan)])


# --- zones that apply to some parties only ----------------------------------------------


def test_parties_parsed_and_honoured():
    fc = east_box(10.0, parties=["red"])
    zones = Zones.from_geojson(fc)
    assert zones.zones[0].parties == ("red",) and zones.party_limited.tolist() == [True]
    assert Zones.from_geojson(east_box(10.0, parties=None)).zones[0].parties is None
    s = states(
        [
            {"id": "R", "party": "red", "lat": 0.0, "lon": 0.25},
            {"id": "B", "party": "blue", "lat": 0.0, "lon": 0.25},
            {"id": "R2", "party": "red", "lat": 0.0, "lon": 0.0, "gs_kt": 600, "track_deg": 90},
        ]
    )
    out = check(s, zones, AG)
    assert out[["id", "status"]].values.tolist() == [["R", "violation"], ["R2", "predicted"]]
    assert len(check(s, east_box(10.0), AG)) == 3  # without the list: every party
    # States without a party column: a zone with a list applies to none of them.
    assert check(s.drop(columns="party"), zones, AG).empty
    assert len(check(s.drop(columns="party"), east_box(10.0), AG)) == 3


def test_parties_on_zone_objects():
    geom = shapely.Polygon(ring(0.2, -0.1, 0.4, 0.1))
    zones = Zones.from_zones([Zone("Z", geom, parties=("red", "green"))])
    assert zones.applies([0, 0, 0], ["red", "blue", "green"]).tolist() == [True, False, True]
    with pytest.raises(InputError, match=r"zone 0 \('E'\): field 'parties': empty list"):
        Zones.from_zones([Zone("E", geom, parties=())])
    with pytest.raises(InputError, match=r"zone 0 \('S'\): field 'parties': 'red' is not"):
        Zones.from_zones([Zone("S", geom, parties="red")])  # type: ignore[arg-type]


@pytest.mark.parametrize("with_party", [True, False])
def test_parties_match_a_python_loop(with_party: bool):
    """Entries with party lists = entries without them, filtered one by one in Python."""
    rng = np.random.default_rng(11)
    every = random_zones(rng, 30, 35.0, 36.0, 400e3)
    names = ["red", "blue", "green", "gold"]
    lists = [
        None if j % 3 == 0 else tuple(rng.choice(names, int(rng.integers(1, 4)), replace=False))
        for j in range(len(every))
    ]
    limited = Zones.from_zones(
        [Zone(**{**z.__dict__, "parties": p}) for z, p in zip(every.zones, lists, strict=True)]
    )
    state = random_traffic(rng, 1200, 35.0, 36.0, 500e3)
    if with_party:
        state = dataclasses.replace(state, party=rng.choice(names, len(state)).astype(np.str_))
    got = zone_entries(state, limited, 300.0)
    ref = zone_entries(state, every, 300.0)
    keep = [
        lists[k] is None or (state.party is not None and str(state.party[i]) in lists[k])
        for i, k in zip(ref.aircraft.tolist(), ref.zone.tolist(), strict=True)
    ]
    assert 0 < sum(keep) < len(ref)
    np.testing.assert_array_equal(got.aircraft, ref.aircraft[keep])
    np.testing.assert_array_equal(got.zone, ref.zone[keep])
    np.testing.assert_array_equal(got.t_entry_s, ref.t_entry_s[keep])


# --- pruning never drops a pair --------------------------------------------------------


def random_zones(rng: np.random.Generator, n: int, lat0: float, lon0: float, spread_m: float):
    out = []
    for j in range(n):
        ce, cn = rng.uniform(-spread_m, spread_m, 2)
        clat, clon, _ = geodetic_from_enu([ce, cn, 0.0], lat0, lon0)
        lon, lat = star(
            rng, float(clat), float(clon), rng.uniform(5e3, 80e3), int(rng.integers(3, 30))
        )
        kw: dict[str, Any] = {}
        if j % 3 == 0:
            kw = {
                "floor_ft": float(rng.uniform(0, 20000)),
                "ceiling_ft": float(rng.uniform(25000, 40000)),
            }
        if j % 4 == 0:
            kw["active"] = ((float(rng.uniform(-100, 100)), float(rng.uniform(150, 400))),)
        out.append(Zone(f"Z{j:02d}", shapely.Polygon(np.column_stack([lon, lat])), **kw))
    return Zones.from_zones(out)


def random_traffic(rng: np.random.Generator, n: int, lat0: float, lon0: float, spread_m: float):
    e, nn = rng.uniform(-spread_m, spread_m, (2, n))
    lat, lon, _ = geodetic_from_enu(np.column_stack([e, nn, np.zeros(n)]), lat0, lon0)
    frame = pd.DataFrame(
        {
            "time": np.where(rng.random(n) < 0.5, 0.0, 60.0),
            "id": [f"AC{i:04d}" for i in range(n)],
            "lat": lat,
            "lon": lon,
            "alt_ft": rng.uniform(0, 45000, n),
            "gs_kt": np.where(rng.random(n) < 0.1, 0.0, rng.uniform(100, 700, n)),
            "track_deg": rng.uniform(0, 360, n),
            "vs_fpm": np.where(rng.random(n) < 0.5, 0.0, rng.uniform(-4000, 4000, n)),
        }
    )
    return TrafficState.from_frame(frame)


@pytest.mark.parametrize(("lat0", "lon0"), [(35.0, 36.0), (-20.0, 179.5), (84.0, -30.0)])
def test_pruning_matches_all_pairs(lat0: float, lon0: float):
    rng = np.random.default_rng(7)
    zones = random_zones(rng, 40, lat0, lon0, 600e3)
    state = random_traffic(rng, 1500, lat0, lon0, 700e3)
    kin = Kinematics.from_state(state)
    got = zone_entries(state, zones, 300.0)
    i, k = np.meshgrid(np.arange(len(state)), np.arange(len(zones)), indexing="ij")
    every = pair_entries(kin, zones, 300.0, i.ravel(), k.ravel())
    assert len(got) > 50 and got.violation.any() and not got.violation.all()
    np.testing.assert_array_equal(got.aircraft, every.aircraft)
    np.testing.assert_array_equal(got.zone, every.zone)
    np.testing.assert_array_equal(got.t_entry_s, every.t_entry_s)
    ci, _ = candidate_pairs(kin, zones, 300.0)
    assert ci.size < i.size / 5  # and the tree does prune


# --- random paths against shapely's exact predicates -----------------------------------


def star(rng: np.random.Generator, lat0: float, lon0: float, radius_m: float, n: int):
    """A star-shaped polygon (lon, lat) around a centre: jittered angles, random radii."""
    step = 2.0 * np.pi / n
    th = np.arange(n) * step + rng.uniform(-0.3, 0.3, n) * step
    r = radius_m * rng.uniform(0.4, 1.0, th.size)
    enu = np.column_stack([r * np.cos(th), r * np.sin(th), np.zeros(th.size)])
    lat, lon, _ = geodetic_from_enu(enu, lat0, lon0)
    return lon, lat


def regular(lat0: float, lon0: float, radius_m: float, n: int, phase: float = 0.0):
    th = phase + np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    enu = np.column_stack([radius_m * np.cos(th), radius_m * np.sin(th), np.zeros(n)])
    lat, lon, _ = geodetic_from_enu(enu, lat0, lon0)
    return np.column_stack([lon, lat])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Zones, TrafficState, float]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lat0 = draw(st.sampled_from([0.0, 35.0, -48.0, 71.0]))
    lon0 = draw(st.sampled_from([10.0, 179.9, -179.95, 180.0]))
    t0 = draw(st.sampled_from([0.0, 1444190400.0]))
    zones = []
    for j in range(2):
        ce, cn = rng.uniform(-30e3, 30e3, 2)
        clat, clon, _ = geodetic_from_enu([ce, cn, 0.0], lat0, lon0)
        clat, clon = float(clat), float(clon)
        kind = draw(st.sampled_from(["star", "regular", "hole", "multi"]))
        radius = rng.uniform(3e3, 60e3)
        if kind == "star":
            lon, lat = star(rng, clat, clon, radius, int(rng.integers(3, 16)))
            geom: shapely.Polygon | shapely.MultiPolygon = shapely.Polygon(
                np.column_stack([lon, lat])
            )
        elif kind == "regular":
            geom = shapely.Polygon(
                regular(clat, clon, radius, int(rng.integers(3, 9)), rng.uniform(0, 6))
            )
        elif kind == "hole":
            shell = regular(clat, clon, radius, 8, rng.uniform(0, 6))
            holes = [regular(clat, clon, radius * rng.uniform(0.1, 0.8), int(rng.integers(3, 8)))]
            geom = shapely.Polygon(shell, holes)
        else:
            a_lat, a_lon, _ = geodetic_from_enu([-radius, 0.0, 0.0], clat, clon)
            b_lat, b_lon, _ = geodetic_from_enu([radius, 0.0, 0.0], clat, clon)
            geom = shapely.MultiPolygon(
                [
                    shapely.Polygon(regular(float(a_lat), float(a_lon), 0.8 * radius, 5)),
                    shapely.Polygon(regular(float(b_lat), float(b_lon), 0.8 * radius, 6)),
                ]
            )
        band = draw(st.sampled_from(["none", "floor", "ceiling", "both"]))
        floor = float(rng.uniform(0, 30000)) if band in ("floor", "both") else -math.inf
        ceiling = (
            floor + float(rng.uniform(500, 20000)) if band in ("ceiling", "both") else math.inf
        )
        if band == "ceiling":
            ceiling = float(rng.uniform(5000, 40000))
        active = None
        if draw(st.booleans()):
            starts = t0 + np.sort(rng.uniform(-100, 350, 2))
            active = tuple((float(s), float(s + rng.uniform(10, 200))) for s in starts)
        zones.append(Zone(f"Z{j}", geom, floor_ft=floor, ceiling_ft=ceiling, active=active))
    try:
        compiled = Zones.from_zones(zones)
    except InputError:
        assume(False)

    rows = []
    n = 10
    for a in range(n):
        k = a % 2
        local = compiled.local[k]
        role = a // 2
        speed_kt = float(rng.uniform(20, 700))
        if role == 0:  # anywhere near, any direction
            e, nn = rng.uniform(-90e3, 90e3, 2)
            track = float(rng.uniform(0, 360))
        elif role == 1:  # at a vertex (clipping corners), from 5-60 km away
            coords = shapely.get_coordinates(local)
            vx, vy = coords[rng.integers(len(coords))] + rng.normal(0, 30.0, 2)
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(5e3, 60e3)
            e, nn = vx - dist * np.cos(ang), vy - dist * np.sin(ang)
            track = float(np.degrees(np.arctan2(np.cos(ang), np.sin(ang))))  # azimuth of ang
            speed_kt = dist / 1852.0 / rng.uniform(30, 400) * 3600.0
        elif role == 2:  # inside now
            p = shapely.Point(local.representative_point())
            e, nn = p.x, p.y
            track = float(rng.uniform(0, 360))
        elif role == 3:  # stationary
            e, nn = rng.uniform(-60e3, 60e3, 2)
            track, speed_kt = 0.0, 0.0
        else:  # towards the centre
            e, nn = rng.uniform(-100e3, 100e3, 2)
            track = float(np.degrees(np.arctan2(-e, -nn)))
        lat, lon, _ = geodetic_from_enu(
            [e, nn, 0.0], compiled.origin_lat_deg[k], compiled.origin_lon_deg[k]
        )
        rows.append(
            {
                "time": t0,
                "id": f"A{a}",
                "lat": float(lat),
                "lon": float(lon),
                "alt_ft": float(rng.uniform(0, 40000)),
                "gs_kt": speed_kt,
                "track_deg": track % 360.0,
                "vs_fpm": 0.0 if rng.random() < 0.4 else float(rng.uniform(-5000, 5000)),
            }
        )
    lookahead = draw(st.sampled_from([60.0, 300.0, 900.0]))
    return compiled, TrafficState.from_frame(pd.DataFrame(rows)), lookahead


def local_path(zones: Zones, k: int, lat: float, lon: float, gs_kt: float, track_deg: float):
    """Start (m) and velocity (m/s) in zone ``k``'s plane, straight from the geo helpers."""
    lat0, lon0 = zones.origin_lat_deg[k], zones.origin_lon_deg[k]
    a = enu_from_geodetic(lat, lon, 0.0, lat0, lon0)[:2]
    w = enu_basis(lat0, lon0)[:2] @ horizontal_velocity_ecef(lat, lon, gs_kt * KT, track_deg)
    return a, w


def slots(zone: Zone, alt: float, vs_fps: float, t0: float, T: float, eps_ft: float, eps_s: float):
    """Time intervals in [0, T] with the altitude in the band and the zone active."""
    lo, hi = 0.0, T
    floor, ceiling = zone.floor_ft + eps_ft, zone.ceiling_ft - eps_ft
    if vs_fps == 0.0:
        if not floor <= alt <= ceiling:
            return []
    else:
        t1, t2 = sorted([(floor - alt) / vs_fps, (ceiling - alt) / vs_fps])
        lo, hi = max(lo, t1), min(hi, t2)
    windows = zone.active if zone.active is not None else ((-math.inf, math.inf),)
    out = []
    for start, end in windows:
        a, b = max(lo, start + eps_s - t0), min(hi, end - eps_s - t0)
        if a <= b:
            out.append((a, b))
    return out


def exact_entry(poly, a, w, intervals) -> float:
    """Earliest t in the intervals with a + w t in ``poly``: shapely's exact intersection."""
    best = math.inf
    speed2 = float(w @ w)
    for lo, hi in intervals:
        p, q = a + w * lo, a + w * hi
        if speed2 == 0.0 or hi == lo:
            if poly.intersects(shapely.Point(p)):
                best = min(best, lo)
            continue
        inter = poly.intersection(shapely.LineString([p, q]))
        if not inter.is_empty:
            xy = shapely.get_coordinates(inter)
            best = min(best, lo + float(((xy - p) @ w).min()) / speed2)
    return best


EPS_M, EPS_FT, EPS_S = 0.5, 0.01, 1e-3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_against_shapely_exact_and_sampled(scenario):
    zones, state, T = scenario
    got = zone_entries(state, zones, T)
    ours = {
        (int(i), int(k)): float(t)
        for i, k, t in zip(got.aircraft, got.zone, got.t_entry_s, strict=True)
    }
    assert all((t == 0.0) == v for t, v in zip(got.t_entry_s, got.violation, strict=True))
    assert all(0.0 <= t <= T for t in ours.values())
    ts = np.linspace(0.0, T, 3001)
    for k, zone in enumerate(zones.zones):
        poly = zones.local[k]
        inner, outer = poly.buffer(-EPS_M), poly.buffer(EPS_M)
        for i in range(len(state)):
            a, w = local_path(
                zones, k, state.lat[i], state.lon[i], state.gs_kt[i], state.track_deg[i]
            )
            start = geodetic_to_ecef(state.lat[i], state.lon[i])
            np.testing.assert_allclose(zones.plane_xy(k, start), a, atol=1e-6)
            alt, vs, t0 = state.alt_ft[i], state.vs_fpm[i] / 60.0, state.time[i]
            strict = exact_entry(inner, a, w, slots(zone, alt, vs, t0, T, EPS_FT, EPS_S))
            loose = exact_entry(outer, a, w, slots(zone, alt, vs, t0, T, -EPS_FT, -EPS_S))
            mine = ours.get((i, k))
            label = f"aircraft {i} zone {k}: ours {mine}, strict {strict}, loose {loose}"
            if math.isfinite(strict):  # certainly enters: no miss, not late
                assert mine is not None and mine <= strict + 1e-6, label
            if mine is not None:  # no false alarm, not early
                assert math.isfinite(loose) and loose <= mine + 1e-6, label
            # Dense sampling with shapely's point predicates tells the same story.
            xy = a + np.outer(ts, w)
            alt_t = alt + vs * ts
            win = zone.active if zone.active is not None else ((-math.inf, math.inf),)
            on = np.zeros(ts.size, dtype=bool)
            for s0, s1 in win:
                on |= (t0 + ts >= s0 + EPS_S) & (t0 + ts <= s1 - EPS_S)
            deep = (
                shapely.contains_xy(inner, xy[:, 0], xy[:, 1])
                & (alt_t >= zone.floor_ft + EPS_FT)
                & (alt_t <= zone.ceiling_ft - EPS_FT)
                & on
            )
            if deep.any():
                assert mine is not None and mine <= ts[np.argmax(deep)] + 1e-6, label
            if mine is not None:
                p = a + w * mine
                assert shapely.intersects_xy(outer, p[0], p[1]), label
                assert zone.floor_ft - EPS_FT <= alt + vs * mine <= zone.ceiling_ft + EPS_FT, label
                assert any(s0 - EPS_S <= t0 + mine <= s1 + EPS_S for s0, s1 in win), label


# --- bad zone files --------------------------------------------------------------------

GOOD = feature("A", [ring(0.0, 0.0, 0.1, 0.1)], floor_ft=0, ceiling_ft=10000)


def bad(props: dict | None = None, geometry: dict | str | None = "keep") -> dict:
    f = feature("B", [ring(1.0, 1.0, 1.1, 1.1)])
    if props is not None:
        f["properties"] = props
    if geometry != "keep":
        f["geometry"] = geometry
    return collection(GOOD, f)


def polygon(*rings: list) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


BOWTIE = [[0, 0], [0.1, 0.1], [0.1, 0], [0, 0.1], [0, 0]]
BAD_ZONES = [
    ("point", bad(geometry={"type": "Point", "coordinates": [0, 0]}), ["'geometry'", "Point"]),
    ("line", bad(geometry={"type": "LineString", "coordinates": [[0, 0], [1, 1]]}), ["LineString"]),
    ("no geometry", bad(geometry=None), ["'geometry'", "missing"]),
    ("bow tie", bad(geometry=polygon(BOWTIE)), ["'geometry'", "self-intersection", "lon", "lat"]),
    (
        "hole outside",
        bad(geometry=polygon(ring(0, 0, 0.1, 0.1), ring(1, 1, 1.1, 1.1))),
        ["'geometry'", "hole"],
    ),
    (
        "two positions",
        bad(geometry=polygon([[0, 0], [1, 1]])),
        ["'geometry'", "ring 0", "3 corners"],
    ),
    (
        "text coords",
        bad(geometry=polygon([["a", "b"], [0, 1], [1, 1], ["a", "b"]])),
        ["ring 0", "[lon, lat]"],
    ),
    (
        "latitude",
        bad(geometry=polygon([[0, 89.9], [0.1, 95], [0.2, 89.9], [0, 89.9]])),
        ["latitude 95"],
    ),
    ("huge", bad(geometry=polygon(ring(0, -30, 60, 30))), ["'geometry'", f"{MAX_RADIUS_DEG:g}°"]),
    ("empty multi", bad(geometry={"type": "MultiPolygon", "coordinates": []}), ["'geometry'"]),
    (
        "floor above ceiling",
        bad({"name": "B", "floor_ft": 12000, "ceiling_ft": 10000}),
        ["'floor_ft'", "not below the ceiling"],
    ),
    ("floor text", bad({"name": "B", "floor_ft": "FL100"}), ["'floor_ft'", "'FL100'"]),
    ("ceiling bool", bad({"name": "B", "ceiling_ft": True}), ["'ceiling_ft'"]),
    ("duplicate", bad({"name": "A"}), ["feature 1 ('A')", "'name'", "duplicate", "feature 0"]),
    ("no name", bad({"floor_ft": 0}), ["feature 1 (no name)", "'name'", "missing"]),
    ("empty name", bad({"name": "  "}), ["feature 1 (no name)", "'name'"]),
    ("owner", bad({"name": "B", "owner": 5}), ["'owner'", "5"]),
    ("parties empty", bad({"name": "B", "parties": []}), ["'parties'", "empty list"]),
    (
        "parties bad name",
        bad({"name": "B", "parties": ["red", "blue team"]}),
        ["'parties'", "party 1", "'blue team'", "ASCII letters"],
    ),
    ("parties reserved", bad({"name": "B", "parties": ["ALL"]}), ["'parties'", "reserved"]),
    ("parties text", bad({"name": "B", "parties": "red"}), ["'parties'", "not a list"]),
    ("parties number", bad({"name": "B", "parties": [7]}), ["'parties'", "party 0", "int"]),
    (
        "window order",
        bad({"name": "B", "active": [[100, 50]]}),
        ["'active'", "window 0", "not before"],
    ),
    (
        "naive time",
        bad({"name": "B", "active": [["2015-10-07T04:00:00", 1e10]]}),
        ["'active'", "UTC"],
    ),
    ("not a time", bad({"name": "B", "active": [["yesterday", 5]]}), ["'active'", "ISO 8601"]),
    ("flat window", bad({"name": "B", "active": [0, 3600]}), ["'active'", "[start, end]"]),
    ("empty windows", bad({"name": "B", "active": []}), ["'active'", "empty"]),
    ("active text", bad({"name": "B", "active": "always"}), ["'active'"]),
    ("nan window", bad({"name": "B", "active": [[0, float("nan")]]}), ["'active'", "window 0"]),
    ("properties", bad(props=["B"]), ["feature 1", "'properties'"]),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in BAD_ZONES], ids=[c[0] for c in BAD_ZONES]
)
def test_bad_zones_name_feature_and_field(obj: dict, expected: list[str]):
    with pytest.raises(InputError) as err:
        Zones.from_geojson(obj, source="zones.geojson")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("zones.geojson: ")
    if "(no name)" not in " ".join(expected) and "feature 1" not in " ".join(expected):
        assert "feature 1 ('B')" in msg, msg
    for part in expected:
        assert part in msg, msg


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "bowtie.geojson",
            [
                "bowtie.geojson: feature 1 ('BOWTIE'): field 'geometry'",
                "self-intersection near lon",
            ],
        ),
        ("floor_above_ceiling.geojson", ["feature 0 ('R-12'): field 'floor_ft'"]),
        ("not_a_collection.geojson", ["field 'type'", "FeatureCollection", "'Feature'"]),
    ],
)
def test_bad_fixture_files(name: str, expected: list[str]):
    with pytest.raises(InputError) as err:
        read(DATA / name)
    msg = str(err.value)
    assert "\n" not in msg
    for part in expected:
        assert part in msg, msg


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2, 3]", "expected a GeoJSON object"),
        (b'{"type": "FeatureCollection", "features": {}}', "field 'features'"),
        (b'{"type": "FeatureCollection", "features": [42]}', "feature 0: not a GeoJSON Feature"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_files_in_tmp(tmp_path: Path, content: bytes, expected: str):
    path = tmp_path / "zones.geojson"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read(path)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_wrong_type(tmp_path: Path):
    with pytest.raises(InputError, match="cannot read zones file"):
        read(tmp_path / "absent.geojson")
    with pytest.raises(InputError, match="expected a GeoJSON object, got int"):
        Zones.from_geojson(42)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not valid JSON"):
        Zones.from_geojson("{", source="text")
