"""The tactical detector against analytic cases and obvious brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict import Agreement, TrafficState, detect
from deconflict.tactical.detect import Kinematics, detect_state, windows
from deconflict.tactical.pairs import overlapping_pairs
from deconflict.tactical.tables import CONFLICT_COLUMNS
from tests.conftest import HEADON, make_state
from tests.reference import geodesic_reference

AG = Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)
NM_DEG = 1.0 / 60.0  # one arc-minute of latitude is about one NM


def only(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1, frame
    return frame.iloc[0]


# --- analytic geometry ---------------------------------------------------------------


def test_head_on_time_to_loss():
    # 20 NM apart on a meridian at the equator, 250 kt each, closing at 500 kt.
    sep_m = 20 * 1852.0
    dlat = sep_m / 110574.0  # metres per degree of latitude at the equator (WGS84)
    s = make_state(
        [
            {"id": "A", "lat": 0.0, "lon": 0.0, "gs_kt": 250, "track_deg": 0},
            {"id": "B", "lat": dlat, "lon": 0.0, "gs_kt": 250, "track_deg": 180},
        ]
    )
    row = only(detect(s, AG))
    closing = 500 * 1852 / 3600
    assert row.t_in_s == pytest.approx((sep_m - 5 * 1852) / closing, abs=0.3)
    assert row.t_out_s == pytest.approx((sep_m + 5 * 1852) / closing, abs=0.3)
    assert row.t_cpa_s == pytest.approx(sep_m / closing, abs=0.3)
    assert row.d_cpa_nm == pytest.approx(0.0, abs=0.01)
    assert row.dz_cpa_ft == 0.0
    assert list(detect(s, AG).columns) == list(CONFLICT_COLUMNS)


def test_crossing_at_right_angles():
    # Both 10 NM from a crossing point, 300 kt: they meet there at t = 120 s.
    s = make_state(
        [
            {"id": "N", "lat": -10 * NM_DEG, "lon": 0.0, "gs_kt": 300, "track_deg": 0},
            {"id": "E", "lat": 0.0, "lon": -10 * NM_DEG, "gs_kt": 300, "track_deg": 90},
        ]
    )
    row = only(detect(s, AG))
    # Relative speed 300·√2 kt; loss at 5 NM before the meeting point distance-wise.
    v_rel = 300 * math.sqrt(2) * 1852 / 3600
    d0 = 10 * 1852 * math.sqrt(2)
    assert row.t_cpa_s == pytest.approx(120.0, abs=1.5)
    assert row.t_in_s == pytest.approx((d0 - 5 * 1852) / v_rel, abs=1.5)


def test_overtaking_on_the_same_track():
    s = make_state(
        [
            {"id": "SLOW", "lat": 0.1, "lon": 0.0, "gs_kt": 200, "track_deg": 0},
            {"id": "FAST", "lat": 0.0, "lon": 0.0, "gs_kt": 400, "track_deg": 0},
        ]
    )
    row = only(detect(s, AG))
    gap_m = 0.1 * 110574.0
    assert row.t_in_s == pytest.approx((gap_m - 5 * 1852) / (200 * 1852 / 3600), abs=1.0)


def test_climbing_through_the_others_level():
    # Co-located horizontally (co-altitude helper far below), one climbs 3000 ft/min
    # from 3000 ft below: vertical loss begins when 1000 ft below, i.e. after 40 s.
    s = make_state(
        [
            {"id": "LEVEL", "lat": 0.0, "lon": 0.0, "alt_ft": 30000, "gs_kt": 300},
            {"id": "CLIMB", "lat": 0.0, "lon": 0.0, "alt_ft": 27000, "gs_kt": 300, "vs_fpm": 3000},
        ]
    )
    row = only(detect(s, AG))
    assert row.t_in_s == pytest.approx(40.0, abs=1e-9)
    assert row.t_out_s == pytest.approx(80.0, abs=1e-9)


def test_vertical_and_horizontal_windows_must_overlap():
    # Horizontal loss only in [~20, ~70] s; vertical only after 200 s: not a conflict.
    s = make_state(
        [
            {"id": "A", "lat": 0.0, "lon": 0.0, "alt_ft": 30000, "gs_kt": 500, "track_deg": 0},
            {
                "id": "B",
                "lat": 20 * NM_DEG,
                "lon": 0.0,
                "alt_ft": 20000,
                "gs_kt": 500,
                "track_deg": 180,
                "vs_fpm": 2700,
            },
        ]
    )
    assert detect(s, AG).empty


def test_parallel_tracks_just_outside_and_inside_the_minimum():
    m_per_deg_lon = 111319.49  # at the equator
    for gap_m, expect in [(5 * 1852 + 1.0, 0), (5 * 1852 - 1.0, 1)]:
        s = make_state(
            [
                {"id": "L", "lat": 0.0, "lon": 0.0, "gs_kt": 450, "track_deg": 0},
                {"id": "R", "lat": 0.0, "lon": gap_m / m_per_deg_lon, "gs_kt": 450},
            ]
        )
        assert len(detect(s, AG)) == expect, gap_m


def test_already_lost_separation_is_a_conflict_from_zero():
    s = make_state(
        [
            {"id": "A", "lat": 0.0, "lon": 0.0, "gs_kt": 300, "track_deg": 90},
            {
                "id": "B",
                "lat": 2 * NM_DEG,
                "lon": 0.0,
                "gs_kt": 300,
                "track_deg": 270,
                "alt_ft": 30500,
            },
        ]
    )
    row = only(detect(s, AG))
    assert row.t_in_s == 0.0
    assert row.t_cpa_s == pytest.approx(0.0, abs=1e-9)


def test_exactly_1000_ft_apart_is_separated():
    # BlueSky counts this as a loss; the minimum is strict.
    s = make_state(
        [
            {"id": "A", "lat": 45.0, "lon": 7.0, "alt_ft": 35000},
            {"id": "B", "lat": 45.0, "lon": 7.0, "alt_ft": 34000},
            {"id": "C", "lat": 45.0, "lon": 7.0, "alt_ft": 35999.999},
        ]
    )
    pairs = detect(s, AG)[["id_a", "id_b"]].apply(tuple, axis=1).tolist()
    assert pairs == [("A", "C")]


def test_exact_vertical_boundary_when_converging():
    # B descends to exactly 1000 ft above A at t = 300 s (end of look-ahead): separated
    # throughout, since the loss would only start after the look-ahead.
    s = make_state(
        [
            {"id": "A", "lat": 0.0, "lon": 0.0, "alt_ft": 30000},
            {"id": "B", "lat": 0.0, "lon": 0.0, "alt_ft": 36000, "vs_fpm": -1000},
        ]
    )
    assert detect(s, AG).empty
    longer = Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=301)
    row = only(detect(s, longer))
    assert row.t_in_s == pytest.approx(300.0)


def test_co_located_and_zero_speed():
    s = make_state(
        [
            {"id": "A", "lat": 10.0, "lon": 10.0, "gs_kt": 0.0},
            {"id": "B", "lat": 10.0, "lon": 10.0, "gs_kt": 0.0},
            {"id": "FAR", "lat": 11.0, "lon": 10.0, "gs_kt": 0.0},
        ]
    )
    row = only(detect(s, AG))
    assert (row.id_a, row.id_b, row.t_in_s, row.t_out_s) == ("A", "B", 0.0, 300.0)
    assert row.d_cpa_nm == 0.0


def test_across_the_antimeridian():
    s = make_state(
        [
            {"id": "W", "lat": 0.0, "lon": 179.98, "gs_kt": 400, "track_deg": 90},
            {"id": "E", "lat": 0.0, "lon": -179.98, "gs_kt": 400, "track_deg": 270},
        ]
    )
    row = only(detect(s, AG))
    # 0.04° of longitude at the equator ≈ 4453 m apart, already inside 5 NM.
    assert row.t_in_s == 0.0
    assert row.t_cpa_s == pytest.approx(4453.0 / (800 * 1852 / 3600), abs=0.2)


def test_near_the_pole():
    # Two aircraft 3 NM either side of the North Pole, both flying "north" (towards it):
    # 3' of latitude at the pole is 5,585 m (polar radius of curvature 6,399,594 m), so
    # they are 11,170 m apart, closing at 600 kt; closest (0 NM) at the pole.
    s = make_state(
        [
            {"id": "A", "lat": 90 - 3 * NM_DEG, "lon": 0.0, "gs_kt": 300, "track_deg": 0},
            {"id": "B", "lat": 90 - 3 * NM_DEG, "lon": 180.0, "gs_kt": 300, "track_deg": 0},
        ]
    )
    row = only(detect(s, AG))
    gap_m = 2 * math.radians(3 * NM_DEG) * 6399593.6
    closing = 600 * 1852 / 3600
    assert row.t_in_s == pytest.approx((gap_m - 5 * 1852) / closing, abs=0.05)
    assert row.t_cpa_s == pytest.approx(gap_m / 2 / (300 * 1852 / 3600), abs=0.05)
    assert row.d_cpa_nm == pytest.approx(0.0, abs=0.01)


def test_parties_filter_and_all_pairs():
    rows = [
        {"id": "A1", "party": "blue", "lat": 0.0, "lon": 0.0},
        {"id": "A2", "party": "blue", "lat": 0.0, "lon": 0.0},
        {"id": "B1", "party": "red", "lat": 0.0, "lon": 0.0},
    ]
    s = make_state(rows, party=True)
    between = detect(s, AG)
    assert set(zip(between.id_a, between.id_b, strict=True)) == {("A1", "B1"), ("A2", "B1")}
    assert set(between.party_a) == {"blue"} and set(between.party_b) == {"red"}
    assert len(detect(s, AG, all_pairs=True)) == 3


def test_multiple_snapshots_never_pair_across_times():
    rows = [
        {"id": "A", "time": 0.0, "lat": 0.0, "lon": 0.0},
        {"id": "B", "time": 1.0, "lat": 0.0, "lon": 0.0},
        {"id": "A", "time": 1.0, "lat": 5.0, "lon": 0.0},
    ]
    assert detect(make_state(rows), AG).empty


def test_daidalus_head_on_encounter():
    if not HEADON.exists():
        pytest.skip(f"DAIDALUS encounter not found at {HEADON} (../shared is absent)")
    from deconflict.io.states import read_states

    row = only(detect(read_states(HEADON), AG))
    # DAIDALUS v2.0.4 on a sphere: 108.0 s; on the WGS84 ellipsoid 20' of latitude at
    # 35°N is 36,982 m rather than the sphere's 37,062 m, hence 107.8 s here.
    assert row.t_in_s == pytest.approx(108.0, abs=0.3)
    assert (row.party_a, row.party_b) == ("ownship", "intruder")


# --- brute force references ----------------------------------------------------------


def all_pairs_closed_form(state: TrafficState, ag: Agreement, all_pairs: bool = False):
    """The same exact windows on every pair: no pruning at all (O(N²))."""
    kin = Kinematics.from_state(state)
    a, b = np.triu_indices(len(state), 1)
    keep = state.time[a] == state.time[b]
    if state.party is not None and not all_pairs:
        keep &= state.party[a] != state.party[b]
    a, b = a[keep], b[keep]
    w = windows(kin, a, b, ag)
    return set(zip(a[w.conflict].tolist(), b[w.conflict].tolist(), strict=True))


def check_against_references(state: TrafficState, ag: Agreement, tol: float = 2e-3) -> None:
    found = detect_state(state, ag)
    got = set(zip(found.a.tolist(), found.b.tolist(), strict=True))
    # 1. Pruning loses nothing and adds nothing: identical to the unpruned closed form.
    assert got == all_pairs_closed_form(state, ag)
    # 2. The maths: an independent geodesic model agrees outside a tiny boundary band.
    t_in = dict(
        zip(zip(found.a.tolist(), found.b.tolist(), strict=True), found.t_in_s, strict=True)
    )
    for ref in geodesic_reference(state, ag):
        key = (ref.a, ref.b)
        if ref.min_margin < 1 - tol:
            assert key in got, f"missed conflict {key}: reference margin {ref.min_margin}"
            if ref.min_margin < 0.98:
                assert t_in[key] == pytest.approx(ref.t_in, abs=0.5), key
        elif ref.min_margin > 1 + tol:
            assert key not in got, f"false alarm {key}: reference margin {ref.min_margin}"


aircraft = st.fixed_dictionaries(
    {
        "dlat_nm": st.floats(-30, 30),
        "dlon_nm": st.floats(-30, 30),
        "alt_ft": st.one_of(st.sampled_from([30000.0, 31000.0, 29000.0]), st.floats(25000, 35000)),
        "gs_kt": st.one_of(st.just(0.0), st.floats(0, 600)),
        "track_deg": st.one_of(st.sampled_from([0.0, 90.0, 180.0, 270.0]), st.floats(0, 360)),
        "vs_fpm": st.one_of(st.just(0.0), st.floats(-4000, 4000)),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fleet=st.lists(aircraft, min_size=2, max_size=14),
    centre=st.sampled_from([(0.0, 0.0), (48.8, 2.3), (0.0, 179.9), (-33.0, -180.0), (84.0, 30.0)]),
    twins=st.booleans(),
)
def test_random_traffic_matches_brute_force(fleet, centre, twins):
    lat0, lon0 = centre
    rows = []
    for i, ac in enumerate(fleet):
        lat = lat0 + ac["dlat_nm"] / 60.0
        lon = lon0 + ac["dlon_nm"] / 60.0 / max(math.cos(math.radians(lat)), 0.05)
        lon = (lon + 180.0) % 360.0 - 180.0
        rows.append(
            {
                "id": f"X{i:02d}",
                "lat": lat,
                "lon": lon,
                **{k: ac[k] for k in ("alt_ft", "gs_kt", "track_deg", "vs_fpm")},
            }
        )
    if twins:  # co-located copies and parallel-track copies
        rows.append({**rows[0], "id": "TWIN"})
        rows.append({**rows[1], "id": "PARA", "lat": rows[1]["lat"] + 5.01 / 60.0})
    check_against_references(make_state(rows), AG)


@pytest.mark.parametrize("seed", range(3))
def test_dense_random_traffic_matches_unpruned_reference(seed):
    gen = np.random.default_rng(seed)
    n = 600
    frame = pd.DataFrame(
        {
            "time": gen.integers(0, 3, n).astype(float),
            "id": [f"R{i:04d}" for i in range(n)],
            "party": gen.choice(["blue", "red", "green"], n),
            "lat": gen.uniform(40, 44, n),
            "lon": gen.uniform(-2, 4, n),
            "alt_ft": gen.uniform(0, 40000, n),
            "gs_kt": gen.uniform(0, 700, n),
            "track_deg": gen.uniform(0, 360, n),
            "vs_fpm": gen.choice([0.0, 1.0], n) * gen.uniform(-6000, 6000, n),
        }
    )
    state = TrafficState.from_frame(frame)
    found = detect_state(state, AG)
    assert len(found) > 0
    assert set(zip(found.a.tolist(), found.b.tolist(), strict=True)) == all_pairs_closed_form(
        state, AG
    )


def test_outlier_speed_matches_brute_force():
    gen = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "time": 0.0,
            "id": [f"R{i:04d}" for i in range(n)],
            "lat": gen.uniform(50, 51, n),
            "lon": gen.uniform(4, 6, n),
            "alt_ft": gen.uniform(29000, 31000, n),
            "gs_kt": np.r_[gen.uniform(100, 300, n - 1), 4900.0],  # one implausible speed
            "track_deg": gen.uniform(0, 360, n),
            "vs_fpm": 0.0,
        }
    )
    state = TrafficState.from_frame(frame)
    found = detect_state(state, AG)
    assert set(zip(found.a.tolist(), found.b.tolist(), strict=True)) == all_pairs_closed_form(
        state, AG
    )


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 60),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    cell=st.floats(0.05, 3.0),
)
def test_broad_phase_finds_exactly_the_overlapping_boxes(n, d, seed, cell):
    gen = np.random.default_rng(seed)
    lo = gen.uniform(0, 10, (n, d))
    hi = lo + gen.exponential(1.0, (n, d)) * gen.choice([0.0, 1.0], (n, d), p=[0.1, 0.9])
    group = gen.integers(0, 2, n).astype(np.int64)
    res = overlapping_pairs(lo, hi, group, np.full(d, cell))
    got = sorted(
        zip(np.minimum(res.i, res.j).tolist(), np.maximum(res.i, res.j).tolist(), strict=True)
    )
    assert len(got) == len(set(got)), "a pair was reported twice"
    expect = [
        (i, j)
        for i in range(n)
        for j in range(i + 1, n)
        if group[i] == group[j] and np.all((lo[i] <= hi[j]) & (lo[j] <= hi[i]))
    ]
    assert got == expect


# --- real traffic --------------------------------------------------------------------


def test_real_paris_traffic_matches_brute_force(paris_reports):
    from deconflict.replay.archive import snapshots

    t0 = float(paris_reports["time"].min())
    times = np.arange(round(t0) + 300, t0 + 3 * 3600, 97.0)  # 110 snapshots over 3 h
    snap = snapshots(paris_reports, times)
    state = TrafficState.from_frame(
        snap[["time", "id", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm"]]
    )
    found = detect_state(state, AG)
    assert len(found) > 50, "terminal traffic around Paris has many real pairs"
    check_against_references(state, AG)
