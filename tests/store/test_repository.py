"""One behavioural suite for every Repository: memory fake, SQLite file, PostgreSQL."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from deconflict.errors import InputError
from deconflict.store.records import TrackBatch
from deconflict.store.repository import Repository
from tests.store.conftest import make_alert, make_batch

# -- parties ---------------------------------------------------------------------------


def test_add_party_returns_the_record(repo: Repository):
    before = time.time()
    p = repo.add_party("blue", "h-blue")
    assert p.name == "blue" and not p.is_admin and not p.revoked
    assert p.acked_fingerprint is None
    assert before - 1 <= p.created_at <= time.time() + 1
    admin = repo.add_party("wg", "h-wg", is_admin=True)
    assert admin.is_admin and admin.id != p.id


def test_list_parties_in_creation_order(repo: Repository):
    assert repo.list_parties() == []
    names = ["red", "blue", "amber"]
    added = [repo.add_party(n, f"h-{n}") for n in names]
    listed = repo.list_parties()
    assert [p.name for p in listed] == names
    assert listed == added


def test_duplicate_party_name_is_an_input_error(repo: Repository):
    repo.add_party("blue", "h1")
    with pytest.raises(InputError, match=r"^party 'blue' already exists$"):
        repo.add_party("blue", "h2")
    assert [p.name for p in repo.list_parties()] == ["blue"]
    # the failed insert leaves the repository usable
    assert repo.add_party("red", "h2").name == "red"


def test_duplicate_token_hash_is_an_input_error(repo: Repository):
    repo.add_party("blue", "same")
    with pytest.raises(InputError, match="token hash"):
        repo.add_party("red", "same")
    assert [p.name for p in repo.list_parties()] == ["blue"]


def test_party_by_token_hash(repo: Repository):
    blue = repo.add_party("blue", "h-blue")
    repo.add_party("red", "h-red")
    assert repo.party_by_token_hash("h-blue") == blue
    assert repo.party_by_token_hash("h-red").name == "red"
    assert repo.party_by_token_hash("nope") is None


def test_revoke_party(repo: Repository):
    repo.add_party("blue", "h-blue")
    repo.add_party("red", "h-red")
    assert repo.revoke_party("blue") is True
    assert repo.revoke_party("blue") is True  # again: still known
    assert repo.revoke_party("nobody") is False
    by_name = {p.name: p for p in repo.list_parties()}
    assert by_name["blue"].revoked and not by_name["red"].revoked
    # a revoked token is still found (so the service can say "revoked", not "unknown")
    assert repo.party_by_token_hash("h-blue").revoked


def test_ack_agreement(repo: Repository):
    blue = repo.add_party("blue", "h-blue")
    red = repo.add_party("red", "h-red")
    repo.ack_agreement(blue.id, "f" * 64)
    assert repo.party_by_token_hash("h-blue").acked_fingerprint == "f" * 64
    assert repo.party_by_token_hash("h-red").acked_fingerprint is None
    repo.ack_agreement(blue.id, "a" * 64)  # a new agreement replaces the old
    assert {p.name: p.acked_fingerprint for p in repo.list_parties()} == {
        "blue": "a" * 64,
        "red": None,
    }
    with pytest.raises(InputError, match="no party with id"):
        repo.ack_agreement(red.id + 100, "x")


# -- track states ----------------------------------------------------------------------


def test_add_tracks_counts_and_empty_batch(repo: Repository):
    p = repo.add_party("blue", "h")
    assert repo.add_tracks(make_batch(p.id, [], [])) == 0
    assert repo.add_tracks(make_batch(p.id, ["A", "B"], [1.0, 1.0])) == 2
    assert len(repo.latest_tracks(0.0)) == 2


def test_latest_tracks_picks_the_newest_per_aircraft(repo: Repository):
    p = repo.add_party("blue", "h").id
    repo.add_tracks(make_batch(p, ["A", "B", "A"], [10.0, 11.0, 12.0], lat=[1.0, 2.0, 3.0]))
    # out of order: an older A arrives later and must not win
    repo.add_tracks(make_batch(p, ["A", "B"], [11.0, 13.0], lat=[4.0, 5.0]))
    latest = repo.latest_tracks(0.0)
    assert latest.id.tolist() == ["A", "B"]
    assert latest.time.tolist() == [12.0, 13.0]
    assert latest.lat.tolist() == [3.0, 5.0]


def test_latest_tracks_tie_on_time_takes_the_last_stored(repo: Repository):
    p = repo.add_party("blue", "h").id
    repo.add_tracks(make_batch(p, ["A"], [10.0], lat=[1.0]))
    repo.add_tracks(make_batch(p, ["A"], [10.0], lat=[2.0]))
    assert repo.latest_tracks(0.0).lat.tolist() == [2.0]


def test_latest_tracks_of_one_party_give_one_row_per_aircraft(repo: Repository):
    """Issue 11 item 18: one aircraft posted three times with one time is one row."""
    blue = repo.add_party("blue", "hb").id
    red = repo.add_party("red", "hr").id
    for lat in (1.0, 2.0, 3.0):
        repo.add_tracks(make_batch([blue, red], ["A", "A"], [10.0, 10.0], lat=[lat, -lat]))
    repo.add_tracks(make_batch(blue, ["B"], [5.0]))
    own = repo.latest_tracks(-1e300, party_id=blue)
    assert own.id.tolist() == ["A", "B"] and set(own.party_id.tolist()) == {blue}
    assert own.lat.tolist() == [3.0, 0.0]  # the tie on time goes to the last received
    assert repo.latest_tracks(-1e300, party_id=red).lat.tolist() == [-3.0]
    every = repo.latest_tracks(-1e300)
    assert list(zip(every.party_id.tolist(), every.id.tolist(), strict=True)) == [
        (blue, "A"),
        (blue, "B"),
        (red, "A"),
    ]
    assert len(repo.latest_tracks(-1e300, party_id=red + 100)) == 0


def test_latest_tracks_carry_the_broker_receive_time(repo: Repository):
    """Issue 11 item 3: the receive time survives, so a restart can judge staleness by it."""
    p = repo.add_party("blue", "h").id
    before = time.time()
    repo.add_tracks(make_batch(p, ["A", "B"], [1.0, 1.0]))
    middle = time.time()
    repo.add_tracks(make_batch(p, ["B"], [2.0]))
    after = time.time()
    latest = repo.latest_tracks(0.0)
    assert latest.received_at is not None and latest.received_at.dtype == np.float64
    a, b = latest.received_at.tolist()
    assert before <= a <= middle <= b <= after
    assert repo.latest_tracks(99.0).received_at.tolist() == []


def test_prune_tracks_deletes_states_received_before_and_keeps_alerts(repo: Repository):
    """Issue 17 item 3: the live picture's history is bounded; the alerts are the record."""
    p = repo.add_party("blue", "h").id
    repo.add_tracks(make_batch(p, ["A", "B"], [1.0, 1.0]))
    repo.add_tracks(make_batch(p, ["A"], [2.0]))
    [alert] = repo.add_alerts([make_alert(p)])
    time.sleep(0.005)
    cutoff = time.time()
    time.sleep(0.005)
    repo.add_tracks(make_batch(p, ["B"], [3.0], lat=[7.0]))
    assert repo.prune_tracks(cutoff - 3600.0) == 0
    assert repo.prune_tracks(cutoff) == 3
    latest = repo.latest_tracks(-1e300)
    assert latest.id.tolist() == ["B"] and latest.lat.tolist() == [7.0]
    assert len(repo.tracks_of_party(p, 10)) == 1
    assert repo.prune_tracks(cutoff) == 0
    assert repo.alerts(None) == [alert]
    assert repo.prune_tracks(time.time() + 1.0) == 1
    assert len(repo.latest_tracks(-1e300)) == 0
    assert repo.add_tracks(make_batch(p, ["C"], [4.0])) == 1


def test_prune_tracks_in_chunks_deletes_them_all(repo: Repository, monkeypatch: pytest.MonkeyPatch):
    """The SQL store deletes in short transactions of PRUNE_CHUNK_ROWS: all of them go."""
    import deconflict.store.sql as sql

    monkeypatch.setattr(sql, "PRUNE_CHUNK_ROWS", 2)
    p = repo.add_party("blue", "h").id
    repo.add_tracks(make_batch(p, [f"A{i}" for i in range(7)], [float(i) for i in range(7)]))
    assert repo.prune_tracks(time.time() + 1.0) == 7
    assert len(repo.latest_tracks(-1e300)) == 0


def test_latest_tracks_respects_since_time(repo: Repository):
    p = repo.add_party("blue", "h").id
    repo.add_tracks(make_batch(p, ["OLD", "A", "A", "B"], [5.0, 9.0, 20.0, 10.0]))
    latest = repo.latest_tracks(10.0)  # inclusive bound
    assert latest.id.tolist() == ["A", "B"]
    assert latest.time.tolist() == [20.0, 10.0]
    assert repo.latest_tracks(20.0).id.tolist() == ["A"]
    assert len(repo.latest_tracks(20.5)) == 0


def test_latest_tracks_keeps_parties_apart_and_is_ordered(repo: Repository):
    blue = repo.add_party("blue", "hb").id
    red = repo.add_party("red", "hr").id
    # the same aircraft id reported by two parties is two aircraft
    repo.add_tracks(make_batch([red, blue, red, blue], ["X", "X", "A", "Z"], [1, 2, 3, 4]))
    latest = repo.latest_tracks(0.0)
    assert list(zip(latest.party_id.tolist(), latest.id.tolist(), strict=True)) == [
        (blue, "X"),
        (blue, "Z"),
        (red, "A"),
        (red, "X"),
    ]
    assert latest.time.tolist() == [2.0, 4.0, 3.0, 1.0]


def test_track_values_round_trip_exactly_with_numpy_dtypes(repo: Repository):
    p = repo.add_party("blue", "h").id
    rng = np.random.default_rng(7)
    n = 50
    values = {c: rng.normal(size=n) * 1000 for c in ("lat", "lon", "alt_ft", "gs_kt")}
    values["track_deg"] = rng.uniform(0, 360, n)
    values["vs_fpm"] = rng.normal(size=n) * 3000
    ids = [f"ÄC-{i:03d}" for i in range(n)]  # non-ASCII ids survive too
    times = (1.7e9 + rng.uniform(0, 1, n)).tolist()
    repo.add_tracks(make_batch(p, ids, times, **{k: v.tolist() for k, v in values.items()}))
    latest = repo.latest_tracks(0.0)
    assert isinstance(latest, TrackBatch) and len(latest) == n
    assert latest.party_id.dtype == np.int64
    assert latest.id.dtype.kind == "U"
    for name in ("time", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm"):
        assert getattr(latest, name).dtype == np.float64
    assert latest.id.tolist() == ids
    assert latest.time.tolist() == times
    for name, v in values.items():
        assert getattr(latest, name).tolist() == v.tolist(), name


def test_empty_results_are_empty_batches(repo: Repository):
    for batch in (repo.latest_tracks(0.0), repo.tracks_of_party(1, 10)):
        assert len(batch) == 0
        assert batch.party_id.dtype == np.int64 and batch.time.dtype == np.float64


def test_tracks_of_party_isolation_order_and_limit(repo: Repository):
    blue = repo.add_party("blue", "hb").id
    red = repo.add_party("red", "hr").id
    repo.add_tracks(make_batch([blue, red, blue], ["B1", "R1", "B2"], [1.0, 2.0, 3.0]))
    repo.add_tracks(make_batch([red, blue], ["R2", "B3"], [4.0, 5.0]))
    own = repo.tracks_of_party(blue, 10)
    assert own.id.tolist() == ["B3", "B2", "B1"]  # newest first
    assert set(own.party_id.tolist()) == {blue}
    assert repo.tracks_of_party(red, 10).id.tolist() == ["R2", "R1"]
    assert repo.tracks_of_party(blue, 2).id.tolist() == ["B3", "B2"]
    assert len(repo.tracks_of_party(blue, 0)) == 0
    assert len(repo.tracks_of_party(red + 100, 10)) == 0


def test_tracks_of_an_unknown_party_are_refused_whole(repo: Repository):
    p = repo.add_party("blue", "h").id
    with pytest.raises(InputError, match=rf"party_id {p + 7} names no party"):
        repo.add_tracks(make_batch([p, p + 7], ["A", "B"], [1.0, 1.0]))
    assert len(repo.latest_tracks(0.0)) == 0
    assert repo.add_tracks(make_batch(p, ["A"], [1.0])) == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_states_are_refused(repo: Repository, bad: float):
    p = repo.add_party("blue", "h").id
    with pytest.raises(InputError, match=r"'alt_ft' row 1"):
        repo.add_tracks(make_batch(p, ["A", "B"], [1.0, 1.0], alt_ft=[0.0, bad]))
    assert len(repo.latest_tracks(0.0)) == 0


def test_a_large_batch_round_trips(repo: Repository):
    p = repo.add_party("blue", "h").id
    n = 5000
    ids = [f"AC{i % 500:03d}" for i in range(n)]
    times = (np.arange(n) // 500).astype(float).tolist()  # 10 snapshots of 500 aircraft
    lat = np.linspace(-60, 60, n).tolist()
    assert repo.add_tracks(make_batch(p, ids, times, lat=lat)) == n
    latest = repo.latest_tracks(0.0)
    assert len(latest) == 500 and set(latest.time.tolist()) == {9.0}
    assert latest.lat.tolist() == lat[-500:]
    assert len(repo.tracks_of_party(p, 10_000)) == n


# -- alerts ----------------------------------------------------------------------------


def test_add_alerts_assigns_increasing_ids(repo: Repository):
    p = repo.add_party("blue", "h").id
    alerts = [make_alert(p, own_id=f"AC{i}") for i in range(3)]
    stored = repo.add_alerts(alerts)
    ids = [a.id for a in stored]
    assert all(i > 0 for i in ids) and ids == sorted(ids) and len(set(ids)) == 3
    for a, s in zip(alerts, stored, strict=True):
        assert s == type(a)(**{**a.__dict__, "id": s.id})
    assert repo.alerts(p) == stored
    assert repo.add_alerts([]) == []


def test_alert_optional_numbers_none_and_nan(repo: Repository):
    p = repo.add_party("blue", "h").id
    [stored] = repo.add_alerts(
        [make_alert(p, target_vs_fpm=None, t_in_s=math.nan, intruder_closure_kt=None)]
    )
    [read] = repo.alerts(p)
    assert read == stored
    assert read.target_vs_fpm is None and read.t_in_s is None
    assert read.intruder_closure_kt is None and read.intruder_range_nm == 7.25


def test_alert_reason_round_trips(repo: Repository):
    """Issue 11 item 2: a cleared event says why (absent: None)."""
    p = repo.add_party("blue", "h").id
    stored = repo.add_alerts(
        [make_alert(p), make_alert(p, event="cleared", reason="stale", level="none")]
    )
    assert [a.reason for a in repo.alerts(p)] == [None, "stale"]
    assert repo.alerts_of_conflict("c1", p) == stored


def test_alerts_per_party_after_id_and_limit(repo: Repository):
    blue = repo.add_party("blue", "hb").id
    red = repo.add_party("red", "hr").id
    stored = repo.add_alerts(
        [make_alert(blue, own_id="B1"), make_alert(red, own_id="R1"), make_alert(blue, "c2")]
    )
    stored += repo.add_alerts([make_alert(red, "c2", own_id="R2", event="cleared")])
    b1, r1, b2, r2 = stored
    assert repo.alerts(blue) == [b1, b2]
    assert repo.alerts(red) == [r1, r2]
    assert repo.alerts(None) == [b1, r1, b2, r2]
    assert repo.alerts(blue, after_id=b1.id) == [b2]
    assert repo.alerts(None, after_id=r1.id) == [b2, r2]
    assert repo.alerts(None, after_id=r2.id) == []
    assert repo.alerts(None, limit=2) == [b1, r1]
    assert repo.alerts(red, after_id=0, limit=1) == [r1]
    assert repo.alerts(None, limit=0) == []
    assert repo.alerts(red + 100) == []


def test_alerts_of_conflict(repo: Repository):
    blue = repo.add_party("blue", "hb").id
    red = repo.add_party("red", "hr").id
    b1, r1, other, b2 = repo.add_alerts(
        [
            make_alert(blue, "c1", event="new"),
            make_alert(red, "c1", event="new"),
            make_alert(blue, "c9"),
            make_alert(blue, "c1", event="cleared"),
        ]
    )
    assert repo.alerts_of_conflict("c1", blue) == [b1, b2]
    assert repo.alerts_of_conflict("c1", red) == [r1]
    assert repo.alerts_of_conflict("c1", None) == [b1, r1, b2]
    assert repo.alerts_of_conflict("c9", None) == [other]
    assert repo.alerts_of_conflict("c1", red + 100) == []
    assert repo.alerts_of_conflict("nope", None) == []


def test_alerts_of_an_unknown_party_are_refused_whole(repo: Repository):
    p = repo.add_party("blue", "h").id
    with pytest.raises(InputError, match=rf"party_id {p + 1} names no party"):
        repo.add_alerts([make_alert(p), make_alert(p + 1)])
    assert repo.alerts(None) == []


# -- health ----------------------------------------------------------------------------


def test_health(repo: Repository):
    assert repo.health() is True


def test_plan_volumes_and_overlaps(repo):
    from deconflict.store.records import OverlapRecord, PlanVolumeRecord

    blue = repo.add_party("blue-plan", "hb").id
    red = repo.add_party("red-plan", "hr").id
    assert repo.add_plan_volumes([PlanVolumeRecord(blue, "op1", '{"type": "Feature"}', 1.0)]) == 1
    repo.add_plan_volumes([PlanVolumeRecord(red, "r1", '{"x": 1}', 2.0)])
    assert [v.volume_id for v in repo.plan_volumes(exclude_party_id=blue)] == ["r1"]
    assert [v.volume_id for v in repo.plan_volumes()] == ["op1", "r1"]
    halves = [
        OverlapRecord(0, "O1", blue, "op1", '{"type": "Point"}', 1.0, 2.0, 3.0, 4.0, 5.0),
        OverlapRecord(0, "O1", red, "r1", '{"type": "Point"}', 1.0, 2.0, 3.0, 4.0, 5.0),
    ]
    stored = repo.add_overlaps(halves)
    assert all(o.id > 0 for o in stored)
    assert [o.own_volume_id for o in repo.overlaps(blue)] == ["op1"]
    assert len(repo.overlaps(None)) == 2
    import pytest

    from deconflict.errors import InputError

    with pytest.raises(InputError):
        repo.add_plan_volumes([PlanVolumeRecord(999, "x", "{}", 0.0)])


def test_the_repository_refuses_names_the_hotline_would(repo: Repository):
    for bad in ("all", "红", 'a"b', "a b", "", "x" * 65):
        with pytest.raises(InputError, match="party name"):
            repo.add_party(bad, f"h-{bad}")
    assert [p.name for p in repo.list_parties()] == []
