from __future__ import annotations

from pathlib import Path

import pytest

from deconflict import InputError
from deconflict.io.states import read_daa, read_states

DAA = """NAME, lat, lon, alt, trk, gs, vs, time
unitless, [deg], [deg], [m], [deg], [m/s], [m/s], [s]
OWN, 10.0, 20.0, 3048.0, 90.0, 100.0, 5.08, 0.0
INT1, 10.1, 20.0, 3048.0, 180.0, 100.0, 0.0, 0.0
INT2, 10.2, 20.0, 3048.0, 180.0, 100.0, 0.0, 0.0
OWN, 10.0, 20.01, 3048.0, 90.0, 100.0, 5.08, 1.0
"""


def test_daa_units_are_converted_and_first_aircraft_is_ownship(tmp_path: Path):
    f = tmp_path / "e.daa"
    f.write_text(DAA)
    frame = read_daa(f)
    assert frame["alt_ft"].iloc[0] == pytest.approx(10000.0)
    assert frame["gs_kt"].iloc[0] == pytest.approx(194.384, abs=1e-3)
    assert frame["vs_fpm"].iloc[0] == pytest.approx(1000.0)
    assert frame["party"].tolist() == ["ownship", "intruder", "intruder", "ownship"]
    state = read_states(f)
    assert len(state) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DAA.replace("[m/s], [m/s]", "[furlong], [m/s]"), r"unit \[furlong\] not supported"),
        (DAA.replace("OWN, 10.0, 20.0,", "OWN, x, 20.0,"), "line 3, column 'lat'"),
        (DAA.replace(", time", ""), "units for"),
        (DAA.replace("OWN, 10.0, 20.01, 3048.0", "OWN, 10.0, 20.01"), "line 6: 7 values"),
    ],
)
def test_bad_daa(tmp_path: Path, text: str, message: str):
    f = tmp_path / "e.daa"
    f.write_text(text)
    with pytest.raises(InputError, match=message):
        read_states(f)
