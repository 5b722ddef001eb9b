"""The party client against a real broker on 127.0.0.1: SBS-1 in, alerts out, kill -9."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconflict.cli.main import app
from deconflict.client.party import PartyClient, Timing
from deconflict.errors import InputError
from deconflict.hotline.config import ClientConfig
from deconflict.store.migrate import upgrade
from tests.service.conftest import Broker, Client, quick_party, start_broker, wait_for

A1 = {
    "time": 100.0,
    "id": "BLUE-A1",
    "lat": 20.0,
    "lon": 5.0,
    "alt_ft": 30000.0,
    "gs_kt": 400.0,
    "track_deg": 0.0,
    "vs_fpm": 0.0,
}
B1 = {**A1, "id": "RED-B1", "lat": 20.2, "track_deg": 180.0}
CSV = "time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n1,A,45,5,30000,400,0,0\n"
FAST = Timing(backoff_base_s=0.05, backoff_max_s=0.3, ping_s=1.0, poll_s=0.1, ack_timeout_s=5)
_names = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    tmp = tmp_path_factory.mktemp("client-broker")
    db = f"sqlite:///{tmp / 'broker.db'}"
    upgrade(db)
    b = start_broker(db, tmp)
    yield b
    b.stop()


def party(broker: Broker, stem: str, ack: bool = True) -> Client:
    assert broker.db is not None
    name = f"{stem}{next(_names)}"
    c = Client(name, quick_party(broker.db, name), broker.url)
    if ack:
        c.ack()
    return c


def fingerprint(c: Client) -> str:
    return str(c.get("/agreement").json()["fingerprint"])


def client_process(c: Client, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "deconflict", "client", *args, "--broker-url", c.base],
        env={**os.environ, "DECONFLICT_CLIENT_TOKEN": c.token},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


# -- SBS-1 from a local TCP server -------------------------------------------------------


def sbs_line(kind: int, hex_ident: str, fields: dict[int, str]) -> str:
    f = ["MSG", str(kind), "1", "1", hex_ident, "1", "2015/10/07", "10:00:00.000"]
    f += ["2015/10/07", "10:00:00.000"] + [""] * 12
    for i, v in fields.items():
        f[i] = v
    return ",".join(f)


class SbsServer:
    """A tiny asyncio TCP server (own thread) serving two aircraft like dump1090 does."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SbsServer:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        server = await asyncio.start_server(self._feed, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        await self.stop.wait()
        server.close()
        await server.wait_closed()

    async def _feed(self, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"MSG,3,1,1,NOTHEX,1,,,,,,35000,,,36.5,36.8,,,,,,0\r\n")  # malformed
        w.write(b"MSG,3,1,1,4CA2D1\r\nSTA,,5,179,400AE7,10103\r\n")  # malformed, ignored
        w.write((sbs_line(1, "4CA2D1", {10: "RYR8XK"}) + "\r\n").encode())
        try:
            for k in range(600):  # 2 minutes at most
                for hex_ident, lat in (("4CA2D1", 36.5), ("3C6DD4", 37.5)):
                    w.write(
                        (sbs_line(4, hex_ident, {12: "450", 13: "0", 16: "0"}) + "\r\n").encode()
                    )
                    pos = {11: "35000", 14: f"{lat + k * 0.0025:.5f}", 15: "36.80000"}
                    w.write((sbs_line(3, hex_ident, pos) + "\r\n").encode())
                await w.drain()
                await asyncio.sleep(0.2)
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()


def test_an_sbs1_feed_reaches_the_broker_through_the_client(broker: Broker):
    blue = party(broker, "sbs")
    with SbsServer() as sbs:
        proc = client_process(
            blue, "--sbs", f"127.0.0.1:{sbs.port}", "--agreement", fingerprint(blue)[:12]
        )
        try:
            tracks = wait_for(
                lambda: (
                    {t["id"]: t for t in blue.get("/tracks").json()}.keys() >= {"4CA2D1", "3C6DD4"}
                    and {t["id"]: t for t in blue.get("/tracks").json()}
                ),
                timeout_s=30,
            )
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert tracks["4CA2D1"]["alt_ft"] == 35000.0 and tracks["4CA2D1"]["gs_kt"] == 450.0
    assert 36.5 <= tracks["4CA2D1"]["lat"] < 37.0 and 37.5 <= tracks["3C6DD4"]["lat"] < 38.0
    lines = err.splitlines()
    assert f"client: SBS-1 feed 127.0.0.1:{sbs.port}: connected" in lines
    assert any(ln.startswith("client: connected to ") and "(websocket)" in ln for ln in lines)
    [summary] = [ln for ln in lines if ln.startswith("client: SBS-1: ")]
    assert ", 2 malformed (skipped), " in summary, summary
    assert "Traceback" not in err and out == ""


# -- alerts out --------------------------------------------------------------------------


def test_an_alert_pushed_by_the_broker_comes_out_as_a_json_line(broker: Broker):
    blue, red = party(broker, "blue"), party(broker, "red")
    assert red.post("/tracks", json=[B1]).status_code == 200  # red is there first
    res = CliRunner().invoke(
        app,
        ["client", "-", "--broker-url", broker.url, "--linger-s", "1"],
        input=json.dumps(A1) + "\n",
        env={"DECONFLICT_CLIENT_TOKEN": blue.token},
    )
    assert res.exit_code == 0, res.output
    alerts = [json.loads(line) for line in res.stdout.splitlines()]
    assert alerts and alerts[0]["own_id"] == "BLUE-A1" and alerts[0]["event"] == "new"
    assert alerts[0]["intruder"]["range_nm"] == pytest.approx(12.0, abs=0.2)
    assert alerts == blue.get("/alerts").json()[: len(alerts)]  # as GET /alerts has them
    assert "RED" not in res.stdout  # the other party only as relative geometry
    assert "client: done: 1 state(s) acknowledged" in res.stderr


def test_without_a_websocket_the_client_falls_back_to_http(broker: Broker):
    """A broker whose WebSocket cannot be opened: POST /tracks, alerts polled."""
    blue, red = party(broker, "http"), party(broker, "red")

    class NoWebSocket(PartyClient):
        def _ws_url(self) -> str:
            return super()._ws_url() + "-nowhere"  # the handshake is refused

    alerts: list[dict] = []
    statuses: list[str] = []

    async def scenario() -> None:
        settings = ClientConfig(broker_url=blue.base, token=blue.token, outbox=Path("o.db"))
        client = NoWebSocket(
            settings, on_alert=alerts.append, on_status=statuses.append, timing=FAST
        )
        async with client:
            await client.send([{**A1, "id": "HTTP-A1", "lat": 25.0}])
            assert await client.drain(20)
            await asyncio.to_thread(red.post, "/tracks", json=[{**B1, "lat": 25.2}])
            for _ in range(200):
                if alerts:
                    break
                await asyncio.sleep(0.05)
            assert client.stats.link == "http"

    asyncio.run(scenario())
    assert alerts and alerts[0]["own_id"] == "HTTP-A1"
    assert "(http fallback: the WebSocket failed: InvalidStatus" in statuses[0]


# -- the outbox across a broker kill -9 --------------------------------------------------


def states(k0: int, k1: int) -> list[dict]:
    return [
        {**A1, "id": f"K{j}", "lat": 10.0 + j, "time": 100.0 + k}
        for k in range(k0, k1)
        for j in range(3)
    ]


def test_the_outbox_delivers_what_was_sent_while_the_broker_was_killed(broker: Broker):
    """kill -9 the module's broker, send, start it again on the same database and port."""
    statuses: list[str] = []
    blue = party(broker, "kill")

    async def scenario() -> None:
        settings = ClientConfig(broker_url=broker.url, token=blue.token, outbox=Path("o.db"))
        async with PartyClient(settings, on_status=statuses.append, timing=FAST) as client:
            await client.send(states(0, 5))
            assert await client.drain(20)
            await asyncio.to_thread(broker.kill9)
            for _ in range(200):  # the client notices the broker is gone
                if client.stats.link is None:
                    break
                await asyncio.sleep(0.05)
            for k in range(5, 25):  # sent while the broker is down
                await client.send(states(k, k + 1))
                await asyncio.sleep(0.01)
            assert client.outbox.pending() == 20 * 3
            await asyncio.to_thread(broker.start)  # the same database, the same port
            assert await client.drain(30)
            assert client.stats.acknowledged == 25 * 3 and client.stats.disconnects == 1

    try:
        asyncio.run(scenario())
    finally:
        assert broker.proc is not None
        if broker.proc.poll() is not None:  # the later tests need it
            broker.start()
    assert broker.db is not None
    with sqlite3.connect(broker.db.removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT t.aircraft_id, t.time, count(*) FROM track_states t "
            "JOIN parties p ON p.id = t.party_id WHERE p.name = ? "
            "GROUP BY t.aircraft_id, t.time",
            (blue.name,),
        ).fetchall()
    sent = sorted((s["id"], s["time"]) for s in states(0, 25))
    assert sorted((r[0], r[1]) for r in rows) == sent
    assert {r[2] for r in rows} == {1}  # none lost, none twice
    lost = [s for s in statuses if s.startswith("lost the broker")]
    back = [s for s in statuses if s.startswith("reconnected to")]
    assert len(lost) == 1 and len(back) == 1, statuses
    assert "60 state(s) in the outbox to send" in back[0]


# -- errors a user can make: one line ----------------------------------------------------


def test_tracks_refused_for_an_unacknowledged_agreement_stop_with_one_line(broker: Broker):
    Path("s.csv").write_text(CSV)
    fresh = party(broker, "fresh", ack=False)
    args = ["client", "s.csv", "--as-fast-as-possible", "--broker-url", broker.url]
    res = CliRunner().invoke(app, args, env={"DECONFLICT_CLIENT_TOKEN": fresh.token})
    assert res.exit_code == 2, res.output
    fp = fingerprint(fresh)[:12]
    assert res.stderr.splitlines()[-2:] == [
        "client: 1 state(s) left in the outbox client-outbox.db; sent on the next run",
        f"error: {broker.url} refuses tracks until this party acknowledges its agreement "
        f"{fp}: pass --agreement {fp} (or the agreement's TOML file) after checking it is "
        "the one you agreed to",
    ], res.stderr
    assert "Traceback" not in res.output
    # Acknowledged with --agreement, the queued state goes on the next run.
    again = CliRunner().invoke(
        app,
        [*args, "--agreement", fp, "--linger-s", "0"],
        env={"DECONFLICT_CLIENT_TOKEN": fresh.token},
    )
    assert again.exit_code == 0, again.output
    assert [t["id"] for t in fresh.get("/tracks").json()] == ["A"]


def test_a_refused_token_or_another_agreement_is_fatal(broker: Broker):
    fresh = party(broker, "fresh", ack=False)

    async def run(token: str, agreement: str | None) -> str:
        settings = ClientConfig(broker_url=broker.url, token=token, outbox=Path(f"{token}.db"))
        client = PartyClient(settings, agreement=agreement, timing=FAST)
        with pytest.raises(InputError) as err:
            await asyncio.wait_for(client.run(source()), 30)
        return str(err.value)

    async def source() -> AsyncIterator[list[dict]]:
        yield [A1]

    assert "the broker refused the token" in asyncio.run(run("wrong", None))
    assert f"runs agreement {fingerprint(fresh)[:12]}, not 000000000000" in asyncio.run(
        run(fresh.token, "0" * 12)
    )


def test_option_mistakes_are_one_line():
    Path("s.csv").write_text(CSV)
    cases = [
        (("s.csv", "--sbs", "x:1"), "give one input"),
        ((), "give one input"),
        (("s.csv", "--speed", "2", "--as-fast-as-possible"), "choose one"),
        (("-", "--speed", "2"), "apply to a file only"),
        (("s.csv", "--broker-url", "ftp://x", "--token", "t"), "setting 'broker_url'"),
        (("--sbs", "nohost", "--token", "t"), "expected HOST:PORT"),
        (("s.csv", "--agreement", "xyz", "--token", "t"), "expected a fingerprint"),
    ]
    for args, expected in cases:
        res = CliRunner().invoke(app, ["client", *args])
        assert res.exit_code == 2, (args, res.output)
        assert expected in res.output and "Traceback" not in res.output, (args, res.output)
