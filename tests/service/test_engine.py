"""The detection engine in-process, on the in-memory repository."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import numpy.typing as npt

from deconflict import Agreement
from deconflict.service.engine import (
    REORDER_WINDOW_S,
    DetectionEngine,
    LivePicture,
    disclosed_targets,
)
from deconflict.store.records import AlertRecord, TrackBatch
from deconflict.tactical.alerts import AlertTracker
from tests.fakes.memory import MemoryRepository


def batch(
    party: list[int], ids: list[str], t: list[float], lat: list[float], trk: list[float]
) -> TrackBatch:
    n = len(ids)
    return TrackBatch(
        party_id=np.asarray(party, dtype=np.int64),
        time=np.asarray(t, dtype=float),
        id=np.asarray(ids, dtype=np.str_),
        lat=np.asarray(lat, dtype=float),
        lon=np.zeros(n),
        alt_ft=np.full(n, 30000.0),
        gs_kt=np.full(n, 400.0),
        track_deg=np.asarray(trk, dtype=float),
        vs_fpm=np.zeros(n),
    )


class Clock:
    """A broker clock the test moves by hand (Unix s)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def engine(
    repo: MemoryRepository,
    published: list[AlertRecord],
    stale_after_s: float = 30.0,
    clock: Clock | None = None,
) -> DetectionEngine:
    return DetectionEngine(
        repo,
        Agreement(),
        stale_after_s=stale_after_s,
        detect_interval_s=0.01,
        idle_interval_s=1.0,
        id_secret="test",
        publish=published.extend,
        clock=clock or Clock(),
    )


def test_live_picture_keeps_the_newest_state_per_party_and_aircraft():
    pic = LivePicture()
    pic.update(batch([1, 2], ["X", "X"], [10.0, 10.0], [1.0, 2.0], [0.0, 0.0]), 1000.0, 30.0)
    pic.update(batch([1, 1], ["X", "X"], [12.0, 11.0], [3.0, 4.0], [0.0, 0.0]), 1002.0, 30.0)
    pic.update(batch([1], ["X"], [9.0], [5.0], [0.0]), 1003.0, 30.0)  # late and old: ignored
    assert len(pic) == 2
    state, party, ids = pic.snapshot(stale_after_s=30.0, now=1002.0)
    got = dict(zip(party.tolist(), state.lat.tolist(), strict=True))
    assert abs(got[1] - 3.0) < 1e-9
    # Party 2's report came 2 s earlier: dead-reckoned 400 kt north for 2 s ≈ 0.0037°.
    assert abs(got[2] - (2.0 + 400 * 1852 / 3600 * 2 / 110574)) < 1e-4
    assert ids.tolist() == ["X", "X"]
    state, party, _ = pic.snapshot(stale_after_s=1.5, now=1002.0)  # party 2: 2 s old, stale
    assert party.tolist() == [1]
    assert len(pic) == 1, "stale aircraft leave the picture"


def test_a_party_clock_in_the_future_silences_no_one():
    pic = LivePicture()
    pic.update(batch([1], ["A"], [100.0], [45.0], [0.0]), 1000.0, 30.0)
    pic.update(batch([2], ["B"], [1e15], [45.2], [180.0]), 1000.0, 30.0)  # a wild clock
    state, party, _ = pic.snapshot(stale_after_s=30.0, now=1001.0)
    assert sorted(party.tolist()) == [1, 2]
    # A reset clock (older times) is taken once the held report is no longer recent.
    pic.update(batch([2], ["B"], [50.0], [46.0], [180.0]), 1006.0, 30.0)
    pic.update(batch([1], ["A"], [106.0], [45.0], [0.0]), 1006.0, 30.0)
    state, party, _ = pic.snapshot(stale_after_s=30.0, now=1006.0)
    assert dict(zip(party.tolist(), state.lat.round(3).tolist(), strict=True))[2] == 46.0


def test_cycle_publishes_each_side_its_half_then_clears():
    repo = MemoryRepository()
    blue = repo.add_party("blue", "h1").id
    red = repo.add_party("red", "h2").id
    published: list[AlertRecord] = []
    clock = Clock()
    eng = engine(repo, published, clock=clock)
    eng.ingest(batch([blue, red], ["A1", "B1"], [0.0, 0.0], [45.0, 45.2], [0.0, 180.0]))
    first = eng.cycle()
    assert {(r.party_id, r.own_id, r.event) for r in first} == {
        (blue, "A1", "new"),
        (red, "B1", "new"),
    }
    assert len({r.conflict_id for r in first}) == 1
    assert {r.manoeuvre for r in first} == {"climb", "descend"}
    assert all(r.intruder_range_nm and abs(r.intruder_range_nm - 12.0) < 0.2 for r in first)
    assert published == first and repo.alerts(None) == first
    assert eng.cycle() == []  # nothing changed: nothing pushed again
    # Red turns away, far: the conflict clears after clear_after_s.
    clock.now += 1.0
    eng.ingest(batch([red], ["B1"], [1.0], [48.0], [0.0]))
    eng.cycle()
    clock.now += 9.0
    eng.ingest(batch([blue, red], ["A1", "B1"], [10.0, 10.0], [45.1, 48.1], [0.0, 0.0]))
    cleared = eng.cycle()
    assert {(r.own_id, r.event, r.reason) for r in cleared} == {
        ("A1", "cleared", "resolved"),
        ("B1", "cleared", "resolved"),
    }


def test_restore_rebuilds_the_picture_from_storage():
    repo = MemoryRepository()
    blue = repo.add_party("blue", "h1").id
    repo.add_tracks(batch([blue, blue], ["A1", "A2"], [5.0, 6.0], [1.0, 2.0], [0.0, 0.0]))
    eng = engine(repo, [])
    eng.restore()
    assert len(eng.picture) == 2


def test_zone_entries_and_violations_become_alerts_of_the_owner_only():
    from deconflict.airspace.zones import Zones

    zones = Zones.from_geojson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "BORDER", "floor_ft": 0, "ceiling_ft": 40000},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[-0.1, 0.2], [0.1, 0.2], [0.1, 0.4], [-0.1, 0.4], [-0.1, 0.2]]
                        ],
                    },
                }
            ],
        }
    )
    repo = MemoryRepository()
    blue = repo.add_party("blue", "h1").id
    red = repo.add_party("red", "h2").id
    eng = DetectionEngine(
        repo,
        Agreement(),
        stale_after_s=30,
        detect_interval_s=0.01,
        idle_interval_s=1,
        id_secret="s",
        publish=lambda _: None,
        zones=zones,
        clock=Clock(),
    )
    # Blue heads north into the zone (12 NM ahead); red is inside it already.
    eng.ingest(batch([blue, red], ["A1", "B1"], [0.0, 0.0], [0.0, 0.3], [0.0, 90.0]))
    got = {(r.party_id, r.own_id): r for r in eng.cycle() if r.zone}
    assert got[(blue, "A1")].manoeuvre == "avoid_zone" and got[(blue, "A1")].level == "caution"
    assert 100 < got[(blue, "A1")].t_in_s < 115  # 0.2° ≈ 11.9 NM at 400 kt ≈ 107 s
    assert got[(red, "B1")].manoeuvre == "zone_violation" and got[(red, "B1")].t_in_s == 0.0
    assert got[(blue, "A1")].zone == "BORDER"
    # Red leaves: its zone alert clears.
    eng.ingest(batch([red], ["B1"], [1.0], [5.0], [90.0]))
    cleared = [r for r in eng.cycle() if r.zone and r.event == "cleared"]
    assert [(r.party_id, r.own_id, r.reason) for r in cleared] == [(red, "B1", "left_zone")]


def test_a_zone_for_red_only_alerts_red_and_not_blue():
    from deconflict.airspace.zones import Zones

    area = {
        "type": "Feature",
        "properties": {"name": "RED-ONLY", "parties": ["red"]},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[-0.1, 0.2], [0.1, 0.2], [0.1, 0.4], [-0.1, 0.4], [-0.1, 0.2]]],
        },
    }
    agreement = Agreement(protected_areas=(area,))
    repo = MemoryRepository()
    blue = repo.add_party("blue", "h1").id
    red = repo.add_party("red", "h2").id
    eng = DetectionEngine(
        repo,
        agreement,
        stale_after_s=30,
        detect_interval_s=0.01,
        idle_interval_s=1,
        id_secret="s",
        publish=lambda _: None,
        zones=Zones.from_agreement(agreement),
        clock=Clock(),
    )
    # Both inside the zone, 9.6 NM apart on parallel tracks (no conflict between them).
    eng.ingest(batch([blue, red], ["A1", "B1"], [0.0, 0.0], [0.22, 0.38], [90.0, 90.0]))
    got = [(r.party_id, r.own_id, r.manoeuvre) for r in eng.cycle() if r.zone]
    assert got == [(red, "B1", "zone_violation")]


def test_a_restart_keeps_open_conflicts_and_their_ids():
    repo = MemoryRepository()
    blue = repo.add_party("blue", "h1").id
    red = repo.add_party("red", "h2").id
    clock = Clock()
    first = engine(repo, [], clock=clock)
    head_on = batch([blue, red], ["A1", "B1"], [0.0, 0.0], [45.0, 45.2], [0.0, 180.0])
    repo.add_tracks(head_on)
    first.ingest(head_on)
    raised = first.cycle()
    (cid,) = {r.conflict_id for r in raised}
    # The broker dies; a new one restores from storage.
    clock.now += 2.0
    again = engine(repo, [], clock=clock)
    again.restore()
    assert again.cycle() == [], "no second 'new' alert for an open conflict"
    clock.now += 1.0
    again.ingest(batch([red], ["B1"], [3.0], [48.0], [0.0]))  # red leaves
    again.cycle()
    clock.now += 10.0
    again.ingest(batch([blue, red], ["A1", "B1"], [13.0, 13.0], [45.1, 48.1], [0.0, 0.0]))
    cleared = again.cycle()
    assert {(r.conflict_id, r.event) for r in cleared} == {(cid, "cleared")}


# -- issue 11 item 2: alerts of stale aircraft clear at once, saying so -------------------


def head_on(blue: int, red: int, t: float = 0.0) -> TrackBatch:
    """Blue's A1 north-bound and red's B1 south-bound, 12 NM apart at one level."""
    return batch([blue, red], ["A1", "B1"], [t, t], [45.0, 45.2], [0.0, 180.0])


def two_parties() -> tuple[MemoryRepository, int, int]:
    repo = MemoryRepository()
    return repo, repo.add_party("blue", "h1").id, repo.add_party("red", "h2").id


def test_every_track_stale_clears_open_conflicts_with_reason_stale():
    repo, blue, red = two_parties()
    published: list[AlertRecord] = []
    clock = Clock()
    eng = engine(repo, published, stale_after_s=10.0, clock=clock)
    eng.ingest(head_on(blue, red))
    (cid,) = {r.conflict_id for r in eng.cycle()}
    clock.now += 9.0
    assert eng.cycle() == []  # still fresh: nothing changes
    clock.now += 2.0  # no report for 11 s: both stale, the picture is empty
    cleared = eng.cycle()
    assert {(r.conflict_id, r.party_id, r.own_id, r.event, r.reason) for r in cleared} == {
        (cid, blue, "A1", "cleared", "stale"),
        (cid, red, "B1", "cleared", "stale"),
    }
    assert all(r.id > 0 for r in cleared) and published[-2:] == cleared
    assert len(eng.tracker) == 0 and len(eng.open) == 0
    clock.now += 10.0
    assert eng.cycle() == [], "cleared once"


def test_one_stale_aircraft_clears_its_conflict_in_the_same_cycle():
    repo, blue, red = two_parties()
    clock = Clock()
    eng = engine(repo, [], stale_after_s=10.0, clock=clock)
    eng.ingest(head_on(blue, red))
    eng.cycle()
    # Blue keeps reporting, south of red's last report, so the pair would still be
    # predicted in conflict if red were dead-reckoned further; red goes silent.
    for k in range(1, 11):
        clock.now += 1.0
        eng.ingest(batch([blue], ["A1"], [float(k)], [44.9], [0.0]))
        assert all(r.event != "cleared" for r in eng.cycle()), "both fresh for 10 s"
    clock.now += 0.5  # red's report is now 10.5 s old
    eng.ingest(batch([blue], ["A1"], [11.0], [44.9], [0.0]))
    cleared = eng.cycle()
    assert {(r.own_id, r.event, r.reason) for r in cleared} == {
        ("A1", "cleared", "stale"),
        ("B1", "cleared", "stale"),
    }
    assert len(eng.tracker) == 0


def test_zone_alerts_of_stale_aircraft_clear_with_reason_stale():
    from deconflict.airspace.zones import Zones

    square = [[-0.1, 0.2], [0.1, 0.2], [0.1, 0.4], [-0.1, 0.4], [-0.1, 0.2]]
    zones = Zones.from_geojson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "BORDER", "floor_ft": 0, "ceiling_ft": 40000},
                    "geometry": {"type": "Polygon", "coordinates": [square]},
                }
            ],
        }
    )
    repo, blue, red = two_parties()
    clock = Clock()
    eng = DetectionEngine(
        repo,
        Agreement(),
        stale_after_s=5.0,
        detect_interval_s=0.01,
        idle_interval_s=1.0,
        id_secret="s",
        publish=lambda _: None,
        zones=zones,
        clock=clock,
    )
    # Both inside the zone, 9.6 NM apart on parallel tracks (no conflict between them).
    eng.ingest(batch([red, blue], ["B1", "B2"], [0.0, 0.0], [0.22, 0.38], [90.0, 90.0]))
    raised = {r.own_id: r.conflict_id for r in eng.cycle() if r.zone}
    assert set(raised) == {"B1", "B2"}
    clock.now += 4.0
    eng.ingest(batch([blue], ["B2"], [4.0], [0.38], [90.0]))  # only B2 keeps reporting
    assert [r for r in eng.cycle() if r.event == "cleared"] == []
    clock.now += 2.0
    cleared = eng.cycle()
    assert [(r.conflict_id, r.own_id, r.zone, r.event, r.reason) for r in cleared] == [
        (raised["B1"], "B1", "BORDER", "cleared", "stale")
    ]


def test_keep_pairs_filters_every_per_pair_field():
    from deconflict.service.engine import _keep_pairs

    @dataclasses.dataclass(frozen=True)
    class Wider(AlertTracker):
        sense: npt.NDArray[np.int64] = dataclasses.field(default_factory=lambda: np.zeros(0))

    tracker = Wider(
        key=np.array(["a", "b", "c"]),
        conflict_id=np.array(["C1", "C2", "C3"]),
        level=np.array([1, 2, 3]),
        first_seen=np.array([1.0, 2.0, 3.0]),
        last_seen=np.array([4.0, 5.0, 6.0]),
        sense=np.array([-1, 0, 1]),
    )
    kept = _keep_pairs(tracker, np.array([True, False, True]))
    assert isinstance(kept, Wider)
    assert kept.conflict_id.tolist() == ["C1", "C3"] and kept.sense.tolist() == [-1, 1]
    assert kept.level.tolist() == [1, 3] and kept.last_seen.tolist() == [4.0, 6.0]


# -- issue 11 item 3: a restart judges staleness by when the broker received a report -----


def test_a_restart_does_not_revive_stale_tracks():
    repo, blue, red = two_parties()
    clock = Clock(time.time())  # the repository stamps received_at with the wall clock
    first = engine(repo, [], clock=clock)
    states = head_on(blue, red)
    repo.add_tracks(states)
    first.ingest(states)
    (cid,) = {r.conflict_id for r in first.cycle()}
    # The broker dies; a new one restores 35 s after the reports (stale_after_s 30).
    clock.now += 35.0
    published: list[AlertRecord] = []
    again = engine(repo, published, clock=clock)
    again.restore()
    cleared = again.cycle()
    assert {(r.conflict_id, r.own_id, r.event, r.reason) for r in cleared} == {
        (cid, "A1", "cleared", "stale"),
        (cid, "B1", "cleared", "stale"),
    }
    assert len(again.picture) == 0, "no stale aircraft is dead-reckoned, so no advisory"
    assert published == cleared and again.cycle() == []


def test_a_restart_keeps_fresh_tracks_at_their_receive_time():
    repo, blue, red = two_parties()
    clock = Clock(time.time())
    repo.add_tracks(head_on(blue, red))
    clock.now += 25.0
    eng = engine(repo, [], clock=clock)
    eng.restore()
    raised = eng.cycle()
    assert {r.event for r in raised} == {"new"}, "fresh: detection runs on them"
    clock.now += 6.0  # 31 s after the reports, not 31 s after the restart
    assert {(r.event, r.reason) for r in eng.cycle()} == {("cleared", "stale")}


def test_stored_states_sit_at_their_receive_time_on_the_broker_clock():
    pic = LivePicture()
    stored = dataclasses.replace(
        batch([1, 1, 2], ["A", "B", "C"], [100.0, 95.0, 7.0], [1.0, 2.0, 3.0], [0.0] * 3),
        received_at=np.array([500.0, 500.0, 480.0]),
    )
    pic.update(stored, now=600.0, stale_after_s=1e9)
    # One stored batch of party 1 (received at 500): its newest report is 500, B 5 s older.
    assert dict(zip(pic.id.tolist(), pic.cols["t_broker"].tolist(), strict=True)) == {
        "A": 500.0,
        "B": 495.0,
        "C": 480.0,
    }
    future = dataclasses.replace(stored, received_at=np.full(3, 900.0))
    late = LivePicture()
    late.update(future, now=600.0, stale_after_s=1e9)  # never received after now
    assert late.cols["t_broker"].max() == 600.0


# -- issue 11 item 19: nothing finer than a cockpit traffic display ----------------------


def on_grid(value: float | None, step: float) -> bool:
    """True when ``value`` is None or a whole multiple of ``step``."""
    return value is None or abs(value / step - round(value / step)) < 1e-6


def test_alert_records_are_quantised_to_display_precision():
    repo, blue, red = two_parties()
    eng = engine(repo, [])
    odd = batch([blue, red], ["A1", "B1"], [0.0, 0.0], [45.0, 45.1789], [3.7, 181.3])
    odd = dataclasses.replace(odd, lon=np.array([0.0, 0.0123]), alt_ft=np.array([30000, 30370.0]))
    eng.ingest(odd)
    raised = eng.cycle()
    assert len(raised) == 2
    for r in raised:
        assert on_grid(r.intruder_range_nm, 0.1), r.intruder_range_nm
        assert on_grid(r.intruder_bearing_deg, 1.0) and 0 <= r.intruder_bearing_deg < 360
        assert on_grid(r.intruder_rel_alt_ft, 100.0), r.intruder_rel_alt_ft
        assert on_grid(r.intruder_closure_kt, 10.0), r.intruder_closure_kt
        assert on_grid(r.t_in_s, 1.0), r.t_in_s
    for r in raised:  # the advisory's targets are derived from the intruder too
        if r.manoeuvre in ("climb", "descend"):
            assert on_grid(r.target_vs_fpm, 100.0), r.target_vs_fpm
    assert repo.alerts(None) == raised, "stored as published"
    by_own = {r.own_id: r for r in raised}
    assert by_own["A1"].intruder_rel_alt_ft == 400.0 and by_own["B1"].intruder_rel_alt_ft == -400.0


def test_disclosed_targets_never_ask_for_less_and_hide_the_exact_geometry():
    man = np.array(["climb", "descend", "turn_right", "turn_left", "no_safe_manoeuvre", ""])
    own_vs = np.array([0.0, -500.0, 120.0, 0.0, 0.0, 0.0])
    vs = np.array([1234.5, -1750.2, 120.0, 0.0, np.nan, np.nan])
    own_trk = np.array([90.0, 10.0, 359.3, 5.2, 7.0, 8.0])
    trk = np.array([90.0, 10.0, 359.3 + 23.42 - 360.0, 5.2 - 17.01 + 360.0, np.nan, np.nan])
    out_vs, out_trk = disclosed_targets(man, own_vs, vs, own_trk, trk)
    assert out_vs[:3].tolist() == [1300.0, -1800.0, 120.0]  # climb up, descent down, own rate
    assert np.isnan(out_vs[4:]).all() and np.isnan(out_trk[4:]).all()
    assert out_trk[:2].tolist() == [90.0, 10.0]
    assert np.isclose(out_trk[2], (359.3 + 24.0) % 360.0)  # right: 23.42 deg -> 24
    assert np.isclose(out_trk[3], 5.2 - 18.0 + 360.0)  # left: 17.01 deg -> 18


def test_a_party_that_corrects_a_fast_clock_is_heard_again_within_the_reorder_window():
    """A report an hour ahead, then correct ones every second: taken within 5 s, no stale."""
    repo, blue, red = two_parties()
    published: list[AlertRecord] = []
    clock = Clock()
    eng = engine(repo, published, stale_after_s=10.0, clock=clock)
    eng.ingest(batch([blue, red], ["A1", "B1"], [3600.0, 0.0], [45.0, 45.2], [0.0, 180.0]))
    eng.cycle()
    first = {r.own_id: r.conflict_id for r in published}
    assert set(first) == {"A1", "B1"}
    taken_at = None
    for k in range(1, 20):  # blue's clock is right again; both report every second
        clock.now += 1.0
        lat = 45.0 + k * 0.002
        eng.ingest(batch([blue, red], ["A1", "B1"], [float(k), float(k)], [lat, 45.2], [0, 180]))
        eng.cycle()
        i = int(np.flatnonzero(eng.picture.id == "A1")[0])
        if taken_at is None and eng.picture.cols["time"][i] == float(k):
            taken_at = k
    assert taken_at is not None and taken_at <= REORDER_WINDOW_S + 1
    assert not [r for r in published if r.event == "cleared"], "no stale clear of a live track"
    assert {r.conflict_id for r in published} == set(first.values()), "one conflict throughout"


def test_the_first_cycle_runs_at_start():
    repo, blue, red = two_parties()
    published: list[AlertRecord] = []
    eng = DetectionEngine(
        repo,
        Agreement(),
        stale_after_s=30.0,
        detect_interval_s=0.01,
        idle_interval_s=60.0,  # without the start-up cycle, nothing would run for a minute
        id_secret="test",
        publish=published.extend,
    )
    eng.picture.update(
        batch([blue, red], ["A1", "B1"], [0.0, 0.0], [45.0, 45.2], [0.0, 180.0]), time.time(), 30
    )
    eng.start()
    try:
        deadline = time.monotonic() + 10.0
        while not published and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        eng.stop()
    assert {r.own_id for r in published} == {"A1", "B1"}


def test_alert_records_are_built_in_bulk_with_nan_as_none():
    from deconflict.service.engine import alert_records

    out = alert_records(
        2,
        conflict_id=np.array(["C1", "C2"]),
        party_id=np.array([1, 2]),
        own_id=np.array(["A", "B"]),
        event="new",
        level=np.array(["caution", "warning"]),
        manoeuvre=np.array(["climb", "descend"]),
        t_in_s=np.array([12.0, np.nan]),
        time=5.0,
        created_at=7.0,
        reason=np.array([None, "reversal"], dtype=object),
    )
    assert [(r.id, r.conflict_id, r.party_id, r.event, r.t_in_s, r.reason) for r in out] == [
        (0, "C1", 1, "new", 12.0, None),
        (0, "C2", 2, "new", None, "reversal"),
    ]
    assert all(type(r.party_id) is int and r.zone is None and r.target_vs_fpm is None for r in out)
    assert alert_records(0, conflict_id=np.zeros(0, dtype=np.str_)) == []


def test_open_alerts_take_longer_levels_and_manoeuvres_whole():
    from deconflict.service.engine import OpenAlerts

    def rows(keys: list[str], level: str, manoeuvre: str, seq: int) -> OpenAlerts:
        n = len(keys)
        text = np.array(keys)
        return OpenAlerts(
            key=text,
            topic=text,
            own=text,
            party_id=np.ones(n, dtype=np.int64),
            own_id=text,
            alert_id=text,
            level=np.full(n, level),
            manoeuvre=np.full(n, manoeuvre),
            seq=np.arange(seq, seq + n),
        )

    table = OpenAlerts.empty().upsert(rows(["b", "a"], "warning", "climb", 0))
    assert table.key.tolist() == ["a", "b"] and table.seq.tolist() == [1, 0]
    table = table.upsert(rows(["a", "c"], "advisory", "zone_violation", 5))
    assert table.key.tolist() == ["a", "b", "c"]
    assert table.level.tolist() == ["advisory", "warning", "advisory"]
    assert table.manoeuvre.tolist() == ["zone_violation", "climb", "zone_violation"]
    assert table.seq.tolist() == [1, 0, 6]  # an open alert keeps its place in the sent order
    found, pos = table.find(np.array(["c", "zz"]))
    assert found.tolist() == [True, False] and int(pos[0]) == 2
