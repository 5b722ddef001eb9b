"""Cells: H3 parents, band and slot ranges, the overlap cover and its repairs, the grid."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely

from deconflict import Agreement
from deconflict.errors import InputError
from deconflict.private.cells import (
    Grid,
    cover,
    index_range,
    isin_rows,
    parents,
    unique_rows,
)
from deconflict.private.psi import is_size_class, size_class


def test_parents_match_h3():
    rng = np.random.default_rng(1)
    for _ in range(200):
        lat, lng = float(rng.uniform(-80, 80)), float(rng.uniform(-180, 180))
        res = int(rng.integers(1, 16))
        cell = h3.latlng_to_cell(lat, lng, res)
        for up in range(res + 1):
            got = parents(np.array([h3.str_to_int(cell)], dtype=np.uint64), up)[0]
            assert h3.int_to_str(int(got)) == h3.cell_to_parent(cell, up)


def test_bands_are_half_open_so_flight_levels_exactly_v_apart_share_none():
    # FL100–FL120 and FL130–FL150 are exactly 1000 ft apart: no overlap, no common band.
    _, hi1 = index_range([10000 - 500], [12000 + 500], 500.0)
    lo2, _ = index_range([13000 - 500], [15000 + 500], 500.0)
    assert hi1[0] < lo2[0]
    # 1 ft closer: they overlap, and share a band.
    lo2, _ = index_range([12999 - 500], [15000 + 500], 500.0)
    assert hi1[0] >= lo2[0]
    # A zero-length interval keeps the step it lies in.
    assert index_range([600.0], [600.0], 300.0) == (np.array([2]), np.array([2]))


def _square(lon: float, lat: float, side_deg: float) -> shapely.Polygon:
    return shapely.box(
        lon - side_deg / 2, lat - side_deg / 2, lon + side_deg / 2, lat + side_deg / 2
    )


def test_tiny_polygons_astride_cell_edges_share_a_cell():
    """Squares from 1 cm to 30 m wide on and around H3 edges: overlapping ⇒ common cell."""
    rng = np.random.default_rng(7)
    res = 8
    checked = 0
    for _ in range(150):
        lat, lng = float(rng.uniform(-70, 70)), float(rng.uniform(-179, 179))
        cell = h3.latlng_to_cell(lat, lng, res)
        verts = h3.cell_to_boundary(cell)
        k = int(rng.integers(len(verts)))
        (la0, ln0), (la1, ln1) = verts[k], verts[(k + 1) % len(verts)]
        t = float(rng.uniform(0, 1))
        lat_e, lng_e = la0 + t * (la1 - la0), ln0 + t * (ln1 - ln0)
        side = float(10 ** rng.uniform(-7, -3.5))  # degrees: ~1 cm to ~30 m
        a = _square(lng_e + rng.uniform(-1, 1) * side, lat_e + rng.uniform(-1, 1) * side, side)
        b = _square(lng_e + rng.uniform(-1, 1) * side, lat_e + rng.uniform(-1, 1) * side, side)
        if a.intersection(b).area > 0:
            assert len(np.intersect1d(cover(a, res), cover(b, res))) > 0
            checked += 1
    assert checked > 50


def test_a_polygon_inside_one_cell_gets_its_neighbours():
    lat, lng = 45.0, 7.0
    cell = h3.latlng_to_cell(lat, lng, 8)
    c_lat, c_lng = h3.cell_to_latlng(cell)
    tiny = _square(c_lng + 0.001, c_lat, 1e-5)  # ~1 m, inside the cell, off its centre
    got = cover(tiny, 8)
    assert len(got) == 7
    assert h3.str_to_int(cell) in got.tolist()


def test_a_hole_that_fits_in_a_cell_is_filled_and_a_large_one_kept():
    lat, lng = 45.0, 7.0
    outer = _square(lng, lat, 0.2)
    c_lat, c_lng = h3.cell_to_latlng(h3.latlng_to_cell(lat, lng, 8))
    small_hole = _square(c_lng, c_lat, 1e-4)  # ~10 m, around a cell centre
    big_hole = _square(lng, lat, 0.1)
    with_small = shapely.Polygon(outer.exterior.coords, [small_hole.exterior.coords])
    with_big = shapely.Polygon(outer.exterior.coords, [big_hole.exterior.coords])
    centre = h3.str_to_int(h3.latlng_to_cell(c_lat, c_lng, 8))
    assert centre in cover(with_small, 8).tolist()
    assert len(cover(with_big, 8)) < len(cover(outer, 8)) * 0.85


def test_multipolygon_parts_are_all_covered():
    a, b = _square(7.0, 45.0, 0.01), _square(7.5, 45.0, 0.01)
    both = cover(shapely.MultiPolygon([a, b]), 8)
    assert set(cover(a, 8)) | set(cover(b, 8)) == set(both)


def test_rows_helpers_match_numpy():
    rng = np.random.default_rng(3)
    for _ in range(100):
        a = rng.integers(0, 3, (int(rng.integers(1, 30)), 4))
        b = rng.integers(0, 3, (int(rng.integers(0, 30)), 4))
        expected = np.array([any((r == t).all() for t in b) for r in a], dtype=bool)
        assert (isin_rows(a, b) == expected).all()
        assert (unique_rows(a) == np.unique(a, axis=0)).all()


def test_size_classes():
    assert [size_class(n) for n in (0, 1, 64, 65, 80, 81, 1000, 1024, 1025)] == [
        64,
        64,
        64,
        80,
        80,
        96,
        1024,
        1024,
        1280,
    ]
    for n in range(0, 5000, 7):
        c = size_class(n)
        assert c >= n and is_size_class(c) and c <= max(64, 1.25 * n)


def test_grid_checks_and_agreement_fields():
    with pytest.raises(InputError, match="coarse_res"):
        Grid(fine_res=6, coarse_res=7)
    with pytest.raises(InputError, match="band_ft"):
        Grid(band_ft=0)
    with pytest.raises(InputError, match="fine_res"):
        Grid(fine_res=16)
    assert Grid.from_agreement(Agreement()) == Grid()

    class Strategic:
        h3_fine_res, h3_coarse_res, band_ft, slot_s = 9, 6, 250.0, 60.0

    class WithStrategic:
        strategic = Strategic()

    g = Grid.from_agreement(WithStrategic(), coarse_slots=15)
    assert (g.fine_res, g.coarse_res, g.band_ft, g.slot_s, g.coarse_slots) == (9, 6, 250, 60, 15)
    assert Grid.from_bytes(g.to_bytes()) == g


def test_polygon_in_the_sliver_between_planar_and_spherical_cell_edges():
    """H3's overlap mode tests a polygon lying inside one planar cell by the spherical cell
    of its first vertex; where the two outlines disagree (millimetres), the raw cover of such
    a polygon misses the cell another polygon overlapping it is covered by. ``cover`` widens
    small covers by a ring, which closes the gap."""
    from deconflict.private.cells import _h3_cover

    rng = np.random.default_rng(0)
    built = raw_missed = 0
    for _ in range(60):
        lat, lng = float(rng.uniform(-60, 60)), float(rng.uniform(-170, 170))
        c = h3.latlng_to_cell(lat, lng, 8)
        verts = h3.cell_to_boundary(c)
        k = int(rng.integers(len(verts)))
        (la0, ln0), (la1, ln1) = verts[k], verts[(k + 1) % len(verts)]
        mid = np.array([(ln0 + ln1) / 2, (la0 + la1) / 2])  # on the planar edge (lon, lat)
        spherical = h3.latlng_to_cell(mid[1], mid[0], 8)
        along = np.array([ln1 - ln0, la1 - la0])
        normal = np.array([-along[1], along[0]]) / np.linalg.norm(along)
        c_lat, c_lng = h3.cell_to_latlng(c)
        if np.dot(normal, [c_lng - mid[0], c_lat - mid[1]]) < 0:
            normal = -normal  # now pointing into c's planar outline
        if spherical == c:
            normal = -normal  # build inside the neighbour's planar outline instead
        first = mid + 1e-10 * normal  # still in the other cell on the sphere
        if h3.latlng_to_cell(first[1], first[0], 8) != spherical:
            continue
        t = along / np.linalg.norm(along)
        a = shapely.Polygon(
            [
                tuple(first),
                tuple(first + 1e-5 * normal + 1e-6 * t),
                tuple(first + 1e-5 * normal - 1e-6 * t),
            ]
        )
        q = first + 5e-6 * normal
        b = shapely.box(q[0] - 2e-6, q[1] - 2e-6, q[0] + 2e-6, q[1] + 2e-6)
        assert a.intersection(b).area > 0
        built += 1
        raw = np.intersect1d(
            _h3_cover(a.exterior.coords, [], 8), _h3_cover(b.exterior.coords, [], 8)
        )
        raw_missed += len(raw) == 0
        assert len(np.intersect1d(cover(a, 8), cover(b, 8))) > 0
    assert built > 30 and raw_missed > 0.5 * built


def test_a_plan_too_large_for_the_private_mode_is_refused():
    from deconflict.airspace.volumes import Volume, Volumes
    from deconflict.private.cells import coarse_records, discretise

    year = 365 * 86_400.0
    huge = Volumes(
        (Volume("decade", shapely.box(0, 40, 3, 43), 0, 60_000, 0, 10 * year),), source="X"
    )
    cells = discretise(huge, Grid())
    with pytest.raises(InputError, match=r"plan too large .* the largest volume is 'decade'"):
        coarse_records(cells, Grid())
