"""A :class:`~deconflict.report.view.ReportView` as one self-contained HTML file.

Inline CSS, plotly.js inlined once, every figure as JSON in the page (fixed div ids,
no random uids), the basemap from the bundled Natural Earth geometry clipped to the
map's extent: nothing is fetched. The same view renders to the same bytes except the
generated-at time (``<span id="generated-at">``).

Sections: 1 summary, 2 incidents (the table, the risk rule, an airprox card per loss of
separation), 3 map, 4 timeline (alerts and hotline, requests, overdue, distress,
failovers), 5 record integrity. Numbers are rounded to what they mean: positions to
4 decimals (about 10 m), distances to 0.01 NM, altitudes to the foot.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from deconflict.report.airprox import CATEGORIES, RISK_RULE
from deconflict.report.view import CardView, ReportView, alerts_raised, fmt_duration, fmt_time

#: Map tracks are drawn from a sample every this many seconds (keeps the file small).
MAP_STEP_S = 30.0
#: Party colours, in order of the sorted party names.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
LEVEL_COLOURS = {"advisory": "#f2c12e", "caution": "#f28e2b", "warning": "#d62728"}
KIND_SYMBOLS = {
    "notice": "circle",
    "request": "square",
    "response": "diamond",
    "ack": "triangle-up",
    "distress": "star",
}
CATEGORY_COLOURS = {"A": "#b30000", "B": "#e6550d", "C": "#31a354", "D": "#636363"}
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["toImage"]}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;color:#1d2733;background:#f4f6f8;font-size:14px}
header{background:#14213d;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px;font-size:22px}header .meta{opacity:.8;margin:0}
nav{background:#1f3157;padding:6px 32px}nav a{color:#dfe7f5;margin-right:18px;
text-decoration:none}
main{padding:8px 32px 40px;max-width:1500px}
section{background:#fff;border-radius:6px;padding:12px 20px;margin:16px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;border-bottom:2px solid #14213d;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px}
th,td{border:1px solid #d5dbe3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}table.kv th{font-weight:normal;white-space:nowrap}
code.hash{font-size:11px;word-break:break-all;display:inline-block;max-width:300px}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.card{border:1px solid #d5dbe3;border-left:8px solid #999;border-radius:4px;
padding:8px 14px;margin:14px 0}
.card h3{margin-top:4px}.plots{display:flex;flex-wrap:wrap;gap:10px}
.plot{width:520px;height:340px}.plot.wide{width:100%;height:820px}
.plot.timeline{width:100%;height:420px}
.cat{display:inline-block;min-width:18px;text-align:center;color:#fff;border-radius:3px;
padding:0 5px;font-weight:bold}
.rule{background:#f7f9fb;border:1px solid #d5dbe3;padding:6px 14px}
.ok{color:#1a7f37;font-weight:bold}.bad{color:#b30000;font-weight:bold}
.note{color:#555}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    table_id: str = "",
    cls: str = "",
    code: frozenset[int] = frozenset(),
) -> str:
    """An HTML table; numbers right-aligned, columns ``code`` as wrapped hex.

    Each row may carry a class via ``cls``.
    """
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, v in enumerate(row):
            num = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            if k in code:
                cells.append(f'<td><code class="hash">{_e(v)}</code></td>')
            else:
                cells.append(f'<td class="num">{_e(v)}</td>' if num else f"<td>{_e(v)}</td>")
        body.append(
            f'<tr class="{cls}">' + "".join(cells) + "</tr>"
            if cls
            else "<tr>" + "".join(cells) + "</tr>"
        )
    if not body:
        span = max(len(header), 1)
        body.append(f'<tr class="empty"><td colspan="{span}">none</td></tr>')
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv(rows: Iterable[Sequence[object]]) -> str:
    """A two-column table of labels and values (no header)."""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _figure(fig: go.Figure, div_id: str, cls: str = "plot") -> str:
    """A plotly figure as a fixed-id div and its JSON (plotly.js inlined elsewhere, once)."""
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 40, "b": 50})
    inner = fig.to_html(include_plotlyjs=False, full_html=False, div_id=div_id, config=PLOT_CONFIG)
    return f'<div class="{cls}" data-plot="{div_id}">{inner}</div>'


def _colours(parties: Sequence[str]) -> dict[str, str]:
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(parties)}


def _cat(category: str) -> str:
    colour = CATEGORY_COLOURS.get(category, "#999")
    return f'<span class="cat" style="background:{colour}">{_e(category)}</span>'


# -- sections --------------------------------------------------------------------------


def _summary(view: ReportView) -> str:
    rec = view.record
    ag = rec.agreement
    parts = ["<section id='summary'><h2>1. Summary</h2>"]
    parts += [f"<p class='bad note-record'>{_e(n)}</p>" for n in rec.notes]
    parts.append("<div class='grid'>")
    parts.append(
        "<div><h3>Record</h3>"
        + _kv(
            [
                ("source", rec.source),
                ("scenario", rec.scenario or "–"),
                ("period (UTC)", f"{fmt_time(rec, rec.since_s)} to {fmt_time(rec, rec.until_s)}"),
                ("reported run", _run_name(rec.main)),
                ("view", "working group (all parties)" if view.party is None else view.party),
            ],
        )
        + "<h3>Agreement</h3>"
        + _kv(
            [
                ("fingerprint", ag.fingerprint),
                ("separation minima", f"{ag.horizontal_nm:g} NM / {ag.vertical_ft:g} ft"),
                ("look-ahead", f"{ag.lookahead_s:g} s"),
                ("protected areas", len(ag.protected_areas)),
            ],
        )
        + "</div>"
    )
    parts.append(
        "<div><h3>Aircraft and flight hours</h3>"
        + _table(
            ["party", "aircraft", "flight hours"],
            [(r.party, int(r.aircraft), f"{r.hours:.1f}") for r in view.flight.itertuples()],
        )
    )
    overdue = len(view.hotline.overdue)
    unacked = int((~view.hotline.distress["acknowledged"].astype(bool)).sum())
    rows = [(f"loss of separation, category {k} ({v})", view.categories[k]) for k, v in
            CATEGORIES.items()]  # fmt: skip
    rows += [
        ("zone violations", len(view.violations)),
        ("overdue requests", overdue),
        ("unacknowledged distress calls", unacked),
    ]
    parts.append("<h3>Incidents</h3>" + _table(["", "count"], rows) + "</div>")
    alert_rows = list(alerts_raised(view.alerts).items())
    msgs = view.messages
    kinds = msgs.groupby("kind").size()
    hot_rows = [(k, int(kinds.get(k, 0))) for k in KIND_SYMBOLS]
    hot_rows.append(("carried by the backup relay only", int((msgs["channel"] == "backup").sum())))
    hot_rows.append(("sent again on the other channel", int((msgs["channel"] == "both").sum())))
    parts.append(
        "<div><h3>Alerts raised, by level</h3><p class='note'>Once per conflict: new "
        "conflicts and level changes, zones included.</p>"
        + _table(["level", "alerts"], alert_rows)
        + "<h3>Hotline traffic</h3>"
        + _table(["messages", "count"], hot_rows)
        + "</div>"
    )
    if len(view.runs) > 1:
        labels = list(view.runs)
        keys = list(next(iter(view.runs.values())))
        parts.append(
            "<div><h3>Protocol on vs off</h3>"
            + _table(
                ["", *[_run_name(lb) for lb in labels]],
                [(k, *[view.runs[lb][k] for lb in labels]) for k in keys],
                table_id="on-off",
            )
            + "<p class='note'>Same scenario and seed; with the protocol off the broker still "
            "alerts but nobody acts.</p></div>"
        )
    parts.append("</div></section>")
    return "".join(parts)


def _run_name(label: str) -> str:
    return {"on": "protocol on", "off": "protocol off", "broker": "broker"}.get(label, label)


def _incidents(view: ReportView) -> str:
    rec = view.record
    rows = []
    for kind, label, t_s, who, what in view.incident_rows:
        rows.append(
            f'<tr class="incident" data-kind="{_e(kind)}"><td>{_e(label)}</td><td>{_e(kind)}</td>'
            f"<td>{_e(fmt_time(rec, t_s))}</td><td>{_e(who)}</td><td>{_e(what)}</td></tr>"
        )
    if not rows:
        rows.append('<tr class="empty"><td colspan="5">no incidents</td></tr>')
    table = (
        '<table id="incident-table"><thead><tr><th>incident</th><th>kind</th><th>time (UTC)</th>'
        f"<th>who</th><th>what</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    rule = "".join(f"<li>{_e(line)}</li>" for line in RISK_RULE)
    parts = [
        "<section id='incidents'><h2>2. Incidents</h2>",
        table,
        "<h3>Risk category (ICAO Doc 4444 airprox classes): the rule applied</h3>",
        f"<div class='rule' id='risk-rule'><ul>{rule}</ul></div>",
    ]
    for card in view.cards:
        parts.append(_card(card))
    parts.append("</section>")
    return "".join(parts)


def _card(card: CardView) -> str:
    colour = CATEGORY_COLOURS.get(card.category, "#999")
    facts = _kv(card.facts)
    adv = _table(
        [
            "time (UTC)",
            "aircraft",
            "level",
            "manoeuvre",
            "target ft/min",
            "target track",
            "followed",
        ],
        card.advisories,
    )
    plan = go.Figure()
    for k, tr in enumerate(card.plan):
        plan.add_trace(
            go.Scatter(
                x=list(tr.x),
                y=list(tr.y),
                mode="lines",
                name=tr.name,
                line={"color": PALETTE[k % len(PALETTE)], "dash": "dash" if tr.dash else "solid"},
            )
        )
    at = [(tr.x[tr.t.index(0.0)], tr.y[tr.t.index(0.0)]) for tr in card.plan if 0.0 in tr.t]
    plan.add_trace(
        go.Scatter(
            x=[p[0] for p in at],
            y=[p[1] for p in at],
            mode="markers",
            marker={"color": "#000", "size": 8, "symbol": "x"},
            name="closest approach",
            hoverinfo="skip",
        )
    )
    plan.update_layout(
        title={"text": f"{card.label}: plan view ±60 s (NM)", "font": {"size": 13}},
        xaxis={"title": {"text": "east (NM)"}},
        yaxis={"title": {"text": "north (NM)"}, "scaleanchor": "x", "scaleratio": 1},
        legend={"orientation": "h", "y": -0.25},
    )
    prof = go.Figure()
    for k, tr in enumerate(card.profile):
        prof.add_trace(
            go.Scatter(
                x=list(tr.x),
                y=list(tr.y),
                mode="lines",
                name=tr.name,
                line={"color": PALETTE[(k + (1 if card.relative else 0)) % len(PALETTE)]},
            )
        )
    prof.add_vline(x=0.0, line={"color": "#888", "dash": "dot"})
    if card.relative:
        for y in (-card.band_ft, card.band_ft):
            prof.add_hline(y=y, line={"color": "#c83232", "dash": "dot", "width": 1})
    prof.update_layout(
        title={"text": f"{card.label}: vertical profile ±60 s", "font": {"size": 13}},
        xaxis={"title": {"text": "s from closest approach"}},
        yaxis={"title": {"text": card.profile_label}},
        legend={"orientation": "h", "y": -0.25},
    )
    ident = card.label.lower()
    return (
        f'<div class="card" id="card-{_e(ident)}" style="border-left-color:{colour}">'
        f"<h3>{_e(card.label)} {_cat(card.category)} {_e(CATEGORIES[card.category])}</h3>"
        f'<div class="grid"><div>{facts}<h3>Advisories</h3>{adv}</div>'
        f'<div class="plots">{_figure(plan, f"fig-{ident}-plan")}'
        f"{_figure(prof, f'fig-{ident}-profile')}</div></div></div>"
    )


def _map(view: ReportView) -> str:
    from deconflict.airspace.zones import Zones

    rec = view.record
    colours = _colours(rec.parties)
    tracks = view.tracks
    fig = go.Figure()
    zones = Zones.from_agreement(rec.agreement)
    lats: list[float] = list(tracks["lat"]) if len(tracks) else []
    lons: list[float] = list(tracks["lon"]) if len(tracks) else []
    for z in zones.zones:
        for poly in getattr(z.geometry, "geoms", [z.geometry]):
            x, y = poly.exterior.coords.xy
            lons += list(x)
            lats += list(y)
    if not lats:
        lats, lons = [0.0], [0.0]
    pad = 0.5
    box = (min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad)
    for layer, colour in (("coastlines", "#7a8a99"), ("borders", "#b0a090")):
        x, y = _basemap_lines(layer, box)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                line={"color": colour, "width": 1},
                name=layer,
                hoverinfo="skip",
            )
        )
    for z in zones.zones:
        windows = (
            "always active"
            if z.active is None
            else "; ".join(f"{fmt_time(rec, a)} to {fmt_time(rec, b)}" for a, b in z.active)
        )
        band = f"{_ft(z.floor_ft)} to {_ft(z.ceiling_ft)}"
        for poly in getattr(z.geometry, "geoms", [z.geometry]):
            x, y = poly.exterior.coords.xy
            fig.add_trace(
                go.Scatter(
                    x=np.round(np.asarray(x), 4).tolist(),
                    y=np.round(np.asarray(y), 4).tolist(),
                    mode="lines",
                    fill="toself",
                    fillcolor="rgba(200,40,40,0.12)",
                    line={"color": "#c83232", "width": 1},
                    name=f"{z.name} ({band}; {windows})",
                    hoverinfo="name",
                )
            )
    for party in sorted(tracks["party"].unique()) if len(tracks) else []:
        x, y = _track_lines(tracks[tracks["party"] == party])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=f"tracks: {party}",
                line={"color": colours.get(party, "#444"), "width": 1.2},
                hoverinfo="skip",
            )
        )
    if view.positions:
        fig.add_trace(
            go.Scatter(
                x=[round(p[3], 4) for p in view.positions],
                y=[round(p[2], 4) for p in view.positions],
                mode="markers+text",
                text=[p[0] for p in view.positions],
                textposition="top center",
                marker={
                    "size": 12,
                    "symbol": "circle-open",
                    "line": {"width": 3},
                    "color": [CATEGORY_COLOURS.get(p[1], "#000") for p in view.positions],
                },
                name="losses of separation",
            )
        )
    if len(view.violations) and len(tracks):
        first = view.violations.merge(
            tracks.rename(columns={"t_s": "start_s"}), on=["id", "start_s"], how="left"
        ).dropna(subset=["lat"])
        if len(first):
            fig.add_trace(
                go.Scatter(
                    x=first["lon"].round(4).tolist(),
                    y=first["lat"].round(4).tolist(),
                    mode="markers",
                    marker={"size": 10, "symbol": "x", "color": "#c83232"},
                    name="zone violations (entry)",
                )
            )
    lat0 = (box[1] + box[3]) / 2
    fig.update_layout(
        title={"text": "Tracks, protected areas and incidents", "font": {"size": 14}},
        xaxis={"title": {"text": "longitude (°)"}, "range": [box[0], box[2]]},
        yaxis={
            "title": {"text": "latitude (°)"},
            "scaleanchor": "x",
            "scaleratio": 1.0 / math.cos(math.radians(lat0)),
            "range": [box[1], box[3]],
        },
        legend={"orientation": "h", "x": 0.0, "y": -0.08, "yanchor": "top"},
        plot_bgcolor="#f7fbff",
    )
    note = (
        "<p class='note'>Basemap: Natural Earth 1:50m country borders and coastlines "
        "(public domain), bundled. Tracks drawn every "
        f"{MAP_STEP_S:g} s.</p>"
    )
    return (
        "<section id='map'><h2>3. Map</h2>"
        + _figure(fig, "fig-map", "plot wide")
        + note
        + "</section>"
    )


def _ft(value: float) -> str:
    if value == -math.inf:
        return "surface"
    if value == math.inf:
        return "unlimited"
    return f"{value:,.0f} ft"


def _basemap_lines(layer: str, box: tuple[float, float, float, float]) -> tuple[list, list]:
    """One basemap layer clipped to ``box`` as x/y lists with None between lines."""
    from shapely.geometry import box as make_box
    from shapely.geometry import shape

    from deconflict.data import basemap

    clip = make_box(*box)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for feature in basemap(layer)["features"]:  # type: ignore[arg-type]
        geom = shape(feature["geometry"]).intersection(clip)
        for line in getattr(geom, "geoms", [geom]):
            if line.is_empty or not hasattr(line, "coords"):
                continue
            x, y = line.coords.xy
            xs += [*np.round(np.asarray(x), 3).tolist(), None]
            ys += [*np.round(np.asarray(y), 3).tolist(), None]
    return xs, ys


def _track_lines(tracks: pd.DataFrame) -> tuple[list, list]:
    """Every aircraft's track, sampled every :data:`MAP_STEP_S`, None between aircraft."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    t = tracks["t_s"].to_numpy(float)
    keep = np.isclose(np.mod(t - t.min(), MAP_STEP_S), 0.0)
    sampled = tracks[keep].sort_values(["id", "t_s"], kind="stable")
    for _, rows in sampled.groupby("id", sort=True):
        xs += [*rows["lon"].round(4).tolist(), None]
        ys += [*rows["lat"].round(4).tolist(), None]
    return xs, ys


def _timeline(view: ReportView) -> str:
    rec = view.record
    fig = go.Figure()
    raised = view.alerts[view.alerts["event"].isin(["new", "updated"])]
    raised = raised[raised["level"] != "none"]
    for level, colour in LEVEL_COLOURS.items():
        rows = raised[raised["level"] == level]
        if not len(rows):
            continue
        fig.add_trace(
            go.Scatter(
                x=[fmt_time(rec, t)[:-1].replace(" ", "T") for t in rows["t_s"]],
                y=[f"alerts: {p}" for p in rows["party"]],
                mode="markers",
                marker={
                    "color": colour,
                    "size": 8,
                    "symbol": "line-ns-open",
                    "line": {"width": 2, "color": colour},
                },
                name=f"alert: {level}",
                text=[
                    f"{o} {m}" + (f" ({z})" if isinstance(z, str) else "")
                    for o, m, z in zip(rows["own_id"], rows["manoeuvre"], rows["zone"], strict=True)
                ],
                hovertemplate="%{x}<br>%{text}<extra></extra>",
            )
        )
    msgs = view.messages
    for kind, symbol in KIND_SYMBOLS.items():
        rows = msgs[msgs["kind"] == kind]
        if not len(rows):
            continue
        fig.add_trace(
            go.Scatter(
                x=[fmt_time(rec, t)[:-1].replace(" ", "T") for t in rows["t_s"]],
                y=[f"hotline: {s}" for s in rows["sender"]],
                mode="markers",
                marker={"size": 11, "symbol": symbol},
                name=f"hotline: {kind}",
                text=[f"to {to}: {b[:80]}" for to, b in zip(rows["to"], rows["body"], strict=True)],
                hovertemplate="%{x}<br>%{text}<extra></extra>",
            )
        )
    for f in view.hotline.failovers.itertuples(index=False):
        fig.add_vline(
            x=fmt_time(rec, f.t_s)[:-1].replace(" ", "T"),
            line={"color": "#888", "dash": "dash"},
        )
    fig.update_layout(
        title={"text": "Alerts and hotline messages (UTC)", "font": {"size": 14}},
        xaxis={"type": "date"},
        yaxis={"type": "category", "categoryorder": "category descending"},
    )
    req = view.hotline.requests
    requests = _table(
        ["asked (UTC)", "from", "to", "request", "deadline", "answered (UTC)", "after", "status"],
        [
            (
                fmt_time(rec, r.t_s),
                r.sender,
                r.to,
                r.body,
                fmt_duration(r.deadline_s),
                fmt_time(rec, r.response_s),
                fmt_duration(r.response_after_s),
                r.status,
            )
            for r in req.itertuples(index=False)
        ],
        table_id="requests",
    )
    overdue = _table(
        ["who owes", "whom", "request", "asked (UTC)", "overdue since (UTC)", "overdue for"],
        [
            (
                o.owed_by,
                o.owed_to,
                o.body,
                fmt_time(rec, o.asked_s),
                fmt_time(rec, o.since_s),
                fmt_duration(o.overdue_s),
            )
            for o in view.hotline.overdue.itertuples(index=False)
        ],
        table_id="overdue",
    )
    distress = _table(
        ["called (UTC)", "by", "call", "acknowledged by", "after"],
        [
            (
                fmt_time(rec, d.t_s),
                d.sender,
                d.body,
                d.ack_by or "NOT ACKNOWLEDGED",
                "–" if not d.acknowledged else fmt_duration(d.ack_after_s),
            )
            for d in view.hotline.distress.itertuples(index=False)
        ],
        table_id="distress",
    )
    failovers = _table(
        ["time (UTC)", "switched to", "first message", "from"],
        [
            (fmt_time(rec, f.t_s), f"{f.to} channel", f.kind, f.sender)
            for f in view.hotline.failovers.itertuples(index=False)
        ],
        table_id="failovers",
    )
    return (
        "<section id='timeline'><h2>4. Timeline</h2>"
        + _figure(fig, "fig-timeline", "plot timeline")
        + "<h3>Requests and response times</h3>"
        + requests
        + "<h3>Overdue: who owes whom a response, since when</h3>"
        + overdue
        + "<h3>Distress calls and time to acknowledgement</h3>"
        + distress
        + "<h3>Channel failovers</h3>"
        + failovers
        + "<p class='note'>A failover is read from the relays' records: the first message "
        "only the backup relay carried after the primary, and back. Dashed lines on the "
        "timeline.</p></section>"
    )


def _integrity(view: ReportView) -> str:
    rows = []
    keys = []
    for run in view.record.runs.values():
        for a in run.audit:
            verdict = "verified" if a.ok else f"FAILED: {a.problem}"
            rows.append(
                (
                    a.relay,
                    a.path,
                    a.entries,
                    "; ".join(f"{k}: {n}" for k, n in a.types.items()),
                    a.signer,
                    "yes" if a.key_pinned else "no",
                    a.heads_checked,
                    a.head_hash,
                    verdict,
                )
            )
            keys += [(a.relay, party, key) for party, key in a.party_keys]
    body = _table(
        [
            "relay",
            "log",
            "entries",
            "by type",
            "signer key (Ed25519)",
            "signer is the relay's key",
            "party heads checked",
            "last hash",
            "verification",
        ],
        rows,
        table_id="audit",
        code=frozenset({4, 7}),
    )
    verdicts = [r[-1] == "verified" for r in rows]
    overall = (
        "<p class='ok'>Every audit log verified: hashes, links, signatures, signer and the "
        "heads the parties hold.</p>"
        if rows and all(verdicts)
        else "<p class='bad'>Not every audit log verified (or none found).</p>"
    )
    return (
        "<section id='integrity'><h2>5. Record integrity</h2>"
        + overall
        + body
        + "<h3>Party signing keys registered in the logs</h3>"
        + _table(["relay", "party", "public key (Ed25519)"], keys, code=frozenset({2}))
        + "</section>"
    )


def render(view: ReportView, generated_at: str) -> str:
    """The whole HTML page of ``view``; ``generated_at`` is the only varying text."""
    import plotly.offline

    rec = view.record
    title = (
        "Deconfliction working group report"
        if view.party is None
        else f"Deconfliction report for {view.party}"
    )
    scope = (
        "All parties: the working group's view."
        if view.party is None
        else f"What {view.party} may know: its own aircraft, and other aircraft only as "
        "relative geometry inside its own incidents."
    )
    body = "".join(
        [_summary(view), _incidents(view), _map(view), _timeline(view), _integrity(view)]
    )
    nav = "".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("summary", "1 Summary"),
            ("incidents", "2 Incidents"),
            ("map", "3 Map"),
            ("timeline", "4 Timeline"),
            ("integrity", "5 Record integrity"),
        )
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script></head>'
        f"<body><header><h1>{_e(title)}</h1><p class='meta'>{_e(scope)} Period "
        f"{_e(fmt_time(rec, rec.since_s))} to {_e(fmt_time(rec, rec.until_s))}; agreement "
        f"{_e(rec.agreement.fingerprint[:12])}. Generated "
        f'<span id="generated-at">{_e(generated_at)}</span>.</p></header>'
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
