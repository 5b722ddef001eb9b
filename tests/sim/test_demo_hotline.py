"""The demo's cuttable line: bytes pass, a cut drops live and new connections, a mend heals."""

from __future__ import annotations

import asyncio

import pytest

from deconflict.sim.demo_hotline import CuttableLine


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1024), 2.0)
    finally:
        writer.close()


def test_the_line_carries_bytes_until_cut_and_again_once_mended() -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        line = CuttableLine(int(server.sockets[0].getsockname()[1]))
        await line.start()
        try:
            assert await _round_trip(line.port, b"ping") == b"ping"

            reader, writer = await asyncio.open_connection("127.0.0.1", line.port)
            writer.write(b"held")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(1024), 2.0) == b"held"
            line.cut()  # the live connection ends
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                got = await asyncio.wait_for(reader.read(1024), 2.0)
                if got == b"":
                    raise asyncio.IncompleteReadError(b"", None)
            writer.close()

            # A new connection is accepted and dropped: nothing comes back.
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                got = await _round_trip(line.port, b"lost")
                if got == b"":
                    raise asyncio.IncompleteReadError(b"", None)

            line.mend()
            assert await _round_trip(line.port, b"back") == b"back"
        finally:
            await line.close()
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
