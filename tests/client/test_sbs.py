"""The SBS-1 decoder on lines as dump1090 writes them, good and bad."""

from __future__ import annotations

import pytest

from deconflict.client.sbs import SbsDecoder
from deconflict.client.states import check_states

# As dump1090 serves them on port 30003 (22 fields; dates and times of the receiver).
CALLSIGN = (
    "MSG,1,111,11111,4CA2D1,111111,2015/10/07,10:15:31.000,2015/10/07,10:15:31.000,"
    "RYR8XK  ,,,,,,,,,,,0"
)
POSITION = (
    "MSG,3,111,11111,4CA2D1,111111,2015/10/07,10:15:32.000,2015/10/07,10:15:32.000,"
    ",35000,,,36.51234,36.82345,,,0,0,0,0"
)
VELOCITY = (
    "MSG,4,111,11111,4CA2D1,111111,2015/10/07,10:15:32.100,2015/10/07,10:15:32.100,"
    ",,452,91,,,-64,,0,0,0,0"
)


def msg3(hex_ident: str, alt: str, lat: str, lon: str) -> str:
    return f"MSG,3,1,1,{hex_ident},1,2015/10/07,10:00:00.000,2015/10/07,10:00:00.000,,{alt},,,{lat},{lon},,,0,0,0,0"  # noqa: E501


def msg4(hex_ident: str, gs: str, trk: str, vr: str) -> str:
    return f"MSG,4,1,1,{hex_ident},1,2015/10/07,10:00:00.000,2015/10/07,10:00:00.000,,,{gs},{trk},,,{vr},,0,0,0,0"  # noqa: E501


def test_callsign_velocity_then_position_make_one_state():
    d = SbsDecoder()
    assert d.feed(CALLSIGN, 1000.0) == []
    assert d.feed(VELOCITY, 1000.1) == []
    [state] = d.feed(POSITION, 1000.2)
    assert state == {
        "time": 1000.2,
        "id": "4CA2D1",
        "lat": 36.51234,
        "lon": 36.82345,
        "alt_ft": 35000.0,
        "gs_kt": 452.0,
        "track_deg": 91.0,
        "vs_fpm": -64.0,
    }
    assert d.callsign("4CA2D1") == "RYR8XK"
    assert check_states([state]) == [state]  # what the broker accepts
    assert (d.stats.lines, d.stats.used, d.stats.malformed, d.stats.states) == (3, 3, 0, 1)


def test_a_position_alone_waits_then_velocity_is_derived_from_two_positions():
    d = SbsDecoder()
    assert d.feed(msg3("ABCDEF", "10000", "45.0", "5.0"), 0.0) == []  # no velocity yet
    # 10 s later, 1/60 deg (about 1 NM) north and 500 ft higher.
    [state] = d.feed(msg3("abcdef", "10500", f"{45.0 + 1 / 60:.6f}", "5.0"), 10.0)
    assert state["id"] == "ABCDEF"  # hex idents are case-insensitive
    assert state["gs_kt"] == pytest.approx(360.0, rel=0.01)  # ~1 NM in 10 s
    assert state["track_deg"] == pytest.approx(0.0, abs=0.5) or state["track_deg"] > 359.5
    assert state["vs_fpm"] == pytest.approx(3000.0)


def test_an_old_velocity_is_not_used_and_the_rate_limit_holds():
    d = SbsDecoder(min_interval_s=1.0, velocity_max_age_s=30.0)
    d.feed(msg4("4CA2D1", "300", "180", ""), 0.0)
    [first] = d.feed(msg3("4CA2D1", "20000", "45.0", "5.0"), 1.0)
    assert (first["gs_kt"], first["track_deg"], first["vs_fpm"]) == (300.0, 180.0, 0.0)
    assert d.feed(msg3("4CA2D1", "20000", "44.999", "5.0"), 1.5) == []  # within 1 s
    # 60 s later the MSG,4 is too old: derived from the last two positions instead.
    [later] = d.feed(msg3("4CA2D1", "20000", "44.9", "5.0"), 61.0)
    assert later["track_deg"] == pytest.approx(180.0, abs=0.5)
    assert later["gs_kt"] == pytest.approx(0.099 * 60 / 59.5 * 3600, rel=0.02)


def test_malformed_lines_are_counted_and_skipped_never_raised():
    d = SbsDecoder()
    bad = [
        "MSG,3,1,1,ZZZZZZ,1,,,,,,35000,,,36.5,36.8,,,,,,0",  # not a hex ident
        "MSG,3,1,1,4CA2D1,1,,,,,,high,,,36.5,36.8,,,,,,0",  # not a number
        "MSG,3,1,1,4CA2D1,1,,,,,,35000,,,95.0,36.8,,,,,,0",  # latitude out of range
        "MSG,3,1,1,4CA2D1,1,,,,,,35000,,,nan,36.8,,,,,,0",  # not finite
        "MSG,4,1,1,4CA2D1,1,,,,,,,-5,90,,,0,,,,,0",  # negative ground speed
        "MSG,3,1,1",  # too few fields
        "MSG,9,1,1,4CA2D1,1,,,,,,35000,,,36.5,36.8,,,,,,0",  # no such type
        "MSG,1,1,1,4CA2D1,1,,,,,\x1b[2J,,,,,,,,,,,0",  # a callsign with a control char
        "\x00\xff\ufffd garbage",
        "MSG," + "9" * 2000,  # far too long
    ]
    for line in bad:
        assert d.feed(line, 5.0) == []
    assert d.stats.malformed == len(bad)
    assert d.stats.states == 0
    # The aircraft is still decoded normally afterwards.
    d.feed(msg4("4CA2D1", "450", "90", "0"), 6.0)
    assert len(d.feed(msg3("4CA2D1", "35000", "36.5", "36.8"), 6.0)) == 1


def test_other_types_and_missing_fields_are_ignored_not_malformed():
    d = SbsDecoder()
    ignored = [
        "MSG,2,1,1,4CA2D1,1,,,,,,0,12,270,36.5,36.8,,,,,,-1",  # surface position
        "MSG,5,1,1,4CA2D1,1,,,,,,35000,,,,,,,0,,0,0",  # surveillance altitude
        "MSG,6,1,1,4CA2D1,1,,,,,,35000,,,,,,7700,0,1,0,0",
        "MSG,7,1,1,4CA2D1,1,,,,,,35000,,,,,,,,,,0",
        "MSG,8,1,1,4CA2D1,1,,,,,,,,,,,,,,,,0",
        "SEL,,496,2286,4CA4E5,27215,2010/02/19,18:06:07.710,2010/02/19,18:06:07.710,RYR1427",
        "ID,,496,7162,405637,27928,2010/02/19,18:06:07.115,2010/02/19,18:06:07.115,EZY691A",
        "AIR,,496,5906,400A2E,11,2010/02/19,18:06:07.000,2010/02/19,18:06:07.000",
        "STA,,5,179,400AE7,10103,2008/11/28,14:58:51.153,2008/11/28,14:58:51.153,RM",
        "",
        "MSG,3,1,1,4CA2D1,1,,,,,,35000,,,,,,,,,,0",  # altitude, position not decoded yet
        "MSG,4,1,1,4CA2D1,1,,,,,,,,,,,-64,,,,,0",  # vertical rate only
    ]
    for line in ignored:
        assert d.feed(line, 1.0) == []
    assert d.stats.ignored == len(ignored) and d.stats.malformed == 0


def test_non_icao_addresses_and_quiet_aircraft_are_forgotten():
    d = SbsDecoder(forget_after_s=60.0)
    d.feed(msg4("~1A2B3C", "120", "45", "0"), 0.0)
    [state] = d.feed(msg3("~1A2B3C", "3000", "48.0", "2.0"), 0.5)
    assert state["id"] == "~1A2B3C"
    assert check_states([state])  # a valid aircraft id for the broker too
    d.feed(msg4("4CA2D1", "450", "90", "0"), 100.0)
    assert set(d.aircraft) == {"4CA2D1"}  # the quiet one is gone


def test_feed_lines_gives_the_states_in_order():
    d = SbsDecoder()
    lines = [msg4("AAAAAA", "400", "0", "0"), msg4("BBBBBB", "400", "180", "0")]
    lines += [msg3("AAAAAA", "30000", "45", "5"), msg3("BBBBBB", "30000", "45.2", "5")]
    states = d.feed_lines(lines, 3.0)
    assert [s["id"] for s in states] == ["AAAAAA", "BBBBBB"]
