"""Coordinated advisories: complementary, symmetric, consistent from partial views."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deconflict import Agreement, TrafficState, advise, detect
from deconflict.geo import geodetic_from_enu
from deconflict.tactical.advise import advise_state
from deconflict.tactical.alerts import AlertTracker, pair_keys
from deconflict.tactical.relative import extrapolate
from deconflict.tactical.resolve import MANOEUVRES, tie_hashes
from deconflict.tactical.tables import ADVICE_COLUMNS

AG = Agreement()
#: Sees every pair within 50 NM / 20,000 ft over 10 min: to measure miss distances.
WIDE = Agreement(horizontal_nm=50, vertical_ft=20000, lookahead_s=600)
KT = 1852.0 / 3600.0


def planted_pair(
    lat0: float,
    lon0: float,
    t_cpa: float,
    miss_m: float,
    hdg_a: float,
    hdg_b: float,
    gs_a: float,
    gs_b: float,
    alt_a: float,
    dz_cpa: float,
    vs_a: float,
    vs_b: float,
    ids=("A1", "B1"),
) -> pd.DataFrame:
    """Two aircraft (parties blue, red) that meet near (lat0, lon0) at t_cpa."""
    va = gs_a * KT * np.array([math.sin(math.radians(hdg_a)), math.cos(math.radians(hdg_a))])
    vb = gs_b * KT * np.array([math.sin(math.radians(hdg_b)), math.cos(math.radians(hdg_b))])
    rel = vb - va
    perp = np.array([-rel[1], rel[0]]) / max(np.linalg.norm(rel), 1e-9)
    pa = -va * t_cpa
    pb = -vb * t_cpa + perp * miss_m
    enu = np.array([[pa[0], pa[1], 0.0], [pb[0], pb[1], 0.0]])
    lat, lon, _ = geodetic_from_enu(enu, lat0, lon0)
    alt_b_cpa = alt_a + vs_a / 60 * t_cpa + dz_cpa
    return pd.DataFrame(
        {
            "time": 0.0,
            "id": list(ids),
            "party": ["blue", "red"],
            "lat": lat,
            "lon": lon,
            "alt_ft": [alt_a, alt_b_cpa - vs_b / 60 * t_cpa],
            "gs_kt": [gs_a, gs_b],
            "track_deg": [hdg_a % 360, hdg_b % 360],
            "vs_fpm": [vs_a, vs_b],
        }
    )


pairs = st.builds(
    planted_pair,
    lat0=st.floats(-70, 70),
    lon0=st.floats(-180, 180),
    t_cpa=st.floats(30, 280),
    miss_m=st.floats(0, 8000),
    hdg_a=st.floats(0, 360),
    hdg_b=st.floats(0, 360),
    gs_a=st.floats(120, 500),
    gs_b=st.floats(120, 500),
    alt_a=st.one_of(st.just(30000.0), st.floats(5000, 40000)),
    dz_cpa=st.one_of(st.just(0.0), st.floats(-900, 900)),
    vs_a=st.one_of(st.just(0.0), st.floats(-2500, 2500)),
    vs_b=st.one_of(st.just(0.0), st.floats(-2500, 2500)),
)


def by_id(frame: pd.DataFrame) -> dict[str, tuple]:
    return {
        r.id: (r.manoeuvre, r.target_vs_fpm, r.target_track_deg, r.conflict_id, r.level)
        for r in frame.itertuples()
    }


def assert_complementary(adv: pd.DataFrame) -> None:
    (m1, *_), (m2, *_) = by_id(adv).values()
    assert {m1, m2} != {"climb"} and {m1, m2} != {"descend"}
    vertical = {"climb", "descend"}
    if m1 in vertical or m2 in vertical:
        assert {m1, m2} == vertical
    else:  # the same handedness: relative velocity rotates, they never turn into each other
        assert m1 == m2 and m1 in ("turn_left", "turn_right")


def separation_after(states: pd.DataFrame, adv: pd.DataFrame) -> float:
    """Predicted horizontal miss distance if both fly their advisories at once (NM)."""
    flown = states.astype({"track_deg": float, "vs_fpm": float})
    for r in adv.itertuples():
        i = flown.index[flown.id == r.id][0]
        flown.loc[i, "track_deg"] = r.target_track_deg
        flown.loc[i, "vs_fpm"] = r.target_vs_fpm
    d = detect(flown, WIDE)
    return float(d.d_cpa_nm.iloc[0]) if len(d) else math.inf


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states=pairs)
def test_advisories_are_complementary_and_symmetric(states):
    assume(states.alt_ft.between(0, 60000).all())
    adv = advise(states, AG)
    assume(len(adv) == 2)
    assert list(adv.columns) == list(ADVICE_COLUMNS)
    assert_complementary(adv)
    assert adv.conflict_id.nunique() == 1 and adv.level.nunique() == 1
    # The pair in the other order gives the same decision, to the bit.
    swapped = advise(states.iloc[::-1].reset_index(drop=True), AG)
    assert by_id(swapped) == by_id(adv)
    # A turn never brings them closer than flying straight on.
    if adv.manoeuvre.iloc[0].startswith("turn"):
        before = detect(states, WIDE)
        assert separation_after(states, adv) >= float(before.d_cpa_nm.iloc[0]) - 1e-6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states=pairs, seed=st.integers(0, 1000))
def test_each_party_computes_its_half_from_its_partial_view(states, seed):
    assume(states.alt_ft.between(0, 60000).all())
    full_pair = advise(states, AG)
    assume(len(full_pair) == 2)
    gen = np.random.default_rng(seed)
    # Each party also flies other aircraft far away, unknown to the other party.
    extra = states.iloc[[0, 1, 0, 1]].copy()
    extra["id"] = ["A2", "B2", "A3", "B3"]
    extra["lat"] = (extra["lat"] + gen.uniform(3, 6, 4)).clip(-89, 89)
    world = pd.concat([states, extra], ignore_index=True)
    full = by_id(advise(world, AG))
    view_blue = world[(world.party == "blue") | (world.id == "B1")]
    view_red = world[(world.party == "red") | (world.id == "A1")]
    assert by_id(advise(view_blue, AG))["A1"] == full["A1"]
    assert by_id(advise(view_red, AG))["B1"] == full["B1"]
    assert full["A1"][3] == full["B1"][3], "both halves carry the same conflict id"


def test_aircraft_above_climbs_below_descends():
    s = planted_pair(45, 5, 120, 0, 0, 180, 400, 400, 30000, 600, 0, 0)
    adv = by_id(advise(s, AG))
    assert adv["A1"][0] == "descend" and adv["B1"][0] == "climb"
    assert adv["B1"][1] > 0 > adv["A1"][1]
    assert abs(adv["B1"][1]) <= AG.resolution.max_vs_fpm


def test_exact_tie_is_broken_by_the_id_hash_not_the_order():
    s = planted_pair(45, 5, 120, 0, 0, 180, 400, 400, 30000, 0, 0, 0)
    first = by_id(advise(s, AG))
    assert {first["A1"][0], first["B1"][0]} == {"climb", "descend"}
    renamed = by_id(advise(s.assign(id=["X1", "Y1"]), AG))
    flipped = by_id(advise(s.assign(id=["Y1", "X1"]), AG))
    assert renamed["X1"][0] == flipped["X1"][0]
    # Different rules (agreement fingerprints) may break ties differently, deterministically.
    again = by_id(advise(s, AG))
    assert again == first


def test_vertical_impossible_near_the_ceiling_gives_a_turn():
    high = Agreement(resolution={"max_alt_ft": 30500, "min_alt_ft": 29500})
    s = planted_pair(45, 5, 150, 0, 0, 180, 400, 400, 30000, 0, 0, 0)
    adv = by_id(advise(s, high))
    assert adv["A1"][0] == adv["B1"][0] == "turn_right"  # exact head-on: both turn right
    assert 0 < (adv["A1"][2] - 0.0) % 360 <= 90


def test_smallest_turn_that_clears_with_margin():
    high = Agreement(resolution={"max_alt_ft": 30500, "min_alt_ft": 29500})
    s = planted_pair(45, 5, 200, 1000, 0, 90, 400, 400, 30000, 0, 0, 0)
    adv = advise(s, high)
    after = separation_after(s, adv)
    assert after == pytest.approx(5 * 1.2, abs=0.35), "clears with the 20 % margin, no more"


def test_multi_threat_is_consistent_or_flagged():
    # A1 head-on with B1 (B1 above) and with B2 (B2 below): A1 cannot climb and descend.
    one = planted_pair(45, 5, 150, 0, 0, 180, 400, 400, 30000, 500, 0, 0, ids=("A1", "B1"))
    two = planted_pair(45, 5, 150, 0, 0, 180, 400, 400, 30000, -500, 0, 0, ids=("A1", "B2"))
    world = pd.concat([one, two.iloc[[1]]], ignore_index=True)
    world.loc[2, "lon"] += 0.001
    adv = by_id(advise(world, AG))
    assert adv["A1"][0] == "no_safe_manoeuvre" and math.isnan(adv["A1"][1])
    assert adv["B1"][0] == "climb" and adv["B2"][0] == "descend"
    # Both threats above: one consistent descent, as steep as the worse pair needs.
    two_up = planted_pair(45, 5, 100, 0, 0, 180, 400, 400, 30000, 300, 0, 0, ids=("A1", "B2"))
    world = pd.concat([one, two_up.iloc[[1]]], ignore_index=True)
    world.loc[2, "lon"] += 0.001
    adv = by_id(advise(world, AG))
    assert adv["A1"][0] == "descend"
    solo = by_id(advise(one, AG))["A1"][1]
    assert adv["A1"][1] <= solo


# --- issue 11, item 4: one tie-break rule, on what every side sees -------------------

#: The issue's head-on at one level: B1 (blue) eastbound, R1 (red) westbound, FL300, 450 kt.
ISSUE_PAIR = pd.DataFrame(
    {
        "time": [0.0, 0.0],
        "id": ["B1", "R1"],
        "party": ["blue", "red"],
        "lat": [48.0, 48.0],
        "lon": [2.0, 2.3],
        "alt_ft": [30000.0, 30000.0],
        "gs_kt": [450.0, 450.0],
        "track_deg": [90.0, 270.0],
        "vs_fpm": [0.0, 0.0],
    }
)


def test_tie_break_ignores_internal_keys():
    """The broker keys aircraft internally; the tie-break uses the ids as reported."""
    state = TrafficState.from_frame(ISSUE_PAIR)
    plain = advise(state, AG)
    assert set(plain.manoeuvre) == {"climb", "descend"}  # an exact tie
    for keys in (["1\x1fB1", "2\x1fR1"], ["9\x1fB1", "3\x1fR1"], ["2\x1fB1", "1\x1fR1"]):
        keyed = dataclasses.replace(state, id=np.array(keys))
        got = advise_state(keyed, AG, reported_id=state.id).advisories
        reported = got.id.str.split("\x1f").str[1]
        assert dict(zip(reported, got.manoeuvre, strict=True)) == dict(
            zip(plain.id, plain.manoeuvre, strict=True)
        )


def test_equal_ids_are_told_apart_by_party_names():
    s = planted_pair(45, 5, 120, 0, 0, 180, 400, 400, 30000, 0, 0, 0)
    state = dataclasses.replace(TrafficState.from_frame(s), id=np.array(["X1", "X1"]))
    first = advise_state(state, AG).advisories
    assert set(first.manoeuvre) == {"climb", "descend"}
    # The same two aircraft given in the other order: the same decision per party.
    flipped = TrafficState(**{f.name: getattr(state, f.name)[::-1] for f in fields(TrafficState)})
    again = advise_state(flipped, AG).advisories
    assert dict(zip(again.party, again.manoeuvre, strict=True)) == dict(
        zip(first.party, first.manoeuvre, strict=True)
    )
    h_a, h_b = tie_hashes(state.id, state.party, np.array([0]), np.array([1]), AG.fingerprint)
    assert h_a[0] != h_b[0]


# --- issue 11, item 5: a conflict keeps its sense; reversals are counted ---------------


def dead_reckoned(frame: pd.DataFrame, step_s: float, until_s: float) -> pd.DataFrame:
    """The pair flown straight on, one snapshot every ``step_s`` seconds, in one frame."""
    state = TrafficState.from_frame(frame)
    snaps = [extrapolate(state, t) for t in np.arange(0.0, until_s + step_s / 2, step_s)]
    return pd.concat(
        [pd.DataFrame({f.name: getattr(s, f.name) for f in fields(TrafficState)}) for s in snaps],
        ignore_index=True,
    )


def test_the_issue_pair_keeps_its_sense_through_the_whole_encounter():
    frames = dead_reckoned(ISSUE_PAIR, 0.1, 75.0)
    advice = advise_state(TrafficState.from_frame(frames), AG)
    adv = advice.advisories
    assert adv.time.nunique() > 600, "advised through the encounter, until they pass"
    # Snapshots with a counted reversal (one pair per snapshot here, in time order).
    reversed_at = set(np.unique(adv.time)[advice.pairs.reversed.to_numpy()])
    for _, own in adv.groupby("id"):
        changed = own.time[own.manoeuvre.ne(own.manoeuvre.shift())].iloc[1:]
        assert set(changed) <= reversed_at, "a manoeuvre changed without a counted reversal"
    assert advice.reversals == 0
    assert set(adv[adv.id == "B1"].manoeuvre) == {"climb"}
    assert set(adv[adv.id == "R1"].manoeuvre) == {"descend"}
    # Fed one snapshot at a time (a live feed, the tracker passed on): the same answers.
    tracker = None
    for t in (0.0, 8.4, 9.0, 30.0):
        now = TrafficState.from_frame(frames[np.isclose(frames.time, t)])
        live = advise_state(now, AG, tracker=tracker)
        tracker = live.tracker
        assert list(live.advisories.manoeuvre) == ["climb", "descend"]


def held(frame: pd.DataFrame, sense: str) -> AlertTracker:
    """A tracker in which the pair's conflict was given ``sense`` for its first id."""
    ids = frame.id.to_numpy(dtype=str)
    return AlertTracker(
        key=pair_keys(ids[:1], ids[1:2]),
        conflict_id=np.array(["C0000000000000000"]),
        level=np.array([1]),
        first_seen=np.array([-1.0]),
        last_seen=np.array([-1.0]),
        sense=np.array([MANOEUVRES.index(sense)]),
    )


def test_a_held_sense_is_kept_while_it_restores_the_minima():
    # B1 is 300 ft above at closest approach, 200 s away: fresh, A1 would descend.
    s = planted_pair(45, 5, 200, 0, 0, 180, 400, 400, 30000, 300, 0, 0)
    assert by_id(advise(s, AG))["A1"][0] == "descend"
    kept = advise_state(TrafficState.from_frame(s), AG, tracker=held(s, "climb"))
    got = by_id(kept.advisories)
    assert got["A1"][0] == "climb" and got["B1"][0] == "descend"
    assert kept.reversals == 0 and not kept.pairs.reversed.any()
    assert kept.pairs.conflict_id.iloc[0] == "C0000000000000000"
    assert kept.tracker.sense.tolist() == [MANOEUVRES.index("climb")]


def test_a_held_sense_that_no_longer_clears_is_reversed_and_counted():
    # B1 900 ft above at closest approach 40 s away: A1 cannot climb through it in time.
    s = planted_pair(45, 5, 40, 0, 0, 180, 400, 400, 30000, 900, 0, 0)
    fresh = advise_state(TrafficState.from_frame(s), AG)
    assert by_id(fresh.advisories)["A1"][0] == "descend" and fresh.reversals == 0
    rev = advise_state(TrafficState.from_frame(s), AG, tracker=held(s, "climb"))
    got = by_id(rev.advisories)
    assert got["A1"][0] == "descend" and got["B1"][0] == "climb"
    assert rev.reversals == 1 and rev.pairs.reversed.tolist() == [True]
    assert rev.tracker.sense.tolist() == [MANOEUVRES.index("descend")]


def test_a_held_turn_keeps_its_side():
    high = Agreement(resolution={"max_alt_ft": 30500, "min_alt_ft": 29500})
    s = planted_pair(45, 5, 150, 0, 0, 180, 400, 400, 30000, 0, 0, 0)
    assert by_id(advise(s, high))["A1"][0] == "turn_right"
    kept = advise_state(TrafficState.from_frame(s), high, tracker=held(s, "turn_left"))
    got = by_id(kept.advisories)
    assert got["A1"][0] == got["B1"][0] == "turn_left" and kept.reversals == 0
    assert 0 < (0.0 - got["A1"][2]) % 360 <= 90  # a left turn of at most 90°
    assert separation_after(s, kept.advisories) >= 5.0
