"""The working group's report: a record as one self-contained HTML file (``deconflict report``).

:func:`~deconflict.report.record.load_record` reads a broker's database and audit logs, or
the demo's output folder; :func:`report_html` renders the working group's view (every
party) or one party's (:mod:`~deconflict.report.need_to_know`); :func:`write_report`
writes one, :func:`write_reports` the working group's and every party's. See
``docs/report.md``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from deconflict._util import atomic_write
from deconflict.errors import InputError
from deconflict.report.record import Record, load_record

if TYPE_CHECKING:
    from deconflict.report.airprox import Incidents

__all__ = ["Record", "load_record", "report_html", "write_report", "write_reports"]


def report_html(
    record: Record,
    party: str | None = None,
    generated_at: str | None = None,
    found: dict[str, Incidents] | None = None,
) -> str:
    """The HTML of the working group's report, or of ``party``'s.

    ``generated_at``: the text of the generated-at stamp (default: now, UTC); the rest
    of the page depends on the record alone. ``found``: the incidents of each run if
    already made (:func:`deconflict.report.airprox.all_incidents`).
    """
    from deconflict.report.html import render
    from deconflict.report.need_to_know import party_view
    from deconflict.report.view import working_group_view

    view = working_group_view(record, found) if party is None else party_view(record, party, found)
    if generated_at is None:
        generated_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return render(view, generated_at)


def write_report(
    record: Record,
    path: Path,
    party: str | None = None,
    found: dict[str, Incidents] | None = None,
) -> Path:
    """Write the report (see :func:`report_html`) to ``path`` atomically; returns it.

    Its folder is made if missing.
    """
    text = report_html(record, party, found=found)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(path), text)
    except OSError as err:
        raise InputError(f"-o {path}: cannot write ({err.strerror})") from None
    return Path(path)


def write_reports(record: Record, folder: Path) -> list[Path]:
    """``report.html`` (the working group's) and ``report-PARTY.html`` per party in ``folder``."""
    from deconflict.report.airprox import all_incidents

    found = all_incidents(record)
    paths = [write_report(record, Path(folder) / "report.html", found=found)]
    for party in record.parties:
        paths.append(write_report(record, Path(folder) / f"report-{party}.html", party, found))
    return paths
