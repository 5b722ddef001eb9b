"""The hostile-input corpus against the WebSocket endpoints of a real broker process.

Every hostile frame must be answered: an ``{"type": "error", ...}`` frame with a
status < 500 (the connection goes on), or a close with a policy code (1008, or 1009
for a frame over the size limit). A dropped connection, a 1011 or silence is a finding.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.hostile.cases import MESSAGE, TRACK, Case, mutations, whole_inputs
from tests.hostile.conftest import CORPUS_LIMIT_MIB, Deployment
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

#: Reply types that answer a frame (others are pushed on their own: alerts, deliveries).
ANSWERS = {"/stream": {"accepted", "error"}, "/hotline/ws": {"stored", "error", "pong"}}
#: A close code that answers a frame.
POLICY_CLOSES = {1008, 1009}
REPLY_TIMEOUT_S = 10.0
SEND = {"type": "send", "messages": [MESSAGE]}
EXAMPLES: dict[str, Any] = {"/stream": [TRACK], "/hotline/ws": SEND}


def frames(path: str) -> list[Case]:
    return whole_inputs(CORPUS_LIMIT_MIB * 1024 * 1024 + 1) + mutations(EXAMPLES[path], 40)


def answer(ws: ClientConnection, path: str) -> dict[str, Any]:
    """The next frame that answers what was sent (skipping pushed ones)."""
    while True:
        reply = json.loads(ws.recv(timeout=REPLY_TIMEOUT_S))
        if reply.get("type") in ANSWERS[path]:
            return reply


def exercise(ws: ClientConnection, path: str, case: Case) -> str | None:
    """Send one hostile frame; what went wrong, if anything (a policy close is fine)."""
    try:
        text: str | None = case.data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    try:
        ws.send(text if text is not None and case.content_type.endswith("json") else case.data)
        reply = answer(ws, path)
    except TimeoutError:
        return f"no answer in {REPLY_TIMEOUT_S} s"
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
        return None if code in POLICY_CLOSES else f"connection dropped ({code})"
    if reply["type"] == "error" and reply.get("status", 500) >= 500:
        return f"error {reply}"
    return None


def open_ws(url: str, token: str) -> ClientConnection:
    return connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
        open_timeout=10,
        close_timeout=2,
    )


@pytest.mark.parametrize("path", ["/stream", "/hotline/ws"])
def test_every_hostile_frame_is_answered(deployment: Deployment, path: str):
    url = deployment.broker.url.replace("http://", "ws://") + path
    findings: list[str] = []
    todo = frames(path)
    while todo:  # one connection until a case closes it, then a new one for the rest
        with open_ws(url, deployment.blue.token) as ws:
            while todo:
                case = todo.pop(0)
                finding = exercise(ws, path, case)
                if finding is not None:
                    findings.append(f"{path} [{case.label}]: {finding}")
                if finding is not None or ws.state.name != "OPEN":
                    break
    assert not findings, "\n".join(findings)
    log = deployment.broker.log_text()
    assert "Traceback" not in log, log[-3000:]


def test_a_frame_over_the_limit_closes_with_1009(deployment: Deployment):
    url = deployment.broker.url.replace("http://", "ws://") + "/stream"
    with open_ws(url, deployment.blue.token) as ws:
        ws.send(" " * (CORPUS_LIMIT_MIB * 1024 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            answer(ws, "/stream")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
