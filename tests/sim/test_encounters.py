"""Planted encounters: detected as designed, spread apart, replayable alone or by seed."""

from __future__ import annotations

import numpy as np

from deconflict import Agreement
from deconflict.sim.closed_loop import simulate
from deconflict.sim.encounters import (
    KINDS,
    encounter_pairs,
    encounters_of_seeds,
    lattice_centres,
    make_encounters,
    min_centre_spacing_nm,
)
from deconflict.tactical.detect import detect_state

AG = Agreement()


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
