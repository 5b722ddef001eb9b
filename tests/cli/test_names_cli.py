"""Names, ids and CSV shape on the command line (issue 11, items 8, 10, 12, 13).

Bad input: one line on stderr, exit 2, no traceback; ids are printed escaped and
literally (rich markup in an id is not interpreted).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner

from deconflict.cli.party_cmd import party_app
from deconflict.errors import InputError
from deconflict.hotline.messages import new_message
from tests.conftest import run_deconflict

HEADER = "time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm,party"
A_ROW = "0,A1,45.0,5.0,30000,400,90,0,blue"
B_ROW = "0,B1,45.0,5.05,30000,400,270,0,red"


def deconflict(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command, as a user's shell runs it (own working directory)."""
    return run_deconflict(*args, cwd=cwd, drop=("DECONFLICT_DB",))


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# -- party names: one rule with the hotline, 'all' reserved (item 10) --------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("红", "error: party name '红': expected 1 to 64 ASCII letters"),
        ('"blue"', "error: party name '\"blue\"': expected 1 to 64 ASCII letters"),
        ("o'brien", 'error: party name "o\'brien": expected 1 to 64 ASCII letters'),
        ("all", "error: party name 'all': reserved ('all' means every party)"),
        ("All", "error: party name 'All': reserved ('all' means every party)"),
        ("[red]x", "error: party name '[red]x': expected 1 to 64 ASCII letters"),
        ("x\u202eyz", "error: party name 'x\\u202eyz': expected 1 to 64 ASCII letters"),
    ],
)
def test_party_add_refuses_what_the_hotline_refuses(tmp_path: Path, name: str, message: str):
    db = f"sqlite:///{tmp_path / 'p.db'}"
    res = CliRunner().invoke(party_app, ["add", name, "--db", db], env={"DECONFLICT_DB": ""})
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith(message) and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.db").exists()  # refused before the database is made


def test_party_add_of_a_reserved_name_in_a_real_shell(tmp_path: Path):
    line = one_line_error(deconflict("party", "add", "all", cwd=tmp_path))
    assert line == "error: party name 'all': reserved ('all' means every party)"
    assert not list(tmp_path.iterdir())  # refused before any database is made


@pytest.mark.parametrize(
    "name", ["blue", "red-2", "wg.ops", "all", "ALL", "红", "o'brien", "a b", "x" * 65, "-x"]
)
def test_one_name_rule_for_party_add_and_the_hotline(name: str):
    """A name ``party add`` accepts is exactly one the hotline accepts as a sender."""
    from deconflict.names import party_name_problem

    party_ok = party_name_problem(name) is None
    try:
        new_message(SigningKey.generate(), kind="notice", sender=name, to="x9", seq=1, body="")
        hotline_ok = True
    except InputError:
        hotline_ok = False
    assert party_ok == hotline_ok


def test_all_is_only_the_broadcast_recipient():
    key = SigningKey.generate()
    assert new_message(key, kind="distress", sender="blue", to="all", seq=1, body="x").to == "all"
    with pytest.raises(InputError, match=r"'to'.*reserved"):
        new_message(key, kind="notice", sender="blue", to="ALL", seq=1, body="x")
    with pytest.raises(InputError, match=r"'sender'.*reserved"):
        new_message(key, kind="notice", sender="all", to="blue", seq=1, body="x")


# -- CSV shape (item 13) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([A_ROW + ",extra", B_ROW], "line 2 has 10 fields, the header 9"),  # pandas: index
        ([A_ROW, B_ROW + ",extra"], "line 3 has 10 fields, the header 9"),
        ([A_ROW, "0,B1,45.0,5.05,30000,400,270,0"], "line 3 has 8 fields, the header 9"),
        ([A_ROW, "", B_ROW + ",x,y"], "line 4 has 11 fields, the header 9"),
    ],
)
def test_a_csv_line_with_the_wrong_field_count_is_named(
    tmp_path: Path, rows: list[str], message: str
):
    path = tmp_path / "states.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    line = one_line_error(deconflict("detect", str(path), cwd=tmp_path))
    assert line == f"error: {path}: {message}"


# -- ids and values in files (items 8 and 12) -----------------------------------------------


@pytest.mark.parametrize(
    ("b_id", "message"),
    [
        ('"B\x001"', "line 3, column 'id': control character U+0000 not allowed"),
        ("B\u202e1", "line 3, column 'id': format character U+202E not allowed"),
        ("B" * 65, "line 3, column 'id': 65 characters; at most 64"),
    ],
)
def test_a_bad_id_in_a_file_names_line_and_code_point(tmp_path: Path, b_id: str, message: str):
    path = tmp_path / "states.csv"
    path.write_text("\n".join([HEADER, A_ROW, B_ROW.replace("B1", b_id)]) + "\n")
    line = one_line_error(deconflict("detect", str(path), cwd=tmp_path))
    assert line == f"error: {path}: {message}"


def test_out_of_range_values_in_a_file(tmp_path: Path):
    path = tmp_path / "states.csv"
    path.write_text("\n".join([HEADER, A_ROW, B_ROW.replace("5.05", "200")]) + "\n")
    line = one_line_error(deconflict("detect", str(path), cwd=tmp_path))
    assert line == f"error: {path}: line 3, column 'lon': 200 is above the maximum 180"


def test_ids_are_printed_literally(tmp_path: Path):
    """Rich markup in an id is shown as written, in tables and in one-line errors."""
    path = tmp_path / "states.csv"
    path.write_text(
        "\n".join([HEADER, A_ROW.replace("A1", "[red]A1"), B_ROW.replace("B1", "[bold]B1")])
    )
    res = deconflict("detect", str(path), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "[red]A1" in res.stdout and "[bold]B1" in res.stdout
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "\n".join([HEADER, A_ROW.replace("A1", "[red]x"), A_ROW.replace("A1", "[red]x")])
    )
    line = one_line_error(deconflict("detect", str(dup), cwd=tmp_path))
    assert line == f"error: {dup}: line 3, column 'id': duplicate id '[red]x' at time 0 " + (
        "(one state per aircraft per time)"
    )


def test_party_list_prints_an_old_bad_name_literally(tmp_path: Path):
    """A name stored before the rule (straight into the database) is shown escaped."""
    import sqlite3

    from deconflict.store.migrate import upgrade

    db = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(db)
    with sqlite3.connect(tmp_path / "p.db") as conn:  # the repository would refuse it
        conn.execute(
            "INSERT INTO parties (name, is_admin, token_hash, created_at) VALUES (?, 0, ?, 0)",
            ("[red]x\x1b[31m", "0" * 64),
        )
    res = CliRunner().invoke(party_app, ["list", "--db", db], env={"DECONFLICT_DB": ""})
    assert res.exit_code == 0, res.output
    assert "[red]x\\x1b[31m" in res.stdout and "\x1b" not in res.stdout
