"""The pilot model: advisories are flown after the reaction delay."""

from __future__ import annotations

import numpy as np

from deconflict import Agreement
from deconflict.sim.closed_loop import simulate
from deconflict.sim.encounters import make_encounters

AG = Agreement()


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
