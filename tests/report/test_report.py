"""Reports of a small real record: contents, need-to-know, determinism, the command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deconflict.cli.main import app
from deconflict.report import report_html, write_reports
from deconflict.report.airprox import all_incidents
from deconflict.report.record import Record, load_record
from deconflict.report.view import alerts_raised, flight_hours

GENERATED = re.compile(r'<span id="generated-at">[^<]*</span>')
POSITION = re.compile(r"(\d+\.\d{4})°([NS]) (\d+\.\d{4})°([EW])")


def test_the_record_holds_both_runs_the_hotline_and_the_audit(record: Record) -> None:
    assert list(record.runs) == ["on", "off"] and record.main == "on"
    assert record.parties == ("blue", "red")
    assert record.utc(0.0) == pd.Timestamp("2026-05-01T10:00:00Z")
    assert record.aircraft_types == {"BLUE01": "jet", "RED07": "jet"}
    on = record.run
    assert set(on.tracks["id"]) == {"BLUE01", "RED07"}
    kinds = on.messages["kind"].value_counts()
    assert kinds["request"] == 2 and kinds["distress"] == 1 and kinds["response"] == 1
    # Message times are on the scenario clock: the plan's request went at 10 s.
    assert on.messages.loc[on.messages["kind"] == "request", "t_s"].tolist() == [10.0, 98.0]
    assert (on.messages["channel"] == "backup").any()
    relays = [a.relay for a in on.audit]
    assert relays == ["primary (on)", "backup (on)"]
    assert all(a.ok and a.key_pinned and a.heads_checked == 2 for a in on.audit)
    assert {p for p, _ in on.audit[0].party_keys} == {"blue", "red"}


def test_incidents_of_the_small_exercise(record: Record) -> None:
    found = all_incidents(record)
    on, off = found["on"], found["off"]
    (loss,) = on.losses
    assert {loss.a.id, loss.b.id} == {"BLUE01", "RED07"}
    assert loss.h_nm < 5.0 and loss.v_ft < 1000.0
    assert loss.category in "ABC" and loss.resolved is True
    assert loss.first_alert_s <= loss.start_s and loss.advisories
    assert on.violations[["id", "zone"]].values.tolist() == [["RED07", "BOX-R"]]
    (owed,) = on.hotline.overdue.itertuples(index=False)
    assert (owed.owed_by, owed.owed_to) == ("red", "blue")
    (call,) = on.hotline.distress.itertuples(index=False)
    assert call.acknowledged and call.ack_by == "blue" and call.ack_after_s == 12.0
    assert on.hotline.failovers["to"].tolist()[:1] == ["backup"]
    assert on.count() == 3  # the loss, the violation, the overdue request
    # Nobody acts with the protocol off: the same crossing comes closer.
    (worse,) = off.losses
    assert worse.h_nm < loss.h_nm and worse.resolved is False


def test_the_same_record_gives_the_same_report(record: Record, demo_out: Path) -> None:
    first = report_html(record, generated_at="2026-01-01 00:00:00Z")
    again = report_html(load_record(record_dir=demo_out), generated_at="later")
    assert first != again
    assert GENERATED.sub("", first) == GENERATED.sub("", again)
    party = GENERATED.sub("", report_html(record, "red", generated_at="x"))
    assert party == GENERATED.sub("", report_html(record, "red", generated_at="y"))


def _figures(html: str) -> list[list[dict]]:
    """The data arrays of every plotly figure in the page."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):
        data, _ = decoder.raw_decode(html, m.end())
        out.append(data)
    return out


def _points(html: str) -> set[tuple[str, str]]:
    """Every (lon, lat)-like pair drawn in a figure, and every position written in text."""
    pairs = set()
    for data in _figures(html):
        for trace in data:
            for x, y in zip(trace.get("x") or [], trace.get("y") or [], strict=False):
                if isinstance(x, int | float) and isinstance(y, int | float):
                    pairs.add((f"{x:.4f}", f"{y:.4f}"))
    for lat, ns, lon, ew in POSITION.findall(html):
        signed_lat = lat if ns == "N" else f"-{lat}"
        signed_lon = lon if ew == "E" else f"-{lon}"
        pairs.add((signed_lon, signed_lat))
    return pairs


@pytest.mark.parametrize(("party", "other"), [("blue", "red"), ("red", "blue")])
def test_a_party_report_holds_nothing_of_the_other_party(
    record: Record, party: str, other: str
) -> None:
    html = report_html(record, party, generated_at="x")
    wg = report_html(record, generated_at="x")
    theirs = pd.concat([r.tracks for r in record.runs.values()])
    theirs = theirs[theirs["party"] == other]
    ids = set(theirs["id"])
    assert ids
    for aid in ids:
        assert aid in wg  # the scan would see it ...
        assert aid.lower() not in html.lower()  # ... and the party's report has none
    lat, lon = theirs["lat"], theirs["lon"]
    positions = {(f"{lo:.4f}", f"{la:.4f}") for la, lo in zip(lat, lon, strict=True)}
    assert positions & _points(wg)  # the working group's map draws them
    assert not positions & _points(html)
    assert _points(html), "the party report draws its own aircraft"
    # Its own incident is there, the other aircraft as relative geometry only.
    assert "another party&#x27;s aircraft" in html and "LOS-1" in html


def test_the_demo_folder_gets_every_report(record: Record, tmp_path: Path) -> None:
    paths = write_reports(record, tmp_path)
    assert [p.name for p in paths] == ["report.html", "report-blue.html", "report-red.html"]
    assert all(p.stat().st_size < 10e6 for p in paths)
    html = paths[0].read_text()
    assert html.count("<script") == html.count("Plotly.newPlot") + 1  # plotly.js once


def test_the_command_writes_a_party_report(demo_out: Path) -> None:
    args = ["report", "--record", str(demo_out), "-o", "out/r.html", "--party", "blue"]
    args += ["--since", "2026-05-01T10:00:30Z", "--until", "1777629720"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "report for blue" in result.output
    html = Path("out/r.html").read_text()
    assert "2026-05-01 10:00:30Z to 2026-05-01 10:02:00Z" in html
    assert "REQ-1" in html  # the overdue request, due 10:00:40


def test_the_command_reads_a_broker_database(demo_out: Path) -> None:
    db = f"sqlite:///{demo_out / 'on' / 'deconflict.db'}"
    result = CliRunner().invoke(app, ["report", "--db", db, "-o", "db.html"])
    assert result.exit_code == 0, result.output
    html = Path("db.html").read_text()
    assert "LOS-1" in html and "BOX-R" in html and "verified" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "r.html"], "exactly one of --db URL and --record DIR"),
        (["--db", "sqlite:///x.db", "--record", ".", "-o", "r.html"], "exactly one of"),
        (["--record", "nowhere", "-o", "r.html"], "--record nowhere: no such folder"),
        (["--record", ".", "-o", "r.html"], "no tracks.parquet"),
        (["--db", "sqlite:///missing.db", "-o", "r.html"], "no such SQLite database file"),
        (["--record", "DEMO", "-o", "r.txt"], "name a .html file"),
        (["--record", "DEMO", "-o", "r.html", "--since", "noon"], "--since 'noon': not an ISO"),
        (["--record", "DEMO", "-o", "r.html", "--until", "2026-05-01T10:00:00"], "--until"),
        (
            ["--record", "DEMO", "-o", "r.html", "--since", "200", "--until", "100"],
            "--since must be before --until",
        ),
        (["--record", "DEMO", "-o", "r.html", "--party", "green"], "not a party of this record"),
    ],
)
def test_the_command_says_what_is_wrong_in_one_line(
    demo_out: Path, args: list[str], message: str
) -> None:
    args = [str(demo_out) if a == "DEMO" else a for a in args]
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not Path("r.html").exists()


def test_the_report_agrees_with_summary_json(record: Record, demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text())
    found = all_incidents(record)
    for label in ("on", "off"):
        block = summary[f"protocol_{label}"]
        assert alerts_raised(record.runs[label].alerts) == {
            lv: block["alerts"].get(lv, 0) for lv in ("advisory", "caution", "warning")
        }
        assert len(found[label].losses) == block["losses"]
        assert sum(c.nmac for c in found[label].losses) == block["nmac"]
        assert len(found[label].violations) == block["zone_violations"]
    assert len(found["on"].hotline.overdue) == summary["hotline"]["overdue"]
    (call,) = found["on"].hotline.distress.itertuples(index=False)
    assert call.ack_after_s == summary["hotline"]["distress_ack_s"]
    hours = flight_hours(record.run.tracks)
    assert dict(zip(hours["party"], hours["aircraft"], strict=True)) == summary["aircraft"]


def test_a_postgresql_broker_gives_the_same_incidents(
    demo_out: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine, insert, select

    from deconflict.store import models
    from deconflict.store.sql import SqlRepository

    SqlRepository(pg_url, migrate=True).close()
    source = create_engine(f"sqlite:///{demo_out / 'on' / 'deconflict.db'}")
    target = create_engine(pg_url)
    tables = [models.Party, models.TrackState, models.Alert, models.HotlineMessage]
    with source.connect() as src, target.begin() as dst:
        for model in tables:
            rows = [dict(r._mapping) for r in src.execute(select(model.__table__))]
            if rows:
                dst.execute(insert(model.__table__), rows)
    source.dispose()
    target.dispose()
    lite = load_record(db=f"sqlite:///{demo_out / 'on' / 'deconflict.db'}")
    # Without its agreement file the report says so (the parties acknowledged another).
    bare = load_record(db=pg_url)
    (note,) = bare.notes
    assert "not the one the parties acknowledged" in note and note in report_html(bare, "blue")
    # The broker's own variable names it, as it does for the broker.
    monkeypatch.setenv("DECONFLICT_BROKER_AGREEMENT", str(demo_out / "agreement.toml"))
    pg = load_record(db=pg_url)
    assert pg.notes == () and lite.notes == ()
    assert pg.parties == lite.parties
    assert len(pg.run.tracks) == len(lite.run.tracks) and len(pg.run.alerts) == len(lite.run.alerts)
    a, b = all_incidents(lite)["broker"], all_incidents(pg)["broker"]
    assert [(c.a.id, c.b.id, c.t_s, c.category) for c in a.losses] == [
        (c.a.id, c.b.id, c.t_s, c.category) for c in b.losses
    ]
    assert a.violations.equals(b.violations)
    # The hotline: the broker's messages (the backup relay's are beside the SQLite file only).
    assert set(pg.run.messages["id"]) <= set(lite.run.messages["id"])
    assert "LOS-1" in report_html(pg, generated_at="x")
