"""``deconflict demo --serve``: the exercise in real time (or ×N), for the live map.

:func:`serve_demo` starts the broker and the backup relay in ``out/serve`` as the demo
does (:mod:`deconflict.sim.demo`), registers the parties, hands the caller the broker's
URL and the tokens (``on_ready``: to print the map's URL per party), then flies the
protocol-on run with a detection cycle every step, paced so that one simulated second
takes ``1 / speed`` wall seconds. Each step's cycle sends every map its picture. Every
process it starts is stopped when it returns or raises (Ctrl-C included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deconflict.errors import InputError
from deconflict.io.agreement_file import save_agreement
from deconflict.sim.demo import broker_service, demo_agreement, run_run
from deconflict.sim.demo_hotline import DemoHotline, backup_service
from deconflict.sim.live import party_tokens, services
from deconflict.sim.scenario import Scenario

#: Name the working group's (admin) token is registered under.
WORKING_GROUP = "exercise-host"


class StoppedError(Exception):
    """:func:`serve_demo` was asked to stop before the scenario's end."""


@dataclass(frozen=True)
class ServeInfo:
    """What a person needs to open the maps: the broker's URL and each party's token."""

    url: str
    tokens: dict[str, str]
    admin_token: str

    @property
    def map_url(self) -> str:
        """The live map's page."""
        return f"{self.url}/map"

    def map_url_of(self, party: str) -> str:
        """The page with ``party`` named on its login form (no token in it)."""
        return f"{self.map_url}?as={party}"


def serve_demo(
    scenario: Scenario,
    out: Path,
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    on_ready: Callable[[ServeInfo], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> float:
    """Fly the protocol-on run in real time ×``speed`` through a broker; wall s it took.

    ``on_ready`` is called once the broker answers and the parties are registered;
    ``on_step(k, n)`` after each step. Setting ``stop`` (from another thread) ends the
    run after the current step, raising :class:`StoppedError` once every process is stopped.
    """
    if not speed > 0:
        raise InputError(f"--speed: expected a number > 0, got {speed:g}")
    started = time.monotonic()
    out = out.resolve()
    data = out / "serve"
    data.mkdir(parents=True, exist_ok=True)
    for stale in [*data.glob("*.db*"), *data.glob("*.audit.jsonl")]:
        stale.unlink()  # a fresh exercise: no parties, alerts or hotline of the last
    agreement = demo_agreement(scenario)
    agreement_path = data / "agreement.toml"
    save_agreement(agreement, agreement_path)
    db_url = f"sqlite:///{data / 'deconflict.db'}"
    broker = broker_service(db_url, data, agreement_path)
    relays = (broker, backup_service(db_url, data))
    dt_wall = scenario.step_s / speed

    def paced(label: str, k: int, n: int) -> None:
        if stop is not None and stop.is_set():
            raise StoppedError("demo --serve: stopped")
        if on_step is not None:
            on_step(k, n)
        wait = started_flying + k * dt_wall - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    with services(*relays, cwd=data):
        tokens, admin = party_tokens(db_url, list(scenario.parties))
        if on_ready is not None:
            on_ready(ServeInfo(broker.url, tokens, admin))
        hotline = DemoHotline.for_scenario(scenario, tokens, broker.url, relays[1].url, data)
        try:
            hotline.open()
            started_flying = time.monotonic()
            run_run(
                scenario,
                agreement,
                True,
                broker,
                tokens,
                admin,
                data,
                duration_s,
                paced,
                every_step=True,
                hotline=hotline,
            )
        finally:
            hotline.close()
    return time.monotonic() - started
