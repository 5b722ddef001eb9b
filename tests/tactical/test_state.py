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


# -- value ranges (issue 11, item 12): refused outside, track normalised ------------------


@pytest.mark.parametrize(
    ("col", "values", "message"),
    [
        ("lon", [1.0, 200.0, 3.0], "row 1, column 'lon': 200 is above the maximum 180"),
        ("lon", [1.0, 2.0, -180.5], "row 2, column 'lon': -180.5 is below the minimum -180"),
        ("lat", [-90.5, 2.0, 3.0], "row 0, column 'lat': -90.5 is below the minimum -90"),
        ("gs_kt", [1.0, 5001.0, 3.0], "row 1, column 'gs_kt': 5001 is above the maximum 5000"),
        ("track_deg", [0.0, 4000.0, 3.0], "row 1, column 'track_deg': 4000 is above"),
        ("vs_fpm", [0.0, -1e6, 3.0], "row 1, column 'vs_fpm': -1e+06 is below"),
    ],
)
def test_out_of_range_values_are_refused(col: str, values: list[float], message: str):
    with pytest.raises(InputError) as info:
        TrafficState.from_frame(good().assign(**{col: values}))
    assert str(info.value).startswith(message)


def test_edges_of_the_ranges_are_accepted():
    s = TrafficState.from_frame(good().assign(lon=[-180.0, 180.0, 0.0], lat=[-90.0, 90.0, 0.0]))
    assert s.lon.tolist() == [-180.0, 180.0, 0.0] and s.lat.tolist() == [-90.0, 90.0, 0.0]


def test_tracks_are_stored_normalised_into_0_360():
    s = TrafficState.from_frame(good().assign(track_deg=[720.0, -10.0, 360.0]))
    assert s.track_deg.tolist() == [0.0, 350.0, 0.0]
    s = TrafficState.from_frame(good().assign(track_deg=[-1e-20, -0.0, 359.5]))
    assert s.track_deg.tolist() == [0.0, 0.0, 359.5]
    assert not np.signbit(s.track_deg).any()
