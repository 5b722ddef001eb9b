"""Replay an archive window by window, in this process or on a Dask cluster, with one result.

The time axis is cut into windows of ``window_s`` (a whole number of grid steps). Each
window's *core* steps are its own; it also reads the look-ahead (plus one step) before
its core and one step after, and the reports up to two gap limits beyond those (so
every grid point and every derived velocity is the one the whole archive gives). Each
window reports the runs of loss inside its core (:func:`~deconflict.replay.episodes.loss_runs`)
and the reports it dropped inside its core time; :func:`~deconflict.replay.episodes.merge_runs`
joins runs across borders. The result is therefore identical to a single-process pass,
and memory is bounded by one window (plus its margins), not by the archive.

With a :class:`distributed.Client`, windows run as Dask tasks: archives on disk
(Parquet) are read by the workers themselves, window by window, with a filter on time;
in-memory reports (CSV) are sliced by the caller and sent to each task.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.errors import InputError
from deconflict.replay.archive import TIME_BOUNDS, clean_columns, input_columns, read_archive
from deconflict.replay.episodes import (
    KINDS,
    RUN_COLUMNS,
    empty_runs,
    kinematics,
    loss_pairs,
    loss_runs,
    merge_runs,
)
from deconflict.replay.grid import Grid, to_grid

if TYPE_CHECKING:
    from distributed import Client

IntArray = npt.NDArray[np.int64]

#: Columns a window reads from Parquet (either column set); others are never loaded.
READ_COLUMNS = frozenset(
    {"time", "id", "party", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm"}
    | {"timestamp", "icao24", "latitude", "longitude", "altitude", "groundspeed", "track"}
    | {"vertical_rate", "onground"}
)

#: Default core length of a window (s): memory per window against overlap overhead.
WINDOW_S = 900.0
#: Below this many reports ``client="local"`` runs in this process (a replay of this size
#: takes about as long as starting a LocalCluster).
LOCAL_CLUSTER_MIN_REPORTS = 2_000_000


@dataclass(frozen=True)
class Replay:
    """Episodes (:data:`~deconflict.replay.episodes.EPISODE_COLUMNS`) and what was read.

    ``dropped`` counts reports dropped per reason; ``reports`` counts reports read
    (dropped included); ``windows`` the number of time windows processed.
    """

    episodes: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)
    reports: int = 0
    windows: int = 0

    def by_kind(self) -> dict[str, int]:
        """Number of episodes of each kind (every kind listed, zeros included)."""
        counts = self.episodes["kind"].value_counts()
        return {k: int(counts.get(k, 0)) for k in KINDS}


@dataclass(frozen=True)
class ParquetWindows:
    """Parquet archives read window by window (a filter on the time column)."""

    paths: tuple[str, ...]

    def time_column(self) -> tuple[str, bool]:
        """The time column's name and whether it holds timestamps (else epoch seconds)."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        schema = ds.dataset(list(self.paths), format="parquet").schema
        name = "timestamp" if "timestamp" in schema.names else "time"
        if name not in schema.names:
            raise InputError(f"{self.paths[0]}: no 'time' or 'timestamp' column")
        return name, pa.types.is_timestamp(schema.field(name).type)

    def occupied(self, step_s: float, window_s: float) -> tuple[IntArray, int]:
        """Indices of the windows holding reports (see :func:`window_indices`), and rows."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        name, stamped = self.time_column()
        dataset = ds.dataset(list(self.paths), format="parquet")
        scale = _unit_seconds(dataset.schema.field(name).type) if stamped else 1.0
        found: list[IntArray] = []
        rows = 0
        for batch in dataset.to_batches(columns=[name]):
            col = batch.column(0)
            rows += len(col)
            if stamped:
                col = pc.cast(col, "int64")
            t = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64) * scale
            found.append(window_indices(t, step_s, window_s))
        if not found:
            return np.zeros(0, dtype=np.int64), rows
        return np.unique(np.concatenate(found)), rows

    def read(self, t_lo: float, t_hi: float) -> pd.DataFrame:
        """Raw rows with ``t_lo <= time < t_hi`` (epoch s), input columns."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        name, stamped = self.time_column()
        dataset = ds.dataset(list(self.paths), format="parquet")
        col = ds.field(name)
        if stamped:
            typ = dataset.schema.field(name).type
            lo = pa.scalar(_epoch_to_unit(t_lo, typ), pa.int64()).cast(typ)
            hi = pa.scalar(_epoch_to_unit(t_hi, typ), pa.int64()).cast(typ)
        else:
            lo, hi = pa.scalar(t_lo), pa.scalar(t_hi)
        wanted = [c for c in dataset.schema.names if c in READ_COLUMNS]
        # Ids straight from Parquet's dictionary pages: no string per report is made.
        labels = {
            c
            for c in ("id", "icao24", "party")
            if c in dataset.schema.names and pa.types.is_string(dataset.schema.field(c).type)
        }
        if labels:
            options = ds.ParquetReadOptions(dictionary_columns=labels)
            fmt = ds.ParquetFileFormat(read_options=options)
            dataset = ds.dataset(list(self.paths), format=fmt)
        table = dataset.to_table(columns=wanted, filter=(col >= lo) & (col < hi))
        # Ids as dictionary codes: far cheaper than millions of Python strings.
        for label in ("id", "icao24", "party"):
            i = table.schema.get_field_index(label)
            if i >= 0 and pa.types.is_string(table.schema.field(i).type):
                table = table.set_column(i, label, pc.dictionary_encode(table.column(i)))
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table  # its buffers went to the frame
        return input_columns(frame)


def _unit_seconds(typ: Any) -> float:
    return {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[typ.unit]


def _epoch_to_unit(t: float, typ: Any) -> int:
    limit = 2**62
    if not math.isfinite(t):
        return limit if t > 0 else -limit
    return max(-limit, min(limit, math.floor(t / _unit_seconds(typ))))


@dataclass(frozen=True)
class _Window:
    k_lo: int
    k_hi: int
    first: bool
    last: bool


@dataclass(frozen=True)
class WindowResult:
    """One window's runs of loss, dropped reports and reports counted (its core only)."""

    runs: pd.DataFrame
    dropped: dict[str, int]
    reports: int


def _window_bounds(w: _Window, step_s: float, agreement: Agreement) -> tuple[float, float]:
    """Report times a window reads: its grid span plus two gap limits either side."""
    margin_steps = math.floor(agreement.lookahead_s / step_s + 1e-9) + 1
    gap = agreement.replay.gap_limit_s
    t_lo = (w.k_lo - margin_steps) * step_s - 2.0 * gap
    t_hi = w.k_hi * step_s + 2.0 * gap
    return (-math.inf if w.first else t_lo), (math.inf if w.last else t_hi + 1e-9)


def run_window(
    raw: pd.DataFrame | ParquetWindows,
    window: _Window,
    agreement: Agreement,
    step_s: float,
    all_pairs: bool,
) -> WindowResult:
    """Process one window: clean its reports, grid them, summarise its runs of loss.

    ``raw`` holds the window's rows in input columns (time in epoch s), or is a
    Parquet archive read here.

    Two passes, so that the look-ahead margin before the core costs little: the first
    grids every flight from one step before the core on and finds the pairs in loss;
    the second grids only those pairs' flights over the whole window, margin included
    (a flight's grid points depend on its own reports only, so they are the same as in
    a grid of every flight). The first window reads everything before its core anyway
    and takes one pass.
    """
    k_lo, k_hi = window.k_lo, window.k_hi
    margin_steps = math.floor(agreement.lookahead_s / step_s + 1e-9) + 1
    gap = agreement.replay.gap_limit_s
    t_lo, t_hi = _window_bounds(window, step_s, agreement)
    if window.first:
        # In memory, the rows given are the window's already (missing times included).
        rows = raw if isinstance(raw, pd.DataFrame) else raw.read(t_lo, t_hi)
        frame, dropped, n_reports = _clean_span(rows, window, agreement, step_s)
        del rows
        grid, dropped = _grid_span(frame, dropped, window, k_lo - margin_steps, gap, step_s)
        del frame
        runs = loss_runs(grid, agreement, (k_lo, k_hi), all_pairs=all_pairs)
        return WindowResult(runs, dropped, n_reports)
    t_mid = (k_lo - 1) * step_s - 2.0 * gap  # the first pass's reports: from here on
    frame, dropped, n_reports = _clean_span(_span(raw, t_mid, t_hi), window, agreement, step_s)
    grid, dropped = _grid_span(frame, dropped, window, k_lo - 1, gap, step_s)
    points = np.flatnonzero(grid.k < k_hi)
    a, b, _, _ = loss_pairs(grid, kinematics(grid), agreement, all_pairs=all_pairs, points=points)
    flights = np.unique(np.concatenate([grid.flight[a], grid.flight[b]]))
    if flights.size == 0:
        return WindowResult(empty_runs(), dropped, n_reports)
    wanted = grid.ids[flights]
    del grid, points, a, b
    early = _span(raw, t_lo, t_mid)
    early, _ = clean_columns(
        early[_id_in(early["id"], wanted)], min_gs_kt=agreement.replay.min_airborne_gs_kt
    )
    late = _id_in(frame["id"], wanted)
    joined = {  # early reports all come before the first pass's: still in time order
        c: np.concatenate([_plain(early[c]), _plain(frame[c][late])]) for c in frame
    }
    del early, frame, late
    grid, _ = to_grid(joined, step_s, gap, (k_lo - margin_steps, k_hi))
    del joined
    runs = loss_runs(grid, agreement, (k_lo, k_hi), all_pairs=all_pairs)
    return WindowResult(runs, dropped, n_reports)


def _span(raw: pd.DataFrame | ParquetWindows, t_lo: float, t_hi: float) -> pd.DataFrame:
    """Raw rows with ``t_lo <= time < t_hi`` (a window's rows in memory, or read)."""
    if isinstance(raw, ParquetWindows):
        return raw.read(t_lo, t_hi)
    t = raw["time"].to_numpy(dtype=np.float64)
    inside = (t >= t_lo) & (t < t_hi)
    return raw if bool(inside.all()) else raw[inside]


def _id_in(ids: Any, wanted: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
    """Whether each id (as a string) is one of ``wanted``."""
    ids = pd.Series(ids) if not isinstance(ids, pd.Series) else ids
    if isinstance(ids.dtype, pd.CategoricalDtype):
        cat = pd.Categorical(ids)
        hit = np.isin(np.asarray(cat.categories.astype(str), dtype=np.str_), wanted)
        codes = np.asarray(cat.codes)
        return (codes >= 0) & hit[np.maximum(codes, 0)]
    return np.asarray(ids.astype(str).isin(wanted), dtype=bool) & ids.notna().to_numpy()


def _plain(values: Any) -> np.ndarray:
    """A column as a numpy array (labels as Python objects), for concatenation."""
    if isinstance(values, np.ndarray):
        return values
    return np.asarray(values, dtype=object)


def _clean_span(
    raw: pd.DataFrame, window: _Window, agreement: Agreement, step_s: float
) -> tuple[dict[str, Any], dict[str, int], int]:
    """Clean a window's reports; dropped reports and reports counted in its core only."""
    t = raw["time"].to_numpy(dtype=np.float64)
    core_lo = -math.inf if window.first else window.k_lo * step_s
    core_hi = math.inf if window.last else window.k_hi * step_s
    in_bounds = (t >= TIME_BOUNDS[0]) & (t <= TIME_BOUNDS[1])
    in_core = (t >= core_lo) & (t < core_hi) & in_bounds
    # Missing or impossible times are counted once: early (or missing) ones by the first
    # window, late ones by the last (the only windows that read them).
    if window.first:
        in_core |= ~in_bounds & ~(t > TIME_BOUNDS[1])
    if window.last:
        in_core |= t > TIME_BOUNDS[1]
    frame, dropped = clean_columns(
        raw, counted=in_core, min_gs_kt=agreement.replay.min_airborne_gs_kt
    )
    return frame, dropped, int(in_core.sum())


def _grid_span(
    frame: dict[str, Any],
    dropped: dict[str, int],
    window: _Window,
    k_first: int,
    gap_limit_s: float,
    step_s: float,
) -> tuple[Grid, dict[str, int]]:
    """Grid steps ``k_first..k_hi`` of cleaned reports; adds the core's drops to ``dropped``."""
    core_lo = -math.inf if window.first else window.k_lo * step_s
    core_hi = math.inf if window.last else window.k_hi * step_s
    t_c = frame["time"]
    grid, dropped_here = to_grid(
        frame,
        step_s,
        gap_limit_s,
        (k_first, window.k_hi),
        counted=(t_c >= core_lo) & (t_c < core_hi),
    )
    out = dict(dropped)
    for reason, n in dropped_here.items():
        out[reason] = out.get(reason, 0) + n
    return grid, out


def window_indices(t: npt.NDArray[np.float64], step_s: float, window_s: float) -> IntArray:
    """Indices of the windows holding report times ``t`` (unique; times out of bounds ignored)."""
    lo, hi = TIME_BOUNDS
    t = t[(t >= lo) & (t <= hi)]
    per = max(1, round(window_s / step_s))
    return np.unique(np.floor(t / (per * step_s)).astype(np.int64))


def plan_windows(
    occupied: IntArray, step_s: float, window_s: float, gap_limit_s: float
) -> list[_Window]:
    """Windows of whole grid steps: those holding reports, and neighbours if need be.

    Windows shorter than the gap limit also take their neighbours within it. Any other
    window has no grid point, so long quiet stretches (or a lone report far away in
    time) cost nothing.
    """
    if occupied.size == 0:
        return [_Window(0, 1, True, True)]
    per = max(1, round(window_s / step_s))
    # A grid point in a window without reports needs reports on both sides of the window
    # at most the gap limit apart: only possible for windows shorter than the gap limit.
    length = per * step_s
    reach = 0 if length >= gap_limit_s else math.ceil(gap_limit_s / length)
    near = np.unique((occupied[:, None] + np.arange(-reach, reach + 1)[None, :]).ravel())
    n = near.size
    return [
        _Window(int(w) * per, (int(w) + 1) * per, i == 0, i == n - 1) for i, w in enumerate(near)
    ]


def replay(
    source: Sequence[Path] | pd.DataFrame,
    agreement: Agreement,
    *,
    step_s: float = 5.0,
    all_pairs: bool = False,
    client: Client | str | None = None,
    window_s: float = WINDOW_S,
    on_window: Callable[[int, int], None] | None = None,
) -> Replay:
    """Episodes of actual loss of separation in an archive.

    ``source`` is a list of CSV/Parquet files or a DataFrame of raw reports (either
    column set, see :func:`~deconflict.replay.archive.input_columns`). Without
    ``client`` windows run one after another in this process; with a
    :class:`distributed.Client`, as its Dask tasks; with ``"local"``, on a
    :class:`distributed.LocalCluster` of local processes started for the call when the
    archive has more than one window and at least :data:`LOCAL_CLUSTER_MIN_REPORTS`
    reports (else in this process: starting the cluster would cost more than it saves).
    ``on_window(done, total)`` is called as windows complete (for a progress bar).
    """
    if not (step_s > 0 and math.isfinite(step_s)):
        raise InputError(f"--step-s must be a positive number of seconds, got {step_s:g}")
    if not (window_s >= step_s):
        raise InputError(f"window_s ({window_s:g}) must be at least one step ({step_s:g})")
    parquet = (
        not isinstance(source, pd.DataFrame)
        and len(source) > 0
        and all(Path(p).suffix.lower() in (".parquet", ".pq") for p in source)
    )
    loaders: list[pd.DataFrame | ParquetWindows]
    if parquet:
        src = ParquetWindows(tuple(str(p) for p in source))  # type: ignore[union-attr]
        for p in src.paths:
            if not Path(p).is_file():
                raise InputError(f"{p}: no such file")
        try:
            occupied, n_rows = src.occupied(step_s, window_s)
        except InputError:
            raise
        except Exception as err:
            raise InputError(f"{src.paths[0]}: not a readable parquet archive ({err})") from None
        windows = plan_windows(occupied, step_s, window_s, agreement.replay.gap_limit_s)
        loaders = [src] * len(windows)
    else:
        raw = source if isinstance(source, pd.DataFrame) else read_archive(list(source))
        raw = input_columns(raw)
        n_rows = len(raw)
        t = raw["time"].to_numpy(dtype=np.float64)
        occupied = window_indices(t, step_s, window_s)
        windows = plan_windows(occupied, step_s, window_s, agreement.replay.gap_limit_s)
        if len(windows) == 1:
            loaders = [raw]
        else:
            raw = raw.sort_values("time", kind="stable", na_position="first")
            t = raw["time"].to_numpy(dtype=np.float64)
            n_nan = int(np.isnan(t).sum())
            loaders = []
            for w in windows:
                lo, hi = _window_bounds(w, step_s, agreement)
                i = np.searchsorted(t[n_nan:], lo, side="left") + n_nan
                j = np.searchsorted(t[n_nan:], hi, side="left") + n_nan
                i = 0 if w.first else i
                loaders.append(raw.iloc[i:j])
    if client == "local":
        if len(windows) > 1 and n_rows >= LOCAL_CLUSTER_MIN_REPORTS:
            with local_client() as local:
                results = _run_all(loaders, windows, agreement, step_s, all_pairs, local, on_window)
        else:
            results = _run_all(loaders, windows, agreement, step_s, all_pairs, None, on_window)
    else:
        if isinstance(client, str):
            raise InputError(f"client must be a distributed.Client or 'local', not {client!r}")
        results = _run_all(loaders, windows, agreement, step_s, all_pairs, client, on_window)
    runs = [r.runs for r in results if len(r.runs)]
    all_runs = pd.concat(runs, ignore_index=True) if runs else results[0].runs
    dropped: dict[str, int] = {}
    for r in results:
        for k, v in r.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
    return Replay(
        episodes=merge_runs(all_runs[list(RUN_COLUMNS)], agreement, step_s),
        dropped=dropped,
        reports=sum(r.reports for r in results),
        windows=len(windows),
    )


@contextmanager
def local_client(n_workers: int | None = None) -> Iterator[Client]:
    """A client of a :class:`distributed.LocalCluster` of local processes, closed on exit.

    ``n_workers`` defaults to the CPU count (at most 8), one thread each; the scheduler's
    HTTP server (dashboard) on a free port.
    """
    import logging
    import os

    from distributed import Client, LocalCluster

    n = n_workers or max(1, min(8, os.cpu_count() or 1))
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def connect(address: str, timeout_s: float = 10.0) -> Client:
    """A client of the Dask scheduler at ``address`` (``tcp://HOST:PORT``); one-line errors."""
    import socket
    from urllib.parse import urlsplit

    from distributed import Client

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if parts.scheme not in ("tcp", "tls") or not host or not port:
        raise InputError(f"--dask-address {address}: expected tcp://HOST:PORT")
    try:  # fail at once on a refused connection (the client would retry until timeout)
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        raise InputError(f"--dask-address {address}: cannot connect ({err})") from None
    try:
        return Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(f"--dask-address {address}: cannot connect ({err})") from None


def _run_all(
    loaders: list[pd.DataFrame | ParquetWindows],
    windows: list[_Window],
    agreement: Agreement,
    step_s: float,
    all_pairs: bool,
    client: Client | None,
    on_window: Callable[[int, int], None] | None,
) -> list[WindowResult]:
    total = len(windows)
    if client is None:
        out = []
        for n, (raw, w) in enumerate(zip(loaders, windows, strict=True), start=1):
            out.append(run_window(raw, w, agreement, step_s, all_pairs))
            if on_window is not None:
                on_window(n, total)
        return out
    from distributed import as_completed

    futures = []
    for raw, w in zip(loaders, windows, strict=True):
        # Reports in memory travel as scattered data, not inside the task graph.
        data = client.scatter(raw) if isinstance(raw, pd.DataFrame) else raw
        futures.append(client.submit(run_window, data, w, agreement, step_s, all_pairs, pure=False))
    index = {f.key: n for n, f in enumerate(futures)}
    results: list[WindowResult | None] = [None] * total
    for done, fut in enumerate(as_completed(futures), start=1):
        results[index[fut.key]] = fut.result()
        fut.release()
        if on_window is not None:
            on_window(done, total)
    return [r for r in results if r is not None]
