from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deconflict import InputError, TrafficState


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [0.0, 0.0, 1.0],
            "id": ["A", "B", "A"],
            "lat": [1.0, 2.0, 3.0],
            "lon": [1.0, 2.0, 3.0],
            "alt_ft": [1000.0, 2000.0, 3000.0],
            "gs_kt": [100.0, 0.0, 100.0],
            "track_deg": [0.0, 90.0, 400.0],
            "vs_fpm": [0.0, -500.0, 500.0],
        }
    )


def test_valid_frame_becomes_arrays():
    s = TrafficState.from_frame(good())
    assert len(s) == 3 and s.party is None
    assert s.id.tolist() == ["A", "B", "A"]
    assert s.lat.dtype == np.float64


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda f: f.drop(columns="vs_fpm"), "missing column.*'vs_fpm'"),
        (lambda f: f.assign(lat=["1", "x", "3"]), "row 1, column 'lat': 'x' is not a number"),
        (lambda f: f.assign(alt_ft=[1.0, np.nan, 3.0]), "row 1, column 'alt_ft': missing"),
        (lambda f: f.assign(lat=[1.0, 95.0, 3.0]), "row 1, column 'lat': 95 is above"),
        (lambda f: f.assign(gs_kt=[1.0, 1.0, -3.0]), "row 2, column 'gs_kt': -3 is below"),
        (lambda f: f.assign(vs_fpm=[1.0, np.inf, 3.0]), "row 1, column 'vs_fpm'.*not finite"),
        (lambda f: f.assign(id=["A", "A", "B"]), "row 1, column 'id': duplicate id 'A'"),
        (lambda f: f.assign(id=["A", None, "B"]), "row 1, column 'id': missing"),
        (lambda f: f.assign(party=["x", "", "y"]), "row 1, column 'party': empty"),
    ],
)
def test_bad_input_names_row_and_column(mutate, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        TrafficState.from_frame(mutate(good()))
    assert "\n" not in str(info.value)


def test_csv_rows_are_reported_as_lines():
    with pytest.raises(InputError, match="line 3, column 'lat'"):
        TrafficState.from_frame(good().assign(lat=[1.0, 95.0, 3.0]), first_row=2)
