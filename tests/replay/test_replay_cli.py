"""``deconflict replay`` as a user runs it (in process; one test in a real subprocess)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from deconflict.cli.main import app
from deconflict.replay.episodes import EPISODE_COLUMNS
from tests.conftest import run_deconflict
from tests.replay import encounters as enc


def run(*args: str) -> Result:
    """In-process (fast); the subprocess test below runs it as a user's shell does."""
    return CliRunner().invoke(app, ["replay", *args])


def archive(tmp_path: Path) -> Path:
    """Four encounters, one of each kind, within one window (1,500 s)."""
    parts = [
        enc.loss_case(),
        enc.level_adjacent_case().assign(id=lambda f: f.id + "l", lon=lambda f: f.lon + 1.0),
        enc.same_aircraft_case().assign(id=lambda f: f.id + "s", lat=lambda f: f.lat + 5.0),
        enc.formation_case().assign(id=lambda f: f.id + "f", lat=lambda f: f.lat - 5.0),
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[(frame.time >= 1000) & (frame.time <= 2500)]
    path = tmp_path / "tracks.csv"
    frame.to_csv(path, index=False)
    return path


def test_table_and_summary(tmp_path: Path):
    res = run_deconflict("replay", str(archive(tmp_path)))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Losses of separation in tracks.csv" in out and "1920" in out
    for kind in ("same_aircraft", "formation", "level_adjacent", "loss"):
        assert f"episodes: {kind}" in out
    assert "4 episode(s) (same_aircraft 1, formation 1, level_adjacent 1, loss 1)" in out
    # Only losses in the table: the level-adjacent pair is counted, not listed.
    assert "Al " not in out and "Bl " not in out


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_writes_every_episode(tmp_path: Path, suffix: str):
    out = tmp_path / f"episodes{suffix}"
    res = run(str(archive(tmp_path)), "--step-s", "5", "-o", str(out))
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == list(EPISODE_COLUMNS)
    assert sorted(frame["kind"]) == ["formation", "level_adjacent", "loss", "same_aircraft"]
    loss = frame[frame.kind == "loss"].iloc[0]
    assert (loss.id_a, loss.id_b, loss.t_start, loss.t_end, loss.warned_s) == (
        "A", "B", 1920.0, 2080.0, 300.0
    )  # fmt: skip
    same = frame[frame.kind == "same_aircraft"].iloc[0]
    assert pd.isna(same.warned_s)


def test_minima_flags(tmp_path: Path):
    out = tmp_path / "e.csv"
    res = run(str(archive(tmp_path)), "--horizontal-nm", "1", "-o", str(out))
    assert res.exit_code == 0, res.output
    loss = pd.read_csv(out).query("kind == 'loss'").iloc[0]
    # 1 NM: |lat| < 1852 / 110574 deg, for t in (1983.25, 2016.75).
    assert (loss.t_start, loss.t_end) == (1985.0, 2015.0)


def test_agreement_file_sets_replay_rules(tmp_path: Path):
    ag = tmp_path / "ag.toml"
    ag.write_text("[replay]\nformation_s = 3000.0\n")
    out = tmp_path / "e.csv"
    res = run(str(archive(tmp_path)), "--agreement", str(ag), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "formation" not in set(pd.read_csv(out)["kind"])


def test_traffic_parquet_with_dropped_reports(tmp_path: Path):
    frame = enc.loss_case()
    raw = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(frame["time"], unit="s", utc=True),
            "icao24": frame["id"],
            "callsign": "X",
            "latitude": frame["lat"],
            "longitude": frame["lon"],
            "altitude": frame["alt_ft"],
            "groundspeed": frame["gs_kt"],
            "track": frame["track_deg"],
            "vertical_rate": frame["vs_fpm"],
            "onground": frame["time"] < 1003,
        }
    )
    raw.loc[raw.index[-1], "altitude"] = 123100.0
    path = tmp_path / "t.parquet"
    raw[(raw.timestamp.dt.second >= 0) & (frame.time <= 2500).to_numpy()].to_parquet(path)
    res = run(str(path))
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if "dropped: on ground" in x)
    assert line.split("│")[2].strip() == "6"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--step-s", "0"], "--step-s must be a positive number"),
        (["-o", "x.txt"], "unknown output type"),
        (["--horizontal-nm", "-1"], "horizontal_nm"),
        (["--dask-address", "tcp://127.0.0.1:9"], "--dask-address tcp://127.0.0.1:9: cannot"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], message: str):
    res = run(str(archive(tmp_path)), *args)
    assert res.exit_code == 2
    assert "error:" in res.output and message in res.output
    assert "Traceback" not in res.output


def test_empty_and_all_dropped_archives(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("time,id,lat,lon,alt_ft\n")
    slow = tmp_path / "slow.csv"
    slow.write_text("time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n1,a,0,0,1000,10,0,0\n")
    for path, reports in ((empty, 0), (slow, 1)):
        res = run(str(path))
        assert res.exit_code == 0, res.output
        assert (
            f"0 episode(s) (same_aircraft 0, formation 0, level_adjacent 0, loss 0) in {reports}"
            in res.output
        )


def test_bad_files(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,id,lat\n1,a,0\n")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    when = tmp_path / "when.csv"
    when.write_text("time,id,lat,lon,alt_ft\nnoon,a,0,0,1000\n")
    for path, message in [
        (bad, "missing column(s) lon, alt_ft"),
        (garbage, "garbage.parquet: not a readable parquet archive"),
        (when, "column 'time' holds values that are not times"),
        (tmp_path / "none.csv", "none.csv"),
        (tmp_path / "x.json", "unknown file type"),
    ]:
        res = run(str(path))
        assert res.exit_code == 2, res.output
        assert message in res.output and "Traceback" not in res.output


def test_dask_address(tmp_path: Path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "e.csv"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
        protocol="tcp", host="127.0.0.1",
    ) as cluster:  # fmt: skip
        res = run(str(archive(tmp_path)), "--dask-address", cluster.scheduler_address,
                  "-o", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) == 4
