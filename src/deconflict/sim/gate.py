"""Which lockstep steps need the broker's answer: a conservative pre-check that cannot miss.

The broker's detection cycle (``DetectionEngine.cycle``) can only raise or change a
conflict alert where, in its live picture, the detector finds a cross-party conflict,
or where a conflict alert is already open (it may update or clear).
:class:`HostPicture` keeps, on the host, the same picture the broker keeps:
each aircraft's latest reported state, dropped after ``stale_after_s`` without a
report, dead-reckoned to the step's time (:func:`~deconflict.tactical.relative.extrapolate`,
as the broker does). :func:`step_is_quiet` says a step needs no cycle when no conflict
alert is open at any party and the picture holds no conflict (the exact windows on the
pairs a distance bound leaves, :func:`~deconflict.sim.exercise.any_conflict`).

On such a step the broker's cycle would raise no conflict alert and leave its tracker
empty: every party's advisories are none. So the host streams the states (committed by
the next synchronous step, before its cycle) and skips the round trip; the tracks are
those of the all-synchronous run (a test compares them). Zone alerts are not
manoeuvres (pilots do not fly them): they are evaluated on the cycles that run, which
the host also asks for every few steps so the broker's zone record stays timely.
"""

from __future__ import annotations

import numpy as np

from deconflict.agreement import Agreement
from deconflict.sim.exercise import any_conflict
from deconflict.tactical.relative import extrapolate
from deconflict.tactical.state import TrafficState

_FIELDS = ("lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")


class HostPicture:
    """The broker's live picture, kept on the host: latest state per (party, aircraft)."""

    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self._rows: dict[tuple[str, str], tuple[float, ...]] = {}

    def update(self, state: TrafficState) -> None:
        """Take one step's reports (each newer than what is held)."""
        assert state.party is not None
        cols = [state.time, *(getattr(state, f) for f in _FIELDS)]
        values = np.stack(cols, axis=1).tolist()
        for party, aircraft, row in zip(
            state.party.tolist(), state.id.tolist(), values, strict=True
        ):  # over aircraft (tens)
            self._rows[(str(party), str(aircraft))] = tuple(row)

    def snapshot(self, now_s: float) -> TrafficState | None:
        """Fresh states dead-reckoned to ``now_s``; stale ones dropped (None when empty)."""
        self._rows = {k: v for k, v in self._rows.items() if v[0] >= now_s - self.stale_after_s}
        if not self._rows:
            return None
        keys = sorted(self._rows)
        table = np.array([self._rows[k] for k in keys], dtype=np.float64)
        latest = TrafficState(
            time=table[:, 0],
            id=np.array([f"{p}:{a}" for p, a in keys], dtype=np.str_),
            party=np.array([p for p, _ in keys], dtype=np.str_),
            **{f: table[:, i + 1] for i, f in enumerate(_FIELDS)},
        )
        return extrapolate(latest, now_s)


def step_is_quiet(picture: TrafficState | None, agreement: Agreement, open_conflicts: int) -> bool:
    """True when the broker's cycle on ``picture`` provably raises, updates, clears no conflict."""
    if open_conflicts:
        return False
    return picture is None or not any_conflict(picture, agreement)
