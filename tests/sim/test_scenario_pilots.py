"""The exercise's pilots: advisories flown after the reaction delay, no_safe_manoeuvre held."""

from __future__ import annotations

import dataclasses

import numpy as np

from deconflict.sim import scenario_pilots as sp
from tests.sim.test_performance import airborne, command


def test_pilots_fly_after_the_reaction_delay():
    _, state = airborne()
    pilots = sp.Pilots.start(2, 2.0, reaction_s=5.0)
    assert pilots.delay_steps == 3  # 5 s rounded up to whole 2-s steps
    nav = command(state, vs_fpm=np.zeros(2))
    none = np.zeros(0, dtype=np.int64)
    pilots = sp.receive(
        pilots, 0, state, np.array([1]), np.array([2500.0]), np.array([90.0]), np.array([False])
    )
    for k in (1, 2):
        pilots = sp.receive(pilots, k, state, none, np.zeros(0), np.zeros(0), np.zeros(0, bool))
        assert not pilots.following.any()
        assert sp.apply(pilots, nav).vs_fpm.tolist() == [0.0, 0.0]
    pilots = sp.receive(pilots, 3, state, none, np.zeros(0), np.zeros(0), np.zeros(0, bool))
    flown = sp.apply(pilots, nav)
    assert pilots.following.tolist() == [False, True]
    assert flown.vs_fpm.tolist() == [0.0, 2500.0] and flown.track_deg[1] == 90.0
    # no_safe_manoeuvre: hold the current track and rate.
    held = dataclasses.replace(state, vs_fpm=np.array([0.0, -700.0]))
    pilots = sp.receive(
        pilots, 4, held, np.array([0]), np.array([9.0]), np.array([9.0]), np.array([True])
    )
    for k in (5, 6, 7):
        pilots = sp.receive(pilots, k, held, none, np.zeros(0), np.zeros(0), np.zeros(0, bool))
    flown = sp.apply(pilots, nav)
    assert flown.vs_fpm[0] == 0.0 and flown.track_deg[0] == held.track_deg[0]
