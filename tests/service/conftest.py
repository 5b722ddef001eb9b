"""A real broker in a subprocess on 127.0.0.1, and the parties that talk to it."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deconflict.store.migrate import upgrade
from deconflict.store.sql import SqlRepository
from deconflict.store.tokens import hash_token, new_token
from tests.conftest import run_deconflict


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``deconflict ARGS`` in ``cwd`` (default: the test's own temporary directory); rc 0."""
    res = run_deconflict(*args, cwd=cwd, env=env)
    assert res.returncode == 0, res.stderr
    return res


def add_party(db: str, name: str, admin: bool = False) -> str:
    res = cli("party", "add", name, "--db", db, *(["--admin"] if admin else []))
    return res.stdout.strip().splitlines()[-1]


def wait_healthy(
    proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float, what: str
) -> None:
    """Wait until ``url/health`` answers 200; RuntimeError with the log's tail otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer in {timeout_s} s: {log.read_text()[-2000:]}")


@dataclass
class Broker:
    """``deconflict serve`` on 127.0.0.1, run in ``cwd`` (default: the log's folder).

    ``db`` None: no ``--db`` (the default database in the data directory).
    """

    db: str | None
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    #: More ``serve`` flags (e.g. ``("--stale-after-s", "3")``).
    args: tuple[str, ...] = ()
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        assert self.log is not None
        with self.log.open("ab") as log_file:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "deconflict",
                    "serve",
                    *(["--db", self.db] if self.db else []),
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.cwd or self.log.parent,
                env={**os.environ, **self.env},
            )
        wait_healthy(self.proc, self.url, self.log, timeout_s, "broker")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class Client:
    name: str
    token: str
    base: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, timeout=10.0, **kw)  # type: ignore[arg-type]

    def post(
        self, path: str, headers: dict[str, str] | None = None, **kw: object
    ) -> httpx.Response:
        return httpx.post(  # type: ignore[arg-type]
            self.base + path, headers={**self.headers, **(headers or {})}, timeout=10.0, **kw
        )

    def ack(self) -> None:
        fp = self.get("/agreement").json()["fingerprint"]
        assert self.post("/agreement/ack", json={"fingerprint": fp}).status_code == 200


def start_broker(db: str | None, tmp_path: Path, *args: str, cwd: Path | None = None) -> Broker:
    """A broker on ``db`` logging into ``tmp_path``, run in ``cwd`` (default ``tmp_path``),
    with more ``serve`` flags ``args``."""
    log = tmp_path / f"broker-{time.monotonic_ns()}.log"
    broker = Broker(db=db, port=free_port(), log=log, args=args, cwd=cwd)
    broker.start()
    return broker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One broker per test module (SQLite file); tests keep apart by their own parties."""
    tmp = tmp_path_factory.mktemp("broker")
    db = f"sqlite:///{tmp / 'broker.db'}"
    upgrade(db)
    b = start_broker(db, tmp)
    yield b
    b.stop()


_names = itertools.count()


def quick_party(db: str, name: str, admin: bool = False) -> str:
    """Register a party in-process (the CLI path has its own test): returns its token."""
    repo = SqlRepository(db)
    try:
        token = new_token()
        repo.add_party(name, hash_token(token), is_admin=admin)
        return token
    finally:
        repo.close()


def clients(broker: Broker) -> tuple[Client, Client, Client]:
    """Fresh blue, red and admin parties (unique names) on ``broker``."""
    k = next(_names)
    a = Client(f"blue{k}", quick_party(broker.db, f"blue{k}"), broker.url)
    b = Client(f"red{k}", quick_party(broker.db, f"red{k}"), broker.url)
    admin = Client(f"wg{k}", quick_party(broker.db, f"wg{k}", admin=True), broker.url)
    return a, b, admin


def wait_for(fn, timeout_s: float = 10.0, step_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError("condition not met in time")
