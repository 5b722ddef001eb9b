"""Headless Chromium for page tests: Debian's ``chromium`` driven by Playwright's Python API.

Nothing here downloads a browser: Playwright is pointed at the system browser's path
(``$DECONFLICT_TEST_CHROMIUM``, else ``chromium`` on PATH). Without one the page tests
skip, unless ``$DECONFLICT_TEST_BROWSER`` is set (CI sets it, and ``.ci/run`` installs
Debian's ``chromium`` when it is missing), in which case they fail.

Every request to a host other than 127.0.0.1 (or a ``file:``/``data:``/``blob:`` URL) is
aborted and recorded, so a page that reaches for a CDN fails its test; console errors,
page errors and failed requests are collected on the returned :class:`PageLog`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BROWSER_ENV = "DECONFLICT_TEST_BROWSER"
CHROMIUM_ENV = "DECONFLICT_TEST_CHROMIUM"
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
LOCAL_HOSTS = {"127.0.0.1"}


def chromium_path() -> str:
    """The system Chromium to drive, or skip (fail when CI requires the browser)."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if path and Path(path).exists():
        return path
    message = "no chromium on PATH (Debian: apt-get install chromium)"
    if os.environ.get(BROWSER_ENV):
        pytest.fail(f"{BROWSER_ENV} is set but {message}")
    pytest.skip(message)


@dataclass
class PageLog:
    """What a page did: console errors, uncaught errors, failed and blocked requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """Fail on any console error, page error, failed or blocked request."""
        problems = {
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "failed requests": self.failed_requests,
            "requests to other hosts": self.blocked_requests,
        }
        found = {k: v for k, v in problems.items() if v}
        assert not found, f"page was not clean: {found}"


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator[tuple[object, PageLog]]:
    """A fresh headless Chromium page, network limited to 127.0.0.1, and its log.

    Yields ``(page, log)`` where ``page`` is a Playwright ``Page``.
    """
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--use-gl=swiftshader",
                "--enable-webgl",
                "--ignore-gpu-blocklist",
            ],
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})

            def route(r: object) -> None:
                url = r.request.url  # type: ignore[attr-defined]
                if _is_local(url):
                    r.continue_()  # type: ignore[attr-defined]
                else:
                    log.blocked_requests.append(url)
                    r.abort()  # type: ignore[attr-defined]

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and log.console_errors.append(m.text))
            page.on("pageerror", lambda e: log.page_errors.append(str(e)))
            page.on("request", lambda r: log.requests.append(r.url))
            page.on(
                "requestfailed",
                lambda r: log.failed_requests.append(f"{r.url} ({r.failure})"),
            )
            yield page, log
        finally:
            browser.close()


def screenshot_not_blank(png: bytes, min_colours: int = 8) -> bool:
    """True when a PNG screenshot holds more than a handful of distinct colours."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    return colours is None or len(colours) >= min_colours
