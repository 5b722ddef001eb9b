"""The README's screenshots of the live map, from ``deconflict demo --serve`` running.

Writes ``docs/images/map-party.png`` and ``docs/images/map-working-group.png``.

Runs the Syria 2015 exercise at ``--speed`` through a broker (as ``demo --serve``),
opens one party's map and the working group's in headless Chromium, and takes both
pictures once the exercise reaches ``--at-s`` simulated seconds.

    python scripts/map_screenshots.py [--party coalition] [--at-s 2050] [--speed 30]
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import chromium_page  # noqa: E402

from deconflict.sim.demo_serve import ServeInfo, StoppedError, serve_demo  # noqa: E402
from deconflict.sim.scenario import load_scenario  # noqa: E402


def main() -> None:
    """Fly the exercise, open both maps, take both pictures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--party", default="coalition")
    ap.add_argument("--at-s", type=float, default=2050.0)
    ap.add_argument("--speed", type=float, default=30.0)
    ap.add_argument("--wait-alert-s", type=float, default=90.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    ready: queue.Queue[ServeInfo] = queue.Queue()
    scenario = load_scenario("syria2015")
    stop = threading.Event()

    def fly(tmp: str) -> None:
        with contextlib.suppress(StoppedError):
            serve_demo(
                scenario,
                Path(tmp),
                speed=args.speed,
                duration_s=args.at_s + args.wait_alert_s * args.speed + 60,
                on_ready=ready.put,
                stop=stop,
            )

    with tempfile.TemporaryDirectory() as tmp:
        flying = threading.Thread(target=fly, args=(tmp,))
        flying.start()
        try:
            shoot(args, ready.get(timeout=120), flying)
        finally:  # the brokers stop with the run, whatever happened here
            stop.set()
            flying.join(timeout=120)


def shoot(args: argparse.Namespace, info: ServeInfo, flying: threading.Thread) -> None:
    """Log both maps in, wait for the moment, take both pictures."""
    with chromium_page() as (party, _):
        wg = party.context.new_page()  # its own tab, so its own sessionStorage
        for page, token in ((party, info.tokens[args.party]), (wg, info.admin_token)):
            page.set_viewport_size({"width": 1400, "height": 900})
            page.goto(info.map_url)
            page.fill("#token", token)
            page.click("#login button[type=submit]")
        deadline = time.monotonic() + 600
        while (party.evaluate("window.deconflictMap.summary().time") or 0) < args.at_s:
            if time.monotonic() > deadline or not flying.is_alive():
                raise SystemExit("the exercise never reached --at-s")
            time.sleep(0.2)
        # Then until the party has an open conflict (an intruder on its map), if one comes.
        until = time.monotonic() + args.wait_alert_s
        while time.monotonic() < until and flying.is_alive():
            if party.evaluate("window.deconflictMap.summary().intruders") > 0:
                break
            time.sleep(0.2)
        # Each map flies to its most severe open alert (a click on the side panel).
        for page in (party, wg):
            if page.locator("#alerts li").count():
                page.locator("#alerts li").first.click()
        time.sleep(1.5)
        args.out.mkdir(parents=True, exist_ok=True)
        for page, name in ((party, "map-party.png"), (wg, "map-working-group.png")):
            page.screenshot(path=str(args.out / name))
            summary = page.evaluate("window.deconflictMap.summary()")
            sys.stdout.write(f"{args.out / name}: {summary}\n")


if __name__ == "__main__":
    main()
