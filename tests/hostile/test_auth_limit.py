"""Issue 11 item 9: failed authentications are limited per client address (429)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from tests.hostile.conftest import Deployment, start_broker
from tests.service.conftest import Client, quick_party
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from deconflict.api.auth import FailedAuthLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_limiter_blocks_after_max_failures_until_the_window_ends():
    clock = Clock()
    limiter = FailedAuthLimiter(max_failures=3, window_s=60.0, clock=clock)
    for _ in range(3):
        assert limiter.retry_after_s("10.0.0.1", None) is None
        limiter.failed("10.0.0.1")
    assert limiter.retry_after_s("10.0.0.1", "guess") == 60
    assert limiter.retry_after_s("10.0.0.2", None) is None  # another address
    clock.t += 59.5
    assert limiter.retry_after_s("10.0.0.1", "guess") == 1
    clock.t += 0.5
    assert limiter.retry_after_s("10.0.0.1", "guess") is None  # a new window


def test_a_token_that_succeeded_from_the_address_passes_a_block():
    limiter = FailedAuthLimiter(max_failures=1, window_s=60.0, clock=Clock())
    limiter.succeeded("10.0.0.1", "good")
    limiter.failed("10.0.0.1")
    assert limiter.retry_after_s("10.0.0.1", "good") is None
    assert limiter.retry_after_s("10.0.0.1", "other") is not None


def test_limiter_memory_is_bounded_and_counts_are_thread_safe():
    limiter = FailedAuthLimiter(max_failures=10**9, window_s=60.0, max_addresses=100)
    for i in range(1000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100  # the oldest addresses were evicted

    limiter = FailedAuthLimiter(max_failures=800, window_s=600.0)

    def fail_100() -> None:
        for _ in range(100):
            limiter.failed("10.9.9.9")

    threads = [threading.Thread(target=fail_100) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.retry_after_s("10.9.9.9", None) is not None  # all 800 counted


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Its own broker: the guessing below blocks 127.0.0.1 for a minute."""
    d = start_broker(tmp_path_factory.mktemp("auth"))
    yield d
    d.broker.stop()


def from_address(client: Client, address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127.x on Linux)."""
    return httpx.Client(
        base_url=client.base,
        headers=client.headers,
        transport=httpx.HTTPTransport(local_address=address),
        timeout=10,
    )


def test_guessed_tokens_get_429_after_20_failures(guarded: Deployment):
    blue, red = guarded.blue, guarded.red
    assert red.get("/alerts").status_code == 200  # red worked from here before the guessing
    codes = []
    for k in range(25):  # a forged X-Forwarded-For does not change the address counted
        r = httpx.get(
            guarded.broker.url + "/alerts",
            headers={"Authorization": f"Bearer guess-{k}", "X-Forwarded-For": f"10.0.0.{k}"},
            timeout=10,
        )
        codes.append(r.status_code)
        if r.status_code == 429:
            retry_after = int(r.headers["Retry-After"])
            assert 1 <= retry_after <= 60
            assert "too many failed authentications" in r.json()["detail"]
    assert codes == [401] * 20 + [429] * 5
    # The hotline routes share the limit.
    forged = {"Authorization": "Bearer forged"}
    r = httpx.get(guarded.broker.url + "/hotline/whoami", headers=forged, timeout=10)
    assert r.status_code == 429
    # Successful requests are unaffected: a party that authenticated from here goes on ...
    assert red.get("/alerts").status_code == 200
    assert blue.get("/hotline/whoami").json()["party"] == "blue"
    # ... and so is a party from another address, even one never seen before.
    newcomer = Client("green", quick_party(guarded.db, "green"), guarded.broker.url)
    with from_address(newcomer, "127.0.0.2") as other:
        assert other.get("/alerts").status_code == 200
        assert other.get("/alerts", headers={"Authorization": "Bearer guess"}).status_code == 401
    # A token never used from the blocked address waits like any guess (no oracle).
    late = Client("amber", quick_party(guarded.db, "amber"), guarded.broker.url)
    assert late.get("/alerts").status_code == 429


@pytest.mark.parametrize("path", ["/stream", "/hotline/ws"])
def test_websocket_handshakes_share_the_limit(guarded: Deployment, path: str):
    url = guarded.broker.url.replace("http://", "ws://") + path
    for k in range(25):  # whatever the HTTP test left: reach the limit
        httpx.get(guarded.broker.url + "/alerts", headers={"Authorization": f"Bearer g{k}"})
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Authorization": "Bearer guess"}, open_timeout=10)
    assert refused.value.response.status_code == 429
    assert int(refused.value.response.headers["Retry-After"]) >= 1
    headers = {"Authorization": f"Bearer {guarded.blue.token}"}
    with connect(url, additional_headers=headers, open_timeout=10) as ws:  # blue unaffected
        ws.send("[]" if path == "/stream" else '{"type": "ping"}')
        assert ws.recv(timeout=10)
