"""The DataFrame edge: states are validated once, and results keep their contract columns."""

from __future__ import annotations

import pandas as pd
import pytest

from deconflict import Agreement, TrafficState, advise, detect
from deconflict.tactical.advise import advise_state
from deconflict.tactical.tables import ADVICE_COLUMNS, CONFLICT_COLUMNS, EVENT_COLUMNS, as_state

HEAD_ON = pd.DataFrame(
    {
        "time": [0.0, 0.0],
        "id": ["A", "B"],
        "party": ["blue", "red"],
        "lat": [0.0, 0.2],
        "lon": [0.0, 0.0],
        "alt_ft": [30000.0, 30000.0],
        "gs_kt": [400.0, 400.0],
        "track_deg": [0.0, 180.0],
        "vs_fpm": [0.0, 0.0],
    }
)


def test_a_validated_state_flows_down_without_being_validated_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = TrafficState.from_frame(HEAD_ON)
    assert as_state(state) is state

    def refuse(*args: object, **kwargs: object) -> TrafficState:
        raise AssertionError("validated twice")

    monkeypatch.setattr(TrafficState, "from_frame", refuse)
    assert len(detect(state, Agreement())) == 1
    assert len(advise(state, Agreement())) == 2


def test_a_frame_and_its_validated_state_give_the_same_tables() -> None:
    state = TrafficState.from_frame(HEAD_ON)
    pd.testing.assert_frame_equal(detect(HEAD_ON), detect(state))
    pd.testing.assert_frame_equal(advise(HEAD_ON), advise(state))


def test_result_tables_keep_their_columns_even_when_empty() -> None:
    apart = HEAD_ON.assign(alt_ft=[10000.0, 30000.0])
    assert list(detect(apart).columns) == list(CONFLICT_COLUMNS)
    result = advise_state(TrafficState.from_frame(apart), Agreement())
    assert list(result.advisories.columns) == list(ADVICE_COLUMNS)
    assert list(result.events.columns) == list(EVENT_COLUMNS)
    assert result.advisories.empty and result.events.empty
    started = advise_state(TrafficState.from_frame(HEAD_ON), Agreement())
    assert list(started.events.columns) == list(EVENT_COLUMNS)
    assert len(started.events) == 1
