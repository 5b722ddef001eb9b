from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from deconflict.agreement import Agreement
from deconflict.replay.episodes import EPISODE_COLUMNS, kinematics, loss_pairs
from deconflict.replay.grid import to_grid
from deconflict.replay.parallel import replay
from deconflict.tactical.detect import detect_state, pair_geometry
from deconflict.tactical.state import TrafficState
from deconflict.units import nm_to_m
from tests.replay import encounters as enc


def one(frame: pd.DataFrame, **kw) -> pd.Series:
    episodes = replay(frame, Agreement(), **kw).episodes
    assert list(episodes.columns) == list(EPISODE_COLUMNS)
    assert len(episodes) == 1, episodes
    return episodes.iloc[0]


def test_loss_exact_times_and_warning():
    ep = one(enc.loss_case())
    assert (ep.id_a, ep.id_b, ep.kind) == ("A", "B", "loss")
    for col, want in enc.LOSS.items():
        assert ep[col] == want, col
    assert ep.h_nm_closest == pytest.approx(0.0, abs=1e-6) and ep.v_ft_closest == 0.0


def test_level_adjacent():
    ep = one(enc.level_adjacent_case())
    assert ep.kind == "level_adjacent" and ep.v_ft_closest == pytest.approx(950.0)
    assert (ep.t_start, ep.t_end) == (enc.LOSS["t_start"], enc.LOSS["t_end"])


def test_level_adjacent_needs_levels_one_minimum_apart_and_level_flight():
    # 950 ft apart, level, but on 30,500 and 31,400 ft: not levels one minimum apart.
    frame = pd.concat([enc.northbound("A", 30475.0), enc.leading("B", 31425.0)])
    assert one(frame).kind == "loss"
    # Climbing through: not level.
    frame = pd.concat([enc.northbound("A", 30025.0, vs_fpm=800.0), enc.leading("B", 30975.0)])
    assert one(frame).kind == "loss"
    # A wider tolerance in the agreement is honoured.
    frame = pd.concat([enc.northbound("A", 30045.0), enc.leading("B", 30955.0)])  # 910 ft
    assert one(frame).kind == "loss"
    wide = Agreement(replay={"level_adjacent_tol_ft": 150.0})
    assert replay(frame, wide).episodes.iloc[0].kind == "level_adjacent"


def test_same_aircraft():
    ep = one(enc.same_aircraft_case())
    assert ep.kind == "same_aircraft"
    assert (ep.t_start, ep.t_end) == (1000.0, 3000.0)
    assert ep.h_nm_closest == pytest.approx(0.05, rel=1e-3) and np.isnan(ep.warned_s)


def test_formation():
    ep = one(enc.formation_case())
    assert ep.kind == "formation"
    assert (ep.t_start, ep.t_end) == (enc.FORMATION["t_start"], enc.FORMATION["t_end"])
    assert ep.h_nm_closest == pytest.approx(0.3, rel=1e-3)
    # Too short to be a formation once formation_s exceeds the episode.
    long = Agreement(replay={"formation_s": 2000.0})
    assert replay(enc.formation_case(), long).episodes.iloc[0].kind == "loss"


def test_traffic_columns_and_derived_velocities_give_the_same_episode():
    frame = enc.loss_case()
    traffic = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(frame["time"], unit="s", utc=True),
            "icao24": frame["id"],
            "latitude": frame["lat"],
            "longitude": frame["lon"],
            "altitude": frame["alt_ft"],
            "onground": False,
        }
    )
    ep = one(traffic)
    assert (ep.t_start, ep.t_end, ep.t_closest, ep.warned_s) == tuple(enc.LOSS.values())


def test_gap_limit_cuts_the_episode():
    frame = enc.loss_case()
    # A is not heard from 1990 to 2060 (70 s > the 60 s gap limit): no points in between.
    frame = frame[~((frame["id"] == "A") & (frame["time"] > 1990) & (frame["time"] < 2060))]
    episodes = replay(frame, Agreement()).episodes
    assert episodes[["t_start", "t_end"]].values.tolist() == [[1920.0, 1990.0], [2060.0, 2080.0]]
    assert np.isnan(episodes["warned_s"].iloc[1])  # seen in loss from the first step back
    longer = Agreement(replay={"gap_limit_s": 120.0})
    assert len(replay(frame, longer).episodes) == 1
    # The same in windows of 100 s: the previous loss is found across borders.
    pd.testing.assert_frame_equal(replay(frame, Agreement(), window_s=100.0).episodes, episodes)


def test_grid_never_interpolates_across_a_long_gap():
    frame = pd.DataFrame(
        {"time": [0.0, 10.0, 100.0, 101.0], "id": "a", "lat": 0.0, "lon": [0.0, 0.01, 0.1, 0.2],
         "alt_ft": 1000.0}
    )  # fmt: skip
    grid, _ = to_grid(frame, 5.0, 60.0)
    assert grid.k.tolist() == [0, 1, 2, 20]
    assert grid.lon.tolist()[:3] == pytest.approx([0.0, 0.005, 0.01])


def test_parties_only_cross_party_pairs_unless_all_pairs():
    frame = pd.concat([enc.northbound("A", party="blue"), enc.leading("B", party="blue")])
    assert replay(frame, Agreement()).episodes.empty
    assert len(replay(frame, Agreement(), all_pairs=True).episodes) == 1


def test_windows_equal_one_pass_across_borders():
    frame = pd.concat([enc.loss_case(), enc.formation_case().assign(id=lambda f: f.id + "f")])
    # Dirt: two repeated reports, a missing altitude, a missing time.
    dirty = frame.iloc[[5, 1000, 1045, 1046]].copy()
    dirty.iloc[2, dirty.columns.get_loc("alt_ft")] = np.nan
    dirty.iloc[3, dirty.columns.get_loc("time")] = np.nan
    frame = pd.concat([frame, dirty], ignore_index=True)
    whole = replay(frame, Agreement(), window_s=1e6)
    cut = replay(frame, Agreement(), window_s=45.0)
    assert cut.windows > 40
    pd.testing.assert_frame_equal(whole.episodes, cut.episodes)
    assert whole.dropped == cut.dropped == {"duplicate report": 2, "incomplete state": 2}
    assert whole.reports == cut.reports == len(frame)


def test_a_lone_report_far_away_costs_one_window_and_impossible_times_are_dropped():
    frame = enc.loss_case()
    lone = frame.iloc[:2].assign(id="Z", time=[1.0e9, 1.0e12])
    result = replay(pd.concat([frame, lone]), Agreement(), window_s=600.0)
    assert result.windows == 6  # 1000-3000 s in 600 s windows (3000 in the fifth), one at 1e9
    assert result.dropped == {"time outside [-1e+11, 1e+11]": 1}
    pd.testing.assert_frame_equal(result.episodes, replay(frame, Agreement()).episodes)


def test_warnings_agree_with_detect_at_each_step():
    frame = enc.loss_case()
    grid, _ = to_grid(frame, 5.0, 60.0)
    ag = Agreement()
    for k in (323, 324, 383):  # t = 1615 (not yet), 1620 (first warning), 1915
        at = grid.k == k
        state = TrafficState(
            time=grid.t_s[at], id=grid.ids[grid.flight[at]], party=None, lat=grid.lat[at],
            lon=grid.lon[at], alt_ft=grid.alt_ft[at], gs_kt=grid.gs_kt[at],
            track_deg=grid.track_deg[at], vs_fpm=grid.vs_fpm[at],
        )  # fmt: skip
        assert len(detect_state(state, ag)) == (0 if k == 323 else 1)


def brute_force_episodes(grid, ag: Agreement) -> set[tuple[str, str, float, float]]:
    """Every pair at every grid step, no broad phase; runs of loss as (id_a, id_b, start, end)."""
    kin = kinematics(grid)
    H, V = nm_to_m(ag.horizontal_nm), ag.vertical_ft
    loss: dict[tuple[int, int], list[int]] = {}
    bounds = np.flatnonzero(np.r_[True, grid.k[1:] != grid.k[:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        idx = np.arange(lo, hi)
        a, b = np.triu_indices(idx.size, 1)
        a, b = idx[a], idx[b]
        g = pair_geometry(kin, a, b)
        inside = (np.linalg.norm(g.r, axis=1) < H) & (np.abs(g.dz_ft) < V)
        for i, j in zip(a[inside], b[inside], strict=True):
            fa, fb = sorted((int(grid.flight[i]), int(grid.flight[j])))
            loss.setdefault((fa, fb), []).append(int(grid.k[i]))
    out = set()
    for (fa, fb), ks in loss.items():
        ks = sorted(ks)
        start = prev = ks[0]
        for k in [*ks[1:], None]:
            if k is None or k != prev + 1:
                out.add((str(grid.ids[fa]), str(grid.ids[fb]), start * grid.step_s,
                         prev * grid.step_s))  # fmt: skip
                start = k
            prev = k
    return out


def test_paris_matches_brute_force(paris_reports):
    ag = Agreement()
    airborne = paris_reports[paris_reports["gs_kt"] >= ag.replay.min_airborne_gs_kt]
    grid, _ = to_grid(airborne, 5.0, ag.replay.gap_limit_s)
    result = replay(paris_reports, ag, window_s=3600.0)
    found = {(r.id_a, r.id_b, r.t_start, r.t_end) for r in result.episodes.itertuples(index=False)}
    assert len(found) == len(result.episodes) > 50
    assert found == brute_force_episodes(grid, ag)
    assert set(result.episodes["kind"]) <= {"loss", "level_adjacent", "formation", "same_aircraft"}
    # The broad phase's pairs agree with a geodesic distance to within 0.5 %.
    import pyproj

    kin = kinematics(grid)
    a, b, h, _dz = loss_pairs(grid, kin, ag)
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(grid.lon[a], grid.lat[a], grid.lon[b], grid.lat[b])
    assert np.allclose(h, dist, rtol=5e-3, atol=5.0)
