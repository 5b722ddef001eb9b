"""Where a party client's states come from: async iterators of batches of states.

* :func:`file_replay`: a CSV or Parquet states file (``deconflict.io.states``), one
  batch per ``time``, at real time, ``speed`` times faster, or as fast as possible.
* :func:`json_lines`: JSON lines (one state a line) from a text stream such as stdin;
  a bad line is reported and skipped.
* :func:`sbs_feed`: a live SBS-1 / BaseStation feed over TCP (``dump1090`` port 30003),
  decoded by :class:`~deconflict.client.sbs.SbsDecoder`; reconnects when it drops.

Each yields lists of state dicts with the broker's input columns.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from deconflict.client.party import DEFAULT_TIMING, Timing, backoff_delays
from deconflict.client.sbs import SbsDecoder
from deconflict.client.states import check_states, state_rows
from deconflict.errors import InputError
from deconflict.io.states import read_states
from deconflict.json_text import parse_json

#: Longest JSON line read from a stream (characters).
MAX_JSON_LINE_CHARS = 64 * 1024
#: Longest SBS-1 line kept while waiting for its end (bytes); longer ones are skipped.
MAX_SBS_LINE_BYTES = 4096

Batch = list[dict[str, Any]]
Report = Callable[[str], None]


def file_replay(
    path: str | Path,
    *,
    speed: float | None = 1.0,
    sleep: Callable[[float], Any] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[Batch]:
    """The states of a CSV/Parquet file, one batch per ``time``, in time order.

    ``speed``: 1 replays at real time, N N times faster, None as fast as possible.
    A ``party`` or ``callsign`` column is ignored (every state is this party's). The
    whole file is read and checked now, before anything is sent: a bad row is one
    :class:`InputError` line naming it. The pace starts with the first batch taken.
    """
    if speed is not None and not speed > 0:
        raise InputError(f"speed: must be > 0, got {speed:g}")
    state = read_states(path)  # checked with the broker's rule, rows named
    return _replay(state_rows(state), state.time, speed, sleep, clock)


async def _replay(
    rows: list[dict[str, Any]],
    time_s: np.ndarray,
    speed: float | None,
    sleep: Callable[[float], Any],
    clock: Callable[[], float],
) -> AsyncIterator[Batch]:
    order = np.argsort(time_s, kind="stable")
    times = time_s[order]
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    ends = np.r_[starts[1:], times.size]
    t0_s = float(times[0]) if times.size else 0.0
    started = clock()
    for a, b in zip(starts, ends, strict=True):  # over snapshot times
        if speed is not None:
            due = started + (float(times[a]) - t0_s) / speed
            wait_s = due - clock()
            if wait_s > 0:
                await sleep(wait_s)
        yield [rows[int(k)] for k in order[a:b]]


async def json_lines(
    stream: TextIO, *, report: Report | None = None, batch_max: int = 1000
) -> AsyncIterator[Batch]:
    """States from JSON lines (one object with the input columns a line).

    Lines are read in a thread; what has arrived is yielded together (at most
    ``batch_max``). A bad line (not JSON, a bad field) is reported as one line
    (``line N: ...``) and skipped; blank lines are skipped.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=10 * batch_max)

    def pump() -> None:
        try:
            for n, line in enumerate(stream, 1):  # over lines as they come
                asyncio.run_coroutine_threadsafe(queue.put((n, line)), loop).result()
        except (OSError, ValueError, RuntimeError):
            pass  # the stream or the loop closed
        finally:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(queue.put(None), loop)

    threading.Thread(target=pump, name="deconflict-client-stdin", daemon=True).start()
    done = False
    while not done:
        items = [await queue.get()]
        while len(items) < batch_max and not queue.empty():
            items.append(queue.get_nowait())
        batch: Batch = []
        for item in items:  # over the lines that have arrived
            if item is None:
                done = True
                break
            state = _json_state(*item, report)
            if state is not None:
                batch.append(state)
        if batch:
            yield _unique(batch)


def _json_state(n: int, line: str, report: Report | None) -> dict[str, Any] | None:
    text = line.strip()
    if not text:
        return None
    try:
        if len(text) > MAX_JSON_LINE_CHARS:
            raise InputError(f"longer than {MAX_JSON_LINE_CHARS} characters")
        data = parse_json(text, "state")
        if not isinstance(data, dict):
            raise InputError("expected a JSON object with the state's fields")
        return check_states([data])[0]
    except InputError as err:
        if report is not None:
            report(f"line {n}: {str(err).removeprefix('state 1').lstrip(', :')}")
        return None


def _unique(batch: Batch) -> Batch:
    """The last of each (id, time) in a batch (the broker refuses a batch with both)."""
    seen: dict[tuple[str, float], dict[str, Any]] = {}
    for s in batch:  # over states of one batch
        seen[(s["id"], s["time"])] = s
    return list(seen.values())


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port); one-line error otherwise.

    >>> parse_host_port("127.0.0.1:30003"), parse_host_port("[::1]:30003")
    (('127.0.0.1', 30003), ('::1', 30003))
    """
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--sbs {text!r}: expected HOST:PORT, e.g. 127.0.0.1:30003")
    return host, int(port)


async def sbs_feed(
    host: str,
    port: int,
    *,
    decoder: SbsDecoder | None = None,
    report: Report | None = None,
    reconnect: bool = True,
    timing: Timing = DEFAULT_TIMING,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
) -> AsyncIterator[Batch]:
    """States decoded from an SBS-1 TCP feed, a batch per read (times: ``clock``, Unix s).

    When the feed closes or cannot be reached, one line is reported and the feed is
    reconnected with backoff (``reconnect``), else the iterator ends. The decoder's
    ``stats`` count lines, malformed lines and states.
    """
    decoder = decoder or SbsDecoder()
    delays = backoff_delays(timing, rng or random.Random())
    where = f"SBS-1 feed {host}:{port}"
    down = False
    while True:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timing.http_timeout_s
            )
        except (OSError, TimeoutError) as err:
            if not reconnect:
                raise InputError(f"{where}: cannot connect ({type(err).__name__})") from None
            if not down and report is not None:
                report(f"{where}: cannot connect ({type(err).__name__}); retrying with backoff")
            down = True
            await asyncio.sleep(next(delays))
            continue
        if down and report is not None:
            report(f"{where}: connected again")
        elif report is not None:
            report(f"{where}: connected")
        down = False
        delays = backoff_delays(timing, rng or random.Random())
        try:
            async for batch in _sbs_batches(reader, decoder, clock):
                yield batch
        finally:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()
        if not reconnect:
            return
        if report is not None:
            report(f"{where}: closed; reconnecting with backoff")
        down = True
        await asyncio.sleep(next(delays))


async def _sbs_batches(
    reader: asyncio.StreamReader, decoder: SbsDecoder, clock: Callable[[], float]
) -> AsyncIterator[Batch]:
    """Decode every complete line of each read; a batch of the states it completed."""
    pending = b""
    while True:
        try:
            chunk = await reader.read(65536)
        except (OSError, ConnectionError):
            chunk = b""
        if not chunk:
            if pending:
                states = decoder.feed(pending.decode("utf-8", "replace"), clock())
                if states:
                    yield _unique(states)
            return
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > MAX_SBS_LINE_BYTES:  # no end in sight: skip it as one bad line
            decoder.stats.lines += 1
            decoder.stats.malformed += 1
            pending = b""
        t_s = clock()
        states = decoder.feed_lines((ln.decode("utf-8", "replace") for ln in lines), t_s)
        if states:
            yield _unique(states)
