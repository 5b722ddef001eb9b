"""The exercise: tracks, determinism by seed, loss counting against brute force, Syria 2015.

The Syria runs are cut short to keep the suite fast: the protocol-off run to 3,720 s
(past the first crossing and the stray into the Hatay salient), the protocol-on run
to 2,600 s (past the shared-target encounters over Idlib and Aleppo), compared with
the first 2,600 s of the off run. The full
2 h 10 min runs are in the report (``deconflict sim syria2015``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from deconflict import Agreement
from deconflict.cli.main import app
from deconflict.errors import InputError
from deconflict.sim.exercise import TRACK_COLUMNS, InProcessAdvisor, run_scenario
from deconflict.sim.losses import EPISODE_COLUMNS, count_losses, zone_violations
from deconflict.sim.scenario import Scenario, load_scenario, parse_scenario
from deconflict.tactical.detect import detect_state
from tests.conftest import run_deconflict
from tests.sim.loss_reference import brute_force_losses

AG = Agreement()

CROSSINGS = """
name = "crossings"
seed = 3
duration_s = 900.0
step_s = 2.0

[[parties]]
name = "blue"

[[parties]]
name = "red"

[[aircraft_types]]
name = "jet"
cruise_kt = 450.0
min_kt = 150.0
max_climb_fpm = 6000.0
max_descent_fpm = 6000.0
bank_deg = 45.0
ceiling_ft = 45000.0

[[aircraft_types]]
name = "missile"
cruise_kt = 480.0
min_kt = 400.0
max_climb_fpm = 3000.0
max_descent_fpm = 3000.0
turn_rate_dps = 4.0
ceiling_ft = 15000.0
follows_advisories = false

[[events]]   # head on at one point and level: an NMAC when nobody acts
kind = "crossing"
at_s = 450.0
lat = 20.0
lon = 30.0
alt_ft = 25000.0
miss_nm = 0.0
aircraft = [{ party = "blue", type = "jet", id = "B1", track_deg = 45.0 },
            { party = "red", type = "jet", id = "R1", track_deg = 225.0 }]

[[events]]   # 2 NM apart, 500 ft: a loss, no NMAC
kind = "crossing"
at_s = 500.0
lat = 21.0
lon = 30.0
alt_ft = 25000.0
miss_nm = 2.0
aircraft = [{ party = "blue", type = "jet", id = "B2", track_deg = 0.0 },
            { party = "red", type = "jet", id = "R2", track_deg = 90.0, alt_offset_ft = 500.0 }]

[[events]]   # 2,000 ft apart: no loss
kind = "crossing"
at_s = 500.0
lat = 22.0
lon = 30.0
alt_ft = 25000.0
miss_nm = 0.2
aircraft = [{ party = "blue", type = "jet", id = "B3", track_deg = 0.0 },
            { party = "red", type = "jet", id = "R3", track_deg = 90.0, alt_offset_ft = 2000.0 }]

[[events]]   # a missile does not follow advisories; the jet does
kind = "crossing"
at_s = 600.0
lat = 23.0
lon = 30.0
alt_ft = 9000.0
miss_nm = 0.3
aircraft = [{ party = "blue", type = "jet", id = "B4", track_deg = 300.0 },
            { party = "red", type = "missile", id = "M4", track_deg = 60.0 }]
"""


@pytest.fixture(scope="module")
def crossings() -> Scenario:
    return parse_scenario(CROSSINGS, Path("crossings.toml"))


@pytest.fixture(scope="module")
def crossing_runs(crossings: Scenario) -> dict[str, pd.DataFrame]:
    return {
        "off": run_scenario(crossings, AG, False),
        "on": run_scenario(crossings, AG, True),
    }


def assert_matches_reference(tracks: pd.DataFrame) -> None:
    fast = count_losses(tracks, AG.horizontal_nm, AG.vertical_ft)
    ref = brute_force_losses(tracks, AG.horizontal_nm, AG.vertical_ft)
    assert (fast.losses, fast.loss_s, fast.nmac) == (ref.losses, ref.loss_s, ref.nmac)
    got = list(
        fast.episodes[["id_a", "id_b", "start_s", "end_s", "samples"]].itertuples(
            index=False, name=None
        )
    )
    assert sorted(got) == ref.episodes
    if np.isnan(ref.min_h_nm):
        assert np.isnan(fast.min_h_nm)
    else:
        assert fast.min_h_nm == pytest.approx(ref.min_h_nm, rel=1e-6)  # chord vs geodesic


def test_tracks_contract(crossing_runs: dict[str, pd.DataFrame]):
    off = crossing_runs["off"]
    assert list(off.columns) == list(TRACK_COLUMNS)
    assert set(off["run"]) == {"off"} and set(crossing_runs["on"]["run"]) == {"on"}
    assert np.unique(np.diff(np.unique(off["time"]))).tolist() == [2.0]
    assert not off.duplicated(["time", "id"]).any()
    assert sorted(off["id"].unique()) == ["B1", "B2", "B3", "B4", "M4", "R1", "R2", "R3"]


def test_losses_counted_like_brute_force(crossing_runs: dict[str, pd.DataFrame]):
    for tracks in crossing_runs.values():
        assert_matches_reference(tracks)
    off = count_losses(crossing_runs["off"], AG.horizontal_nm, AG.vertical_ft)
    assert list(off.episodes.columns) == list(EPISODE_COLUMNS)
    pairs = {(r.id_a, r.id_b): r for r in off.episodes.itertuples()}
    assert set(pairs) == {("B1", "R1"), ("B2", "R2"), ("B4", "M4")}
    assert off.nmac == 1 and bool(pairs[("B1", "R1")].nmac) and not pairs[("B2", "R2")].nmac
    assert off.min_h_nm < 0.1


def test_protocol_on_resolves_and_missiles_ignore_advisories(
    crossing_runs: dict[str, pd.DataFrame],
):
    on = count_losses(crossing_runs["on"], AG.horizontal_nm, AG.vertical_ft)
    off = count_losses(crossing_runs["off"], AG.horizontal_nm, AG.vertical_ft)
    assert on.nmac == 0 and on.losses < off.losses
    cols = ["time", "lat", "lon", "alt_ft"]
    tr = {k: v.set_index("id") for k, v in crossing_runs.items()}
    pd.testing.assert_frame_equal(tr["on"].loc["M4", cols], tr["off"].loc["M4", cols])
    jet_on, jet_off = tr["on"].loc["B4", "alt_ft"], tr["off"].loc["B4", "alt_ft"]
    assert (jet_on.to_numpy() != jet_off.to_numpy()).any()  # the jet manoeuvred


def test_count_losses_refuses_mixed_runs(crossing_runs: dict[str, pd.DataFrame]):
    both = pd.concat(crossing_runs.values(), ignore_index=True)
    with pytest.raises(InputError, match="tracks of several runs"):
        count_losses(both, 5.0, 1000.0)
    empty = count_losses(crossing_runs["off"].iloc[:0], 5.0, 1000.0)
    assert (empty.losses, empty.nmac, len(empty.episodes)) == (0, 0, 0)


def test_advisor_gate_agrees_with_the_detector(crossing_runs: dict[str, pd.DataFrame]):
    from deconflict.sim.exercise import any_conflict
    from deconflict.tactical.state import TrafficState

    off = crossing_runs["off"]
    found = 0
    for t in np.unique(off["time"])[::5]:
        state = TrafficState.from_frame(off[off["time"] == t])
        expected = detect_state(state, AG).a.size > 0
        assert any_conflict(state, AG) == expected
        found += expected
    assert found > 10


def test_deterministic_by_seed():
    s = load_scenario("syria2015")
    a = run_scenario(s, AG, False, duration_s=700.0)
    b = run_scenario(s, AG, False, duration_s=700.0)
    pd.testing.assert_frame_equal(a, b)
    other = dataclasses.replace(s, spec=s.spec.model_copy(update={"seed": s.seed + 1}))
    c = run_scenario(other, AG, False, duration_s=700.0)
    assert len(a) != len(c) or not np.array_equal(a["lat"].to_numpy(), c["lat"].to_numpy())


@pytest.fixture(scope="module")
def syria() -> Scenario:
    return load_scenario("syria2015")


@pytest.fixture(scope="module")
def syria_off(syria: Scenario) -> pd.DataFrame:
    return run_scenario(syria, AG, False, duration_s=3720.0)


def test_syria_protocol_off_loses_separation_and_strays(syria: Scenario, syria_off: pd.DataFrame):
    cut = syria_off[syria_off["time"] <= 2600.0]
    off = count_losses(cut, AG.horizontal_nm, AG.vertical_ft)
    assert off.losses >= 3
    off = count_losses(syria_off, AG.horizontal_nm, AG.vertical_ft)
    crossing = off.episodes[(off.episodes["id_a"] == "COBRA1") & (off.episodes["id_b"] == "SOKOL1")]
    assert len(crossing) == 1 and crossing["min_h_nm"].iloc[0] < 0.5  # "within half a mile"
    assert_matches_reference(cut)
    stray = zone_violations(syria_off, syria.zones())
    assert stray[["id", "zone"]].values.tolist() == [["BORDER1", "TURKEY-BORDER"]]
    assert 14.0 <= stray["seconds"].iloc[0] <= 20.0  # ~17 s inside the Hatay salient
    assert syria_off["id"].nunique() >= 60  # 84 by the end of the full run


def test_syria_protocol_on_has_fewer_losses_and_no_nmac(syria: Scenario, syria_off: pd.DataFrame):
    advisor = InProcessAdvisor(AG)
    on_tracks = run_scenario(syria, AG, True, advisor=advisor, duration_s=2600.0)
    on = count_losses(on_tracks, AG.horizontal_nm, AG.vertical_ft)
    off = count_losses(syria_off[syria_off["time"] <= 2600.0], AG.horizontal_nm, AG.vertical_ft)
    assert on.nmac == 0 and off.nmac == 0
    assert on.losses < off.losses
    assert sum(advisor.alerts.values()) > 0


def test_sim_command(tmp_path: Path):
    runner = CliRunner()
    listed = runner.invoke(app, ["sim", "--list"])
    assert listed.exit_code == 0 and listed.stdout.startswith("syria2015: 84 aircraft")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nseed = -1\n')
    res = runner.invoke(app, ["sim", str(bad)])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: {bad}: seed: Input should be greater than or equal to 0, got -1"
    ]
    # As a user runs it: the real command, a short run, tracks written.
    out = tmp_path / "tracks.parquet"
    res = run_deconflict(
        "sim", "syria2015", "--duration-s", "300", "--protocol", "off", "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    assert "losses of separation" in res.stdout and "tracks written to" in res.stdout
    assert list(pd.read_parquet(out).columns) == list(TRACK_COLUMNS)


def test_zone_violations_count_the_listed_parties_only():
    from deconflict.airspace.zones import Zone, Zones

    box = shapely.box(0.2, -0.1, 0.4, 0.1)
    zones = Zones.from_zones([Zone("Z", box, parties=("red",)), Zone("ALL", box.buffer(-0.01))])
    rows = [
        {"time": t, "id": i, "party": p, "lat": 0.0, "lon": lon, "alt_ft": 15000.0,
         "gs_kt": 0.0, "track_deg": 0.0, "vs_fpm": 0.0}
        for t in (0.0, 2.0, 4.0)
        for i, p, lon in (("R1", "red", 0.3 if t < 4 else 0.0), ("B1", "blue", 0.3))
    ]  # fmt: skip
    tracks = pd.DataFrame(rows)
    got = zone_violations(tracks, zones)
    assert got[["zone", "id", "party", "start_s", "end_s", "seconds"]].values.tolist() == [
        ["Z", "R1", "red", 0.0, 2.0, 4.0],
        ["ALL", "B1", "blue", 0.0, 4.0, 6.0],
        ["ALL", "R1", "red", 0.0, 2.0, 4.0],
    ]
    swapped = zone_violations(tracks, zones, {"Z": ["blue"]})
    assert swapped[swapped["zone"] == "Z"]["id"].tolist() == ["B1"]
