from __future__ import annotations

import numpy as np

from deconflict import Agreement
from deconflict.tactical.alerts import (
    EVENT_KINDS,
    LEVELS,
    AlertTracker,
    pair_keys,
    raw_levels,
    track,
)

TH = Agreement().alerts
KEY = pair_keys(np.array(["B"]), np.array(["A"]))


def run(series: list[float | None], dt: float = 1.0):
    """Feed one pair's time to loss (None: not detected) and collect what happens."""
    tracker = AlertTracker.empty()
    out = []
    for k, t_in in enumerate(series):
        keys = KEY if t_in is not None else np.zeros(0, dtype=np.str_)
        t = np.array([t_in], dtype=float)[: keys.size]
        step = track(tracker, k * dt, keys, t, TH, salt="s")
        tracker = step.tracker
        out.append(
            (
                [LEVELS[x] for x in step.level],
                list(step.conflict_id),
                [EVENT_KINDS[x] for x in step.events.kind],
            )
        )
    return out, tracker


def test_pair_keys_ignore_order():
    assert pair_keys(np.array(["A"]), np.array(["B"]))[0] == KEY[0]


def test_raw_levels():
    levels = raw_levels(np.array([300.0, 121.0, 120.0, 61.0, 60.0, 0.0]), TH)
    assert [LEVELS[x] for x in levels] == [
        "advisory",
        "advisory",
        "caution",
        "caution",
        "warning",
        "warning",
    ]


def test_levels_rise_at_once_and_do_not_flicker_at_a_threshold():
    hovering = [130.0, 119.0, 121.0, 118.0, 122.0, 119.5, 125.0]
    out, _ = run(hovering)
    levels = [o[0][0] for o in out]
    assert levels == ["advisory", "caution", "caution", "caution", "caution", "caution", "caution"]
    events = [e for o in out for e in o[2]]
    assert events == ["new", "updated"]


def test_level_falls_past_threshold_plus_hysteresis():
    out, _ = run([50.0, 69.0, 71.0, 200.0])
    assert [o[0][0] for o in out] == ["warning", "warning", "caution", "advisory"]


def test_ids_are_stable_opaque_and_new_per_episode():
    out, tracker = run([200.0, 150.0, None, 140.0, None, None, None, None, None, None, 100.0])
    ids = [o[1][0] for o in out if o[1]]
    assert len(set(ids[:3])) == 1, "the same episode keeps its id through a short gap"
    assert ids[-1] != ids[0], "a new episode after clearing gets a new id"
    assert all(i.startswith("C") and len(i) == 17 and "A" not in i[1:] for i in ids)
    events = [e for o in out for e in o[2]]
    assert events.count("cleared") == 1 and events.count("new") == 2
    assert len(tracker) == 1


def test_ids_depend_on_the_salt():
    a = track(AlertTracker.empty(), 0.0, KEY, np.array([100.0]), TH, salt="x").conflict_id
    b = track(AlertTracker.empty(), 0.0, KEY, np.array([100.0]), TH, salt="y").conflict_id
    assert a[0] != b[0]


def test_the_issued_sense_is_kept_with_the_conflict_and_dropped_when_it_clears():
    old_style = AlertTracker(
        key=KEY,
        conflict_id=np.array(["C1"]),
        level=np.array([1]),
        first_seen=np.array([0.0]),
        last_seen=np.array([0.0]),
    )
    assert old_style.sense.tolist() == [-1], "left out, no sense has been issued"
    assert AlertTracker.empty().sense.size == 0
    tracker = track(AlertTracker.empty(), 0.0, KEY, np.array([100.0]), TH, sense=np.array([1]))
    tracker = tracker.tracker
    assert tracker.held_sense(KEY).tolist() == [1]
    # Not given: a known conflict keeps its sense, through a short gap too.
    tracker = track(tracker, 1.0, KEY, np.array([99.0]), TH).tracker
    tracker = track(tracker, 2.0, np.zeros(0, dtype=np.str_), np.zeros(0), TH).tracker
    assert tracker.held_sense(np.array([KEY[0], "other"])).tolist() == [1, -1]
    # Cleared, then seen again: a new episode with no sense.
    tracker = track(tracker, 10.0, np.zeros(0, dtype=np.str_), np.zeros(0), TH).tracker
    assert len(tracker) == 0
    tracker = track(tracker, 11.0, KEY, np.array([50.0]), TH).tracker
    assert tracker.held_sense(KEY).tolist() == [-1]
