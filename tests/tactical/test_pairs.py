"""The sliced broad phase against the one it replaced and against brute force (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict import Agreement, TrafficState
from deconflict.tactical.detect import (
    MAX_SLICES,
    Kinematics,
    detect_kinematics,
    face_frame,
    windows,
)
from deconflict.tactical.pairs import MAX_CELLS_PER_BOX, overlapping_pairs
from tests.reference import reference_detect

AG = Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)
NM_M = 1852.0
#: Cluster centres (lat, lon): the antimeridian, both poles, cube-face edges and corners.
CENTRES = [
    (0.0, 179.95),
    (35.0, -179.9),
    (89.9, 0.0),
    (-89.95, 120.0),
    (0.0, 45.0),
    (35.264, 45.0),
    (35.264, 0.0),
    (-45.0, -135.0),
    (50.0, 10.0),
]


def cluster_traffic(
    seed: int, n: int, centres: list[tuple[float, float]], radius_nm: float, snaps: int
) -> TrafficState:
    """``n`` aircraft around each centre (local tangent-plane offsets), some snapshots."""
    gen = np.random.default_rng(seed)
    rows = []
    for lat0, lon0 in centres:
        # Offsets in NM east/north, turned into degrees (cos(lat) floored near the pole).
        east = gen.uniform(-radius_nm, radius_nm, n)
        north = gen.uniform(-radius_nm, radius_nm, n)
        lat = np.clip(lat0 + north / 60.0, -89.999, 89.999)
        lon = lon0 + east / (60.0 * max(np.cos(np.radians(lat0)), 0.02))
        rows.append((lat, (lon + 180.0) % 360.0 - 180.0))
    lat = np.concatenate([r[0] for r in rows])
    lon = np.concatenate([r[1] for r in rows])
    m = lat.size
    level = gen.random(m) < 0.5
    alt = np.where(
        gen.random(m) < 0.4,
        gen.choice([29_000.0, 30_000.0, 31_000.0], m),
        gen.uniform(27_000, 33_000, m),
    )
    gs = np.where(gen.random(m) < 0.1, 0.0, gen.uniform(0.0, 600.0, m))
    trk = np.where(
        gen.random(m) < 0.3, gen.choice([0.0, 90.0, 180.0, 270.0], m), gen.uniform(0, 360, m)
    )
    vs = np.where(level, 0.0, gen.uniform(-4_000, 4_000, m))
    return TrafficState(
        time=gen.integers(0, snaps, m).astype(np.float64) * 10.0,
        id=np.array([f"A{i:04d}" for i in range(m)]),
        party=gen.choice(["red", "blue"], m),
        lat=lat,
        lon=lon,
        alt_ft=alt,
        gs_kt=gs,
        track_deg=trk,
        vs_fpm=vs,
    )


def brute_force(kin: Kinematics, party: np.ndarray | None) -> set[tuple[int, int]]:
    """Every same-snapshot pair through the exact windows: no pruning at all."""
    a, b = np.triu_indices(kin.pos.shape[0], 1)
    keep = kin.snap[a] == kin.snap[b]
    if party is not None:
        keep &= party[a] != party[b]
    a, b = a[keep], b[keep]
    hit = windows(kin, a, b, AG).conflict
    return set(zip(a[hit].tolist(), b[hit].tolist(), strict=True))


def check_every_slice_count(state: TrafficState) -> None:
    """For 1..MAX_SLICES slices: the reference's conflicts, windows bit for bit, brute force."""
    kin = Kinematics.from_state(state)
    for party in (None, state.party):
        ref = reference_detect(kin, AG, party)
        expect = set(zip(ref.a.tolist(), ref.b.tolist(), strict=True))
        assert expect == brute_force(kin, party)
        for k in range(1, MAX_SLICES + 1):
            got = detect_kinematics(kin, AG, party, slices=k)
            np.testing.assert_array_equal(got.a, ref.a, err_msg=f"{k} slices")
            np.testing.assert_array_equal(got.b, ref.b, err_msg=f"{k} slices")
            for name in ("t_in_s", "t_out_s", "t_cpa_s", "d_cpa_m", "dz_cpa_ft"):
                np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), name)
        # Default slice count too.
        got = detect_kinematics(kin, AG, party)
        np.testing.assert_array_equal(got.a, ref.a)
        np.testing.assert_array_equal(got.b, ref.b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 40),
    centre=st.sampled_from(CENTRES),
    radius_nm=st.sampled_from([3.0, 15.0, 40.0]),
    snaps=st.integers(1, 2),
)
def test_sliced_broad_phase_is_the_old_one_regionally(seed, n, centre, radius_nm, snaps):
    # One cluster: the frame is rotated onto the traffic (across the antimeridian, at a pole).
    check_every_slice_count(cluster_traffic(seed, n, [centre], radius_nm, snaps))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 20),
    picks=st.lists(st.sampled_from(CENTRES), min_size=1, max_size=3, unique=True),
    radius_nm=st.sampled_from([3.0, 15.0, 40.0]),
)
def test_sliced_broad_phase_is_the_old_one_across_the_globe(seed, n, picks, radius_nm):
    # Clusters and their antipodes: the traffic spans the globe, the frame is ECEF and the
    # clusters on cube-face edges and corners are hashed on several faces.
    centres = picks + [(-lat, lon + 180.0 if lon <= 0 else lon - 180.0) for lat, lon in picks]
    state = cluster_traffic(seed, n, centres, radius_nm, 1)
    assert np.allclose(face_frame(Kinematics.from_state(state), AG).rotation, np.eye(3))
    check_every_slice_count(state)


def test_face_edges_put_aircraft_on_several_faces():
    state = cluster_traffic(3, 30, [(35.264, 45.0), (-35.264, -135.0)], 20.0, 1)
    faces = face_frame(Kinematics.from_state(state), AG)
    assert faces.member.sum(axis=1).min() >= 2, "a cube corner is on three faces"
    check_every_slice_count(state)


def test_outlier_speed_on_every_face():
    # An implausible speed: its reach is more than twice the 99.9th percentile, so it is on
    # all faces (and the others keep a margin sized by the percentile).
    state = cluster_traffic(5, 1200, [(50.0, 10.0)], 60.0, 1)
    gs = state.gs_kt.copy()
    gs[0] = 4_900.0
    state = TrafficState(
        time=state.time,
        id=state.id,
        party=state.party,
        lat=state.lat,
        lon=state.lon,
        alt_ft=state.alt_ft,
        gs_kt=gs,
        track_deg=state.track_deg,
        vs_fpm=state.vs_fpm,
    )
    faces = face_frame(Kinematics.from_state(state), AG)
    assert faces.member[0].all()
    assert faces.member.sum() < 1300
    check_every_slice_count(state)


def test_work_follows_the_conflicts():
    # Dense traffic: every slice count finds the same conflicts; more slices, less work.
    state = cluster_traffic(11, 400, [(35.0, 38.0)], 40.0, 1)
    kin = Kinematics.from_state(state)
    examined = [detect_kinematics(kin, AG, slices=k).stats.pairs_examined for k in (1, 4)]
    ref = reference_detect(kin, AG)
    assert examined[1] < examined[0] < ref.examined


def test_big_box_goes_through_brute_force():
    gen = np.random.default_rng(2)
    lo = gen.uniform(0, 10, (50, 3))
    hi = lo + 0.5
    hi[0] = lo[0] + 100.0  # covers far more than MAX_CELLS_PER_BOX cells of 0.5
    group = np.zeros(50, dtype=np.int64)
    found = overlapping_pairs(lo, hi, group, np.full(3, 0.5))
    assert found.stats.brute_force_boxes == 1
    assert MAX_CELLS_PER_BOX < (100.0 / 0.5) ** 2
    i, j = np.minimum(found.i, found.j), np.maximum(found.i, found.j)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    expect = {
        (i, j)
        for i in range(50)
        for j in range(i + 1, 50)
        if np.all((lo[i] <= hi[j]) & (lo[j] <= hi[i]))
    }
    assert got == expect


@pytest.mark.parametrize("slices", [0, -1])
def test_slices_must_be_positive(slices):
    kin = Kinematics.from_state(cluster_traffic(1, 5, [(0.0, 0.0)], 5.0, 1))
    with pytest.raises(ValueError, match="slices"):
        detect_kinematics(kin, AG, slices=slices)
