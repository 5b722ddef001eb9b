"""The guarantee: every exact overlap is found by the private mode; and what it over-reports.

Plan pairs are batched: pair k lives in its own two days, so only volumes of the same
pair can overlap, and one exchange checks a thousand pairs at once. The thousand-pair
batch runs the real protocol over ristretto255 (about 25 s); the other batches run it
with ``XorGroup``, a fast commutative stand-in, and
``test_real_group_gives_the_same_answer`` shows the real group returns the same pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from deconflict import Agreement
from deconflict.airspace.overlaps import overlaps
from deconflict.private import Grid, local_check
from tests.private.conftest import XorGroup, random_plans


def compare(a, b, agreement: Agreement, time_buffer_s: float, found: pd.DataFrame):
    exact = overlaps(a, b, agreement.horizontal_nm, agreement.vertical_ft, time_buffer_s)
    want = {
        (a.items[i].id, b.items[j].id) for i, j in zip(exact.a_index, exact.b_index, strict=True)
    }
    got = set(zip(found["a_id"], found["b_id"], strict=True))
    return want, got


@pytest.mark.parametrize(
    ("seed", "horizontal_nm", "time_buffer_s", "reach_m", "places"),
    [
        (11, 2.0, 0.0, 8_000.0, "world"),
        (12, 5.0, 600.0, 20_000.0, "world"),
        (13, 2.0, 0.0, 8_000.0, "antimeridian"),
    ],
)
def test_private_mode_finds_every_exact_overlap(
    seed, horizontal_nm, time_buffer_s, reach_m, places, xor_group
):
    real = seed == 11
    n_pairs = 1000 if real else 250
    a, b = random_plans(n_pairs, seed, reach_m, places)
    ag = Agreement(horizontal_nm=horizontal_nm)
    found = local_check(a, b, ag, time_buffer_s, **({} if real else {"group": xor_group}))
    want, got = compare(a, b, ag, time_buffer_s, found)
    assert len(want) > 0.1 * n_pairs  # the batch has plenty of overlaps to miss
    assert want <= got, f"missed {sorted(want - got)[:5]}"
    for geom in found["geometry"]:  # regions are cut at the antimeridian, never wrap the globe
        assert all(p.bounds[2] - p.bounds[0] < 5.0 for p in shapely.get_parts(geom))
    # What discretisation adds: pairs reported that are not exact overlaps.
    false_rate = len(got - want) / len(got)
    print(f"\n{n_pairs} pairs, {len(want)} exact overlaps, false-overlap rate {false_rate:.1%}")
    assert false_rate < 0.25


def test_coarser_and_finer_grids_miss_nothing_either(xor_group):
    a, b = random_plans(100, 21, 6_000.0)
    ag = Agreement(horizontal_nm=1.5)
    for grid in (
        Grid(fine_res=6, coarse_res=3),
        Grid(fine_res=9, coarse_res=6, band_ft=250, coarse_bands=4, slot_s=60, coarse_slots=5),
    ):
        found = local_check(a, b, ag, 0.0, grid=grid, group=xor_group)
        want, got = compare(a, b, ag, 0.0, found)
        assert want <= got


def test_real_group_gives_the_same_answer():
    a, b = random_plans(30, 31, 5_000.0)
    ag = Agreement(horizontal_nm=1.5)
    real = local_check(a, b, ag, 0.0)
    fake = local_check(a, b, ag, 0.0, group=XorGroup())
    cols = ["a_id", "b_id", "alt_lower_ft", "alt_upper_ft", "time_start", "time_end", "mode"]
    pd.testing.assert_frame_equal(real[cols], fake[cols])
    assert all(g1.equals(g2) for g1, g2 in zip(real.geometry, fake.geometry, strict=True))
    want, got = compare(a, b, ag, 0.0, real)
    assert want <= got and len(want) > 5


def test_result_columns_and_values():
    a, b = random_plans(30, 41, 5_000.0)
    found = local_check(a, b, Agreement(horizontal_nm=2), 0.0, group=XorGroup())
    assert list(found.columns) == [
        "a_id",
        "b_id",
        "alt_lower_ft",
        "alt_upper_ft",
        "time_start",
        "time_end",
        "mode",
        "geometry",
    ]
    assert len(found) and (found["mode"] == "private").all()
    assert (found["alt_lower_ft"] < found["alt_upper_ft"]).all()
    assert (found["time_start"] < found["time_end"]).all()
    assert found["time_start"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert all(g.is_valid and not g.is_empty for g in found["geometry"])
    # The reported region covers the exact overlap region.
    exact = overlaps(a, b, 2, 1000, 0.0)
    region = {
        (a.items[i].id, b.items[j].id): g
        for i, j, g in zip(exact.a_index, exact.b_index, exact.geometry, strict=True)
    }
    for row in found.itertuples():
        key = (row.a_id, row.b_id)
        if key in region and not region[key].is_empty:
            assert row.geometry.buffer(1e-6).covers(region[key])


def test_an_empty_plan_and_disjoint_plans_give_no_rows(xor_group):
    a, b = random_plans(5, 51, 5_000.0)
    far = type(b)(
        tuple(
            v.__class__(
                v.id,
                v.geometry,
                v.alt_lower_ft,
                v.alt_upper_ft,
                v.time_start_s + 1e7,
                v.time_end_s + 1e7,
            )
            for v in b.items
        )
    )
    found = local_check(a, far, Agreement(), 0.0, group=xor_group)
    assert found.empty and list(found.columns)[:2] == ["a_id", "b_id"]
    empty = type(b)(())
    assert local_check(a, empty, Agreement(), 0.0, group=xor_group).empty
    assert np.isfinite(0.0)
