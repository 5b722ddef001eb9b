"""Closed-loop simulation: kinematics, planted encounters, and the resolution targets.

The last tests are the acceptance item: for each of seeds 0, 1 and 2 (100 planted
encounters each, ~130 conflicts; flown together in one run, so the test costs what
one 300-encounter run does; bench/resolve.py runs 2,000), at least 99 % of the
conflicts first detected 60 s or more before loss are resolved and at most 0.5 %
of losses are induced; advisory reversals are counted and reported. A sample this
small allows one failure per seed: when written, seeds 0-7 at this size gave
98.5-100 % resolved (seed 7: 98.5 %), so the benchmark, not this test, is the
evidence for the rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from deconflict import Agreement
from deconflict.sim.closed_loop import Run, conflict_mask, figures, pair_table, simulate
from deconflict.sim.encounters import (
    KINDS,
    encounter_pairs,
    encounters_of_seeds,
    lattice_centres,
    make_encounters,
    min_centre_spacing_nm,
)
from deconflict.sim.kinematics import Fleet, Performance, command, step
from deconflict.tactical.detect import detect_state

AG = Agreement()
GEOD = Geod(ellps="WGS84")


def fleet_of(n: int, rng: np.random.Generator, **over: np.ndarray) -> Fleet:
    values = {
        "lat": rng.uniform(-85.0, 85.0, n),
        "lon": rng.uniform(-180.0, 180.0, n),
        "alt_ft": np.full(n, 30000.0),
        "gs_kt": rng.uniform(150.0, 500.0, n),
        "track_deg": rng.uniform(0.0, 360.0, n),
        "vs_fpm": np.zeros(n),
    }
    values.update(over)
    return Fleet.flying(**values)


# --- kinematics ----------------------------------------------------------------------


def test_straight_flight_is_a_geodesic():
    rng = np.random.default_rng(3)
    f0 = fleet_of(500, rng)
    f = f0
    for _ in range(300):
        f = step(f, 1.0, Performance())
    lon, lat, back_az = GEOD.fwd(f0.lon, f0.lat, f0.track_deg, f0.gs_kt * 1852.0 / 3600.0 * 300)
    _, _, err_m = GEOD.inv(f.lon, f.lat, lon, lat)
    assert err_m.max() < 1.0  # metres after 300 one-second steps
    track_err = np.mod(f.track_deg - np.mod(back_az + 180.0, 360.0) + 180.0, 360.0) - 180.0
    assert np.abs(track_err).max() < 1e-4
    assert np.allclose(f.planned_track_deg, f.track_deg)  # the plan is transported alike


def test_turn_and_climb_within_limits():
    rng = np.random.default_rng(4)
    f = fleet_of(3, rng, track_deg=np.array([10.0, 10.0, 350.0]), vs_fpm=np.zeros(3))
    # Left 60° (the short way), right 90°, and across north: 350 → 20 is 30° right.
    targets = np.array([310.0, 100.0, 20.0])
    f = command(f, np.ones(3, bool), targets, np.array([5000.0, -1500.0, 0.0]))
    perf = Performance(turn_rate_dps=3.0, vertical_accel_fps2=8.0, max_vs_fpm=3000.0)
    tracks, rates = [], []
    for _ in range(40):
        before = f
        f = step(f, 1.0, perf)
        # The turn itself: the track change less the rotation of north along the path.
        transport = f.transport_deg - before.transport_deg
        turn = np.mod(f.track_deg - before.track_deg - transport + 180.0, 360.0) - 180.0
        tracks.append(turn)
        rates.append(f.vs_fpm - before.vs_fpm)
    turns = np.array(tracks)
    assert np.abs(turns).max() <= 3.0 + 1e-6
    assert (turns[:5, 0] < 0).all() and (turns[:5, 1] > 0).all() and (turns[:5, 2] > 0).all()
    assert np.allclose(f.cmd_track_deg, f.track_deg)  # reached and held
    assert np.abs(np.array(rates)).max() <= 8.0 * 60.0 + 1e-6
    assert f.vs_fpm[0] == 3000.0  # commanded 5,000 ft/min, capped
    assert f.vs_fpm[1] == -1500.0


# --- encounters ----------------------------------------------------------------------


def test_planted_conflicts_are_detected_as_designed():
    enc = make_encounters(300, seed=5)
    assert (enc.party[enc.planted_a] != enc.party[enc.planted_b]).all()
    assert set(np.unique(enc.kind)) == set(range(len(KINDS)))
    c = detect_state(enc.state(), AG)
    key = c.a * len(enc) + c.b
    planted = enc.planted_a * len(enc) + enc.planted_b
    assert np.isin(planted, key).all()
    order = np.argsort(key)
    t_in = c.t_in_s[order][np.searchsorted(key[order], planted)]
    assert np.abs(t_in - enc.t_loss_s).max() < 0.5
    assert (enc.t_loss_s >= 60.0).all() and (enc.t_loss_s <= 280.0).all()
    assert (enc.group[c.a] == enc.group[c.b]).all()  # no conflict across encounters


def test_centres_cover_the_globe_apart():
    lat, lon = lattice_centres(2000)
    assert min_centre_spacing_nm(lat, lon) > 230.0
    assert lat.min() < -85.0 and lat.max() > 85.0


def test_select_replays_an_encounter_alone():
    enc = make_encounters(20, seed=6)
    one = enc.select([7])
    assert set(one.id) == set(enc.id[enc.group == 7])
    assert one.id[one.planted_a[0]] == enc.id[enc.planted_a[7]]
    alone = simulate(one, AG, duration_s=120.0)
    among = simulate(enc, AG, duration_s=120.0)
    pairs_all = encounter_pairs(enc)
    sel = pairs_all.group == 7
    assert np.array_equal(alone.pairs.lost, among.pairs.lost[sel])
    assert np.allclose(alone.pairs.min_sep, among.pairs.min_sep[sel])


# --- pilot model ---------------------------------------------------------------------


def test_advisory_flown_after_the_reaction_delay():
    enc = make_encounters(1, seed=1, background=(1, 1))
    run = simulate(enc, AG, duration_s=40.0, trace=[int(enc.planted_a[0])])
    tr = run.trace
    assert tr is not None
    first = tr[tr.manoeuvre.notna()].time.min()
    # Commands change only from the reaction delay after the first advisory.
    changed = tr[
        (np.abs(tr.cmd_vs_fpm - tr.planned_vs_fpm) > 0.5)
        | (np.abs(tr.cmd_track_deg - tr.planned_track_deg) > 0.01)
    ]
    assert first == 0.0
    assert changed.time.min() == first + AG.resolution.reaction_s


# --- closed loop: the acceptance targets ---------------------------------------------

SEEDS = (0, 1, 2)
PER_SEED = 100


@pytest.fixture(scope="module")
def runs() -> tuple:
    enc = encounters_of_seeds(PER_SEED, SEEDS)
    off = simulate(enc, AG, advisories=False)
    on = simulate(enc, AG, advisories=True)
    return enc, encounter_pairs(enc), off, on


def test_seeds_fly_as_designed_together():
    """Encounters of several seeds flown together are each seed's own designs."""
    both = encounters_of_seeds(20, (3, 4))
    alone = make_encounters(20, seed=4)
    second = both.select(np.arange(20, 40))
    assert np.array_equal(second.kind, alone.kind)
    assert np.allclose(second.t_loss_s, alone.t_loss_s)
    assert np.array_equal(second.alt_ft, alone.alt_ft)
    assert len(set(both.id)) == len(both)
    assert min_centre_spacing_nm(both.center_lat, both.center_lon) > 230.0


def test_simulation_is_consistent(runs: tuple):
    enc, pairs, off, on = runs
    off_: Run = off
    on_: Run = on
    assert off_.stray == 0  # encounters never interact
    assert on_.mismatched == 0  # advisories exactly for the predicted pairs
    f = figures(off_, off_, pairs)
    assert f.conflicts > 300
    assert f.resolved_early < 0.01  # without advisories, predicted conflicts happen
    assert len(pair_table(enc, pairs, off_, on_)) == len(pairs)


@pytest.mark.parametrize("k", range(len(SEEDS)))
def test_resolution_targets(runs: tuple, k: int):
    enc, pairs, off, on = runs
    tab = pair_table(enc, pairs, off, on)
    seed = (tab.group // PER_SEED).to_numpy() == k
    conflict = conflict_mask(off, pairs) & seed
    early = conflict & (tab.t_in_det_off_s >= 60.0).to_numpy()
    lost = (tab.cross_party & tab.lost_on).to_numpy()
    induced = lost & seed & ~tab.predicted_off.to_numpy() & ~tab.lost_off.to_numpy()
    resolved = (early & ~lost).sum() / early.sum()
    detail = tab[early & lost][["group", "id_a", "id_b", "kind", "first_man_a", "first_man_b"]]
    assert early.sum() > 100
    assert resolved >= 0.99, f"seed {SEEDS[k]}: {resolved:.4f} resolved; failed:\n{detail}"
    assert induced.sum() <= 0.005 * conflict.sum(), f"seed {SEEDS[k]}: {induced.sum()} induced"


def test_reversals_are_counted_and_reported(runs: tuple):
    _, pairs, off, on = runs
    assert off.advisory_reversals == 0  # no advisories, nothing to reverse
    f = figures(off, on, pairs)
    assert f.advisory_reversals == on.advisory_reversals
    # Senses are held: counted reversals are rare (none when written).
    assert on.advisory_reversals <= 0.01 * f.conflicts
