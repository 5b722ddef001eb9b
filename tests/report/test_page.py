"""The report in headless Chromium, network blocked: it loads clean and draws everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from deconflict.report import write_report
from deconflict.report.airprox import all_incidents
from deconflict.report.record import Record
from tests.browser import chromium_page, screenshot_not_blank

ALL_DRAWN = (
    "Array.from(document.querySelectorAll('div.plot')).every("
    "d => d.querySelector('.main-svg .plot path, .main-svg .scatterlayer path'))"
)


@pytest.mark.parametrize("party", [None, "red"])
def test_the_report_loads_offline_and_draws_every_plot(record: Record, party: str | None) -> None:
    found = all_incidents(record)
    name = "report.html" if party is None else f"report-{party}.html"
    path = write_report(record, Path("out") / name, party, found)
    with chromium_page(1400, 900) as (page, log):
        page.goto(path.resolve().as_uri())
        page.wait_for_function(ALL_DRAWN, timeout=30_000)
        log.assert_clean()
        plots = page.query_selector_all("div.plot")
        ids = [p.get_attribute("data-plot") for p in plots]
        cards = len(found["on"].losses)
        assert "fig-map" in ids and "fig-timeline" in ids
        assert len(plots) == 2 + 2 * cards  # map, timeline, plan and profile per card
        for plot in plots:
            plot.scroll_into_view_if_needed()
            assert screenshot_not_blank(plot.screenshot()), plot.get_attribute("data-plot")
        rows = page.query_selector_all("#incident-table tbody tr.incident")
        expected = found["on"].count() if party is None else 3  # red's loss, zone, request
        assert len(rows) == expected
        shot = Path("out") / name.replace(".html", ".png")
        page.screenshot(path=str(shot), full_page=True)
        assert screenshot_not_blank(shot.read_bytes())
        log.assert_clean()
