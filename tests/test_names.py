"""The one rule for ids and the one rule for party names (issue 11, items 8 and 10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deconflict import InputError, TrafficState
from deconflict.names import (
    MAX_ID_CHARS,
    check_id,
    check_party_name,
    first_bad_id,
    id_problem,
    party_name_problem,
    terminal_text,
)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("B1\x00", "control character U+0000 not allowed"),
        ("\x00", "control character U+0000 not allowed"),
        ("a\nb", "control character U+000A not allowed"),
        ("a\x7fb", "control character U+007F not allowed"),
        ("x\u202egnp.exe", "format character U+202E not allowed"),  # right-to-left override
        ("x\u2066y", "format character U+2066 not allowed"),  # left-to-right isolate
        ("a\u200bb", "format character U+200B not allowed"),  # zero-width space
        ("a\u2028b", "line separator U+2028 not allowed"),
        ("a\u00a0b", "space character U+00A0 not allowed"),
        ("", "empty value"),
        ("x" * (MAX_ID_CHARS + 1), f"{MAX_ID_CHARS + 1} characters; at most {MAX_ID_CHARS}"),
        (" B1", "starts or ends with a space"),
        (7, "int value, expected text"),
    ],
)
def test_bad_ids_name_the_code_point(value: object, problem: str):
    assert problem in (id_problem(value) or "")
    with pytest.raises(InputError, match=r"^id\[3\]: ") as info:
        check_id(value, "id[3]")
    assert "\n" not in str(info.value) and "\x00" not in str(info.value)


@pytest.mark.parametrize("value", ["AFR123", "红-1", "[red]x", "a b", "x" * MAX_ID_CHARS, "é"])
def test_printable_ids_pass(value: str):
    assert id_problem(value) is None and check_id(value, "id") == value


def test_first_bad_id_finds_the_first_row_of_the_first_bad_value():
    ids = np.array(["A", "B", "C\u202e", "A", "D\x00", "C\u202e"], dtype=object)
    assert first_bad_id(ids) == (2, "format character U+202E not allowed")
    # A trailing NUL is seen (a numpy str_ array would already have dropped it).
    assert first_bad_id(["A", "B\x00"]) == (1, "control character U+0000 not allowed")
    assert first_bad_id(["A", "x" * 65, "B"]) == (1, "65 characters; at most 64")
    assert first_bad_id(["A", ""]) == (1, "empty value")
    assert first_bad_id(["", "A"]) == (0, "empty value")
    assert first_bad_id(["A", "B ", "C"]) == (1, "'B ' starts or ends with a space")
    assert first_bad_id(["A", "C", " D"]) == (2, "' D' starts or ends with a space")
    assert first_bad_id(["A", 7]) == (1, "int value, expected text")
    assert first_bad_id(np.array([f"AC{i}" for i in range(10_000)], dtype=object)) is None
    assert first_bad_id([]) is None


@pytest.mark.parametrize("name", ["blue", "Red", "wg", "a", "blue-2.ops_x", "9th", "b" * 64])
def test_party_names(name: str):
    assert party_name_problem(name) is None and check_party_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("all", "reserved"),
        ("ALL", "reserved"),
        ("红", "expected 1 to 64 ASCII letters"),
        ("o'brien", "expected 1 to 64 ASCII letters"),
        ('"blue"', "expected 1 to 64 ASCII letters"),
        ("blue\n", "expected 1 to 64 ASCII letters"),
        ("-blue", "expected 1 to 64 ASCII letters"),
        ("b" * 65, "expected 1 to 64 ASCII letters"),
        ("[red]x", "expected 1 to 64 ASCII letters"),
    ],
)
def test_bad_party_names(name: str, problem: str):
    assert problem in (party_name_problem(name) or "")
    with pytest.raises(InputError, match=f"^party name .*: {problem}") as info:
        check_party_name(name)
    assert "\n" not in str(info.value)


def test_an_empty_party_name():
    with pytest.raises(InputError, match=r"^party name is empty; expected a name such as 'blue'$"):
        check_party_name("")


def test_terminal_text_escapes_what_a_terminal_would_act_on():
    assert terminal_text("AFR123") == "AFR123"
    assert terminal_text("a\x00b\x1b[31m") == "a\\x00b\\x1b[31m"
    assert terminal_text("x\u202egnp.exe") == "x\\u202egnp.exe"
    assert terminal_text("红") == "红"


# -- the rule as TrafficState (files and the broker) applies it ---------------------------


def frame(**cols: object) -> pd.DataFrame:
    base = {
        "time": [0.0, 0.0, 0.0, 0.0],
        "id": ["A", "B", "C", "D"],
        "lat": [1.0, 2.0, 3.0, 4.0],
        "lon": [1.0, 2.0, 3.0, 4.0],
        "alt_ft": [1000.0] * 4,
        "gs_kt": [100.0] * 4,
        "track_deg": [0.0, 90.0, 180.0, 270.0],
        "vs_fpm": [0.0] * 4,
    }
    return pd.DataFrame({**base, **cols})


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["A", "B", "C", "D\x00"], "row 3, column 'id': control character U+0000 not allowed"),
        (["A", "B\x00C", "C", "D"], "row 1, column 'id': control character U+0000 not allowed"),
        (["A", "B", "C\u202e", "D"], "row 2, column 'id': format character U+202E not allowed"),
        (["A", "x" * 65, "C", "D"], "row 1, column 'id': 65 characters; at most 64"),
    ],
)
def test_states_refuse_bad_ids_naming_row_and_code_point(ids: list[str], message: str):
    with pytest.raises(InputError) as info:
        TrafficState.from_frame(frame(id=ids))
    assert str(info.value) == message


def test_states_refuse_a_bad_party_label():
    with pytest.raises(InputError, match="row 2, column 'party': control character U\\+0007"):
        TrafficState.from_frame(frame(party=["b", "b", "r\x07", "r"]))
