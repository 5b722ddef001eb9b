"""What a report shows, before it is HTML: the working group's view of a record.

:func:`working_group_view` makes a :class:`ReportView` of everything in the record;
:func:`deconflict.report.need_to_know.party_view` makes one party's. :mod:`~.html`
renders either. Plan views are in nautical miles east and north of a reference point
(equirectangular about it: within a fraction of a percent over a card's few miles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deconflict.report.airprox import CATEGORIES, Airprox, Incidents, all_incidents
from deconflict.report.hotline_facts import HotlineFacts
from deconflict.report.record import Record

#: Minutes of arc per degree: nautical miles per degree of latitude.
NM_PER_DEG = 60.0


@dataclass(frozen=True)
class Trace:
    """One line of a card's plot: ``x``/``y`` in the plot's units, a legend name.

    ``t``: each point's time from closest approach (s), to mark it on a plan view.
    """

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    dash: bool = False
    t: tuple[float, ...] = ()


@dataclass(frozen=True)
class CardView:
    """An airprox card as shown: facts as (label, text) rows, advisories, two plots.

    ``plan``: NM east/north; ``profile``: time (s from closest approach) against
    ``profile_label``; ``relative``: the profile is relative altitude (the vertical
    minimum ``band_ft`` is drawn either side of 0).
    """

    label: str
    category: str
    t_s: float
    facts: tuple[tuple[str, str], ...]
    advisories: tuple[tuple[str, ...], ...]
    plan: tuple[Trace, ...]
    profile: tuple[Trace, ...]
    profile_label: str
    relative: bool
    band_ft: float = 0.0


@dataclass(frozen=True)
class ReportView:
    """Everything a report shows (see :mod:`deconflict.report.html`).

    ``party``: None for the working group. ``tracks``: the aircraft drawn on the map
    (``t_s, id, party, lat, lon, alt_ft``); ``positions``: incident markers (label,
    category, lat, lon). ``incident_rows``: the incident table, one row per incident
    (kind, label, time s, who, what). ``runs``: per run label, its counts for the
    on/off comparison. ``alerts``/``messages``: the alert events and hotline messages
    shown on the timeline.
    """

    record: Record
    party: str | None
    cards: tuple[CardView, ...]
    incident_rows: tuple[tuple[str, str, float, str, str], ...]
    violations: pd.DataFrame
    hotline: HotlineFacts
    tracks: pd.DataFrame
    positions: tuple[tuple[str, str, float, float], ...]
    alerts: pd.DataFrame
    messages: pd.DataFrame
    runs: dict[str, dict[str, int]]
    categories: dict[str, int]
    flight: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


def flight_hours(tracks: pd.DataFrame) -> pd.DataFrame:
    """Aircraft and flight hours per party (columns ``party, aircraft, hours``).

    Hours are samples times the step.
    """
    if not len(tracks):
        return pd.DataFrame(columns=["party", "aircraft", "hours"])
    times = np.unique(tracks["t_s"].to_numpy(float))
    step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    g = tracks.groupby("party", sort=True)
    return pd.DataFrame(
        {
            "party": list(g.groups),
            "aircraft": g["id"].nunique().to_numpy(),
            "hours": (g.size() * step / 3600.0).to_numpy(),
        }
    )


def local_nm(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> tuple:
    """NM east and north of (``lat0``, ``lon0``) (equirectangular about it).

    >>> local_nm(np.array([1.0]), np.array([0.0]), 0.0, 0.0)[1].tolist()
    [60.0]
    """
    dlon = (np.asarray(lon, float) - lon0 + 180.0) % 360.0 - 180.0
    east = dlon * NM_PER_DEG * math.cos(math.radians(lat0))
    north = (np.asarray(lat, float) - lat0) * NM_PER_DEG
    return east, north


def alerts_raised(alerts: pd.DataFrame) -> dict[str, int]:
    """Alerts raised by level: new conflicts and level changes, zones included.

    Counted once per conflict, as ``summary.json`` counts them (both parties hear their
    own half of a conflict): a conflict's level is raised when an event brings a level
    it did not have since it was last cleared.
    """
    raised: set[tuple[str, float, str]] = set()
    last: dict[str, str] = {}
    for cid, event, t_s, level in zip(  # alert events: hundreds, not aircraft
        alerts["conflict_id"], alerts["event"], alerts["t_s"], alerts["level"], strict=True
    ):
        if event == "cleared":
            last.pop(cid, None)
        elif last.get(cid) != level:
            raised.add((cid, float(t_s), str(level)))
            last[cid] = str(level)
    counts = pd.Series([lv for _, _, lv in raised], dtype=object).value_counts()
    return {lv: int(counts.get(lv, 0)) for lv in ("advisory", "caution", "warning")}


def in_period(facts: HotlineFacts, since_s: float) -> HotlineFacts:
    """The hotline facts that concern the period from ``since_s``.

    Requests asked in it, answered in it or still owed; distress calls made or
    acknowledged in it, or never; failovers in it. Overdue requests are all owed in it.
    """
    req = facts.requests
    keep = (req["t_s"] >= since_s) | req["status"].isin(["overdue", "open"])
    keep |= req["response_s"].fillna(-math.inf) >= since_s
    dis = facts.distress
    acked_at = dis["t_s"] + dis["ack_after_s"].fillna(math.inf)
    keep_d = (dis["t_s"] >= since_s) | (acked_at >= since_s)
    fail = facts.failovers
    return HotlineFacts(
        requests=req[keep].reset_index(drop=True),
        overdue=facts.overdue,
        distress=dis[keep_d].reset_index(drop=True),
        failovers=fail[fail["t_s"] >= since_s].reset_index(drop=True),
    )


def run_counts(inc: Incidents) -> dict[str, int]:
    """The numbers compared between runs."""
    cats = {k: sum(1 for c in inc.losses if c.category == k) for k in CATEGORIES}
    return {
        "losses of separation": len(inc.losses),
        "NMAC": sum(1 for c in inc.losses if c.nmac),
        **{f"category {k}": n for k, n in cats.items()},
        "zone violations": len(inc.violations),
    }


def fmt_time(record: Record, t_s: float) -> str:
    """A record time as ``YYYY-MM-DD HH:MM:SSZ``."""
    if not math.isfinite(t_s):
        return "–"
    return record.utc(t_s).strftime("%Y-%m-%d %H:%M:%SZ")


def fmt_pos(lat: float, lon: float) -> str:
    """A position at 4 decimals (about 10 m), hemispheres named.

    >>> fmt_pos(36.12346, -4.5)
    '36.1235°N 4.5000°W'
    """
    return f"{abs(lat):.4f}°{'N' if lat >= 0 else 'S'} {abs(lon):.4f}°{'E' if lon >= 0 else 'W'}"


def fmt_closure(kt: float) -> str:
    """The fastest horizontal closing speed; negative is opening.

    >>> fmt_closure(420.4), fmt_closure(-37.0)
    ('420 kt (horizontal)', 'opening, 37 kt (horizontal)')
    """
    if math.isnan(kt):
        return "–"
    return f"{kt:.0f} kt (horizontal)" if kt >= 0 else f"opening, {-kt:.0f} kt (horizontal)"


def fmt_duration(s: float) -> str:
    """Seconds, with minutes or hours beside when long.

    >>> fmt_duration(40.0), fmt_duration(5700.0), fmt_duration(900.0)
    ('40 s', '5700 s (1 h 35 min)', '900 s (15 min)')
    """
    if math.isnan(s):
        return "–"
    if s < 120:
        return f"{s:.0f} s"
    h, m = divmod(round(s / 60), 60)
    return f"{s:.0f} s ({h} h {m} min)" if h else f"{s:.0f} s ({m} min)"


def fmt_followed(value: bool | None) -> str:
    """Yes / NO / –."""
    return "–" if value is None else ("yes" if value else "NO")


def advisory_rows(card: Airprox, record: Record, only: str | None = None) -> tuple:
    """The advisories of a card as table rows (only those of aircraft ``only``, if given)."""
    return tuple(
        (
            fmt_time(record, a.t_s),
            a.id,
            a.level,
            a.manoeuvre,
            "" if math.isnan(a.target_vs_fpm) else f"{a.target_vs_fpm:+.0f}",
            "" if math.isnan(a.target_track_deg) else f"{a.target_track_deg:03.0f}",
            fmt_followed(a.followed),
        )
        for a in card.advisories
        if only is None or a.id == only
    )


def aircraft_text(a: object) -> str:
    """``ID (party, type): FL/alt, track, speed`` of an aircraft at closest approach."""
    kind = f", {a.type}" if a.type else ""  # type: ignore[attr-defined]
    return (
        f"{a.id} ({a.party}{kind}): {a.alt_ft:,.0f} ft, track {a.track_deg:03.0f}°, "  # type: ignore[attr-defined]
        f"{a.gs_kt:.0f} kt, {a.vs_fpm:+,.0f} ft/min"  # type: ignore[attr-defined]
    )


def common_facts(card: Airprox, record: Record) -> list[tuple[str, str]]:
    """Card facts both views share (separation, closure, alert timing, category)."""
    lead = "–" if math.isnan(card.lead_s) else f"{card.lead_s:.0f} s before the loss began"
    return [
        ("date/time (UTC)", fmt_time(record, card.t_s)),
        (
            "separation at closest approach",
            f"{card.h_nm:.2f} NM horizontal, {card.v_ft:,.0f} ft vertical "
            f"(minima {record.agreement.horizontal_nm:g} NM / {record.agreement.vertical_ft:g} ft)",
        ),
        (
            "loss of separation",
            f"{fmt_time(record, card.start_s)} to {fmt_time(record, card.end_s)}"
            f"{' — NMAC' if card.nmac else ''}",
        ),
        ("closure rate", fmt_closure(card.closure_kt)),
        ("first alert", f"{fmt_time(record, card.first_alert_s)} ({lead})"),
        ("advisories followed", fmt_followed(card.resolved) if card.advisories else "none given"),
        ("risk category", f"{card.category} — {CATEGORIES[card.category]}"),
    ]


def _wg_card(card: Airprox, record: Record) -> CardView:
    w = card.window
    plan, profile = [], []
    for aid in (card.a.id, card.b.id):
        rows = w[w["id"] == aid]
        east, north = local_nm(rows["lat"].to_numpy(), rows["lon"].to_numpy(), card.lat, card.lon)
        t = tuple(np.round(rows["t_s"].to_numpy(float) - card.t_s, 1))
        plan.append(Trace(aid, tuple(np.round(east, 3)), tuple(np.round(north, 3)), t=t))
        profile.append(Trace(aid, t, tuple(np.round(rows["alt_ft"].to_numpy(float), 0))))
    facts = common_facts(card, record)
    facts[1:1] = [
        ("position", fmt_pos(card.lat, card.lon)),
        ("aircraft 1", aircraft_text(card.a)),
        ("aircraft 2", aircraft_text(card.b)),
    ]
    return CardView(
        label=card.label,
        category=card.category,
        t_s=card.t_s,
        facts=tuple(facts),
        advisories=advisory_rows(card, record),
        plan=tuple(plan),
        profile=tuple(profile),
        profile_label="altitude (ft)",
        relative=False,
    )


def incident_rows(
    inc: Incidents, record: Record, cards: list[tuple[str, str, float, str, str]] | None = None
) -> tuple[tuple[str, str, float, str, str], ...]:
    """The incident table, one row per incident, sorted by time.

    Losses of separation (given as rows, or made from ``inc``), zone violations,
    overdue requests, unacknowledged distress calls.
    """
    rows = list(cards) if cards is not None else []
    if cards is None:
        for c in inc.losses:
            rows.append(
                (
                    "loss of separation",
                    c.label,
                    c.t_s,
                    f"{c.a.id} ({c.a.party}) / {c.b.id} ({c.b.party})",
                    f"category {c.category}: {c.h_nm:.2f} NM, {c.v_ft:,.0f} ft",
                )
            )
    for k, v in enumerate(inc.violations.itertuples(index=False), start=1):
        rows.append(
            (
                "zone violation",
                f"ZONE-{k}",
                float(v.start_s),
                f"{v.id} ({v.party})",
                f"inside {v.zone} for {float(v.seconds):.0f} s",
            )
        )
    for k, o in enumerate(inc.hotline.overdue.itertuples(index=False), start=1):
        rows.append(
            (
                "overdue request",
                f"REQ-{k}",
                float(o.since_s),
                f"{o.owed_by} owes {o.owed_to}",
                f"unanswered {fmt_duration(float(o.overdue_s))} past its deadline: {o.body}",
            )
        )
    distress = inc.hotline.distress
    unacked = distress[~distress["acknowledged"].astype(bool)]
    for k, d in enumerate(unacked.itertuples(index=False), start=1):
        rows.append(("unacknowledged distress", f"MAYDAY-{k}", float(d.t_s), d.sender, str(d.body)))
    return tuple(sorted(rows, key=lambda r: (r[2], r[1])))


def working_group_view(record: Record, found: dict[str, Incidents] | None = None) -> ReportView:
    """The working group's report: every party, every incident.

    ``found``: the incidents of each run, if already made (:func:`all_incidents`).
    """
    found = found if found is not None else all_incidents(record)
    main = found[record.main]
    runs = {label: run_counts(inc) for label, inc in found.items()}
    cats = {k: sum(1 for c in main.losses if c.category == k) for k in CATEGORIES}
    rec = record.run
    return ReportView(
        record=record,
        party=None,
        cards=tuple(_wg_card(c, record) for c in main.losses),
        incident_rows=incident_rows(main, record),
        violations=main.violations,
        hotline=in_period(main.hotline, record.since_s),
        tracks=rec.tracks,
        positions=tuple((c.label, c.category, c.lat, c.lon) for c in main.losses),
        alerts=rec.alerts,
        messages=rec.messages[rec.messages["t_s"] >= record.since_s].reset_index(drop=True),
        runs=runs,
        categories=cats,
        flight=flight_hours(rec.tracks),
    )
