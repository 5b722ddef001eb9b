"""Decode a batch of tracks (JSON array, columnar JSON or Parquet) into validated arrays."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError

from deconflict._util import one_line_error
from deconflict.errors import InputError
from deconflict.json_text import parse_json
from deconflict.service.schemas import TrackColumns, TrackIn
from deconflict.store.records import TrackBatch
from deconflict.tactical.state import TrafficState

PARQUET_TYPES = (
    "application/vnd.apache.parquet",
    "application/x-parquet",
    "application/octet-stream",
)
MAX_BATCH = 200_000
_ARRAY = TypeAdapter(list[TrackIn])
_COLUMNS = ("time", "id", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")


def decode(body: bytes, content_type: str, party_id: int) -> TrackBatch:
    """Validate a request body into a :class:`TrackBatch`; :class:`InputError` names the field."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in PARQUET_TYPES:
        try:
            frame = pd.read_parquet(io.BytesIO(body))
        except Exception as err:  # pyarrow raises many types for bad bytes
            raise InputError(f"body: not a Parquet file ({type(err).__name__})") from None
        return _from_frame(frame, party_id)
    data = parse_json(body, "body")  # refuses nesting deeper than MAX_DEPTH first
    if isinstance(data, list):
        if len(data) > MAX_BATCH:
            raise InputError(f"body: {len(data)} states in one batch; at most {MAX_BATCH}")
        try:
            rows = _ARRAY.validate_python(data)
        except ValidationError as err:
            raise InputError(one_line_error(err, root="body")) from None
        frame = pd.DataFrame([r.model_dump() for r in rows], columns=list(_COLUMNS))
        return _from_frame(frame, party_id)
    if isinstance(data, dict):
        try:
            cols = TrackColumns.model_validate(data)
        except ValidationError as err:
            raise InputError(one_line_error(err, root="body")) from None
        lengths = {len(getattr(cols, c)) for c in _COLUMNS}
        if len(lengths) != 1:
            raise InputError("body: columns must all have the same length")
        return _from_frame(pd.DataFrame({c: getattr(cols, c) for c in _COLUMNS}), party_id)
    raise InputError("body: expected a JSON array of states or an object of columns")


def _from_frame(frame: pd.DataFrame, party_id: int) -> TrackBatch:
    if "party" in frame.columns:
        raise InputError("body: column 'party' not allowed (the party is the authenticated one)")
    extra = [c for c in frame.columns if c not in _COLUMNS]
    if extra:
        raise InputError(f"body: unknown column(s) {', '.join(map(repr, extra))}")
    if len(frame) > MAX_BATCH:
        raise InputError(f"body: {len(frame)} states in one batch; at most {MAX_BATCH}")
    if frame.empty:
        raise InputError("body: empty batch")
    state = TrafficState.from_frame(frame)  # the one rule for ids, bounds and tracks
    return TrackBatch(
        party_id=np.full(len(state), party_id, dtype=np.int64),
        time=state.time,
        id=state.id,
        lat=state.lat,
        lon=state.lon,
        alt_ft=state.alt_ft,
        gs_kt=state.gs_kt,
        track_deg=state.track_deg,
        vs_fpm=state.vs_fpm,
    )
