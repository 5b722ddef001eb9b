"""The risk-category rule on hand-built encounters, one per class, and what feeds it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deconflict.agreement import Agreement
from deconflict.report.airprox import (
    CATEGORIES,
    MAX_GAP_S,
    RISK_RULE,
    Encounter,
    followed,
    incidents,
    risk_category,
)
from deconflict.report.hotline_facts import hotline_facts, is_receipt
from deconflict.report.record import ALERT_COLUMNS, MESSAGE_COLUMNS, Record, RunRecord

H, V = 5.0, 1000.0


@pytest.mark.parametrize(
    ("encounter", "category"),
    [
        # A: a near mid-air collision (200 ft, 50 ft), whatever else.
        (Encounter(200 * 0.3048 / 1852, 50.0, 300.0, True, 61, 2.0), "A"),
        # A: 1 NM / 150 ft (s = 0.2) and the advisory not followed.
        (Encounter(1.0, 150.0, 400.0, False, 61, 2.0), "A"),
        # B: the same geometry, advisories followed.
        (Encounter(1.0, 150.0, 400.0, True, 61, 2.0), "B"),
        # B: s = 0.4, followed, but closing at 700 kt.
        (Encounter(2.0, 400.0, 700.0, True, 61, 2.0), "B"),
        # C: 4.6 NM and 900 ft apart, followed.
        (Encounter(4.6, 900.0, 420.0, True, 61, 2.0), "C"),
        # C: s = 0.4, followed, closing slowly.
        (Encounter(2.0, 400.0, 200.0, True, 61, 2.0), "C"),
        # D: too few samples, even at NMAC range.
        (Encounter(0.01, 10.0, 300.0, False, 2, 2.0), "D"),
        # D: a gap in the record at closest approach.
        (Encounter(4.6, 900.0, 420.0, True, 61, MAX_GAP_S + 2.0), "D"),
        # D: closure unknown.
        (Encounter(4.6, 900.0, math.nan, True, 61, 2.0), "D"),
    ],
)
def test_risk_category_of_hand_built_encounters(encounter: Encounter, category: str) -> None:
    assert risk_category(encounter, H, V) == category


def test_no_advisory_counts_as_unresolved() -> None:
    assert risk_category(Encounter(1.0, 150.0, 400.0, None, 61, 2.0), H, V) == "A"
    assert risk_category(Encounter(2.0, 400.0, 200.0, None, 61, 2.0), H, V) == "B"


def test_the_rule_text_names_every_class() -> None:
    text = " ".join(RISK_RULE)
    for k, name in CATEGORIES.items():
        assert f"{k} ({name.lower()})" in text


def test_followed_climb_descend_turns() -> None:
    climb = pd.DataFrame({"vs_fpm": [0.0, 200.0, 900.0], "track_deg": [90.0] * 3})
    level = pd.DataFrame({"vs_fpm": [0.0, 0.0, 50.0], "track_deg": [90.0] * 3})
    right = pd.DataFrame({"vs_fpm": [0.0] * 3, "track_deg": [350.0, 358.0, 5.0]})
    assert followed("climb", 1500.0, math.nan, climb) is True
    assert followed("climb", 1500.0, math.nan, level) is False
    assert followed("descend", -1500.0, math.nan, climb) is False
    assert followed("turn_right", math.nan, 20.0, right) is True  # 15° of 30° across north
    assert followed("turn_left", math.nan, 320.0, right) is False
    assert followed("no_safe_manoeuvre", math.nan, math.nan, climb) is None
    # A climb may ask only for a reduced descent: -2,000 to -500 ft/min, half way is enough.
    easing = pd.DataFrame({"vs_fpm": [-2000.0, -1600.0, -1100.0], "track_deg": [0.0] * 3})
    assert followed("climb", -500.0, math.nan, easing) is True
    assert followed("climb", -500.0, math.nan, easing.head(2)) is False
    # Already at or beyond its target when advised: followed (nothing to change).
    assert followed("descend", 3400.0, math.nan, climb.assign(vs_fpm=3400.0)) is True
    assert followed("climb", 1500.0, math.nan, climb.head(1)) is False  # nothing after it


def _record(tracks: pd.DataFrame, alerts: pd.DataFrame | None = None) -> Record:
    alerts = alerts if alerts is not None else pd.DataFrame({c: [] for c in ALERT_COLUMNS})
    run = RunRecord("broker", tracks, alerts, pd.DataFrame({c: [] for c in MESSAGE_COLUMNS}), ())
    return Record(
        source="hand-built",
        agreement=Agreement(),
        start_unix_s=0.0,
        runs={"broker": run},
        main="broker",
        parties=("blue", "red"),
        since_s=float(tracks["t_s"].min()),
        until_s=float(tracks["t_s"].max()),
    )


def _head_on(step_s: float, dz_ft: float, miss_nm: float = 0.0) -> pd.DataFrame:
    """Two aircraft head-on along a meridian at 400 kt each, closest at t = 300 s."""
    t = np.arange(0.0, 600.0 + step_s, step_s)
    nm = 400.0 / 3600.0 * (t - 300.0)  # NM flown past the meeting point
    lon_off = miss_nm / 60.0 / math.cos(math.radians(35.0))
    rows = []
    for aid, party, sign, alt, dlon in (
        ("B1", "blue", 1.0, 20000.0, 0.0),
        ("R1", "red", -1.0, 20000.0 + dz_ft, lon_off),
    ):
        rows.append(
            pd.DataFrame(
                {
                    "t_s": t,
                    "id": aid,
                    "party": party,
                    "lat": 35.0 + sign * nm / 60.0,
                    "lon": 38.0 + dlon,
                    "alt_ft": alt,
                    "gs_kt": 400.0,
                    "track_deg": 0.0 if sign > 0 else 180.0,
                    "vs_fpm": 0.0,
                }
            )
        )
    return pd.concat(rows).sort_values(["t_s", "id"]).reset_index(drop=True)


def test_a_collision_course_is_category_a() -> None:
    found = incidents(_record(_head_on(2.0, 0.0)))
    (card,) = found.losses
    assert card.nmac and card.category == "A"
    assert card.t_s == 300.0 and card.h_nm < 0.01
    assert card.closure_kt == pytest.approx(800.0, rel=0.01)
    assert card.advisories == () and card.resolved is None
    assert math.isnan(card.first_alert_s)


def test_a_pass_with_followed_advisories_is_c_and_a_sparse_one_d() -> None:
    tracks = _head_on(2.0, 900.0, miss_nm=1.0)
    # Both were told to part vertically 60 s before, and did: blue descends from t = 250.
    late = tracks["t_s"] >= 250.0
    blue = tracks["id"] == "B1"
    red = tracks["id"] == "R1"
    tracks.loc[blue & late, "vs_fpm"] = -1500.0
    tracks.loc[red & late, "vs_fpm"] = 1500.0
    alerts = pd.DataFrame(
        [
            (240.0, "blue", "C1", "B1", "new", "warning", "descend", -1500.0, 0.0, 20.0,
             5.0, 0.0, 900.0, 800.0, None, None),
            (240.0, "red", "C1", "R1", "new", "warning", "climb", 1500.0, 180.0, 20.0,
             5.0, 180.0, -900.0, 800.0, None, None),
        ],
        columns=list(ALERT_COLUMNS),
    )  # fmt: skip
    (card,) = incidents(_record(tracks, alerts)).losses
    assert [a.followed for a in card.advisories] == [True, True] and card.resolved is True
    assert card.first_alert_s == 240.0 and card.lead_s == card.start_s - 240.0
    assert card.category == "C"
    sparse = _head_on(30.0, 0.0, miss_nm=0.5)
    (card,) = incidents(_record(sparse)).losses
    assert card.category == "D" and card.encounter.samples < 61


def test_receipts_are_not_acknowledgements_and_overdue_is_owed() -> None:
    def msg(t: float, i: str, kind: str, sender: str, to: str, reply=None, dl=math.nan,
            body="", channel="primary"):  # fmt: skip
        return (t, i, kind, sender, to, reply, dl, body, channel)

    messages = pd.DataFrame(
        [
            msg(10.0, "r1", "request", "blue", "red", dl=60.0, body="levels?"),
            msg(20.0, "r2", "request", "red", "blue", dl=60.0),
            msg(30.0, "a2", "response", "blue", "red", reply="r2", channel="backup"),
            msg(40.0, "d1", "distress", "red", "all", body="MAYDAY"),
            msg(40.0, "k1", "ack", "blue", "red", reply="d1", body='{"acks": ["d1"]}'),
            msg(55.0, "k2", "ack", "blue", "red", reply="d1", body="received"),
            msg(60.0, "d2", "distress", "blue", "all", body="MAYDAY 2"),
            msg(62.0, "n1", "notice", "red", "blue"),
        ],
        columns=list(MESSAGE_COLUMNS),
    )
    assert is_receipt('{"acks": ["d1"]}') and not is_receipt("received")
    facts = hotline_facts(messages, until_s=100.0)
    assert facts.requests["status"].tolist() == ["overdue", "answered"]
    assert facts.requests["response_after_s"].iloc[1] == 10.0
    (owed,) = facts.overdue.itertuples(index=False)
    assert (owed.owed_by, owed.owed_to, owed.since_s, owed.overdue_s) == ("red", "blue", 70.0, 30.0)
    first, second = facts.distress.itertuples(index=False)
    assert first.acknowledged and first.ack_by == "blue" and first.ack_after_s == 15.0
    assert not second.acknowledged
    assert facts.failovers[["t_s", "to"]].values.tolist() == [[30.0, "backup"], [40.0, "primary"]]
    # Not yet due at the end of the record: open, not overdue.
    assert hotline_facts(messages, until_s=50.0).requests["status"].iloc[0] == "open"
