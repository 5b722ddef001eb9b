"""Closed-loop simulation: the loop's own checks, and the resolution targets.

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

import pytest

from deconflict import Agreement
from deconflict.sim.closed_loop import simulate
from deconflict.sim.encounters import encounter_pairs, encounters_of_seeds
from deconflict.sim.outcome import conflict_mask, figures, pair_table
from deconflict.sim.records import Run

AG = Agreement()


# --- closed loop: the acceptance targets ---------------------------------------------

SEEDS = (0, 1, 2)
PER_SEED = 100


@pytest.fixture(scope="module")
def runs() -> tuple:
    enc = encounters_of_seeds(PER_SEED, SEEDS)
    off = simulate(enc, AG, advisories=False)
    on = simulate(enc, AG, advisories=True)
    return enc, encounter_pairs(enc), off, on


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
