"""Issue 11 item 7: bodies and frames over the limit are refused before they are read whole."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from tests.hostile.conftest import Deployment, Server, start_broker
from tests.service.conftest import free_port
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from deconflict.cli.main import app
from deconflict.service.settings import Settings

MIB = 1024 * 1024
#: The report's case: a body bigger than the default limit (32 MiB).
BODY = 40 * MIB


@pytest.fixture(scope="module")
def default_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A broker with the default limit (no flag, no variable)."""
    d = start_broker(tmp_path_factory.mktemp("limits"))
    yield d
    d.broker.stop()


def rss(server: Server) -> int:
    assert server.proc is not None
    return int(psutil.Process(server.proc.pid).memory_info().rss)


def chunks(total: int, size: int = MIB) -> Iterator[bytes]:
    """A body streamed without Content-Length (chunked)."""
    for _ in range(total // size):
        yield b" " * size


def test_default_limit_is_32_mib_and_configurable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DECONFLICT_MAX_BODY_BYTES", raising=False)
    assert Settings().max_body_bytes == 32 * MIB
    monkeypatch.setenv("DECONFLICT_MAX_BODY_BYTES", str(5 * MIB))
    assert Settings().max_body_bytes == 5 * MIB
    res = CliRunner().invoke(app, ["serve", "--max-body-mib", "-1"])
    assert res.exit_code == 2 and "max_body_bytes" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_40_mib_body_gets_413_without_the_broker_growing(default_broker: Deployment):
    broker, blue = default_broker.broker, default_broker.blue
    before = rss(broker)
    for path in ("/tracks", "/operations", "/hotline/messages"):
        r = blue.post(path, content=b" " * BODY, headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.json()["detail"] == "request body larger than the limit of 32 MiB"
    assert rss(broker) - before < 8 * MIB  # never read: nothing like the 40 MiB body


def test_413_comes_before_the_body_is_sent(default_broker: Deployment):
    """Only the headers go: the answer comes without waiting for a byte of the body."""
    port = default_broker.broker.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            f"POST /tracks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {default_broker.blue.token}\r\n"
            f"Content-Length: {BODY}\r\n\r\n".encode()
        )
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413"), head


def test_a_chunked_body_is_cut_off_at_the_limit(default_broker: Deployment):
    broker, blue = default_broker.broker, default_broker.blue
    before = rss(broker)
    for path in ("/tracks", "/agreement/ack"):  # read by the endpoint / by FastAPI
        r = blue.post(path, content=chunks(BODY), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
    # Held at most up to the limit while it streamed in, never the whole body.
    assert rss(broker) - before < BODY
    assert blue.get("/alerts").status_code == 200  # and the broker goes on


def test_a_frame_over_the_default_limit_closes_with_1009(default_broker: Deployment):
    url = default_broker.broker.url.replace("http://", "ws://") + "/stream"
    headers = {"Authorization": f"Bearer {default_broker.blue.token}"}
    with connect(url, additional_headers=headers, max_size=None, open_timeout=10) as ws:
        ws.send(" " * BODY)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_the_backup_relay_has_the_same_limits(deployment: Deployment, tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'backup.db'}"
    backup = Server(
        ["hotline", "backup", "--db", db, "--registry-db", deployment.db],
        cwd=tmp_path,
        port=free_port(),
        env={"DECONFLICT_BACKUP_MAX_BODY_BYTES": str(MIB)},
    ).start()
    try:
        token = deployment.blue.token
        r = httpx.post(
            backup.url + "/hotline/messages",
            content=b" " * (2 * MIB),
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
            timeout=10,
        )
        assert r.status_code == 413, r.text
        url = backup.url.replace("http://", "ws://") + "/hotline/ws"
        with connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
        ) as ws:
            ws.send(" " * (2 * MIB))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        backup.stop()
