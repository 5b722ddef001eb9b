"""A real broker (``deconflict serve``) for the map's tests, and a feeder of live tracks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from deconflict.store.migrate import upgrade
from tests.service.conftest import Broker, Client, quick_party, start_broker

#: Tracks go stale (and their conflicts clear) after this long without a report (s).
STALE_AFTER_S = 2.0

#: Blue's aircraft near the map's default centre; red's head-on with BLUE1 when it flies.
BLUE = [
    {"id": "BLUE1", "lat": 35.0, "lon": 38.2, "alt_ft": 20000.0, "track_deg": 90.0},
    {"id": "BLUE2", "lat": 34.4, "lon": 38.6, "alt_ft": 25000.0, "track_deg": 0.0},
]
RED = [{"id": "RED9", "lat": 35.0, "lon": 38.8, "alt_ft": 20000.0, "track_deg": 270.0}]


@dataclass
class Deployment:
    broker: Broker
    blue: Client
    red: Client
    wg: Client


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One broker per module (SQLite), blue and red (agreement acknowledged) and an admin."""
    tmp = tmp_path_factory.mktemp("map")
    db = f"sqlite:///{tmp / 'broker.db'}"
    upgrade(db)
    broker = start_broker(db, tmp, "--stale-after-s", str(STALE_AFTER_S))
    blue, red, wg = (
        Client(name, quick_party(db, name, admin=name == "wg"), broker.url)
        for name in ("blue", "red", "wg")
    )
    blue.ack()
    red.ack()
    yield Deployment(broker, blue, red, wg)
    broker.stop()


def states(rows: list[dict[str, object]], t: float) -> list[dict[str, object]]:
    """``rows`` as a batch at time ``t`` (450 kt, level)."""
    return [{**r, "time": t, "gs_kt": 450.0, "vs_fpm": 0.0} for r in rows]


@dataclass
class Feeder:
    """Posts the parties' states every ``period_s`` (now as their time) until stopped."""

    parties: dict[str, tuple[Client, list[dict[str, object]]]]
    period_s: float = 0.4
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Feeder:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            while not self._stop.is_set():
                now = time.time()
                for client, rows in list(self.parties.values()):
                    http.post(
                        client.base + "/tracks", headers=client.headers, json=states(rows, now)
                    )
                self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


@pytest.fixture
def feeder() -> Iterator[Feeder]:
    f = Feeder({})
    yield f
    f.stop()
