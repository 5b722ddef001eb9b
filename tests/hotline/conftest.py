"""Real relays and parties as processes on 127.0.0.1, for the hotline's fault tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deconflict.hotline.keys import new_key_file
from deconflict.store.migrate import upgrade
from tests.service.conftest import free_port, quick_party

ROOT = Path(__file__).resolve().parents[2]


def python_path() -> str:
    """``PYTHONPATH`` for child processes: the checkout (for ``tests.…``), then the inherited."""
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(ROOT), *([inherited] if inherited else [])])


@dataclass
class Proc:
    """A process we can start, kill -9, freeze, thaw and restart."""

    args: list[str]
    log: Path
    health_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, timeout_s: float = 30.0) -> Proc:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, *self.args],
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.log.parent,  # the test's temporary folder, never the checkout
                env={**os.environ, "PYTHONPATH": python_path(), **self.env},
            )
        if self.health_url:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.args[:3]} exited: {self.log.read_text()[-2000:]}")
                try:
                    if httpx.get(self.health_url, timeout=1.0, trust_env=False).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            raise RuntimeError(f"{self.health_url} did not answer: {self.log.read_text()[-2000:]}")
        return self

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)


@dataclass
class Party:
    """A party's credentials and its own files."""

    name: str
    token: str
    key: Path
    store: Path


@dataclass
class Hotline:
    """A broker (primary relay), a backup relay and two parties, all on 127.0.0.1."""

    tmp: Path
    broker: Proc
    backup: Proc
    blue: Party
    red: Party
    #: Every party process started, so that teardown stops them even after a failure.
    parties: list[Proc] = field(default_factory=list)

    @property
    def broker_url(self) -> str:
        return self.broker.health_url.removesuffix("/health")  # type: ignore[union-attr]

    @property
    def backup_url(self) -> str:
        return self.backup.health_url.removesuffix("/health")  # type: ignore[union-attr]

    def listener(self, party: Party, jsonl: Path) -> Proc:
        args = ["-m", "deconflict", "hotline", "listen", "--quiet", "--jsonl", str(jsonl)]
        return Proc([*args, *self.client_flags(party)], self.tmp / f"listen-{party.name}.log")

    def sender(self, party: Party, to: str, total: int, rate: float) -> Proc:
        args = [str(party.store), str(party.key), party.token, self.broker_url, self.backup_url]
        proc = Proc(
            ["-m", "tests.hotline.sender_proc", *args, to, str(total), str(rate)],
            self.tmp / f"send-{party.name}.log",
        )
        self.parties.append(proc)
        return proc

    def client_flags(self, party: Party) -> list[str]:
        return [
            "--token",
            party.token,
            "--key-file",
            str(party.key),
            "--store",
            str(party.store),
            "--broker-url",
            self.broker_url,
            "--backup-url",
            self.backup_url,
        ]

    def stop(self) -> None:
        for p in (*self.parties, self.broker, self.backup):
            p.stop()


@pytest.fixture
def hotline(tmp_path: Path) -> Iterator[Hotline]:
    db = f"sqlite:///{tmp_path / 'broker.db'}"
    upgrade(db)
    parties = []
    for name in ("blue", "red"):
        token = quick_party(db, name)
        key = tmp_path / f"{name}.key"
        new_key_file(key)
        parties.append(Party(name, token, key, tmp_path / f"{name}.hotline.db"))
    port, bport = free_port(), free_port()
    broker = Proc(
        ["-m", "deconflict", "serve", "--db", db, "--port", str(port)],
        tmp_path / "broker.log",
        f"http://127.0.0.1:{port}/health",
    ).start()
    backup = Proc(
        [
            "-m",
            "deconflict",
            "hotline",
            "backup",
            "--db",
            f"sqlite:///{tmp_path / 'backup.db'}",
            "--registry-db",
            db,
            "--port",
            str(bport),
        ],
        tmp_path / "backup.log",
        f"http://127.0.0.1:{bport}/health",
    ).start()
    h = Hotline(tmp_path, broker, backup, parties[0], parties[1])
    yield h
    h.stop()


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Every complete line of a JSON-lines file."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def until(cond: Callable[[], object], timeout_s: float = 20.0) -> None:
    """Wait (asynchronously) until ``cond()`` is true; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")
