"""The streaming core of the party client, usable as a library.

:class:`PartyClient` keeps one connection to the broker: the WebSocket ``/stream``
when it can, else plain HTTP (``POST /tracks``, ``GET /alerts`` polled), trying the
WebSocket again every ``ws_retry_s``. States go into the :class:`Outbox` first
(committed), then out in batches, oldest first; a batch leaves the outbox only when
the broker answered that it committed it. When the broker cannot be reached the
client keeps queueing and reconnects with exponential backoff and jitter (bounded by
``backoff_max_s``); it reports one status line when the link goes down and one when it
is back. Alerts pushed to this party (and, after a reconnect, those it missed, read
from ``GET /alerts``) go to the alert sink once each, in id order::

    async with PartyClient(settings, on_alert=print) as client:
        await client.send(states)        # committed to the outbox, then streamed
        await client.drain()             # until the broker acknowledged them all

    await PartyClient(settings, on_alert=sink).run(source)   # a whole source, then drain

A token the broker refuses, or tracks refused because the party has not acknowledged
the broker's agreement, stop the client with an :class:`InputError` (the states stay
in the outbox for the next run). Passing ``agreement`` (a fingerprint, or a prefix of
at least 12 hex digits as ``deconflict serve`` shows it) acknowledges the broker's
agreement when it matches, and refuses to send when it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import random
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pandas as pd
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from deconflict.client.outbox import ALERT_CURSOR, Outbox, Pending
from deconflict.client.states import STATE_COLUMNS, check_states
from deconflict.errors import InputError
from deconflict.hotline.config import ClientConfig
from deconflict.service.schemas import AlertOut

#: What the client hands each alert to: a callable, sync or async.
AlertSink = Callable[[dict[str, Any]], Awaitable[None] | None]
#: What the client tells of its link (one line each, no newline).
StatusSink = Callable[[str], None]
#: A batch of states: dicts with the input columns, or a DataFrame with them.
States = Sequence[Mapping[str, Any]] | pd.DataFrame


@dataclass(frozen=True)
class Timing:
    """Reconnection and batching (s, states)."""

    #: First reconnection delay; doubled after each failed attempt ...
    backoff_base_s: float = 0.25
    #: ... up to this; each delay is drawn in [d/2, d] (jitter).
    backoff_max_s: float = 10.0
    #: Longest wait for the broker's answer to a batch before the link is taken for dead.
    ack_timeout_s: float = 15.0
    http_timeout_s: float = 10.0
    #: WebSocket keep-alive pings; a pong may take twice this.
    ping_s: float = 5.0
    #: Alert polling interval on the HTTP fallback.
    poll_s: float = 1.0
    #: How long the client stays on the HTTP fallback before trying the WebSocket again.
    ws_retry_s: float = 30.0
    #: Most states in one batch.
    batch_max: int = 5000


#: The default timing.
DEFAULT_TIMING = Timing()


def backoff_delays(timing: Timing, rng: random.Random) -> Iterator[float]:
    """Exponential backoff with equal jitter: d = min(max, base·2^k), each in [d/2, d] (s).

    >>> delays = backoff_delays(Timing(backoff_base_s=0.5, backoff_max_s=4.0), random.Random(1))
    >>> caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    >>> all(cap / 2 <= next(delays) <= cap for cap in caps)
    True
    """
    d = timing.backoff_base_s
    while True:
        yield rng.uniform(d / 2.0, d)
        d = min(timing.backoff_max_s, d * 2.0)


@dataclass
class ClientStats:
    """What the client did so far."""

    #: States queued in the outbox by :meth:`PartyClient.send`.
    queued: int = 0
    #: States the broker acknowledged (committed).
    acknowledged: int = 0
    #: States the broker refused (kept in the outbox's ``refused`` table).
    refused: int = 0
    #: Alerts handed to the sink.
    alerts: int = 0
    #: Times the link was lost.
    disconnects: int = 0
    #: "websocket", "http", or None while not connected.
    link: str | None = None
    #: The party the token belongs to (when the broker says).
    party: str | None = None
    #: The broker's agreement fingerprint, once connected.
    fingerprint: str | None = None
    refusals: list[str] = field(default_factory=list)


class _LinkLostError(Exception):
    """The link is down (or could not be made); the message says why."""


class PartyClient:
    """One party's link to the broker (run inside an asyncio loop)."""

    def __init__(
        self,
        settings: ClientConfig,
        *,
        on_alert: AlertSink | None = None,
        on_status: StatusSink | None = None,
        on_cycle: AlertSink | None = None,
        timing: Timing = DEFAULT_TIMING,
        agreement: str | None = None,
        outbox: Outbox | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.url = settings.broker_url.rstrip("/")
        self.on_alert = on_alert
        self.on_status = on_status
        #: Gets each ``cycle`` frame of a lockstep broker (after that cycle's alerts).
        self.on_cycle = on_cycle
        self.timing = timing
        self.agreement = _fingerprint_prefix(agreement) if agreement else None
        self._own_outbox = outbox is None
        self.outbox = outbox if outbox is not None else Outbox(settings.outbox)
        try:
            self.outbox.bind(self.url, settings.token)
        except InputError:
            if self._own_outbox:
                self.outbox.close()
            raise
        self.rng = rng or random.Random()
        self.stats = ClientStats()
        self._cursor: int | None = _int_or_none(self.outbox.get_meta(ALERT_CURSOR))
        self._wake = asyncio.Event()
        self._fatal: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting: deque[asyncio.Future[dict[str, Any]]] = deque()
        self._batch_max = timing.batch_max
        self._confirmed = False
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=timing.http_timeout_s,
            trust_env=False,
        )

    # -- life cycle ------------------------------------------------------------------

    async def __aenter__(self) -> PartyClient:
        """Start the link."""
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the link (pending states stay in the outbox)."""
        await self.stop()

    async def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._link_loop(), name="deconflict-client-link")

    async def stop(self) -> None:
        """Stop the link and close the outbox if the client opened it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._http.aclose()
        if self._own_outbox:
            self.outbox.close()

    async def send(self, states: States) -> int:
        """Check states and commit them to the outbox; returns how many were new.

        They are streamed as soon as the link is up. Bad states raise
        :class:`InputError` naming the first one; nothing of that call is queued.
        """
        self._raise_fatal()
        rows = check_states(states)
        n = await asyncio.to_thread(self.outbox.put, rows)
        self.stats.queued += n
        self._wake.set()
        return n

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until the broker acknowledged every queued state; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self._raise_fatal()
            if await asyncio.to_thread(self.outbox.pending) == 0:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)

    async def run(
        self, source: AsyncIterable[States], *, linger_s: float = 0.0, drain: bool = True
    ) -> None:
        """Stream a whole source, wait until it is acknowledged, linger for alerts, stop.

        ``linger_s``: how long to keep receiving alerts after the last state (s).
        A fatal error (token or agreement refused) ends the run at once.
        """
        await self.start()
        try:
            feed = asyncio.create_task(self._feed(source))
            await self._until(feed)
            if drain:
                await self._until(asyncio.create_task(self.drain()))
            if linger_s > 0:
                await self._until(asyncio.create_task(asyncio.sleep(linger_s)))
        finally:
            await self.stop()

    async def _feed(self, source: AsyncIterable[States]) -> None:
        async for batch in source:
            await self.send(batch)

    async def _until(self, job: asyncio.Task[Any]) -> None:
        """Wait for ``job``; if the link fails fatally first, cancel it and raise."""
        assert self._task is not None
        await asyncio.wait({job, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not job.done():
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
            self._raise_fatal()
            self._task.result()  # a bug in the link loop: raised with its traceback
        job.result()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _status(self, line: str) -> None:
        if self.on_status is not None:
            self.on_status(line)

    # -- the link --------------------------------------------------------------------

    async def _link_loop(self) -> None:
        """Connect, stream, and reconnect with backoff, until stopped or a fatal error."""
        self._delays = backoff_delays(self.timing, self.rng)
        self._down_since: float | None = None
        self._ever_up = False
        while True:
            try:
                await self._session()  # returns only to try the WebSocket again
            except _LinkLostError as err:
                await self._link_down(str(err))
                await asyncio.sleep(next(self._delays))
            except InputError as err:
                self._fatal = err
                self.stats.link = None
                return

    def _link_up(self, link: str, note: str = "") -> None:
        """Say once that the link is (back) up; reset the backoff."""
        if self.stats.link == link:
            return
        pending = self.outbox.pending()
        queued = f"; {pending} state(s) in the outbox to send" if pending else ""
        how = f"{link}{note}"
        after = ""
        if self._down_since is not None:
            after = f" after {time.monotonic() - self._down_since:.1f} s"
        if self._ever_up and self.stats.link is None:
            line = f"reconnected to {self.url}{after} ({how}){queued}"
        elif self.stats.link is None:
            who = f" as {self.stats.party}" if self.stats.party else ""
            agreement = (
                f"; agreement {self.stats.fingerprint[:12]}" if self.stats.fingerprint else ""
            )
            line = f"connected to {self.url}{who}{after} ({how}){agreement}{queued}"
        else:
            line = f"now on the {how}"
        self._ever_up = True
        self._status(line)
        self.stats.link = link
        self._down_since = None
        self._delays = backoff_delays(self.timing, self.rng)

    async def _link_down(self, reason: str) -> None:
        """Say once that the link is down (a failed retry says nothing more)."""
        if self._down_since is not None:
            return
        pending = await asyncio.to_thread(self.outbox.pending)
        if self.stats.link is not None:
            self.stats.disconnects += 1
            what = f"lost the broker at {self.url} ({reason})"
        else:
            what = f"broker at {self.url} unreachable ({reason})"
        self._status(
            f"{what}; {pending} state(s) in the outbox {self.outbox.path}; "
            "reconnecting with backoff"
        )
        self._down_since = time.monotonic()
        self.stats.link = None

    async def _session(self) -> None:
        """One connection: WebSocket if it opens, else HTTP for ``ws_retry_s``."""
        fingerprint = await self._preflight()
        await self._acknowledge(fingerprint)
        if self._cursor is None:
            await self._init_cursor()
        try:
            ws = await connect(
                self._ws_url(),
                additional_headers={"Authorization": f"Bearer {self.settings.token}"},
                open_timeout=self.timing.http_timeout_s,
                ping_interval=self.timing.ping_s,
                ping_timeout=2.0 * self.timing.ping_s,
                close_timeout=1.0,
                max_size=8 * 2**20,
                proxy=None,
            )
        except (OSError, TimeoutError, WebSocketException) as err:
            await self._http_session(f" fallback: the WebSocket failed: {_why(err)}")
            return
        async with ws:
            await self._ws_session(ws)

    def _ws_url(self) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/stream"

    async def _get(self, path: str, **params: Any) -> httpx.Response:
        """GET ``path``; a refused token is fatal, no answer is :class:`_LinkLostError`."""
        try:
            resp = await self._http.get(path, params=params or None)
        except httpx.HTTPError as err:
            raise _LinkLostError(_why(err)) from None
        if resp.status_code == 401:
            raise InputError(f"{self.url}: the broker refused the token (unknown or revoked)")
        if resp.status_code != 200:
            raise _LinkLostError(f"GET {path}: HTTP {resp.status_code}")
        return resp

    async def _get_json(self, path: str, **params: Any) -> Any:
        """GET ``path`` as JSON; an answer that is not JSON is not from a broker (fatal)."""
        resp = await self._get(path, **params)
        try:
            return resp.json()
        except ValueError:
            raise InputError(
                f"{self.url} does not answer like a deconflict broker (GET {path}: not JSON)"
            ) from None

    async def _preflight(self) -> str:
        """Check the token (GET /agreement) and learn the agreement's fingerprint."""
        agreement = await self._get_json("/agreement")
        if not isinstance(agreement, dict) or not isinstance(agreement.get("fingerprint"), str):
            raise InputError(
                f"{self.url} does not answer like a deconflict broker (GET /agreement)"
            )
        fingerprint = agreement["fingerprint"]
        self.stats.fingerprint = fingerprint
        if not self._confirmed:
            await asyncio.to_thread(self.outbox.confirm)  # the token is a party's
            self._confirmed = True
        if self.stats.party is None:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                who = await self._http.get("/hotline/whoami")
                if who.status_code == 200:
                    self.stats.party = str(who.json()["party"])
        return fingerprint

    async def _acknowledge(self, fingerprint: str) -> None:
        """Acknowledge the broker's agreement if it is the one we were given."""
        if self.agreement is None:
            return
        if not fingerprint.startswith(self.agreement):
            raise InputError(
                f"{self.url} runs agreement {fingerprint[:12]}, not {self.agreement[:12]}: "
                "not acknowledged, nothing sent"
            )
        try:
            resp = await self._http.post("/agreement/ack", json={"fingerprint": fingerprint})
        except httpx.HTTPError as err:
            raise _LinkLostError(_why(err)) from None
        if resp.status_code == 401:
            raise InputError(f"{self.url}: the broker refused the token (unknown or revoked)")
        if resp.status_code != 200:
            raise _LinkLostError(f"POST /agreement/ack: HTTP {resp.status_code}")

    async def _init_cursor(self) -> None:
        """A new outbox starts after the party's last alert: old ones are not printed."""
        last = 0
        while page := await self._get_json("/alerts", after_id=last, limit=10_000):
            last = int(page[-1]["id"])
            if len(page) < 10_000:
                break
        self._cursor = last
        await asyncio.to_thread(self.outbox.set_meta, ALERT_CURSOR, str(last))

    async def _backfill(self) -> None:
        """Hand the sink every alert after the cursor (those missed while away)."""
        while True:
            page = await self._get_json("/alerts", after_id=self._cursor or 0, limit=10_000)
            for alert in page:  # over missed alerts
                await self._deliver_alert(alert)
            if len(page) < 10_000:
                return

    async def _deliver_alert(self, data: Mapping[str, Any]) -> None:
        """Hand one alert to the sink unless it was already; then move the cursor."""
        try:
            alert_id = int(data["id"])
            alert = AlertOut.model_validate({k: v for k, v in data.items() if k != "type"})
        except (KeyError, TypeError, ValueError, ValidationError):
            return  # not an alert we can read: the broker's GET /alerts still has it
        if self._cursor is not None and alert_id <= self._cursor:
            return
        if self.on_alert is not None:
            result = self.on_alert(alert.model_dump(mode="json"))
            if inspect.isawaitable(result):
                await result
        self._cursor = alert_id
        self.stats.alerts += 1
        await asyncio.to_thread(self.outbox.set_meta, ALERT_CURSOR, str(alert_id))

    # -- WebSocket ---------------------------------------------------------------------

    async def _ws_session(self, ws: ClientConnection) -> None:
        self._waiting.clear()
        await self._backfill()
        self._link_up("websocket")
        reader = asyncio.create_task(self._ws_reader(ws))
        sender = asyncio.create_task(self._send_loop(lambda b: self._ws_post(ws, b), None))
        try:
            done, _ = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, sender):
                task.cancel()
            for task in (reader, sender):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            while self._waiting:
                self._waiting.popleft().cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        raise _LinkLostError("the connection closed")

    async def _ws_reader(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    data = json.loads(raw)
                except ValueError:
                    continue
                kind = data.get("type") if isinstance(data, dict) else None
                if kind == "alert":
                    await self._deliver_alert(data)
                elif kind == "cycle" and self.on_cycle is not None:
                    result = self.on_cycle(data)
                    if inspect.isawaitable(result):
                        await result
                elif kind in ("accepted", "error") and self._waiting:
                    fut = self._waiting.popleft()
                    if not fut.done():
                        fut.set_result(data)
        except ConnectionClosed as err:
            if err.rcvd is not None and err.rcvd.code == 1009:  # our batch was too big
                self._batch_max = max(1, self._batch_max // 2)
            raise _LinkLostError(_closed_why(err)) from None
        raise _LinkLostError("the broker closed the connection")

    async def _ws_post(self, ws: ClientConnection, batch: list[Pending]) -> tuple[int, str]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        try:
            await ws.send(_columns(batch))
        except ConnectionClosed as err:
            raise _LinkLostError(_closed_why(err)) from None
        try:
            reply = await asyncio.wait_for(fut, self.timing.ack_timeout_s)
        except TimeoutError:
            wait_s = self.timing.ack_timeout_s
            raise _LinkLostError(f"no answer to a batch in {wait_s:g} s") from None
        if reply.get("type") == "accepted":
            return 200, ""
        return int(reply.get("status", 0)), str(reply.get("detail", ""))

    # -- HTTP fallback -----------------------------------------------------------------

    async def _http_session(self, note: str) -> None:
        """POST batches and poll alerts until it is time to try the WebSocket again."""
        await self._backfill()
        self._link_up("http", note)
        until = time.monotonic() + self.timing.ws_retry_s
        poller = asyncio.create_task(self._poll_alerts())
        sender = asyncio.create_task(self._send_loop(self._http_post, until))
        try:
            done, _ = await asyncio.wait({poller, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (poller, sender):
                task.cancel()
            for task in (poller, sender):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _poll_alerts(self) -> None:
        while True:
            await asyncio.sleep(self.timing.poll_s)
            await self._backfill()

    async def _http_post(self, batch: list[Pending]) -> tuple[int, str]:
        try:
            resp = await self._http.post(
                "/tracks",
                content=_columns(batch).encode(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as err:
            raise _LinkLostError(_why(err)) from None
        detail = ""
        if resp.status_code != 200:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = str(resp.json()["detail"])
        return resp.status_code, detail

    # -- sending ---------------------------------------------------------------------

    async def _send_loop(
        self, post: Callable[[list[Pending]], Awaitable[tuple[int, str]]], until: float | None
    ) -> None:
        """Send the outbox, oldest first, one batch at a time; return at ``until``."""
        while until is None or time.monotonic() < until:
            self._wake.clear()
            batch = await asyncio.to_thread(self.outbox.head, self._batch_max)
            if not batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                continue
            await self._deliver(batch, post)

    async def _deliver(
        self, batch: list[Pending], post: Callable[[list[Pending]], Awaitable[tuple[int, str]]]
    ) -> None:
        """Send one batch; settle the outbox by the broker's answer.

        Committed: removed. Refused as bad input (422): split in halves until the bad
        states are alone, which move to the refused table. 401/403: fatal.
        """
        status, detail = await post(batch)
        if status == 200:
            await asyncio.to_thread(self.outbox.remove, [p.n for p in batch])
            self.stats.acknowledged += len(batch)
        elif status == 422 and len(batch) > 1:
            half = len(batch) // 2
            await self._deliver(batch[:half], post)
            await self._deliver(batch[half:], post)
        elif status == 422:
            await asyncio.to_thread(self.outbox.refuse, [batch[0].n], detail)
            self.stats.refused += 1
            state = batch[0].state
            line = f"the broker refused state {state['id']!r} at {state['time']:g}: {detail}"
            self.stats.refusals.append(line)
            self._status(line)
        elif status == 401:
            raise InputError(f"{self.url}: the broker refused the token (unknown or revoked)")
        elif status == 403:
            fp = self.stats.fingerprint or ""
            raise InputError(
                f"{self.url} refuses tracks until this party acknowledges its agreement "
                f"{fp[:12]}: pass --agreement {fp[:12]} (or the agreement's TOML file) "
                "after checking it is the one you agreed to"
            )
        elif status == 413:
            self._batch_max = max(1, len(batch) // 2)
        else:
            raise _LinkLostError(f"HTTP {status} {detail}".strip())


def _columns(batch: list[Pending]) -> str:
    """A batch as the broker's compact columnar JSON."""
    return json.dumps({c: [p.state[c] for p in batch] for c in STATE_COLUMNS})


def _why(err: BaseException) -> str:
    """A short, one-line reason for a network error."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _closed_why(err: ConnectionClosed) -> str:
    if err.rcvd is None:
        return "the connection dropped"
    reason = f" {err.rcvd.reason}" if err.rcvd.reason else ""
    return f"closed by the broker: {err.rcvd.code}{reason}"


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _fingerprint_prefix(given: str) -> str:
    """A fingerprint (or a prefix of at least 12 hex digits), or an agreement TOML file's."""
    text = given.strip().lower()
    if len(text) >= 12 and len(text) <= 64 and all(c in "0123456789abcdef" for c in text):
        return text
    path = Path(given).expanduser()
    if path.suffix.lower() == ".toml":
        from deconflict.io.agreement_file import load_agreement

        return load_agreement(path).fingerprint
    raise InputError(
        f"agreement {given!r}: expected a fingerprint (at least 12 hex digits, as "
        "`deconflict serve` shows it) or an agreement .toml file"
    )
