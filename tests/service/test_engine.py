"""The detection engine in-process, on the in-memory repository."""

from __future__ import annotations

import numpy as np

from deconflict import Agreement
from deconflict.service.engine import DetectionEngine, LivePicture
from deconflict.store.memory import MemoryRepository
from deconflict.store.records import AlertRecord, TrackBatch


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
    """A broker clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

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
    # A reset clock (older times) is taken once the held report is stale.
    pic.update(batch([2], ["B"], [50.0], [46.0], [180.0]), 1040.0, 30.0)
    pic.update(batch([1], ["A"], [140.0], [45.0], [0.0]), 1040.0, 30.0)
    state, party, _ = pic.snapshot(stale_after_s=30.0, now=1040.0)
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
    assert {(r.own_id, r.event) for r in cleared} == {("A1", "cleared"), ("B1", "cleared")}


def test_restore_rebuilds_the_picture_from_storage():
    repo = MemoryRepository()
    blue = repo.add_party("blue", "h1").id
    repo.add_tracks(batch([blue, blue], ["A1", "A2"], [5.0, 6.0], [1.0, 2.0], [0.0, 0.0]))
    eng = engine(repo, [])
    eng.restore()
    assert len(eng.picture) == 2


def test_zone_entries_and_violations_become_alerts_of_the_owner_only():
    from deconflict.zones import as_zones

    zones = as_zones(
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
    assert [(r.party_id, r.own_id) for r in cleared] == [(red, "B1")]


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
