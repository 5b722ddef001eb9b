"""Listening: every message delivered to a party, once, in order, across restarts.

The store keeps one read cursor (:meth:`ClientStore.cursor`): a message is shown, and
written to the JSON-lines file when there is one, before the cursor moves past it. The
file is fsynced first, so after a crash between the two the file is ahead of the cursor
and wins (:func:`jsonl_cursor`); a line torn by the crash is dropped and written again.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from deconflict.errors import InputError
from deconflict.hotline.client import HotlineClient
from deconflict.hotline.client_store import OwedRequest
from deconflict.hotline.messages import Message

#: Most deliveries read from the store at once.
BATCH = 5000
#: How often the store is asked for new deliveries when there were none, s.
POLL_S = 0.05
#: How long the acks of the last messages get to leave before listen exits, s.
DRAIN_S = 5.0


async def listen(
    client: HotlineClient,
    *,
    jsonl: Path | None = None,
    count: int | None = None,
    show: Callable[[list[Message]], None] | None = None,
    on_started: Callable[[], None] | None = None,
    on_overdue: Callable[[OwedRequest], None] | None = None,
) -> None:
    """Run ``client`` and hand each delivery on once, in order, until ``count`` (else forever).

    Each batch is appended to ``jsonl`` (one ``{"n": delivery number, **message}`` a line,
    file 0600, fsynced) and given to ``show``, then the read cursor moves past it. A
    request that falls overdue is given to ``on_overdue`` once. The client is stopped and
    its store closed at the end, whatever happens.
    """
    out = None
    try:
        cursor = client.store.cursor()
        if jsonl:
            cursor = max(cursor, jsonl_cursor(jsonl, client.store.last_delivered()))
        seen = 0
        warned: set[str] = set()
        await client.start()
        if on_started is not None:
            on_started()
        out = open_private(jsonl) if jsonl else None
        while count is None or seen < count:
            limit = BATCH if count is None else min(BATCH, count - seen)
            rows = await asyncio.to_thread(client.store.delivered, cursor, limit)
            if rows:
                if out is not None:
                    out.write("".join(jsonl_line(n, m) for n, m in rows))
                    out.flush()
                    os.fsync(out.fileno())
                if show is not None:
                    show([m for _, m in rows])
                cursor = rows[-1][0]
                seen += len(rows)
                await asyncio.to_thread(client.store.advance_cursor, cursor)
                continue
            for owed in client.store.owed(time.time()):
                if owed.id not in warned:
                    warned.add(owed.id)
                    if on_overdue is not None:
                        on_overdue(owed)
            await asyncio.sleep(POLL_S)
        deadline = time.monotonic() + DRAIN_S
        while client.store.unrelayed(1) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
    finally:
        if out is not None:
            out.close()
        await client.stop()
        client.store.close()


def jsonl_line(n: int, message: Message) -> str:
    """One line of the JSON-lines output: the delivery number ``n``, then the message."""
    return json.dumps({"n": n, **message.model_dump()}) + "\n"


def open_private(path: Path) -> IO[str]:
    """Open ``path`` for appending, created 0600 (it holds message text); made 0600 if not."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)  # whatever the umask, or an older file's mode
        return os.fdopen(fd, "a")
    except BaseException:
        os.close(fd)
        raise


def jsonl_cursor(path: Path, last_delivered: int) -> int:
    """The last delivery number written to ``path`` (0 if none).

    The file is written and fsynced before the store's cursor moves, so after a crash
    between the two it is ahead of the cursor and wins. A file ahead of every delivery
    in the store (``last_delivered``) was written from another store: an error.
    """
    if not path.exists():
        return 0
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a line torn by a crash: drop it, it is re-written
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    lines = data.splitlines()
    try:
        written = int(json.loads(lines[-1])["n"]) if lines else 0
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InputError(f"{path}: the last line is not a delivery written by listen") from None
    if written > last_delivered:
        raise InputError(
            f"{path} ends at delivery {written}, but this store has released only "
            f"{last_delivered}: it was written from another store"
        )
    return written
