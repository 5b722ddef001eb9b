"""The hub: each connection gets its own party's events (admins all), in order, in one go."""

from __future__ import annotations

import asyncio

from deconflict.service.hub import Hub, group_by_party
from deconflict.store.records import AlertRecord
from tests.store.conftest import make_alert


def records() -> list[AlertRecord]:
    return [make_alert(p, conflict_id=f"c{k}") for k, p in enumerate([2, 1, 2, 3, 1, 2])]


def test_group_by_party_keeps_each_partys_order():
    groups = group_by_party(records())
    assert {p: [r.conflict_id for r in rs] for p, rs in groups.items()} == {
        1: ["c1", "c4"],
        2: ["c0", "c2", "c5"],
        3: ["c3"],
    }
    assert group_by_party([]) == {}


def test_publish_gives_each_party_its_own_and_admins_everything_in_order():
    async def run() -> dict[str, list[str]]:
        hub = Hub()
        subs = {
            "one": hub.subscribe(1, False),
            "two": hub.subscribe(2, False),
            "four": hub.subscribe(4, False),
            "admin": hub.subscribe(9, True),
        }
        await asyncio.to_thread(hub.publish, records())  # from another thread, as the engine
        await asyncio.to_thread(hub.announce, {"type": "cycle"})
        await asyncio.sleep(0)
        got: dict[str, list[str]] = {}
        for name, sub in subs.items():
            items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
            got[name] = [i["type"] if isinstance(i, dict) else i.conflict_id for i in items]
        hub.unsubscribe(subs["one"])
        await asyncio.to_thread(hub.publish, records())
        await asyncio.sleep(0)
        assert subs["one"].queue.empty()
        return got

    assert asyncio.run(run()) == {
        "one": ["c1", "c4", "cycle"],
        "two": ["c0", "c2", "c5", "cycle"],
        "four": ["cycle"],
        "admin": ["c0", "c1", "c2", "c3", "c4", "c5", "cycle"],
    }
