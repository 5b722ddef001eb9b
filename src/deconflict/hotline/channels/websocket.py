"""The broker's WebSocket (``/hotline/ws``): the hotline's usual primary channel.

Sends go out as ``send`` frames and are confirmed by ``stored`` frames, in order; the
broker pushes ``deliver`` frames, acknowledged by ``ack`` frames once committed. A
``ping`` every ``heartbeat_s`` must be answered (any frame counts) within
``dead_after_s``, else the connection is closed and the channel is down until it
reconnects (every ``reconnect_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from deconflict.hotline.channels.base import DEFAULT_TIMING, Link, Relayed, Timing
from deconflict.hotline.messages import Message

log = logging.getLogger(__name__)

#: Largest frame accepted from the broker, bytes.
MAX_FRAME_BYTES = 32 * 2**20


class WebSocketChannel:
    """A party's WebSocket to the broker's relay."""

    name = "primary"
    label = "broker WebSocket"

    def __init__(self, broker_url: str, token: str, timing: Timing = DEFAULT_TIMING) -> None:
        self.url = broker_url.rstrip("/")
        self.token = token
        self.timing = timing
        self._link: Link | None = None
        self._ws: ClientConnection | None = None
        self._in_flight: deque[asyncio.Future[dict[str, Any]]] = deque()
        self._last_pong = 0.0
        self._send_lock = asyncio.Lock()

    def _ws_url(self) -> str:
        base = self.url.replace("https://", "wss://").replace("http://", "ws://")
        return f"{base}/hotline/ws"

    async def run(self, party: str, link: Link) -> None:
        """Connect, read frames, reconnect after ``reconnect_s`` whenever the connection ends."""
        self._link = link
        while True:
            try:
                async with connect(
                    self._ws_url(),
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=2,
                    ping_interval=None,
                    close_timeout=0.5,
                    max_size=MAX_FRAME_BYTES,
                    proxy=None,
                ) as ws:
                    self._ws = ws
                    self._last_pong = time.monotonic()
                    beat = asyncio.create_task(self._heartbeat(ws, link))
                    inbound: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=16)
                    worker = asyncio.create_task(self._deliveries(ws, inbound, link))
                    try:
                        async for frame in ws:
                            await self._on_frame(frame, inbound, link)
                    finally:
                        beat.cancel()
                        worker.cancel()
            except (OSError, WebSocketException, TimeoutError) as err:
                log.debug("primary: %s", err)
            except asyncio.CancelledError:
                raise
            self._ws = None
            self._down(link, "primary connection closed")
            await asyncio.sleep(self.timing.reconnect_s)

    async def send(self, batch: list[Message]) -> Relayed | None:
        """Send one frame and wait up to ``ack_timeout_s`` for its ``stored`` reply."""
        ws = self._ws
        if ws is None:
            return None
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        try:
            frame = json.dumps({"type": "send", "messages": [m.model_dump() for m in batch]})
            async with self._send_lock:  # replies come in the order the frames went out
                self._in_flight.append(fut)
                await ws.send(frame)
            reply = await asyncio.wait_for(fut, self.timing.ack_timeout_s)
        except (TimeoutError, WebSocketException, OSError, ConnectionError):
            if self._link is not None:
                self._down(self._link, "no confirmation from the primary")
            return None
        return Relayed.from_reply(reply)

    def _down(self, link: Link, why: str) -> None:
        """Fail the sends waiting for a reply, and report the channel down."""
        for fut in self._in_flight:
            if not fut.done():
                fut.set_exception(ConnectionError(why))
        self._in_flight.clear()
        link.down(why)

    async def _heartbeat(self, ws: ClientConnection, link: Link) -> None:
        while True:
            with contextlib.suppress(WebSocketException, OSError):
                await ws.send(json.dumps({"type": "ping", "t": time.time()}))
            await asyncio.sleep(self.timing.heartbeat_s)
            silent = time.monotonic() - self._last_pong
            if silent > self.timing.dead_after_s:
                self._down(link, f"primary silent {silent:.1f} s")
                await ws.close()
                return

    async def _deliveries(
        self, ws: ClientConnection, inbound: asyncio.Queue[dict[str, Any]], link: Link
    ) -> None:
        """Commit pushed deliveries, then acknowledge them (apart from the frame reader)."""
        while True:
            data = await inbound.get()
            await link.deliver([d["message"] for d in data["deliveries"]], self.name)
            with contextlib.suppress(WebSocketException, OSError):
                ids = [d["d"] for d in data["deliveries"]]
                await ws.send(json.dumps({"type": "ack", "ids": ids}))

    async def _on_frame(
        self, raw: str | bytes, inbound: asyncio.Queue[dict[str, Any]], link: Link
    ) -> None:
        data = json.loads(raw)
        kind = data.get("type")
        self._last_pong = time.monotonic()  # any frame shows the primary is alive
        if kind == "pong":
            link.up()
        elif kind == "stored":
            if self._in_flight:
                fut = self._in_flight.popleft()
                if not fut.done():
                    fut.set_result(data)
        elif kind == "deliver":
            await inbound.put(data)
        elif kind in ("escalation", "error"):
            link.event(data)
            if kind == "error" and self._in_flight:
                fut = self._in_flight.popleft()
                if not fut.done():
                    fut.set_exception(ConnectionError(data.get("detail", "error")))
