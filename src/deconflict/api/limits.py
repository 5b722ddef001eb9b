"""Request limits shared by the broker and the backup relay.

* :class:`BodyLimit`, a pure ASGI middleware: an HTTP body over the limit gets 413
  before it is read whole — at once when ``Content-Length`` says so, else as soon as
  the streamed (chunked) bytes pass the limit. WebSocket frames are limited by the
  server itself (uvicorn's ``ws_max_size``, set from the same setting by
  ``run_server``): a bigger frame closes the connection with 1009. The same
  middleware scans JSON bodies as they stream in and refuses (422) one nested
  deeper than :data:`~deconflict.json_text.MAX_DEPTH`, for every endpoint.
* :func:`receive_text`, the one way the WebSocket handlers read a frame: a binary
  frame is a one-line :class:`InputError` for the handler to answer, not a crash.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, HTTPException, WebSocket
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from deconflict.api.settings import DEFAULT_MAX_BODY_BYTES, MIB
from deconflict.errors import InputError
from deconflict.json_text import MAX_DEPTH, DepthScan


class BodyTooLarge(HTTPException):
    """The streamed body passed the limit: raised from ``receive``, answered with 413.

    An :class:`HTTPException`, so the application's own handler answers it even where
    FastAPI turns other errors met while reading a body into 400.
    """

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(413, detail=_too_large(max_body_bytes))


class TooDeep(HTTPException):
    """A JSON body nested deeper than :data:`MAX_DEPTH`: raised from ``receive``, 422."""

    def __init__(self) -> None:
        super().__init__(422, detail=f"body: JSON nested deeper than {MAX_DEPTH} levels")


class BodyLimit:
    """Answer 413 to any HTTP request whose body is over ``max_body_bytes``, unread."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, refusing its body once it is over the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send)  # the body is never read
            return
        received = 0
        started = False
        depth = DepthScan() if _is_json(scope) else None

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                if depth is not None and depth.feed(chunk, MAX_DEPTH) > MAX_DEPTH:
                    raise TooDeep
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:  # the app answered before reading on; nothing more to say
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": _too_large(self.max_body_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _too_large(max_body_bytes: int) -> str:
    return f"request body larger than the limit of {max_body_bytes / MIB:g} MiB"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _is_json(scope: Scope) -> bool:
    """A JSON body, or one without a type (read as JSON where a body is expected)."""
    value = _header(scope, b"content-type")
    if value is None:
        return True
    kind = value.split(b";")[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


async def receive_text(websocket: WebSocket) -> str:
    """The next text frame; :class:`InputError` for a binary one, disconnects as Starlette's."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        raise InputError("frame: expected a text frame holding JSON, got a binary frame")
    return str(text)


def install_limits(
    app: FastAPI, max_body_bytes: int, auth_max_failures: int, auth_window_s: float
) -> None:
    """Install the body limit and the failed-authentication limit on ``app``.

    WebSocket frames get the same limit from ``run_server``; the failed-auth limiter
    is used by :func:`deconflict.api.auth.authenticate`.
    """
    from deconflict.api.auth import FailedAuthLimiter

    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes)
    app.state.max_body_bytes = max_body_bytes
    app.state.auth_limiter = FailedAuthLimiter(auth_max_failures, auth_window_s)
