"""Alert levels and the conflict tracker: the public name for :mod:`deconflict.core.alerts`."""

from deconflict.core.alerts import (
    EVENT_KINDS,
    LEVELS,
    AlertEvents,
    AlertTracker,
    Tracked,
    pair_keys,
    raw_levels,
    track,
)

__all__ = [
    "EVENT_KINDS",
    "LEVELS",
    "AlertEvents",
    "AlertTracker",
    "Tracked",
    "pair_keys",
    "raw_levels",
    "track",
]
