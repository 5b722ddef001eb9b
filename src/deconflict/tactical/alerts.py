"""Alert levels and a tracker that follows conflicts over successive snapshots.

Levels (thresholds in :class:`~deconflict.agreement.AlertThresholds`):
``advisory`` (1) for any predicted loss within the look-ahead, ``caution`` (2) when
loss is predicted within ``caution_s``, ``warning`` (3) within ``warning_s`` or when
separation is already lost.

The tracker is a plain immutable value: :func:`track` takes the previous
:class:`AlertTracker` and one snapshot's conflicts and returns the next tracker,
the level and opaque id of each conflict, and the ``new`` / ``updated`` /
``cleared`` events. Hysteresis: a level rises at once but falls only when the time
to loss exceeds the lower threshold by ``hysteresis_s``; a conflict is cleared only
after it has been absent for ``clear_after_s``. Both stop flicker when a pair hovers
at a threshold. Everything is vectorised over conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict._util import KEY_SEP
from deconflict.agreement import AlertThresholds
from deconflict.tactical.hashing import combine, float_bits, hash_strings, hex_ids

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

LEVELS = ("none", "advisory", "caution", "warning")
EVENT_KINDS = ("new", "updated", "cleared")


def pair_keys(id_a: StrArray, id_b: StrArray) -> StrArray:
    """An order-independent key per pair of aircraft ids."""
    lo = np.where(id_a <= id_b, id_a, id_b)
    hi = np.where(id_a <= id_b, id_b, id_a)
    return np.char.add(np.char.add(lo, KEY_SEP), hi)


def raw_levels(t_in_s: FloatArray, thresholds: AlertThresholds, slack_s: float = 0.0) -> IntArray:
    """Level from time to loss alone (thresholds widened by ``slack_s``)."""
    level = np.ones(t_in_s.shape, dtype=np.int64)
    level[t_in_s <= thresholds.caution_s + slack_s] = 2
    level[t_in_s <= thresholds.warning_s + slack_s] = 3
    return level


@dataclass(frozen=True)
class AlertTracker:
    """Open conflicts, sorted by ``key``: id, level, first and last time seen (s), sense.

    ``sense`` is the manoeuvre issued for each conflict (the code, in
    :data:`deconflict.tactical.resolve.MANOEUVRES`, of the aircraft whose id sorts
    first in the key), −1 for none; left out, it is −1 for every conflict.
    """

    key: StrArray
    conflict_id: StrArray
    level: IntArray
    first_seen: FloatArray
    last_seen: FloatArray
    sense: IntArray = None  # type: ignore[assignment]  # None: filled with −1

    def __post_init__(self) -> None:
        """Fill a left-out ``sense`` with −1 (no sense issued)."""
        if self.sense is None:
            object.__setattr__(self, "sense", np.full(self.key.size, -1, dtype=np.int64))

    @classmethod
    def empty(cls) -> AlertTracker:
        """A tracker with no open conflict."""
        return cls(
            key=np.zeros(0, dtype=np.str_),
            conflict_id=np.zeros(0, dtype=np.str_),
            level=np.zeros(0, dtype=np.int64),
            first_seen=np.zeros(0),
            last_seen=np.zeros(0),
            sense=np.zeros(0, dtype=np.int64),
        )

    def held_sense(self, keys: StrArray) -> IntArray:
        """The sense held for each conflict key (−1 where none is open or issued)."""
        keys = np.asarray(keys, dtype=np.str_)
        if len(self) == 0:
            return np.full(keys.size, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.key, keys), len(self) - 1)
        return np.where(self.key[pos] == keys, self.sense[pos], -1).astype(np.int64)

    def __len__(self) -> int:
        """Number of open conflicts."""
        return int(self.key.size)


@dataclass(frozen=True)
class AlertEvents:
    """Events of one snapshot: ``kind`` indexes :data:`EVENT_KINDS`, ``level`` :data:`LEVELS`."""

    key: StrArray
    conflict_id: StrArray
    kind: IntArray
    level: IntArray


@dataclass(frozen=True)
class Tracked:
    """Result of one :func:`track` step, aligned with the conflicts given to it."""

    tracker: AlertTracker
    conflict_id: StrArray
    level: IntArray
    events: AlertEvents


def track(
    tracker: AlertTracker,
    time_s: float,
    keys: StrArray,
    t_in_s: FloatArray,
    thresholds: AlertThresholds,
    salt: str = "",
    sense: IntArray | None = None,
) -> Tracked:
    """Advance the tracker to one snapshot at ``time_s`` with its conflicts.

    ``keys`` (from :func:`pair_keys`, unique) and ``t_in_s`` describe the conflicts
    detected now, ``sense`` the manoeuvre issued for each now (see
    :class:`AlertTracker`; default: the one held, −1 for new conflicts). Opaque ids
    are keyed hashes of the pair and the time it was first seen, so a pair gets a
    new id for each separate episode; ``salt`` (e.g. the agreement fingerprint plus
    a broker secret) keeps them unguessable.
    """
    keys = np.asarray(keys, dtype=np.str_)
    t_in_s = np.asarray(t_in_s, dtype=np.float64)
    if sense is None:
        sense = tracker.held_sense(keys)
    pos = np.searchsorted(tracker.key, keys)
    pos_c = np.minimum(pos, len(tracker) - 1).clip(0)
    if len(tracker):
        known = tracker.key[pos_c] == keys
        prev_level = np.where(known, tracker.level[pos_c], 0)
        first_seen = np.where(known, tracker.first_seen[pos_c], time_s)
        prev_id = tracker.conflict_id[pos_c]
    else:
        known = np.zeros(keys.size, dtype=bool)
        prev_level = np.zeros(keys.size, dtype=np.int64)
        first_seen = np.full(keys.size, time_s)
        prev_id = np.zeros(keys.size, dtype=np.str_)

    # Hysteresis: rise at once; fall only past the threshold plus hysteresis.
    rise = raw_levels(t_in_s, thresholds)
    hold = raw_levels(t_in_s, thresholds, thresholds.hysteresis_s)
    level = np.maximum(rise, np.minimum(prev_level, hold))

    new_ids = hex_ids(
        combine(hash_strings(keys, key=salt), float_bits(np.full(keys.size, time_s))), "C"
    )
    cid = np.where(known, prev_id, new_ids)

    # Conflicts not seen now: keep them until clear_after_s has passed, then clear.
    seen = np.zeros(len(tracker), dtype=bool)
    seen[pos[known]] = True
    absent = ~seen
    expired = absent & (time_s - tracker.last_seen >= thresholds.clear_after_s)
    kept = absent & ~expired

    nxt_key = np.concatenate([keys, tracker.key[kept]])
    order = np.argsort(nxt_key, kind="stable")
    nxt = AlertTracker(
        key=nxt_key[order],
        conflict_id=np.concatenate([cid, tracker.conflict_id[kept]])[order],
        level=np.concatenate([level, tracker.level[kept]])[order],
        first_seen=np.concatenate([first_seen, tracker.first_seen[kept]])[order],
        last_seen=np.concatenate([np.full(keys.size, time_s), tracker.last_seen[kept]])[order],
        sense=np.concatenate([np.asarray(sense, dtype=np.int64), tracker.sense[kept]])[order],
    )
    changed = known & (level != prev_level)
    events = AlertEvents(
        key=np.concatenate([keys[~known], keys[changed], tracker.key[expired]]),
        conflict_id=np.concatenate([cid[~known], cid[changed], tracker.conflict_id[expired]]),
        kind=np.concatenate(
            [
                np.zeros(int((~known).sum()), dtype=np.int64),
                np.ones(int(changed.sum()), dtype=np.int64),
                np.full(int(expired.sum()), 2, dtype=np.int64),
            ]
        ),
        level=np.concatenate(
            [level[~known], level[changed], np.zeros(int(expired.sum()), dtype=np.int64)]
        ),
    )
    return Tracked(tracker=nxt, conflict_id=cid, level=level, events=events)
