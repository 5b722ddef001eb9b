from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deconflict.agreement import Agreement
from deconflict.replay.parallel import replay
from tests.replay import encounters as enc


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",
            protocol="tcp",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def archive() -> pd.DataFrame:
    frame = pd.concat(
        [enc.loss_case(), enc.formation_case().assign(id=lambda f: f.id + "f")],
        ignore_index=True,
    )
    return frame.sort_values("time", kind="stable")


def test_dask_equals_single_process_across_window_borders(cluster_client, tmp_path: Path):
    frame = archive()
    single = replay(frame, Agreement(), window_s=1e6)
    assert single.windows == 1
    # Windows of 100 s: the loss (1920–2080) crosses the border at 2000.
    dask = replay(frame, Agreement(), window_s=100.0, client=cluster_client)
    assert dask.windows == 21
    pd.testing.assert_frame_equal(single.episodes, dask.episodes)
    assert (single.dropped, single.reports) == (dask.dropped, dask.reports)
    crossing = dask.episodes[(dask.episodes.t_start < 2000) & (dask.episodes.t_end > 2000)]
    assert len(crossing) == 2
    # Parquet on disk: the workers read their own windows.
    path = tmp_path / "tracks.parquet"
    frame.to_parquet(path, index=False, row_group_size=5000)
    from_disk = replay([path], Agreement(), window_s=100.0, client=cluster_client)
    pd.testing.assert_frame_equal(single.episodes, from_disk.episodes)
    assert from_disk.reports == len(frame)


def test_paris_on_dask_equals_single_process(cluster_client, paris_reports):
    single = replay(paris_reports, Agreement(), window_s=1e6)
    dask = replay(paris_reports, Agreement(), window_s=1200.0, client=cluster_client)
    assert dask.windows == 9  # 12:00-15:00 UTC in windows aligned on the epoch
    pd.testing.assert_frame_equal(single.episodes, dask.episodes)


def test_local_starts_a_cluster_only_for_large_archives(cluster_client, monkeypatch):
    from contextlib import contextmanager

    from deconflict.replay import parallel

    started = []

    @contextmanager
    def fake_local():
        started.append(True)
        yield cluster_client

    monkeypatch.setattr(parallel, "local_client", fake_local)
    frame = archive()
    small = replay(frame, Agreement(), window_s=600.0, client="local")
    assert small.windows > 1 and started == []
    monkeypatch.setattr(parallel, "LOCAL_CLUSTER_MIN_REPORTS", len(frame))
    large = replay(frame, Agreement(), window_s=600.0, client="local")
    assert started == [True]
    pd.testing.assert_frame_equal(small.episodes, large.episodes)


@pytest.mark.parametrize("velocities", [True, False])
def test_short_windows_with_parties_equal_one_window(tmp_path: Path, velocities: bool):
    # Windows of a minute: every episode's look-ahead lies in earlier windows' time, which a
    # window's second pass grids for the flights in loss only; Parquet (dictionary ids) and
    # in-memory reports alike, with reported and with derived velocities.
    frame = archive()
    frame = frame.assign(party=frame["id"].map(lambda i: "A" if i.startswith("A") else "B"))
    if not velocities:
        frame = frame.drop(columns=["gs_kt", "track_deg", "vs_fpm"])
    path = tmp_path / "archive.parquet"
    frame.to_parquet(path)
    ag = Agreement()
    whole = replay(frame, ag, window_s=1e6)
    assert len(whole.episodes) > 0
    for source in (frame, [path]):
        cut = replay(source, ag, window_s=60.0)
        assert cut.windows > 10
        pd.testing.assert_frame_equal(whole.episodes, cut.episodes)
        assert cut.dropped == whole.dropped
        assert cut.reports == whole.reports
