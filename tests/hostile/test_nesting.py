"""Issue 11 item 6: deeply nested input is a 4xx, an error frame or one line, never a crash."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import typer
from tests.hostile.cases import DEEP
from tests.hostile.conftest import Deployment
from typer.testing import CliRunner
from websockets.sync.client import connect

from deconflict.cli.common import one_line_errors
from deconflict.cli.main import app
from deconflict.errors import InputError
from deconflict.json_text import MAX_DEPTH, DepthScan, nesting_depth, parse_json

DEEP_BODY = b"[" * DEEP


def reference_depth(data: bytes) -> int:
    """Byte by byte: brackets outside strings; a backslash escapes the next byte."""
    depth = deepest = 0
    inside = escaped = False
    for c in data:
        if c == ord("\\"):
            escaped = not escaped
            continue
        if c == ord('"') and not escaped:
            inside = not inside
        elif not inside and c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif not inside and c in b"]}":
            depth -= 1
        escaped = False
    return deepest


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('[[{"a": [1]}]]', 4),
        ('"[[[["', 0),
        ('["\\"[[[", [1]]', 2),
        ('["\\\\", [[1]]]', 3),
        ("[" * 65 + "]" * 65, 65),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: str, depth: int):
    assert nesting_depth(text) == depth == reference_depth(text.encode())


def test_nesting_depth_matches_a_byte_by_byte_reference_across_chunks():
    rng = random.Random(11)
    alphabet = b'[]{}"\\\\a'
    for _ in range(3000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 50)))
        scan = DepthScan()
        cut = sorted(rng.sample(range(len(data) + 1), k=min(3, len(data) + 1)))
        for a, b in zip([0, *cut], [*cut, len(data)], strict=True):
            scan.feed(data[a:b])  # pieces as a body streams in, split anywhere
        assert scan.deepest == nesting_depth(data) == reference_depth(data), data


def test_parse_json_refuses_deep_nesting_in_one_line():
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x") is not None
    for text in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[" * DEEP, '{"a":' * DEEP):
        with pytest.raises(InputError, match=f"x: JSON nested deeper than {MAX_DEPTH} levels"):
            parse_json(text, "x")
    with pytest.raises(InputError, match="not valid JSON"):
        parse_json("[" + "9" * 5000 + "]", "x")  # over Python's 4300-digit int limit


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/tracks", "application/json"),
        ("/tracks", "text/plain"),  # read as JSON by the endpoint, not by the middleware
        ("/operations", "application/json"),
        ("/agreement/ack", "application/json"),
        ("/hotline/messages", "application/json"),
    ],
)
def test_deep_http_bodies_get_422_with_one_line(
    deployment: Deployment, path: str, content_type: str
):
    r = deployment.blue.post(path, content=DEEP_BODY, headers={"content-type": content_type})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert f"nested deeper than {MAX_DEPTH} levels" in detail and "\n" not in detail


@pytest.mark.parametrize("path", ["/stream", "/hotline/ws"])
def test_deep_frames_get_an_error_frame_and_the_connection_goes_on(
    deployment: Deployment, path: str
):
    url = deployment.broker.url.replace("http://", "ws://") + path
    headers = {"Authorization": f"Bearer {deployment.blue.token}"}
    with connect(url, additional_headers=headers, max_size=None, open_timeout=10) as ws:
        for _ in range(2):  # answered, and answered again: the connection survived
            ws.send(DEEP_BODY.decode())
            while (reply := json.loads(ws.recv(timeout=10)))["type"] not in ("error",):
                pass
            assert reply["status"] == 422
            assert f"nested deeper than {MAX_DEPTH} levels" in reply["detail"]
        ws.send(json.dumps({"type": "ping"}) if path == "/hotline/ws" else "[]")
        while (reply := json.loads(ws.recv(timeout=10)))["type"] not in ("pong", "error"):
            pass
        assert reply["type"] == ("pong" if path == "/hotline/ws" else "error")


@pytest.mark.parametrize(
    ("argv", "content"),
    [
        (["plan", "check", "{f}", "{f}"], DEEP_BODY),
        (["zones", "{states}", "--zones", "{f}"], b'{"a":' * DEEP),
        (["detect", "{states}", "--agreement", "{f}"], b"a = " + b"[" * DEEP),
        (["private", "refine", "{f}", "-s", "{f}", "-o", "{out}"], DEEP_BODY),
        (["hotline", "overdue", "--config", "{f}"], b"a = " + b"{b = " * 5000),
    ],
)
def test_deep_files_are_one_line_and_exit_2(tmp_path: Path, argv: list[str], content: bytes):
    f = tmp_path / "deep.in"
    f.write_bytes(content)
    states = tmp_path / "s.csv"
    states.write_text(
        "time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm,party\n0,B1,48,2,3e4,450,90,0,b\n"
    )
    args = [a.format(f=f, states=states, out=tmp_path / "o.bin") for a in argv]
    res = CliRunner().invoke(app, args, env={"HOME": str(tmp_path)})
    assert res.exit_code == 2, (res.output, res.exception)
    assert len(res.stderr.strip().splitlines()) == 1
    assert "nested" in res.stderr


def test_one_line_errors_is_the_last_line_of_defence():
    """A RecursionError or MemoryError from any reader is one line and exit 2."""
    cli = typer.Typer()

    @cli.command()
    @one_line_errors
    def boom(kind: str) -> None:
        raise {"recursion": RecursionError, "memory": MemoryError}[kind]()

    for kind in ("recursion", "memory"):
        res = CliRunner().invoke(cli, [kind])
        assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1, res.output
        assert "Traceback" not in res.output
