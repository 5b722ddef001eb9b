"""``hotline overdue --remote`` asks both relays: a request only the backup carried is listed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from tests.hotline.conftest import Hotline, Party, python_path
from tests.service.conftest import free_port

MESSAGE_ID = re.compile(r"\b[0-9a-f]{32}\b")


def run(h: Hotline, *args: str) -> subprocess.CompletedProcess[str]:
    """``deconflict ARGS`` in its own process, in the test's folder."""
    return subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        cwd=h.tmp,
        env={**os.environ, "PYTHONPATH": python_path()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def flags(h: Hotline, party: Party, *, broker_url: str | None = None) -> list[str]:
    out = h.client_flags(party)
    if broker_url is not None:
        out[out.index("--broker-url") + 1] = broker_url
    return out


def test_overdue_remote_merges_both_relays_and_names_the_one_that_failed(
    hotline: Hotline,
) -> None:
    h = hotline
    ok = run(h, "hotline", "send", "--to", "red", "registers blue's key", *flags(h, h.blue))
    assert ok.returncode == 0, ok.stderr
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens: the request goes by the backup
    sent = run(
        h,
        "hotline",
        "send",
        "--to",
        "red",
        "--kind",
        "request",
        "--deadline-s",
        "1",
        "backup only?",
        *flags(h, h.blue, broker_url=dead),
    )
    assert sent.returncode == 0, (sent.stdout, sent.stderr)
    assert "via backup" in sent.stdout, sent.stdout
    req = MESSAGE_ID.findall(sent.stdout)[0]

    deadline = time.monotonic() + 20  # due 1 s after it was sent
    while req not in (res := run(h, "hotline", "overdue", "--remote", *flags(h, h.red))).stdout:
        assert res.returncode == 0, (res.stdout, res.stderr)
        assert time.monotonic() < deadline, res.stdout
        time.sleep(0.2)
    (row,) = [r for r in res.stdout.splitlines() if req in r]
    assert re.search(r"\bred\W+blue\b", row), row
    assert res.stderr == ""  # both relays answered

    half = run(h, "hotline", "overdue", "--remote", *flags(h, h.red, broker_url=dead))
    assert half.returncode == 0, half.stderr
    assert req in half.stdout
    (line,) = half.stderr.strip().splitlines()
    assert "broker" in line and dead in line and "did not answer" in line, line

    bogus = flags(h, h.red)
    bogus[bogus.index("--token") + 1] = "bogus"
    refused = run(h, "hotline", "overdue", "--remote", *bogus)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error:") and "401 unauthorized (check the token)" in line, line
    assert "no relay answers" not in line
