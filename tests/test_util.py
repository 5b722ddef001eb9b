"""The ground-floor helpers of :mod:`deconflict._util`, one implementation each."""

from __future__ import annotations

import doctest
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

import deconflict._util as util
from deconflict._util import (
    KEY_SEP,
    NaiveTimeError,
    atomic_write,
    clock_utc,
    iso_utc,
    one_line_error,
    parse_iso_utc,
)


def test_doctests() -> None:
    result = doctest.testmod(util)
    assert result.attempted > 0 and result.failed == 0


# -- atomic_write -----------------------------------------------------------------------------
@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask whatever the test sets."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    atomic_write(path, "new ✓\n")
    assert path.read_bytes() == "new ✓\n".encode()
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_atomic_write_mode_is_exact_whatever_the_umask(
    tmp_path: Path, umask: None, mask: int
) -> None:
    os.umask(mask)
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)  # an older, readable file does not keep its mode
    atomic_write(path, "seed", mode=0o600)
    assert _mode(path) == 0o600 and path.read_text() == "seed"


def test_atomic_write_without_mode_is_as_open_makes_it(tmp_path: Path, umask: None) -> None:
    os.umask(0o027)
    atomic_write(tmp_path / "a", "x")
    (tmp_path / "b").write_text("x")
    assert _mode(tmp_path / "a") == _mode(tmp_path / "b") == 0o640


def test_atomic_write_failure_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        atomic_write(target, "cannot replace a folder")
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_atomic_write_into_a_missing_folder_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no" / "such" / "file", "x")
    assert list(tmp_path.iterdir()) == []


# -- times ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("t", "text"),
    [
        (1_777_629_600.0, "2026-05-01T10:00:00Z"),
        (1_777_629_600.5, "2026-05-01T10:00:00.500Z"),
        (1_777_629_600.25, "2026-05-01T10:00:00.250Z"),
        (1.000125, "1970-01-01T00:00:01.000125Z"),
        (np.float64(60.0), "1970-01-01T00:01:00Z"),
    ],
)
def test_iso_utc_and_back(t: float, text: str) -> None:
    assert iso_utc(t) == text
    assert parse_iso_utc(text) == pytest.approx(float(t), abs=1e-6)


def test_iso_utc_slot_multiples_print_like_the_exact_times() -> None:
    # k * 0.1 is not exactly k tenths in binary; the text is (no float noise in µs).
    assert [iso_utc(k * 0.1) for k in (1, 3, 7)] == [
        "1970-01-01T00:00:00.100Z",
        "1970-01-01T00:00:00.300Z",
        "1970-01-01T00:00:00.700Z",
    ]


def test_parse_iso_utc_refuses_naive_and_malformed_times() -> None:
    with pytest.raises(NaiveTimeError):
        parse_iso_utc("2026-05-01T10:00:00")
    with pytest.raises(ValueError) as info:
        parse_iso_utc("tomorrow")
    assert not isinstance(info.value, NaiveTimeError)
    assert parse_iso_utc("2026-05-01T12:00:00+02:00") == parse_iso_utc("2026-05-01T10:00:00Z")


def test_clock_utc_is_the_table_format() -> None:
    assert clock_utc(1_777_629_600.0) == "2026-05-01 10:00:00"
    assert clock_utc(1_777_629_659.999) == "2026-05-01 10:00:59"


def _plans(tmp_path: Path) -> tuple[Path, Path]:
    """Two small plans sharing 10:00:02.5–10:00:05.5 (on a 0.5 s slot grid)."""

    def plan(name: str, start: str, end: str) -> Path:
        ring = [[2.0, 48.8], [2.01, 48.8], [2.01, 48.81], [2.0, 48.81], [2.0, 48.8]]
        props = {"id": name, "alt_lower_ft": 1000, "alt_upper_ft": 1400}
        props |= {"time_start": start, "time_end": end}
        feature = {"type": "Feature", "properties": props}
        feature["geometry"] = {"type": "Polygon", "coordinates": [ring]}
        path = tmp_path / f"{name}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        return path

    return (
        plan("A", "2026-05-01T10:00:00.5Z", "2026-05-01T10:00:05.5Z"),
        plan("B", "2026-05-01T10:00:02.5Z", "2026-05-01T10:00:08.5Z"),
    )


def test_plan_check_and_its_private_mode_print_times_alike(tmp_path: Path) -> None:
    """The same window reads the same in both modes (they once differed below the second)."""
    pytest.importorskip("deconflict.private")
    from deconflict.agreement import Agreement
    from deconflict.airspace.overlaps import overlap_table, overlaps
    from deconflict.io.airspace_files import read_volumes as read
    from deconflict.private import local_check

    a, b = _plans(tmp_path)
    agreement = Agreement(strategic={"slot_s": 0.5})
    va, vb = read(a), read(b)
    exact = overlap_table(va, vb, overlaps(va, vb, agreement.horizontal_nm, agreement.vertical_ft))
    private = local_check(read(a), read(b), agreement, 0.0, None)
    window = ["2026-05-01T10:00:02.500Z", "2026-05-01T10:00:05.500Z"]
    assert exact[["time_start", "time_end"]].values.tolist() == [window]
    assert private[["time_start", "time_end"]].values.tolist() == [window]


# -- one_line_error ---------------------------------------------------------------------------
class _Inner(BaseModel):
    lat: float = Field(ge=-90, le=90)


class _Outer(BaseModel):
    port: int = Field(1, ge=1)
    rows: list[_Inner] = []
    start: float = 0.0
    end: float = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> _Outer:
        if self.end <= self.start:
            raise ValueError(f"end must be after start, got {self.start}–{self.end}")
        return self


def _error(**data: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _Outer(**data)
    return info.value


def test_one_line_error_in_each_callers_words() -> None:
    port = _error(port=0)
    assert one_line_error(port, "setting", got=True) == (
        "setting 'port': Input should be greater than or equal to 1, got 0"
    )
    assert one_line_error(port, "hotline message field") == (
        "hotline message field 'port': Input should be greater than or equal to 1"
    )
    row = _error(rows=[{"lat": 0}, {"lat": 91}])
    assert one_line_error(row, root="body") == (
        "body.rows[1].lat: Input should be less than or equal to 90"
    )
    assert one_line_error(row) == "rows[1].lat: Input should be less than or equal to 90"


def test_one_line_error_on_the_whole_object() -> None:
    whole = _error(start=2.0, end=1.0)
    # No "Value error, " noise; the value is not repeated (a mapping, and the message has it).
    assert one_line_error(whole, "field", got=True) == "end must be after start, got 2.0–1.0"
    assert one_line_error(whole, "hotline message field", whole="message") == (
        "hotline message field 'message': end must be after start, got 2.0–1.0"
    )
    assert one_line_error([]) == "invalid input"


# -- pair keys --------------------------------------------------------------------------------
def test_pair_keys_use_the_one_separator() -> None:
    from deconflict.tactical.alerts import pair_keys

    keys = pair_keys(np.array(["B1", "A"]), np.array(["A", "C"]))
    assert keys.tolist() == [f"A{KEY_SEP}B1", f"A{KEY_SEP}C"]
    assert KEY_SEP == "\x1f"
