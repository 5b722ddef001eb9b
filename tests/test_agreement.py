from __future__ import annotations

import pytest

from deconflict import Agreement, AgreementError
from deconflict.io.agreement_file import load_agreement, save_agreement


def test_keyword_construction_and_defaults():
    ag = Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)
    assert (ag.horizontal_nm, ag.vertical_ft, ag.lookahead_s) == (5.0, 1000.0, 300.0)
    assert ag.alerts.caution_s == 120.0 and ag.alerts.warning_s == 60.0
    assert ag.protected_areas == ()


def test_fingerprint_is_canonical():
    a = Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)
    b = Agreement(lookahead_s=300.0, vertical_ft=1000.0, horizontal_nm=5.0)
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 64
    assert Agreement(horizontal_nm=3).fingerprint != a.fingerprint
    assert Agreement(parties=("blue", "red")).fingerprint != a.fingerprint
    # The hashed text is stable: a change in it would make parties disagree.
    assert a.canonical_json().startswith('{"alerts":{"caution_s":120.0,"clear_after_s":5.0,')


def test_short_lookahead_with_default_alert_thresholds():
    ag = Agreement(horizontal_nm=3, vertical_ft=1000, lookahead_s=60)
    assert ag.lookahead_s == 60.0 and ag.alerts.caution_s == 120.0


def test_frozen():
    ag = Agreement()
    with pytest.raises(Exception, match="frozen"):
        ag.horizontal_nm = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"horizontal_nm": -5}, "horizontal_nm"),
        ({"vertical_ft": 0}, "vertical_ft"),
        ({"lookahead_s": float("nan")}, "lookahead_s"),
        ({"lookahead_s": "soon"}, "lookahead_s"),
        ({"parties": ("a", "a")}, "parties"),
        ({"alerts": {"caution_s": 30, "warning_s": 60}}, "alerts"),
        ({"horizontal_nm": True}, "horizontal_nm"),
        ({"colour": "blue"}, "colour"),
        ({"resolution": {"min_alt_ft": 5000, "max_alt_ft": 4000}}, "min_alt_ft"),
        ({"resolution": {"tie_break": "coin"}}, "resolution.tie_break"),
    ],
)
def test_bad_fields_are_named(kwargs, field):
    with pytest.raises(AgreementError, match=field) as info:
        Agreement(**kwargs)
    assert "\n" not in str(info.value)


def test_toml_round_trip(tmp_path):
    ag = Agreement(
        name="Syria 2015 MoU",
        parties=("blue", "red"),
        horizontal_nm=3,
        vertical_ft=1000,
        lookahead_s=240,
        protected_areas=({"name": "border", "floor_ft": 0},),
    )
    path = tmp_path / "ag.toml"
    save_agreement(ag, path)
    back = load_agreement(path)
    assert back == ag and back.fingerprint == ag.fingerprint
    assert "horizontal_nm = 3.0" in path.read_text()


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("horizontal_nm = [", "not valid TOML"),
        ("horizontal_nm = -1", "field 'horizontal_nm'"),
        ('vertical_ft = "high"', "field 'vertical_ft'"),
        ("[alerts]\nwarning_s = 0", "field 'alerts.warning_s'"),
    ],
)
def test_bad_toml_is_one_line(tmp_path, text, pattern):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(AgreementError, match=pattern) as info:
        load_agreement(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(AgreementError, match="no such agreement file"):
        load_agreement(tmp_path / "none.toml")
