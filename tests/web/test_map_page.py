"""The live map in headless Chromium against a real broker (``deconflict serve``).

One page per test: it loads with requests to 127.0.0.1 only and no console error; the
party's aircraft are drawn (pixels of their colour), an alert recolours one, its
intruder marker appears and goes when the conflict clears; the page's WebSocket frames
carry nothing of the other party's but what an alert discloses; the token is never in
a URL. The working group's page shows every party.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from tests.browser import chromium_page, screenshot_not_blank
from tests.web.conftest import BLUE, RED, Deployment, Feeder

#: The page's colours (map.js COLOURS): no alert, caution, the intruder marker.
NONE_RGB = (0x3F, 0xA9, 0xF5)
CAUTION_RGB = (0xFF, 0x91, 0x00)
INTRUDER_RGB = (0xE0, 0x40, 0xFB)
#: The map area of a 1400×900 page, without the bar, the side panel and the legend.
MAP_CLIP = {"x": 0, "y": 60, "width": 1000, "height": 780}


def count_rgb(png: bytes, rgb: tuple[int, int, int], tol: int = 40) -> int:
    """Pixels within ``tol`` (per channel) of ``rgb``."""
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(a - np.array(rgb)).max(axis=2) <= tol).sum())


def wait_js(page: Any, expr: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expr)
        if value:
            return value
        if time.monotonic() > deadline:
            summary = page.evaluate("window.deconflictMap && window.deconflictMap.summary()")
            raise AssertionError(f"page never satisfied {expr!r}; it holds {summary}")
        page.wait_for_timeout(100)


def log_in(page: Any, url: str, token: str) -> list[str]:
    """Open /map, log in with ``token``; returns the list the page's received frames go to."""
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda f: frames.append(f if isinstance(f, str) else "")),
    )
    page.goto(url + "/map")
    page.fill("#token", token)
    page.click("#login button[type=submit]")
    wait_js(page, "document.getElementById('link').textContent === 'live'")
    return frames


def shot(page: Any) -> bytes:
    # Two frames after the data: what the map drew is on screen.
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.screenshot(clip=MAP_CLIP)


def test_party_page_draws_alerts_and_discloses_nothing_more(
    deployment: Deployment, feeder: Feeder
) -> None:
    d = deployment
    feeder.parties["blue"] = (d.blue, BLUE)
    feeder.start()
    with chromium_page() as (page, log):
        frames = log_in(page, d.broker.url, d.blue.token)
        wait_js(page, "window.deconflictMap.summary().aircraft === 2")
        wait_js(page, "window.deconflictMap.summary().drawnCycle > 0")
        wait_js(page, "window.deconflictMap.summary().basemap")
        png = shot(page)
        assert screenshot_not_blank(png)
        quiet_none = count_rgb(png, NONE_RGB)
        assert quiet_none > 40, "blue's two aircraft are drawn in the no-alert colour"
        assert count_rgb(png, CAUTION_RGB) == 0
        assert count_rgb(png, INTRUDER_RGB) == 0

        # Red flies head-on at BLUE1: an alert recolours it, its intruder appears.
        feeder.parties["red"] = (d.red, RED)
        wait_js(page, "window.deconflictMap.levels()['|BLUE1'] === 'caution'")
        wait_js(page, "window.deconflictMap.summary().intruders === 1")
        png = shot(page)
        assert count_rgb(png, CAUTION_RGB) > 20, "BLUE1 is drawn in the caution colour"
        assert count_rgb(png, NONE_RGB) < quiet_none, "only BLUE2 keeps the no-alert colour"
        assert count_rgb(png, INTRUDER_RGB) > 10, "the intruder marker is drawn"

        # Red stops reporting: its track goes stale, the conflict clears, the marker goes.
        del feeder.parties["red"]
        wait_js(page, "window.deconflictMap.summary().alerts === 0")
        wait_js(page, "window.deconflictMap.summary().intruders === 0")
        png = shot(page)
        assert count_rgb(png, INTRUDER_RGB) == 0, "the cleared conflict's marker is gone"
        assert count_rgb(png, CAUTION_RGB) == 0

        log.assert_clean()
        assert log.requests and all(u.startswith(d.broker.url) for u in log.requests)
        assert not any(d.blue.token in u for u in log.requests), "the token is in no URL"
        assert page.evaluate("sessionStorage.getItem('deconflict.token')") == d.blue.token
    check_need_to_know(frames)


def check_need_to_know(frames: list[str]) -> None:
    """Blue's frames: its own aircraft only; red appears only as an alert's relative geometry."""
    parsed = [json.loads(f) for f in frames]
    pictures = [f for f in parsed if f["type"] == "picture"]
    alerts = [f for f in parsed if f["type"] == "alert"]
    assert pictures and alerts
    assert {f["event"] for f in alerts} >= {"new", "cleared"}
    for f in frames:
        assert "RED9" not in f and '"red"' not in f, f[:200]
    for p in pictures:
        ac = p["aircraft"]
        assert set(ac["id"]) <= {"BLUE1", "BLUE2"} and "party" not in ac
        # Every position is one of blue's (dead-reckoned a little), none near red's.
        for lat, lon in zip(ac["lat"], ac["lon"], strict=True):
            assert min(abs(lat - b["lat"]) + abs(lon - b["lon"]) for b in BLUE) < 0.05
    for a in alerts:
        assert a["own_id"] in {"BLUE1", "BLUE2"} and a["party"] is None
        assert set(a["intruder"]) == {"range_nm", "bearing_deg", "rel_alt_ft", "closure_kt"}


def test_working_group_sees_every_party(deployment: Deployment, feeder: Feeder) -> None:
    d = deployment
    feeder.parties["blue"] = (d.blue, BLUE)
    feeder.parties["red"] = (d.red, RED)
    feeder.start()
    with chromium_page() as (page, log):
        frames = log_in(page, d.broker.url, d.wg.token)
        wait_js(page, "window.deconflictMap.summary().aircraft === 3")
        wait_js(page, "window.deconflictMap.levels()['red|RED9'] === 'caution'")
        wait_js(page, "window.deconflictMap.summary().intruders === 2")
        assert page.evaluate("window.deconflictMap.summary().admin") is True
        png = shot(page)
        assert count_rgb(png, CAUTION_RGB) > 40, "both halves of the conflict"
        log.assert_clean()
    pictures = [json.loads(f) for f in frames if '"picture"' in f[:20]]
    assert any(set(p["aircraft"]["party"]) == {"blue", "red"} for p in pictures)


def test_bad_token_stays_on_the_login_form(deployment: Deployment) -> None:
    with chromium_page() as (page, log):
        page.goto(deployment.broker.url + "/map?as=blue")
        assert page.text_content("#login-as") == "Map of blue"
        page.fill("#token", "not-a-token")
        page.click("#login button[type=submit]")
        wait_js(page, "document.getElementById('login-error').textContent !== ''")
        assert page.evaluate("sessionStorage.getItem('deconflict.token')") is None
        assert not log.page_errors and not log.blocked_requests
        # The refused whoami is the one 401 the page makes (Chromium logs it as an error).
        assert all("401" in e for e in log.console_errors)


@pytest.mark.parametrize("path", ["/map", "/map/static/map.js", "/map/basemap/borders.geojson"])
def test_page_files_need_no_token(deployment: Deployment, path: str) -> None:
    import httpx

    r = httpx.get(deployment.broker.url + path, timeout=10)
    assert r.status_code == 200
    if path == "/map":
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
