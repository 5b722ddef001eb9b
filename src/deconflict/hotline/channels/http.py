"""The backup relay's HTTP API: the hotline's backup channel.

Sends are ``POST /hotline/messages``; arrivals come from a long poll on
``GET /hotline/inbox`` (up to ``poll_wait_s``), acknowledged with
``POST /hotline/inbox/ack`` once committed. Plain request and response: the channel
has no connection to lose, so it never reports itself up or down.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from deconflict.hotline.channels.base import DEFAULT_TIMING, Link, Relayed, Timing
from deconflict.hotline.messages import Message

log = logging.getLogger(__name__)


class HttpChannel:
    """A party's channel to the backup relay, over the client's authenticated ``http``."""

    name = "backup"
    label = "backup relay (HTTP)"

    def __init__(self, url: str, http: httpx.AsyncClient, timing: Timing = DEFAULT_TIMING) -> None:
        self.url = url.rstrip("/")
        self.http = http
        self.timing = timing

    async def send(self, batch: list[Message]) -> Relayed | None:
        """POST the batch; None when the relay does not answer 2xx with a readable reply.

        The client sends again after ``reconnect_s`` either way.
        """
        try:
            resp = await self.http.post(
                f"{self.url}/hotline/messages",
                json={"messages": [m.model_dump() for m in batch]},
            )
            resp.raise_for_status()
        except httpx.HTTPError:
            return None
        try:
            return Relayed.from_reply(resp.json())
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning(
                "backup relay %s: unreadable reply to a send (%s: %s)",
                self.url,
                type(err).__name__,
                str(err).splitlines()[0] if str(err) else "",
            )
            return None

    async def run(self, party: str, link: Link) -> None:
        """Long-poll the inbox, deliver, acknowledge; after an error wait ``reconnect_s``."""
        while True:
            try:
                resp = await self.http.get(
                    f"{self.url}/hotline/inbox",
                    params={"wait_s": self.timing.poll_wait_s},
                    timeout=self.timing.poll_wait_s + self.timing.http_timeout_s,
                )
                resp.raise_for_status()
                deliveries = resp.json()["deliveries"]
                if deliveries:
                    await link.deliver([d["message"] for d in deliveries], self.name)
                    ack = await self.http.post(
                        f"{self.url}/hotline/inbox/ack",
                        json={"ids": [d["d"] for d in deliveries]},
                    )
                    ack.raise_for_status()
            except (httpx.HTTPError, ValueError, KeyError):
                await asyncio.sleep(self.timing.reconnect_s)
