"""The exercise through the real broker: one party client per party, in lockstep.

:class:`Broker` starts ``deconflict serve`` as a subprocess (SQLite in the data
folder, a free port on 127.0.0.1, ``lockstep``: the broker's clock is the tracks'
own time and detection runs when the host asks, ``POST /cycle``). :class:`LiveAdvisor`
is the advisory source of :func:`~deconflict.sim.exercise.run_scenario`: each step it
sends every party's own states through that party's
:class:`~deconflict.client.party.PartyClient` (WebSocket), waits until the broker
committed them all, asks for one cycle, waits for each party's ``cycle`` frame (its
alerts of the cycle came before it), and turns each party's open alerts into the
advisories of its own aircraft: a party learns only of its own aircraft. The clients
run in an asyncio loop on a thread of their own; the simulator stays synchronous.

Deterministic by seed: every cycle sees exactly one step's states, at the step's
time, on the data clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.client.party import PartyClient, Timing
from deconflict.errors import InputError
from deconflict.hotline.config import ClientConfig
from deconflict.sim.gate import HostPicture, step_is_quiet
from deconflict.store.sql import SqlRepository
from deconflict.store.tokens import hash_token, new_token
from deconflict.tactical.state import TrafficState
from deconflict.tactical.tables import ADVICE_COLUMNS

T = TypeVar("T")

#: Longest wait for the broker to answer /health after it starts (s).
START_TIMEOUT_S = 60.0
#: Longest wait for one lockstep step (states committed, cycle heard) (s).
STEP_TIMEOUT_S = 30.0
#: How long a stopped service may take to exit after SIGTERM before SIGKILL (s).
STOP_GRACE_S = 3.0
#: Longest wait for the party clients to close when a run ends (s).
CLOSE_TIMEOUT_S = 3.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    """One ``deconflict`` subprocess (its own process group), its URL and its log."""

    args: list[str]
    url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        """Start it and wait until ``/health`` answers; one-line error with the log's tail."""
        self.spawn(cwd)
        self.wait_ready()

    def spawn(self, cwd: Path) -> None:
        """Start the process, without waiting for it to answer (:meth:`wait_ready`)."""
        env = {**os.environ, **self.env}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deconflict", *self.args],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop it
            )

    def wait_ready(self) -> None:
        """Wait until ``/health`` answers; one-line error with the log's tail."""
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = " ".join(self.log.read_text(errors="replace").split()[-30:])
                raise InputError(f"{self.args[0]} exited at start: {tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1.0, trust_env=False).is_success:
                    return
            time.sleep(0.1)
        raise InputError(f"{self.args[0]} did not answer on {self.url} in {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`; waits (no orphan, no zombie).

        Another Ctrl-C while it waits kills it at once (and is raised after).
        """
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_GRACE_S)
        except BaseException:
            proc.kill()
            proc.wait(timeout=STOP_GRACE_S)
            raise


@contextlib.contextmanager
def services(*items: Service, cwd: Path) -> Iterator[tuple[Service, ...]]:
    """Start ``items`` (all at once, then wait for each); stop all in reverse (Ctrl-C too).

    Each is stopped even when stopping another raised (a second Ctrl-C): the first
    such exception is raised once they are all gone.
    """
    started: list[Service] = []
    try:
        for s in items:
            started.append(s)
            s.spawn(cwd)
        for s in items:
            s.wait_ready()
        yield items
    finally:
        failed: BaseException | None = None
        for s in reversed(started):
            try:
                s.stop()
            except BaseException as err:  # stop the others first
                failed = failed or err
        if failed is not None:
            raise failed


class LoopThread:
    """An asyncio loop on a daemon thread; :meth:`call` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coro`` on the loop; its result (or its exception).

        Interrupted (Ctrl-C, a timeout), the coroutine is cancelled before this raises.
        """
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout_s)
        except BaseException:
            fut.cancel()
            raise

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Cancel what still runs on the loop, stop it and the thread."""
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.call(_cancel_all(), timeout_s)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=timeout_s)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_all() -> None:
    """Cancel every other task of the running loop and wait until they are done."""
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True)
class Gate:
    """What the host needs to tell quiet steps (:mod:`deconflict.sim.gate`).

    ``stale_after_s`` must be the broker's (the demo starts it with that setting);
    a cycle runs at least every ``cycle_every`` steps (zone alerts, which the gate does
    not predict, are raised on cycles).
    """

    agreement: Agreement
    stale_after_s: float
    cycle_every: int = 15


@dataclass
class PartyLink:
    """One party's client and what it has heard: open alerts of its own aircraft."""

    name: str
    client: PartyClient
    #: Open conflict alerts by (conflict id, own aircraft id): the latest event of each.
    open: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Every alert event heard (JSON, as the broker sent it).
    heard: list[dict[str, Any]] = field(default_factory=list)
    cycle_time: float | None = None
    cycles: int = 0
    cycle_heard: asyncio.Event = field(default_factory=asyncio.Event)

    def on_alert(self, alert: dict[str, Any]) -> None:
        """Keep the alert: open (conflicts only: zone alerts are not manoeuvres) or cleared."""
        self.heard.append(alert)
        if alert.get("zone"):
            return
        key = (str(alert["conflict_id"]), str(alert["own_id"]))
        if alert["event"] == "cleared":
            self.open.pop(key, None)
        else:
            self.open[key] = alert

    def on_cycle(self, frame: dict[str, Any]) -> None:
        """A cycle is over: this party's alerts of it were all heard."""
        self.cycle_time = frame.get("time")
        self.cycles += 1
        self.cycle_heard.set()

    def advisories(self) -> list[dict[str, Any]]:
        """Each own aircraft's current advisory: that of its latest open alert."""
        latest: dict[str, dict[str, Any]] = {}
        for alert in self.open.values():  # over open alerts (few)
            own = str(alert["own_id"])
            if own not in latest or int(alert["id"]) > int(latest[own]["id"]):
                latest[own] = alert
        return [
            {
                "time": a["time"],
                "id": own,
                "party": self.name,
                "conflict_id": a["conflict_id"],
                "level": a["level"],
                "manoeuvre": a["manoeuvre"],
                "target_vs_fpm": _nan(a.get("target_vs_fpm")),
                "target_track_deg": _nan(a.get("target_track_deg")),
                "t_in_s": _nan(a.get("t_in_s")),
            }
            for own, a in sorted(latest.items())
        ]


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


class LiveAdvisor:
    """The broker as advisory source: ``TrafficState -> advisories`` (see the module).

    Start it with :meth:`open` (connects one :class:`PartyClient` per party, each
    acknowledging ``fingerprint``), stop it with :meth:`close`.
    """

    def __init__(
        self,
        broker_url: str,
        admin_token: str,
        tokens: dict[str, str],
        fingerprint: str,
        workdir: Path,
        gate: Gate | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.admin_token = admin_token
        self.tokens = tokens
        self.fingerprint = fingerprint
        self.workdir = workdir
        self.links: dict[str, PartyLink] = {}
        self.steps = 0
        #: Steps streamed without a cycle (the gate found them quiet).
        self.streamed = 0
        self.gate = gate
        self._picture = HostPicture(gate.stale_after_s) if gate is not None else None
        #: Quiet steps' states (each party's array, the step's frame), sent with the next cycle.
        self._held: list[tuple[Any, pd.DataFrame]] = []
        self._loop: LoopThread | None = None
        self._admin: httpx.AsyncClient | None = None

    def open(self) -> None:
        """Connect every party's client (WebSocket) and the host's admin link."""
        self._loop = LoopThread()
        self._loop.call(self._open(), START_TIMEOUT_S)

    async def _open(self) -> None:
        self._admin = httpx.AsyncClient(
            base_url=self.broker_url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=STEP_TIMEOUT_S,
            trust_env=False,
        )
        for name, token in sorted(self.tokens.items()):
            config = ClientConfig(
                broker_url=self.broker_url,
                token=token,
                outbox=self.workdir / f"outbox-{name}.db",
            )
            link = PartyLink(name, None)  # type: ignore[arg-type]
            link.client = PartyClient(
                config,
                on_alert=link.on_alert,
                on_cycle=link.on_cycle,
                agreement=self.fingerprint,
                timing=Timing(ack_timeout_s=STEP_TIMEOUT_S),
            )
            await link.client.start()
            self.links[name] = link
        deadline = time.monotonic() + START_TIMEOUT_S
        while any(lk.client.stats.link != "websocket" for lk in self.links.values()):
            for lk in self.links.values():
                lk.client._raise_fatal()  # a refused token or agreement: say it now
            if time.monotonic() > deadline:
                raise InputError(f"the party clients could not connect to {self.broker_url}")
            await asyncio.sleep(0.02)

    def close(self) -> None:
        """Stop the clients and the loop (at most about 2 × :data:`CLOSE_TIMEOUT_S`)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            with contextlib.suppress(Exception):
                loop.call(self._close(), CLOSE_TIMEOUT_S)
        finally:
            loop.close()

    async def _close(self) -> None:
        for link in self.links.values():
            await link.client.stop()
        if self._admin is not None:
            await self._admin.aclose()

    def __call__(self, state: TrafficState) -> pd.DataFrame:
        """Advisories of this step from the broker (columns :data:`ADVICE_COLUMNS`)."""
        assert self._loop is not None, "LiveAdvisor.open() first"
        rows = self._loop.call(self._step(state), STEP_TIMEOUT_S * 2)
        self.steps += 1
        return pd.DataFrame(rows, columns=list(ADVICE_COLUMNS))

    async def _step(self, state: TrafficState) -> list[dict[str, Any]]:
        assert self._admin is not None and state.party is not None
        t = float(state.time[0])
        frame = pd.DataFrame(
            {
                "time": state.time,
                "id": state.id.astype(object),
                "lat": state.lat,
                "lon": state.lon,
                "alt_ft": state.alt_ft,
                "gs_kt": state.gs_kt,
                "track_deg": state.track_deg,
                "vs_fpm": state.vs_fpm,
            }
        )
        if self._quiet(state, t):
            # No conflict alert open, none can be raised: the cycle would give nobody an
            # advisory. The states wait for the next synchronous step, sent with it.
            self._held.append((state.party, frame))
            self.streamed += 1
            return []
        self._held.append((state.party, frame))
        held, self._held = self._held, []
        for name, link in self.links.items():
            mine = pd.concat([f[party == name] for party, f in held], ignore_index=True)
            if len(mine):
                await link.client.send(mine)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        for link in self.links.values():
            c = link.client
            while c.stats.acknowledged + c.stats.refused < c.stats.queued:
                c._raise_fatal()
                if time.monotonic() > deadline:
                    raise InputError(f"the broker did not commit {link.name}'s states at t={t:g}")
                await asyncio.sleep(0.0005)
            link.cycle_heard.clear()
        resp = await self._admin.post("/cycle")
        if resp.status_code != 200:
            raise InputError(f"POST /cycle: HTTP {resp.status_code} {resp.text[:200]}")
        for link in self.links.values():
            await asyncio.wait_for(link.cycle_heard.wait(), STEP_TIMEOUT_S)
            if link.cycle_time != t:
                raise InputError(f"{link.name} heard the cycle of t={link.cycle_time}, not {t:g}")
        return [row for link in self.links.values() for row in link.advisories()]

    def _quiet(self, state: TrafficState, t: float) -> bool:
        """The gate's verdict on this step (False without a gate: every step a cycle)."""
        if self.gate is None or self._picture is None:
            return False
        self._picture.update(state)
        if self.steps % self.gate.cycle_every == 0:
            return False
        open_conflicts = sum(len(link.open) for link in self.links.values())
        return step_is_quiet(self._picture.snapshot(t), self.gate.agreement, open_conflicts)

    def alert_counts(self) -> tuple[dict[str, int], int]:
        """Alerts raised by level (new conflicts and level changes, zones included), reversals.

        Counted once per conflict (both parties hear their own half of it).
        """
        raised: set[tuple[str, float, str]] = set()
        reversals: set[tuple[str, float]] = set()
        last_level: dict[str, str] = {}
        events = sorted(
            (a for link in self.links.values() for a in link.heard), key=lambda a: int(a["id"])
        )
        for a in events:  # over alert events (hundreds)
            cid = str(a["conflict_id"])
            if a["event"] == "cleared":
                last_level.pop(cid, None)
                continue
            if a.get("reason") == "reversal":
                reversals.add((cid, float(a["time"])))
            if last_level.get(cid) != a["level"]:
                raised.add((cid, float(a["time"]), str(a["level"])))
                last_level[cid] = str(a["level"])
        counts: dict[str, int] = {}
        for _, _, level in raised:
            counts[level] = counts.get(level, 0) + 1
        return counts, len(reversals)


def party_tokens(db_url: str, parties: list[str]) -> tuple[dict[str, str], str]:
    """Register ``parties`` and an admin (``exercise-host``) in the broker's database.

    What ``deconflict party add`` does, in this process, on the database the broker
    made: returns the parties' tokens and the admin's.
    """
    repo = SqlRepository(db_url)
    try:
        tokens = {}
        for name in parties:
            tokens[name] = new_token()
            repo.add_party(name, hash_token(tokens[name]), is_admin=False)
        admin = new_token()
        repo.add_party("exercise-host", hash_token(admin), is_admin=True)
        return tokens, admin
    finally:
        repo.close()


def empty_advice() -> pd.DataFrame:
    """No advisories (the columns only)."""
    return pd.DataFrame(columns=list(ADVICE_COLUMNS))
