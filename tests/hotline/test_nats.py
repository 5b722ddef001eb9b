"""NATS JetStream as the primary transport (the machine's server on 127.0.0.1:4222).

The server comes from the ``nats_server`` fixture (tests/conftest.py): the one named in
``$DECONFLICT_TEST_NATS`` must answer (CI names it), else the one on 127.0.0.1:4222 is
used when it answers and the tests skip with the reason otherwise. Each run uses its own
stream and subject prefix, and deletes them afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import nats
import pytest

from deconflict.hotline.channels.nats import subject_for
from deconflict.hotline.client import HotlineClient
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.keys import load_key_file
from deconflict.hotline.messages import Message
from tests.hotline.conftest import Hotline, Party, until
from tests.service.conftest import free_port


@pytest.fixture
def prefix(nats_server: str) -> Iterator[str]:
    name = f"hltest{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        nc = await nats.connect(nats_server, connect_timeout=2)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(name.upper())
        await nc.close()

    asyncio.run(drop())


def client_of(h: Hotline, party: Party, nats_url: str, prefix: str, **kw: Any) -> HotlineClient:
    return HotlineClient(
        ClientStore(party.store),
        load_key_file(party.key),
        party.token,
        h.broker_url,
        h.backup_url,
        nats_url=nats_url,
        nats_prefix=prefix,
        **kw,
    )


def test_jetstream_carries_messages_exactly_once_in_order(
    nats_server: str, prefix: str, hotline: Hotline
):
    total = 2000
    got: list[Message] = []

    async def run() -> tuple[dict[str, int], int, int]:
        blue = client_of(hotline, hotline.blue, nats_server, prefix)
        red = client_of(hotline, hotline.red, nats_server, prefix, on_message=got.extend)
        await blue.start()
        await red.start()
        try:
            await until(lambda: blue.stats.primary_up and red.stats.primary_up, 20)
            sent = []
            for k in range(0, total, 100):
                sent += await blue.send_many(
                    [("notice", "red", f"m{k + i + 1}", None, None) for i in range(100)]
                )
            await until(lambda: blue.store.outbox_counts()["acked"] == total, 60)
            # Re-publish copies of the first 100 with their ids: the stream drops them.
            nc = await nats.connect(nats_server)
            js = nc.jetstream()
            dups = 0
            for m in sent[:100]:
                ack = await js.publish(
                    subject_for(prefix, "red"),
                    m.to_json().encode(),
                    headers={"Nats-Msg-Id": f"{m.sender}.{m.id}"},
                )
                dups += ack.duplicate
            # And one forged message, published around every relay: red drops it.
            forged = sent[0].model_copy(update={"body": "forged", "seq": total + 1})
            await js.publish(subject_for(prefix, "red"), forged.to_json().encode())
            await nc.close()
            # Red reads the stream in order: once it has dropped the forged message, which
            # came last, it has seen everything the stream holds (the copies never got in).
            await until(lambda: red.stats.bad_signatures >= 1, 20)
            db = blue.store._db
            vias = dict(db.execute("SELECT relayed_via, COUNT(*) FROM outbox GROUP BY 1"))
            return vias, dups, red.stats.bad_signatures
        finally:
            await blue.stop()
            await red.stop()

    vias, dups, dropped = asyncio.run(run())
    assert vias == {"nats": total}
    assert dups == 100
    assert dropped == 1
    from_blue = [m for m in got if m.sender == "blue"]
    assert [m.seq for m in from_blue] == list(range(1, total + 1))
    assert [m.body for m in from_blue] == [f"m{k}" for k in range(1, total + 1)]


def test_without_nats_the_backup_carries_the_traffic(prefix: str, hotline: Hotline):
    dead = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    got: list[Message] = []

    async def run() -> str | None:
        blue = client_of(hotline, hotline.blue, dead, prefix)
        red = client_of(hotline, hotline.red, dead, prefix, on_message=got.extend)
        await blue.start()
        await red.start()
        try:
            msg = await blue.send("distress", "red", "MAYDAY, no NATS")
            await until(lambda: any(m.id == msg.id for m in got), 20)
            return await blue.wait_relayed(msg.id, 5)
        finally:
            await blue.stop()
            await red.stop()

    assert asyncio.run(run()) == "backup"
