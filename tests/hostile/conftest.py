"""Real broker and backup-relay processes on 127.0.0.1, each in its own temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.service.conftest import Client, free_port, quick_party, wait_healthy

from deconflict.store.migrate import upgrade

#: The body limit the corpus brokers run with (MiB): small, so oversize cases stay cheap.
CORPUS_LIMIT_MIB = 1


@dataclass
class Server:
    """A ``python -m deconflict`` server process (the broker, or the backup relay)."""

    args: list[str]
    cwd: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.cwd / f"server-{self.port}.log"

    def start(self, timeout_s: float = 30.0) -> Server:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deconflict", *self.args, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env={**os.environ, **self.env},
            )
        wait_healthy(self.proc, self.url, self.log, timeout_s, "server")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Deployment:
    """A broker (its db and parties) as the corpus and the limit tests use it."""

    broker: Server
    db: str
    blue: Client
    red: Client
    admin: Client


def start_broker(
    tmp: Path, *extra: str, env: dict[str, str] | None = None, db: str | None = None
) -> Deployment:
    """A migrated broker (SQLite in ``tmp`` unless ``db``) with blue (agreement
    acknowledged), red and an admin; it runs in ``tmp``."""
    db = db or f"sqlite:///{tmp / 'broker.db'}"
    upgrade(db)
    server = Server(["serve", "--db", db, *extra], cwd=tmp, port=free_port(), env=env or {})
    server.start()
    blue, red, admin = (
        Client(name, quick_party(db, name, admin=name == "wg"), server.url)
        for name in ("blue", "red", "wg")
    )
    blue.ack()
    return Deployment(server, db, blue, red, admin)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One broker per module, body limit :data:`CORPUS_LIMIT_MIB` (set by its variable)."""
    tmp = tmp_path_factory.mktemp("hostile")
    d = start_broker(tmp, env={"DECONFLICT_MAX_BODY_BYTES": str(CORPUS_LIMIT_MIB * 1024 * 1024)})
    yield d
    d.broker.stop()
