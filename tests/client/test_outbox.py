"""The outbox file, the state checks, the settings and the file/stdin sources (no broker)."""

from __future__ import annotations

import asyncio
import io
import stat
from pathlib import Path

import pandas as pd
import pytest

from deconflict.client.outbox import ALERT_CURSOR, Outbox
from deconflict.client.sources import file_replay, json_lines, parse_host_port
from deconflict.client.states import check_states
from deconflict.errors import InputError
from deconflict.hotline.config import load_config

S = {
    "time": 10.0,
    "id": "A1",
    "lat": 45.0,
    "lon": 5.0,
    "alt_ft": 30000.0,
    "gs_kt": 400.0,
    "track_deg": 90.0,
    "vs_fpm": 0.0,
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outbox_is_private_ordered_unique_and_survives_reopening(tmp_path: Path):
    path = tmp_path / "box.db"
    box = Outbox(path)
    assert mode(path) == 0o600
    states = [{**S, "time": 10.0 + k} for k in range(5)]
    assert box.put(states) == 5
    assert box.put([*states[:2], {**S, "time": 99.0}]) == 1  # pending duplicates: once
    head = box.head(3)
    assert [p.state["time"] for p in head] == [10.0, 11.0, 12.0]
    box.remove([p.n for p in head[:2]])
    box.refuse([head[2].n], "row 1, column 'lat': bad")
    box.set_meta(ALERT_CURSOR, "41")
    box.close()

    path.chmod(0o644)  # someone loosened it: reopening makes it private again
    again = Outbox(path)
    assert mode(path) == 0o600
    assert again.pending() == 3
    assert [p.state["time"] for p in again.head(10)] == [13.0, 14.0, 99.0]
    assert again.refused() == [({**S, "time": 12.0}, "row 1, column 'lat': bad")]
    assert again.get_meta(ALERT_CURSOR) == "41"
    again.close()


def test_an_outbox_with_pending_states_belongs_to_one_broker_and_token(tmp_path: Path):
    box = Outbox(tmp_path / "box.db")
    box.bind("http://a:1", "token-a")
    box.put([S])
    box.bind("http://a:1/", "token-a")  # the same owner (trailing slash aside)
    box.bind("http://a:1", "token-typo")  # token-a was never accepted: taken over
    assert box.pending() == 1
    box.bind("http://a:1", "token-a")
    box.confirm()  # the broker accepted token-a: its states are that party's
    with pytest.raises(InputError, match="1 unsent state"):
        box.bind("http://a:1", "token-b")
    box.remove([p.n for p in box.head(10)])
    box.set_meta(ALERT_CURSOR, "7")
    box.bind("http://b:1", "token-b")  # empty: taken over, the alert cursor forgotten
    assert box.get_meta(ALERT_CURSOR) is None
    box.close()


def test_check_states_uses_the_brokers_rule_and_names_the_state():
    assert check_states([{**S, "track_deg": -90}])[0]["track_deg"] == 270.0
    with pytest.raises(InputError, match=r"state 2: unknown field\(s\) party"):
        check_states([S, {**S, "party": "red"}])
    with pytest.raises(InputError, match="state 1: missing field"):
        check_states([{k: v for k, v in S.items() if k != "vs_fpm"}])
    with pytest.raises(InputError, match="field 'lat': not a number: True"):
        check_states([{**S, "lat": True}])
    with pytest.raises(InputError, match="lat"):
        check_states([{**S, "lat": 91.0}])
    with pytest.raises(InputError):
        check_states([S, S])  # the same id twice at one time
    frame = pd.DataFrame([{**S, "party": "AFR", "callsign": "AFR1"}])
    assert check_states(frame) == [S]  # extra columns of a file are dropped


def test_settings_flags_over_prefixed_over_todays_variables(monkeypatch: pytest.MonkeyPatch):
    for var in ("CLIENT_TOKEN", "TOKEN", "CLIENT_BROKER_URL", "BROKER_URL", "CLIENT_OUTBOX"):
        monkeypatch.delenv(f"DECONFLICT_{var}", raising=False)
    with pytest.raises(
        InputError, match=r"^no token: pass --token, set DECONFLICT_CLIENT_TOKEN, or put token"
    ):
        load_config({}, need_key=False)
    monkeypatch.setenv("DECONFLICT_TOKEN", "old")
    monkeypatch.setenv("DECONFLICT_BROKER_URL", "http://old:1")
    s = load_config({}, need_key=False)
    assert (s.token, s.broker_url, str(s.outbox)) == ("old", "http://old:1", "client-outbox.db")
    monkeypatch.setenv("DECONFLICT_CLIENT_TOKEN", "new")
    monkeypatch.setenv("DECONFLICT_CLIENT_BROKER_URL", "http://new:1")
    assert (load_config({}, need_key=False).token, load_config({}, need_key=False).broker_url) == (
        "new",
        "http://new:1",
    )
    assert load_config({"token": "flag", "outbox": None}, need_key=False).token == "flag"
    with pytest.raises(InputError, match=r"^setting 'broker_url'.*got 'ftp://x'$"):
        load_config({"broker_url": "ftp://x"}, need_key=False)


def test_file_replay_groups_by_time_and_keeps_the_pace(tmp_path: Path):
    rows = [{**S, "time": t, "id": f"A{k}"} for t in (100.0, 110.0, 130.0) for k in range(2)]
    pd.DataFrame(rows).assign(party="x").to_csv(tmp_path / "s.csv", index=False)
    now = [0.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    async def collect(speed: float | None) -> list[list[dict]]:
        return [
            b
            async for b in file_replay(
                tmp_path / "s.csv", speed=speed, sleep=sleep, clock=lambda: now[0]
            )
        ]

    batches = asyncio.run(collect(10.0))
    assert [[s["time"] for s in b] for b in batches] == [[100.0] * 2, [110.0] * 2, [130.0] * 2]
    assert waits == pytest.approx([1.0, 2.0])  # (t - t0) / 10
    waits.clear()
    assert len(asyncio.run(collect(None))) == 3 and waits == []
    (tmp_path / "bad.csv").write_text("time,id,lat\n1,A,2\n")
    with pytest.raises(InputError, match="missing column"):
        file_replay(tmp_path / "bad.csv")  # at once, before anything is sent


def test_json_lines_reports_and_skips_bad_lines():
    import json

    text = "\n".join(
        [
            json.dumps(S),
            "not json",
            "",
            json.dumps({**S, "lat": 95}),
            "[1]",
            json.dumps({**S, "time": 11.0}),
        ]
    )
    reports: list[str] = []

    async def collect() -> list[dict]:
        return [
            s async for b in json_lines(io.StringIO(text + "\n"), report=reports.append) for s in b
        ]

    states = asyncio.run(collect())
    assert [s["time"] for s in states] == [10.0, 11.0]
    assert [r.split(":")[0] for r in reports] == ["line 2", "line 4", "line 5"]
    assert "lat" in reports[1]


def test_host_port():
    assert parse_host_port("localhost:30003") == ("localhost", 30003)
    for bad in ("localhost", ":30003", "h:0", "h:port", "h:70000"):
        with pytest.raises(InputError, match="expected HOST:PORT"):
            parse_host_port(bad)


def test_one_client_per_outbox(tmp_path: Path):
    box = Outbox(tmp_path / "box.db")
    with pytest.raises(InputError, match="in use by another client"):
        Outbox(tmp_path / "box.db")
    box.close()
    box.close()  # twice: nothing more
    Outbox(tmp_path / "box.db").close()  # free again once closed


def test_a_client_started_before_the_broker_says_when_it_connects(tmp_path: Path):
    """Nothing listens: one line that the broker is unreachable, then quiet retries."""
    import socket

    from deconflict.client.party import PartyClient, Timing
    from deconflict.hotline.config import ClientConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    statuses: list[str] = []

    async def scenario() -> int:
        settings = ClientConfig(
            broker_url=f"http://127.0.0.1:{port}", token="t", outbox=tmp_path / "o.db"
        )
        timing = Timing(backoff_base_s=0.01, backoff_max_s=0.05)
        client = PartyClient(settings, on_status=statuses.append, timing=timing)
        await client.send([S])  # queued before the link is tried
        await client.start()
        try:
            assert not await client.drain(timeout_s=0.5)
            return client.outbox.pending()
        finally:
            await client.stop()

    assert asyncio.run(scenario()) == 1
    assert len(statuses) == 1, statuses
    assert statuses[0].startswith(f"broker at http://127.0.0.1:{port} unreachable (ConnectError")
    assert statuses[0].endswith(
        f"1 state(s) in the outbox {tmp_path / 'o.db'}; reconnecting with backoff"
    )
