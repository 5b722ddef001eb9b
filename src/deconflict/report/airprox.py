"""Incidents of a record, and the airprox risk category of each loss of separation.

:func:`incidents` finds, in the main run of a :class:`~deconflict.report.record.Record`,
the losses of separation (:func:`deconflict.sim.losses.count_losses`: cross-party, below
both minima), the protected-zone violations (:func:`deconflict.sim.losses.zone_violations`),
the overdue requests and the unacknowledged distress calls, and makes an airprox-style
:class:`Airprox` card for each loss: closest approach, the two aircraft there, the first
alert and how early it came, the advisories and whether they were followed, and a **risk
category** under ICAO Doc 4444's airprox classes, assigned by :func:`risk_category` (the
rule's text is :data:`RISK_RULE`, printed in every report).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deconflict.geo import geodetic_to_ecef
from deconflict.report.hotline_facts import HotlineFacts, hotline_facts
from deconflict.report.record import Record
from deconflict.sim.losses import NMAC_H_FT, NMAC_V_FT, count_losses, zone_violations
from deconflict.units import m_to_nm

#: ICAO Doc 4444 airprox risk classes.
CATEGORIES = {
    "A": "Risk of collision",
    "B": "Safety not assured",
    "C": "No risk of collision",
    "D": "Risk not determined",
}
#: A card shows the tracks this long either side of closest approach (s).
WINDOW_S = 60.0
#: Too sparse (category D): fewer samples than this of either aircraft in the window ...
MIN_SAMPLES = 3
#: ... or a gap longer than this (s) between samples of either aircraft within
#: :data:`GAP_CHECK_S` of closest approach.
MAX_GAP_S = 10.0
GAP_CHECK_S = 30.0
#: Separation achieved, as ``s = max(h / H, v / V)`` at closest approach (< 1: a loss):
#: below this, close enough for A when unresolved, else B.
CRITICAL_RATIO = 0.25
#: Below this, B when unresolved or closing fast.
MARGINAL_RATIO = 0.5
#: Closing this fast or faster (kt, horizontal) leaves no time: B below MARGINAL_RATIO.
HIGH_CLOSURE_KT = 600.0
#: An advisory was followed when, within this long after it (s), the vertical speed
#: came half way from where it was to the target (at or beyond it counts: a climb's
#: target may be a reduced descent), or the track turned half way to its target, ...
FOLLOW_WINDOW_S = 30.0
#: ... or, without a target, a climb (descent) reached this vertical speed (ft/min) ...
FOLLOW_VS_FPM = 300.0
#: ... or a turn changed the track this much (deg) in the advised sense.
FOLLOW_TURN_DEG = 10.0

#: The rule, as printed in the report (see :func:`risk_category`).
RISK_RULE = (
    "s = max(h / H, v / V): the separation achieved at closest approach as a fraction of "
    "the minima (H horizontal, V vertical; s < 1 is a loss of separation). "
    "Resolved: every advisory given for the encounter was followed.",
    f"D (risk not determined): the record is too sparse: fewer than {MIN_SAMPLES} samples of "
    f"either aircraft within ±{WINDOW_S:g} s of closest approach, a gap over "
    f"{MAX_GAP_S:g} s within ±{GAP_CHECK_S:g} s of it, or a value missing.",
    f"A (risk of collision): a near mid-air collision (closer than {NMAC_H_FT:g} ft "
    f"horizontally and {NMAC_V_FT:g} ft vertically), or s < {CRITICAL_RATIO:g} and not "
    f"resolved (an advisory not followed, or none given).",
    f"B (safety not assured): s < {CRITICAL_RATIO:g} though resolved; or s < "
    f"{MARGINAL_RATIO:g} and either not resolved or closing at {HIGH_CLOSURE_KT:g} kt or more.",
    "C (no risk of collision): every other loss of separation.",
    f"An advisory is followed when within {FOLLOW_WINDOW_S:g} s the vertical speed comes half "
    f"way from where it was to the advised target in the advised sense (at or beyond the "
    f"target counts: a climb may ask only for a reduced descent), or the track turns half way "
    f"to the advised track or {FOLLOW_TURN_DEG:g}° in the advised sense; without a target, "
    f"{FOLLOW_VS_FPM:g} ft/min up (climb) or down (descend).",
)


@dataclass(frozen=True)
class Encounter:
    """What :func:`risk_category` reads of a loss of separation.

    ``h_nm``/``v_ft``: separation at closest approach; ``closure_kt``: the fastest
    horizontal closing speed in the minute before it (NaN unknown); ``resolved``: True
    when every advisory was followed, False when one was not, None when none was given;
    ``samples``: the fewest samples of either aircraft within ±60 s; ``max_gap_s``: the
    longest gap between samples within ±30 s.
    """

    h_nm: float
    v_ft: float
    closure_kt: float
    resolved: bool | None
    samples: int
    max_gap_s: float


def separation_ratio(h_nm: float, v_ft: float, horizontal_nm: float, vertical_ft: float) -> float:
    """``max(h / H, v / V)``: below 1 both minima are infringed.

    >>> separation_ratio(1.0, 900.0, 5.0, 1000.0)
    0.9
    """
    return max(h_nm / horizontal_nm, v_ft / vertical_ft)


def risk_category(enc: Encounter, horizontal_nm: float, vertical_ft: float) -> str:
    """The airprox class ``A``/``B``/``C``/``D`` of an encounter (:data:`RISK_RULE`).

    >>> risk_category(Encounter(4.6, 300.0, 420.0, True, 61, 2.0), 5.0, 1000.0)
    'C'
    >>> risk_category(Encounter(0.05, 50.0, 900.0, False, 61, 2.0), 5.0, 1000.0)
    'A'
    """
    values = (enc.h_nm, enc.v_ft, enc.closure_kt)
    if (
        enc.samples < MIN_SAMPLES
        or not math.isfinite(enc.max_gap_s)
        or enc.max_gap_s > MAX_GAP_S
        or not all(math.isfinite(v) for v in values)
    ):
        return "D"
    if nm_to_ft(enc.h_nm) < NMAC_H_FT and enc.v_ft < NMAC_V_FT:
        return "A"
    s = separation_ratio(enc.h_nm, enc.v_ft, horizontal_nm, vertical_ft)
    resolved = enc.resolved is True
    if s < CRITICAL_RATIO:
        return "B" if resolved else "A"
    if s < MARGINAL_RATIO and (not resolved or enc.closure_kt >= HIGH_CLOSURE_KT):
        return "B"
    return "C"


def nm_to_ft(h_nm: float) -> float:
    """Nautical miles in feet.

    >>> round(nm_to_ft(1.0))
    6076
    """
    return h_nm * 1852.0 / 0.3048


@dataclass(frozen=True)
class AtCpa:
    """One aircraft at closest approach (deg, ft, deg, kt, ft/min)."""

    id: str
    party: str
    type: str | None
    lat: float
    lon: float
    alt_ft: float
    track_deg: float
    gs_kt: float
    vs_fpm: float


@dataclass(frozen=True)
class Advisory:
    """An alert event with a manoeuvre for one aircraft of the encounter.

    ``followed``: None where the manoeuvre asks nothing to follow (``no_safe_manoeuvre``).
    """

    t_s: float
    id: str
    party: str
    level: str
    manoeuvre: str
    target_vs_fpm: float
    target_track_deg: float
    followed: bool | None


@dataclass(frozen=True)
class Airprox:
    """An airprox card: one loss of separation (times on the record clock, s).

    ``number`` counts from 1 in time order; ``t_s`` closest approach; ``lat``/``lon`` the
    midpoint there; ``h_nm``/``v_ft`` the separation there; ``min_h_nm``/``min_v_ft`` the
    smallest of the episode; ``first_alert_s`` the first alert of the pair's conflict
    (NaN: none), ``lead_s`` how long before the loss began it came; ``window``: both
    aircraft's samples within ±60 s (``t_s, id, party, lat, lon, alt_ft``).
    """

    number: int
    start_s: float
    end_s: float
    t_s: float
    lat: float
    lon: float
    a: AtCpa
    b: AtCpa
    h_nm: float
    v_ft: float
    min_h_nm: float
    min_v_ft: float
    nmac: bool
    closure_kt: float
    first_alert_s: float
    lead_s: float
    advisories: tuple[Advisory, ...]
    resolved: bool | None
    encounter: Encounter
    category: str
    window: pd.DataFrame

    @property
    def label(self) -> str:
        """``LOS-n``."""
        return f"LOS-{self.number}"


@dataclass(frozen=True)
class Incidents:
    """Every incident of the main run.

    ``losses``: airprox cards; ``violations``: zone episodes
    (:data:`deconflict.sim.losses.VIOLATION_COLUMNS`); ``hotline``: requests, overdue
    and distress facts (:class:`~deconflict.report.hotline_facts.HotlineFacts`).
    """

    losses: tuple[Airprox, ...]
    violations: pd.DataFrame
    hotline: HotlineFacts

    def count(self) -> int:
        """Incidents in all: losses, zone violations, overdue requests, unacked distress."""
        return (
            len(self.losses)
            + len(self.violations)
            + len(self.hotline.overdue)
            + int((~self.hotline.distress["acknowledged"].astype(bool)).sum())
        )


def incidents(record: Record, run: str | None = None) -> Incidents:
    """The incidents of ``run`` (default the main run) of ``record``."""
    rec = record.runs[run or record.main]
    ag = record.agreement
    tracks = rec.tracks.rename(columns={"t_s": "time"})
    cards: list[Airprox] = []
    if len(tracks):
        found = count_losses(tracks, ag.horizontal_nm, ag.vertical_ft)
        eps = found.episodes.sort_values(["start_s", "id_a", "id_b"], kind="stable")
        for k, ep in enumerate(eps.itertuples(index=False), start=1):
            cards.append(_card(k, ep, rec.tracks, rec.alerts, record))
    from deconflict.airspace.zones import Zones

    zones = Zones.from_agreement(ag)
    if len(tracks) and len(zones):
        violations = zone_violations(tracks, zones).reset_index(drop=True)
    else:
        violations = pd.DataFrame(
            columns=["id", "party", "zone", "start_s", "end_s", "samples", "seconds"]
        )
    return Incidents(tuple(cards), violations, hotline_facts(rec.messages, record.until_s))


def all_incidents(record: Record) -> dict[str, Incidents]:
    """The incidents of every run of ``record``, by run label."""
    return {label: incidents(record, label) for label in record.runs}


def _card(
    number: int, ep: object, tracks: pd.DataFrame, alerts: pd.DataFrame, record: Record
) -> Airprox:
    ag = record.agreement
    id_a, id_b = str(ep.id_a), str(ep.id_b)  # type: ignore[attr-defined]
    start, end = float(ep.start_s), float(ep.end_s)  # type: ignore[attr-defined]
    pair = tracks[tracks["id"].isin([id_a, id_b])]
    wide = pair[(pair["t_s"] >= start - 2 * WINDOW_S) & (pair["t_s"] <= end + WINDOW_S)]
    a_rows = wide[wide["id"] == id_a].set_index("t_s")
    b_rows = wide[wide["id"] == id_b].set_index("t_s")
    common = a_rows.index.intersection(b_rows.index)
    pa, pb = a_rows.loc[common], b_rows.loc[common]
    ea = geodetic_to_ecef(pa["lat"].to_numpy(float), pa["lon"].to_numpy(float), 0.0)
    eb = geodetic_to_ecef(pb["lat"].to_numpy(float), pb["lon"].to_numpy(float), 0.0)
    h = m_to_nm(np.linalg.norm(ea - eb, axis=1))
    v = np.abs(pa["alt_ft"].to_numpy(float) - pb["alt_ft"].to_numpy(float))
    t = common.to_numpy(dtype=float)
    in_ep = (t >= start) & (t <= end)
    ratio = np.maximum(h / ag.horizontal_nm, v / ag.vertical_ft)
    i = int(np.flatnonzero(in_ep)[np.argmin(ratio[in_ep])])
    t_cpa = float(t[i])
    window = pair[(pair["t_s"] >= t_cpa - WINDOW_S) & (pair["t_s"] <= t_cpa + WINDOW_S)]
    window = window[["t_s", "id", "party", "lat", "lon", "alt_ft"]].reset_index(drop=True)
    before = (t <= t_cpa) & (t >= t_cpa - WINDOW_S)
    tb, hb = t[before], h[before]
    closure = float(np.max(-np.diff(hb) / np.diff(tb) * 3600.0)) if tb.size > 1 else math.nan
    samples = min(int((window["id"] == x).sum()) for x in (id_a, id_b))
    near = window[(window["t_s"] - t_cpa).abs() <= GAP_CHECK_S]
    gaps = [
        float(np.diff(np.sort(near.loc[near["id"] == x, "t_s"].to_numpy(float))).max(initial=0))
        for x in (id_a, id_b)
    ]
    gap = max(gaps) if samples >= 2 else math.inf
    advisories = _advisories(id_a, id_b, start, end, pair, alerts, ag.lookahead_s)
    followed = [adv.followed for adv in advisories if adv.followed is not None]
    resolved = None if not followed else all(followed)
    enc = Encounter(float(h[i]), float(v[i]), closure, resolved, samples, gap)
    pair_alerts = _pair_alerts(id_a, id_b, start, end, alerts, ag.lookahead_s)
    first = float(pair_alerts["t_s"].min()) if len(pair_alerts) else math.nan
    return Airprox(
        number=number,
        start_s=start,
        end_s=end,
        t_s=t_cpa,
        lat=float((pa["lat"].iloc[i] + pb["lat"].iloc[i]) / 2),
        lon=float(_mid_lon(pa["lon"].iloc[i], pb["lon"].iloc[i])),
        a=_at(pa.iloc[i], id_a, record),
        b=_at(pb.iloc[i], id_b, record),
        h_nm=float(h[i]),
        v_ft=float(v[i]),
        min_h_nm=float(ep.min_h_nm),  # type: ignore[attr-defined]
        min_v_ft=float(ep.min_v_ft),  # type: ignore[attr-defined]
        nmac=bool(ep.nmac),  # type: ignore[attr-defined]
        closure_kt=closure,
        first_alert_s=first,
        lead_s=start - first if math.isfinite(first) else math.nan,
        advisories=advisories,
        resolved=resolved,
        encounter=enc,
        category=risk_category(enc, ag.horizontal_nm, ag.vertical_ft),
        window=window,
    )


def _mid_lon(a: float, b: float) -> float:
    d = (b - a + 180.0) % 360.0 - 180.0
    return (a + d / 2 + 180.0) % 360.0 - 180.0


def _at(row: pd.Series, aid: str, record: Record) -> AtCpa:
    return AtCpa(
        id=aid,
        party=str(row["party"]),
        type=record.aircraft_types.get(aid),
        lat=float(row["lat"]),
        lon=float(row["lon"]),
        alt_ft=float(row["alt_ft"]),
        track_deg=float(row["track_deg"]),
        gs_kt=float(row["gs_kt"]),
        vs_fpm=float(row["vs_fpm"]),
    )


def _pair_alerts(
    id_a: str, id_b: str, start: float, end: float, alerts: pd.DataFrame, lookahead_s: float
) -> pd.DataFrame:
    """Alerts of the pair's conflict: conflict ids both aircraft were alerted under."""
    near = alerts[
        (alerts["t_s"] >= start - lookahead_s) & (alerts["t_s"] <= end) & alerts["zone"].isna()
    ]
    ids_a = set(near.loc[near["own_id"] == id_a, "conflict_id"])
    ids_b = set(near.loc[near["own_id"] == id_b, "conflict_id"])
    shared = ids_a & ids_b
    return near[near["conflict_id"].isin(shared) & near["own_id"].isin([id_a, id_b])]


def _advisories(
    id_a: str,
    id_b: str,
    start: float,
    end: float,
    tracks: pd.DataFrame,
    alerts: pd.DataFrame,
    lookahead_s: float,
) -> tuple[Advisory, ...]:
    rows = _pair_alerts(id_a, id_b, start, end, alerts, lookahead_s)
    rows = rows[rows["event"].isin(["new", "updated"]) & (rows["manoeuvre"] != "none")]
    out = []
    for r in rows.sort_values(["t_s", "own_id"], kind="stable").itertuples(index=False):
        own = tracks[tracks["id"] == r.own_id]
        out.append(
            Advisory(
                t_s=float(r.t_s),
                id=str(r.own_id),
                party=str(r.party),
                level=str(r.level),
                manoeuvre=str(r.manoeuvre),
                target_vs_fpm=_num(r.target_vs_fpm),
                target_track_deg=_num(r.target_track_deg),
                followed=followed(
                    str(r.manoeuvre),
                    _num(r.target_vs_fpm),
                    _num(r.target_track_deg),
                    own[(own["t_s"] >= r.t_s) & (own["t_s"] <= r.t_s + FOLLOW_WINDOW_S)],
                ),
            )
        )
    return tuple(out)


def _num(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v


def followed(
    manoeuvre: str, target_vs_fpm: float, target_track_deg: float, after: pd.DataFrame
) -> bool | None:
    """Whether the aircraft flew an advisory: None for a manoeuvre with nothing to fly.

    ``after``: its samples from the advisory (first row) to :data:`FOLLOW_WINDOW_S` after.

    >>> rows = pd.DataFrame({"vs_fpm": [0.0, 800.0, 1500.0], "track_deg": [90.0] * 3})
    >>> followed("climb", 1500.0, float("nan"), rows), followed("descend", -1500.0, 0.0, rows)
    (True, False)
    """
    if manoeuvre not in ("climb", "descend", "turn_left", "turn_right"):
        return None
    if len(after) < 2:
        return False
    vs = after["vs_fpm"].to_numpy(float)
    if manoeuvre in ("climb", "descend"):
        sense = 1.0 if manoeuvre == "climb" else -1.0
        if math.isfinite(target_vs_fpm):
            # In the advised sense: how far the target is beyond where it was, half of it.
            short = max(sense * (target_vs_fpm - vs[0]), 0.0)
            need = sense * target_vs_fpm - 0.5 * short
        else:
            need = FOLLOW_VS_FPM
        return bool(np.any(sense * vs >= need))
    trk = after["track_deg"].to_numpy(float)
    sense = 1.0 if manoeuvre == "turn_right" else -1.0
    turned = sense * (((trk[1:] - trk[0]) + 180.0) % 360.0 - 180.0)
    need = FOLLOW_TURN_DEG
    if math.isfinite(target_track_deg):
        way = (sense * (target_track_deg - trk[0])) % 360.0
        if way > 0:
            need = min(need, 0.5 * way)
    return bool(np.any(turned >= need))
