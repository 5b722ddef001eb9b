"""The demo's hotline: the scenario's messages between the parties, over both relays.

Beside the broker (the primary relay) the demo runs the backup relay
(``deconflict hotline backup``, :func:`backup_service`): its own port, SQLite database
and audit log in the run's folder, the broker's database as its registry. Each party
gets a signing key and a :class:`~deconflict.hotline.client.HotlineClient` (its own
store in the run's folder) whose primary is the broker's hotline WebSocket, reached
through a :class:`CuttableLine` (a small TCP relay on 127.0.0.1 the demo cuts for the
scenario's outage window: the broker itself is untouched), and whose backup is the
backup relay.

:class:`DemoHotline` is driven by the run loop: :meth:`DemoHotline.at` is called after
each step with the step's time. It cuts or mends the primary line at the outage's
edges (and waits until every client saw it), sends each planned message at its time
(a reply or an ack only once its sender holds the message it answers), and waits
until every message is delivered: the hotline runs in lockstep with the scenario, as
the brokers do. Message timestamps are on the scenario clock (the run's start, Unix
s, plus the step time), so deadlines are in scenario seconds; the relays' own
escalations, which run on the wall clock, are not used. :meth:`DemoHotline.finish`
counts what happened (:class:`HotlineResult`) and :func:`verify_audits` checks both
relays' logs against their keys and the heads the parties kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deconflict.errors import InputError
from deconflict.hotline.audit import verify_log
from deconflict.hotline.channels.base import Timing
from deconflict.hotline.client import HotlineClient
from deconflict.hotline.config import ClientConfig
from deconflict.hotline.keys import load_key_file, new_key_file, public_hex
from deconflict.hotline.messages import ALL, Message
from deconflict.hotline.overdue import local_overdue
from deconflict.sim.live import LoopThread, Service, free_port
from deconflict.sim.scenario import PlannedMessage, Scenario

#: How often the backup relay copies the broker's registry (parties, keys), s.
BACKUP_SYNC_S = 0.5
#: Longest wait for a message to reach all its recipients, or for a channel switch (wall s).
WAIT_S = 15.0
#: The clients' failover timing: the demo's line is local, so it can be brisk.
DEMO_TIMING = Timing(heartbeat_s=0.2, dead_after_s=0.8, ack_timeout_s=2.0, reconnect_s=0.2)


def backup_service(registry_db: str, data: Path) -> Service:
    """``deconflict hotline backup`` on a free port, its database and audit log in ``data``."""
    port = free_port()
    return Service(
        [
            "hotline",
            "backup",
            "--db",
            f"sqlite:///{data / 'backup.db'}",
            "--registry-db",
            registry_db,
            "--data-dir",
            str(data),
            "--port",
            str(port),
        ],
        f"http://127.0.0.1:{port}",
        data / "backup.log",
        env={"DECONFLICT_BACKUP_SYNC_INTERVAL_S": str(BACKUP_SYNC_S)},
    )


class CuttableLine:
    """A TCP relay from a free 127.0.0.1 port to ``target_port``, that can be cut.

    :meth:`cut` aborts every connection through it and refuses new ones (they are
    accepted and dropped) until :meth:`mend`. Runs on the loop it is started on.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.down = False
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    @property
    def url(self) -> str:
        """The line's end, as a base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def cut(self) -> None:
        """Abort every connection; drop new ones until :meth:`mend`."""
        self.down = True
        for a, b in list(self._conns):
            a.transport.abort()
            b.transport.abort()
        self._conns.clear()

    def mend(self) -> None:
        """Carry connections again."""
        self.down = False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
            self._conns.discard(pair)
            writer.transport.abort()
            up_writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until the reader ends or either side fails."""
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


@dataclass(frozen=True)
class HotlineResult:
    """The ``hotline`` block of ``summary.json``.

    ``sent``: planned messages sent; ``delivered``: those released to every recipient
    (a broadcast: every other party); ``via_backup``: those the backup relay stored
    for their sender; ``duplicates``: releases of a message to one recipient beyond the
    first (the receivers' inboxes and what their application was handed);
    ``overdue``: requests past their deadline unanswered at the end (scenario time),
    from the parties' stores; ``distress_ack_s``: scenario seconds from the first
    distress call to the first ack of it released to its sender (-1: none).
    """

    sent: int
    delivered: int
    via_backup: int
    duplicates: int
    overdue: int
    distress_ack_s: float

    def block(self) -> dict[str, Any]:
        """As ``summary.json`` has it."""
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "via_backup": self.via_backup,
            "duplicates": self.duplicates,
            "overdue": self.overdue,
            "distress_ack_s": self.distress_ack_s,
        }


@dataclass
class _Party:
    """One party's hotline client and what its application was handed."""

    name: str
    config: ClientConfig
    client: HotlineClient
    #: Message id → times released to this party's application.
    released: Counter[str] = field(default_factory=Counter)
    #: Message id → scenario time (s) of its first release here.
    released_at_s: dict[str, float] = field(default_factory=dict)


class DemoHotline:
    """The scenario's hotline plan, played in lockstep with the run (see the module).

    ``outages``: the windows (scenario s, start and end) when the primary is cut.
    """

    def __init__(
        self,
        plan: list[PlannedMessage],
        outages: list[tuple[float, float]],
        tokens: dict[str, str],
        broker_url: str,
        backup_url: str,
        workdir: Path,
    ) -> None:
        self.plan = plan
        self.outages = sorted(outages)
        self.tokens = tokens
        self.broker_url = broker_url
        self.backup_url = backup_url
        self.workdir = workdir
        #: Unix time of scenario time 0: the messages' clock.
        self.epoch = time.time()
        self.now_s = 0.0
        self.parties: dict[str, _Party] = {}
        #: Plan index → the id of the message sent for it.
        self.ids: dict[int, str] = {}
        #: Plan index → scenario time it was sent (s).
        self.sent_at_s: dict[int, float] = {}
        self.cut_now = False
        self._loop: LoopThread | None = None
        self._line: CuttableLine | None = None

    @classmethod
    def for_scenario(
        cls,
        scenario: Scenario,
        tokens: dict[str, str],
        broker_url: str,
        backup_url: str,
        workdir: Path,
    ) -> DemoHotline:
        """The scenario's plan and its primary-channel outage windows."""
        outages = [
            (float(e.start_s), float(e.end_s))
            for e in scenario.events_of("outage")
            if e.channel == "primary"
        ]
        return cls(scenario.hotline_plan(), outages, tokens, broker_url, backup_url, workdir)

    def clock(self) -> float:
        """The scenario clock, Unix s: the messages' ``ts``."""
        return self.epoch + self.now_s

    # -- life cycle ------------------------------------------------------------------

    def open(self) -> None:
        """Start the line and one client per party; wait until both relays know every key."""
        self._loop = LoopThread()
        self._loop.call(self._open(), WAIT_S * 2)

    async def _open(self) -> None:
        port = int(self.broker_url.rsplit(":", 1)[1].split("/")[0])
        self._line = CuttableLine(port)
        await self._line.start()
        for name, token in sorted(self.tokens.items()):
            key_file = self.workdir / f"hotline-{name}.key"
            new_key_file(key_file, overwrite=True)
            config = ClientConfig(
                broker_url=self._line.url,
                backup_url=self.backup_url,
                token=token,
                key_file=key_file,
                store=self.workdir / f"hotline-{name}.db",
            )
            party = _Party(name, config, None)  # type: ignore[arg-type]
            party.client = HotlineClient.from_config(
                config, timing=DEMO_TIMING, clock=self.clock, on_message=self._receiver(party)
            )
            await party.client.start()
            self.parties[name] = party
        await self._until(
            lambda: all(p.client.stats.primary_up for p in self.parties.values()),
            "the hotline clients could not reach the broker's hotline",
        )
        await self._backup_knows_keys()

    async def _backup_knows_keys(self) -> None:
        """Wait until the backup relay's copy of the registry has every party's key."""
        import httpx

        names = sorted(self.parties)
        token = self.tokens[names[0]]
        want = {n: public_hex(load_key_file(p.config.key_file)) for n, p in self.parties.items()}  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=2.0, trust_env=False
        ) as http:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    got = await http.get(f"{self.backup_url}/hotline/keys", params={"name": names})
                    if got.status_code == 200 and got.json() == want:
                        return
                await asyncio.sleep(0.1)
        raise InputError(f"the backup relay {self.backup_url} did not learn the parties' keys")

    def _receiver(self, party: _Party) -> Any:
        def on_message(messages: list[Message]) -> None:
            for m in messages:
                party.released[m.id] += 1
                party.released_at_s.setdefault(m.id, self.now_s)

        return on_message

    def close(self) -> None:
        """Stop the clients, the line and the loop (stores and keys stay)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            with contextlib.suppress(Exception):
                loop.call(self._close(), 5.0)
        finally:
            loop.close()

    async def _close(self) -> None:
        for party in self.parties.values():
            with contextlib.suppress(Exception):
                await party.client.stop()
            party.client.store.close()
        if self._line is not None:
            await self._line.close()

    # -- the run ---------------------------------------------------------------------

    def at(self, t_s: float) -> None:
        """Scenario time ``t_s`` reached: the line's state, the messages now due, delivered."""
        assert self._loop is not None, "DemoHotline.open() first"
        self.now_s = t_s
        self._loop.call(self._at(t_s), WAIT_S * 4)

    async def _at(self, t_s: float) -> None:
        cut = any(start <= t_s < end for start, end in self.outages)
        if cut != self.cut_now:
            assert self._line is not None
            self.cut_now = cut
            if cut:
                self._line.cut()
            else:
                self._line.mend()
            with contextlib.suppress(TimeoutError):  # counted in the result if it matters
                await self._until(
                    lambda: all(p.client.stats.primary_up != cut for p in self.parties.values()),
                    "",
                )
        due = self._due(t_s)
        for i in due:
            m = self.plan[i]
            client = self.parties[m.sender].client
            reply = self.ids[m.reply_to] if m.reply_to >= 0 else None
            msg = await client.send(
                m.kind, m.to, m.body, in_reply_to=reply, deadline_s=m.deadline_s
            )
            self.ids[i] = msg.id
            self.sent_at_s[i] = t_s
        if due:
            with contextlib.suppress(TimeoutError):  # what is missing shows in the counts
                await self._until(lambda: all(self._delivered(i) for i in due), "")

    def _due(self, t_s: float) -> list[int]:
        """Plan indices due at ``t_s``, not sent yet, whose answered message their sender holds."""
        due = []
        for i, m in enumerate(self.plan):
            if i in self.ids or m.at_s > t_s + 1e-9:
                continue
            if m.reply_to >= 0:
                answered = self.ids.get(m.reply_to)
                if answered is None or answered not in self.parties[m.sender].released:
                    continue
            due.append(i)
        return due

    def _recipients(self, i: int) -> list[str]:
        m = self.plan[i]
        return [p for p in self.parties if p != m.sender] if m.to == ALL else [m.to]

    def _delivered(self, i: int) -> bool:
        msg_id = self.ids.get(i)
        return msg_id is not None and all(
            msg_id in self.parties[p].released for p in self._recipients(i)
        )

    async def _until(self, done: Any, why: str) -> None:
        """Wait until ``done()``; then :class:`InputError` (``why``), or TimeoutError if none."""
        deadline = time.monotonic() + WAIT_S
        while not done():
            if time.monotonic() > deadline:
                if why:
                    raise InputError(why)
                raise TimeoutError
            await asyncio.sleep(0.005)

    def finish(self, t_end_s: float) -> HotlineResult:
        """Wait for what is still on its way, stop the clients, and count (see the result)."""
        assert self._loop is not None, "DemoHotline.open() first"
        self.now_s = t_end_s
        with contextlib.suppress(TimeoutError):
            self._loop.call(
                self._until(lambda: all(self._delivered(i) for i in self.ids), ""), WAIT_S * 2
            )
        self.close()
        return self.result(t_end_s)

    def result(self, t_end_s: float) -> HotlineResult:
        """The counts, from the parties' stores and deliveries (clients stopped)."""
        sent = len(self.ids)
        delivered = sum(1 for i in self.ids if self._delivered(i))
        via_backup = 0
        duplicates = 0
        overdue: set[str] = set()
        for party in self.parties.values():
            duplicates += sum(n - 1 for n in party.released.values() if n > 1)
            for o in local_overdue(party.config, self.epoch + t_end_s):
                overdue.add(o.id)
        for i, msg_id in self.ids.items():
            store_row = _outbox_row(self.parties[self.plan[i].sender].config, msg_id)
            if store_row is not None and store_row.get("relayed_via") == "backup":
                via_backup += 1
        duplicates = max(duplicates, self._inbox_duplicates())
        return HotlineResult(
            sent, delivered, via_backup, duplicates, len(overdue), self._distress_ack_s()
        )

    def _inbox_duplicates(self) -> int:
        """Releases beyond the first of one message, as the receivers' inboxes record them."""
        from deconflict.hotline.client_store import ClientStore

        extra = 0
        for party in self.parties.values():
            store = ClientStore(party.config.store)
            try:
                seen = Counter((m.sender, m.id) for _, m in store.delivered())
            finally:
                store.close()
            extra += sum(n - 1 for n in seen.values() if n > 1)
        return extra

    def _distress_ack_s(self) -> float:
        """Scenario s from the first distress call sent to the first ack of it its sender got."""
        for i, m in enumerate(self.plan):
            if m.kind != "distress" or i not in self.ids:
                continue
            caller = self.parties[m.sender]
            times = [
                caller.released_at_s[self.ids[j]]
                for j, r in enumerate(self.plan)
                if r.kind == "ack" and r.reply_to == i and self.ids.get(j) in caller.released_at_s
            ]
            return min(times) - self.sent_at_s[i] if times else -1.0
        return -1.0


def _outbox_row(config: ClientConfig, msg_id: str) -> dict[str, object] | None:
    from deconflict.hotline.client_store import ClientStore

    store = ClientStore(config.store)
    try:
        return store.outbox_row(msg_id)
    finally:
        store.close()


@dataclass(frozen=True)
class AuditResult:
    """The ``audit`` block of ``summary.json``: both relays' logs verified, entries in all."""

    verified: bool
    entries: int
    problems: tuple[str, ...] = ()

    def block(self) -> dict[str, Any]:
        """As ``summary.json`` has it."""
        return {"verified": self.verified, "entries": self.entries}


def verify_audits(logs: dict[str, tuple[Path, Path]], stores: list[Path]) -> AuditResult:
    """Verify each relay's log (name → (log, its key file)) with the heads the parties kept.

    Relay names are as the clients record them (``primary``, ``backup``); each log's
    signer is pinned to its relay's key. A missing log is a problem, not an error.
    """
    from deconflict.hotline.client_store import ClientStore

    heads: dict[str, list[dict[str, Any]]] = {name: [] for name in logs}
    for path in stores:
        store = ClientStore(path)
        try:
            for relay, head in store.heads().items():
                heads.setdefault(relay, []).append(head)
        finally:
            store.close()
    entries = 0
    problems = []
    for name, (log, key_file) in sorted(logs.items()):
        if not log.exists() or not key_file.exists():
            problems.append(f"{name}: no audit log at {log}")
            continue
        report = verify_log(log, public_key=public_hex(load_key_file(key_file)), heads=heads[name])
        entries += report.entries
        if not report.ok or not report.key_checked:
            problems.append(f"{name}: {report.problem or 'not signed by its relay key'}")
    return AuditResult(not problems, entries, tuple(problems))
