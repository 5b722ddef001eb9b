"""Track retention: the pruner deletes old states on the broker's clock, keeps the alerts."""

from __future__ import annotations

import time

from deconflict.service.retention import TrackPruner, prune_every_s
from tests.fakes.memory import MemoryRepository
from tests.store.conftest import make_alert, make_batch


def test_prune_interval_follows_short_retentions():
    assert prune_every_s(300.0) == 2.0
    assert prune_every_s(1.0) == 0.1


def test_prune_once_deletes_what_is_older_than_the_retention():
    repo = MemoryRepository()
    p = repo.add_party("blue", "h").id
    repo.add_tracks(make_batch(p, ["A", "B"], [1.0, 1.0]))
    repo.add_alerts([make_alert(p)])
    now = [time.time()]
    pruner = TrackPruner(repo, 10.0, clock=lambda: now[0])
    assert pruner.prune_once() == 0  # received just now: kept
    now[0] += 11.0
    assert pruner.prune_once() == 2 and pruner.pruned == 2
    assert len(repo.latest_tracks(-1e300)) == 0 and len(repo.alerts(None)) == 1


def test_the_pruner_thread_keeps_the_table_bounded_and_stops():
    repo = MemoryRepository()
    p = repo.add_party("blue", "h").id
    pruner = TrackPruner(repo, 0.2, every_s=0.02)
    pruner.start()
    try:
        for k in range(30):
            repo.add_tracks(make_batch(p, [f"A{k}"], [float(k)]))
            time.sleep(0.02)
        held = len(repo.latest_tracks(-1e300))
        assert 1 <= held <= 20  # about 0.2 s of one state per 0.02 s, never all 30
    finally:
        pruner.stop()
    assert pruner.pruned >= 10
