"""One party's report: only what that party may know.

A party's view holds its own aircraft (tracks, alerts, zone violations, positions at
closest approach) and, inside its own incidents, the other aircraft only as relative
geometry seen from its own: range, bearing and relative altitude, and the intruder's
relative track in a plan view centred on its own aircraft's position at closest approach
(NM east/north of it). Never another party's aircraft ids, callsigns, types or absolute
positions, nor the other party's advisories. The hotline part holds the messages the
party sent or received (addressed to it, or to all). The record-integrity section (audit
logs, the relays' and parties' public keys) is public to every party.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deconflict.errors import InputError
from deconflict.names import BROADCAST
from deconflict.report.airprox import CATEGORIES, Airprox, AtCpa, Incidents, all_incidents
from deconflict.report.hotline_facts import hotline_facts
from deconflict.report.record import Record
from deconflict.report.view import (
    CardView,
    ReportView,
    Trace,
    advisory_rows,
    common_facts,
    flight_hours,
    fmt_pos,
    in_period,
    incident_rows,
    local_nm,
    run_counts,
)


def relative_geometry(own: AtCpa, other_lat: float, other_lon: float, other_alt_ft: float):
    """Range (NM), true bearing (deg) and relative altitude (ft) of the other aircraft.

    >>> from deconflict.report.airprox import AtCpa
    >>> me = AtCpa("X", "p", None, 0.0, 0.0, 10000.0, 0.0, 400.0, 0.0)
    >>> [round(v, 1) for v in relative_geometry(me, 0.0, 0.1, 10500.0)]
    [6.0, 90.0, 500.0]
    """
    east, north = local_nm(np.array([other_lat]), np.array([other_lon]), own.lat, own.lon)
    rng = float(math.hypot(east[0], north[0]))
    brg = float(math.degrees(math.atan2(east[0], north[0])) % 360.0)
    return rng, brg, float(other_alt_ft - own.alt_ft)


def _own_side(card: Airprox, party: str) -> tuple[AtCpa, AtCpa] | None:
    if card.a.party == party:
        return card.a, card.b
    if card.b.party == party:
        return card.b, card.a
    return None


def _party_card(card: Airprox, own: AtCpa, other: AtCpa, record: Record) -> CardView:
    w = card.window
    mine = w[w["id"] == own.id].set_index("t_s")
    theirs = w[w["id"] == other.id].set_index("t_s")
    # Own track and the other's relative to it, in NM east/north of own position at CPA.
    e_own, n_own = local_nm(mine["lat"].to_numpy(), mine["lon"].to_numpy(), own.lat, own.lon)
    common = mine.index.intersection(theirs.index)
    m, o = mine.loc[common], theirs.loc[common]
    e_o, n_o = local_nm(o["lat"].to_numpy(), o["lon"].to_numpy(), own.lat, own.lon)
    rel_alt = o["alt_ft"].to_numpy(float) - m["alt_ft"].to_numpy(float)
    t = np.round(common.to_numpy(float) - card.t_s, 1)
    rng, brg, dz = relative_geometry(own, other.lat, other.lon, other.alt_ft)
    facts = common_facts(card, record)
    kind = f", {own.type}" if own.type else ""
    facts[1:1] = [
        ("own position", fmt_pos(own.lat, own.lon)),
        (
            "own aircraft",
            f"{own.id} ({own.party}{kind}): {own.alt_ft:,.0f} ft, track {own.track_deg:03.0f}°, "
            f"{own.gs_kt:.0f} kt, {own.vs_fpm:+,.0f} ft/min",
        ),
        (
            "other aircraft (relative)",
            f"another party's aircraft at {rng:.1f} NM, bearing {brg:03.0f}°, "
            f"{dz:+,.0f} ft relative",
        ),
    ]
    return CardView(
        label=card.label,
        category=card.category,
        t_s=card.t_s,
        facts=tuple(facts),
        advisories=advisory_rows(card, record, only=own.id),
        plan=(
            Trace(
                own.id,
                tuple(np.round(e_own, 3)),
                tuple(np.round(n_own, 3)),
                t=tuple(np.round(mine.index.to_numpy(float) - card.t_s, 1)),
            ),
            Trace(
                "other aircraft (relative)",
                tuple(np.round(e_o, 3)),
                tuple(np.round(n_o, 3)),
                dash=True,
                t=tuple(t),
            ),
        ),
        profile=(Trace("other aircraft, relative altitude", tuple(t), tuple(np.round(rel_alt))),),
        profile_label="relative altitude (ft, other minus own)",
        relative=True,
        band_ft=record.agreement.vertical_ft,
    )


def _own_incidents(inc: Incidents, party: str) -> Incidents:
    losses = tuple(c for c in inc.losses if _own_side(c, party) is not None)
    violations = inc.violations[inc.violations["party"] == party].reset_index(drop=True)
    return Incidents(losses, violations, inc.hotline)


def party_messages(messages: pd.DataFrame, party: str) -> pd.DataFrame:
    """The hotline messages ``party`` sent or received (to it, or to all)."""
    keep = (messages["sender"] == party) | messages["to"].isin([party, BROADCAST])
    return messages[keep].reset_index(drop=True)


def party_view(record: Record, party: str, found: dict[str, Incidents] | None = None) -> ReportView:
    """What ``party`` may know of ``record`` (see the module).

    ``found``: the incidents of each run, if already made (:func:`all_incidents`).
    """
    if party not in record.parties:
        known = ", ".join(record.parties) or "none"
        raise InputError(f"--party {party!r}: not a party of this record (parties: {known})")
    rec = record.run
    messages = party_messages(rec.messages, party)
    facts = hotline_facts(messages, record.until_s)
    found = found if found is not None else all_incidents(record)
    by_run = {label: _own_incidents(inc, party) for label, inc in found.items()}
    inc = Incidents(by_run[record.main].losses, by_run[record.main].violations, facts)
    cards = []
    loss_rows = []
    positions = []
    for c in inc.losses:
        own, other = _own_side(c, party)  # type: ignore[misc]
        cards.append(_party_card(c, own, other, record))
        positions.append((c.label, c.category, own.lat, own.lon))
        loss_rows.append(
            (
                "loss of separation",
                c.label,
                c.t_s,
                f"{own.id} ({own.party}) / another party's aircraft",
                f"category {c.category}: {c.h_nm:.2f} NM, {c.v_ft:,.0f} ft",
            )
        )
    runs = {label: run_counts(found) for label, found in by_run.items()}
    tracks = rec.tracks[rec.tracks["party"] == party].reset_index(drop=True)
    alerts = rec.alerts[rec.alerts["party"] == party].reset_index(drop=True)
    return ReportView(
        record=record,
        party=party,
        cards=tuple(cards),
        incident_rows=incident_rows(inc, record, loss_rows),
        violations=inc.violations,
        hotline=in_period(facts, record.since_s),
        tracks=tracks,
        positions=tuple(positions),
        alerts=alerts,
        messages=messages[messages["t_s"] >= record.since_s].reset_index(drop=True),
        runs=runs,
        categories={k: sum(1 for c in inc.losses if c.category == k) for k in CATEGORIES},
        flight=flight_hours(tracks),
    )
