"""The backup relay's HTTP channel against a relay that answers badly."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from nacl.signing import SigningKey

from deconflict.hotline.channels.http import HttpChannel
from deconflict.hotline.messages import Message, new_message


def _batch() -> list[Message]:
    return [
        new_message(SigningKey.generate(), kind="notice", sender="blue", to="red", seq=1, body="x")
    ]


@pytest.mark.parametrize("body", [b"<html>proxy</html>", b"[1, 2]", b'{"rejected": [{"id": "x"}]}'])
def test_a_2xx_reply_that_is_not_a_relay_answer_is_a_failed_send_then_a_retry(body, caplog):
    replies = [httpx.Response(200, content=body), httpx.Response(200, json={"stored": ["m1"]})]

    def answer(request: httpx.Request) -> httpx.Response:
        return replies.pop(0)

    async def two_sends():
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            channel = HttpChannel("http://backup.test/", http)
            return await channel.send(_batch()), await channel.send(_batch())

    with caplog.at_level(logging.WARNING, logger="deconflict.hotline.channels.http"):
        first, second = asyncio.run(two_sends())
    assert first is None
    assert second is not None and second.stored == ["m1"]
    [record] = caplog.records
    assert record.getMessage().startswith("backup relay http://backup.test: unreadable reply")
    assert "\n" not in record.getMessage()
