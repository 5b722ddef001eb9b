"""The live picture and the detection loop of the broker.

:class:`LivePicture` holds the latest state of every (party, aircraft) as arrays;
:class:`DetectionEngine` runs detection, alert tracking and advisories on it
whenever new states arrive (at most every ``detect_interval_s``), turns what
changed into per-party :class:`~deconflict.store.records.AlertRecord` s (own
aircraft, advisory, intruder as relative geometry only, at the precision of a
cockpit traffic display), stores them, then hands them to ``publish``.

An alert clears, with its ``reason``: ``resolved`` when the conflict has not been
predicted for the tracker's ``clear_after_s``; ``stale`` at once, in the cycle
where one of its aircraft went stale (no report for ``stale_after_s``), zone
alerts too; ``left_zone`` when a zone entry or violation is no longer predicted.
An ``updated`` event whose conflict's held sense was replaced says ``reversal``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from deconflict._util import KEY_SEP
from deconflict.agreement import Agreement
from deconflict.airspace.entries import zone_entries
from deconflict.airspace.zones import Zones
from deconflict.service.picture import Picture, empty_picture
from deconflict.store.records import AlertRecord, TrackBatch
from deconflict.store.repository import Repository
from deconflict.tactical.advise import Advice, advise_state
from deconflict.tactical.alerts import LEVELS, AlertTracker, pair_keys
from deconflict.tactical.detect import Kinematics
from deconflict.tactical.hashing import hash_strings, hex_ids
from deconflict.tactical.relative import extrapolate, relative_geometry
from deconflict.tactical.resolve import manoeuvre_codes, sense_from_halves
from deconflict.tactical.state import TrafficState

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
_FIELDS = ("time", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")

#: ``AlertRecord.reason`` of an ``updated`` event whose conflict's sense was reversed.
REVERSAL = "reversal"
#: ``AlertRecord.reason`` of a ``cleared`` event: no longer predicted (after clear_after_s).
RESOLVED = "resolved"
#: ``AlertRecord.reason`` of a ``cleared`` event: an aircraft's track went stale.
STALE = "stale"
#: ``AlertRecord.reason`` of a cleared zone alert: entry or violation no longer predicted.
LEFT_ZONE = "left_zone"

#: What a party learns of the other aircraft, rounded to these decimals (a cockpit
#: traffic display's precision): range 0.1 NM, bearing 1 deg, relative altitude
#: 100 ft, closure 10 kt, time to loss (or to zone entry) 1 s.
DISCLOSED_DECIMALS = {
    "range_nm": 1,
    "bearing_deg": 0,
    "rel_alt_ft": -2,
    "closure_kt": -1,
    "t_in_s": 0,
}


def disclosed(values: FloatArray, field: str) -> FloatArray:
    """``values`` rounded to the disclosed precision of ``field`` (bearings into [0, 360))."""
    out = np.round(np.asarray(values, dtype=np.float64), DISCLOSED_DECIMALS[field])
    if field == "bearing_deg":
        out = np.mod(out, 360.0)
    return out + 0.0  # no negative zero


#: An advisory's target vertical speed is disclosed in steps of this (ft/min), rounded
#: away from the own rate in the manoeuvre's sense, so it never asks for less.
TARGET_VS_STEP_FPM = 100.0
#: A turn's angle is disclosed in whole degrees, rounded up.
TURN_STEP_DEG = 1.0


def disclosed_targets(
    manoeuvre: npt.NDArray[np.object_],
    own_vs_fpm: FloatArray,
    target_vs_fpm: FloatArray,
    own_track_deg: FloatArray,
    target_track_deg: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """An advisory's targets at the disclosed precision (they are derived from the intruder).

    A climb's target rate is rounded up and a descent's down to 100 ft/min, a turn's angle
    up to whole degrees: never less than the manoeuvre needs, and not a precise range or
    vertical offset that the exact numbers would give away. Other targets are the
    aircraft's own current values and are left as they are.
    """
    step = TARGET_VS_STEP_FPM
    vs = np.select(
        [manoeuvre == "climb", manoeuvre == "descend"],
        [np.ceil(target_vs_fpm / step) * step, np.floor(target_vs_fpm / step) * step],
        default=target_vs_fpm,
    )
    right = np.ceil(np.mod(target_track_deg - own_track_deg, 360.0) / TURN_STEP_DEG)
    left = np.ceil(np.mod(own_track_deg - target_track_deg, 360.0) / TURN_STEP_DEG)
    trk = np.select(
        [manoeuvre == "turn_right", manoeuvre == "turn_left"],
        [
            np.mod(own_track_deg + right * TURN_STEP_DEG, 360.0),
            np.mod(own_track_deg - left * TURN_STEP_DEG, 360.0),
        ],
        default=target_track_deg,
    )
    return vs + 0.0, trk + 0.0


def _keys(party_id: IntArray, ids: StrArray) -> StrArray:
    return np.char.add(np.char.add(party_id.astype(np.str_), KEY_SEP), ids.astype(np.str_))


#: Longest time (s, broker clock) over which a report older than the one held is taken
#: for a late delivery and ignored; see :func:`reorder_window_s`.
REORDER_WINDOW_S = 5.0


def reorder_window_s(stale_after_s: float) -> float:
    """How long a held report outranks an incoming one with an older party time (s).

    :data:`REORDER_WINDOW_S`, or half the staleness limit if that is shorter, so a
    party whose clock was set back is heard again well before its tracks go stale.
    """
    return min(REORDER_WINDOW_S, stale_after_s / 2.0)


class LivePicture:
    """Latest state per (party, aircraft), sorted by key; updated batch by batch.

    Parties' clocks are not trusted: each batch is placed on the broker's clock by
    taking its newest ``time`` as "received now" (``t_broker``), so a party whose
    clock is wrong, or far in the future, can neither age out the others' tracks nor
    freeze its own. States read back from storage (``received_at`` set, after a
    restart) are placed the same way at the time the broker received them, not
    now. Within a party, a report with an older ``time`` than the one held is
    ignored as a late delivery only while the one held is recent — received less than
    :func:`reorder_window_s` ago on the broker's clock; later, the party's clock was
    set back (say, corrected after running fast), and the report is taken, so a wrong
    clock can freeze its own tracks for a few seconds at most, never until they go stale.
    """

    def __init__(self) -> None:
        self.key = np.zeros(0, dtype=np.str_)
        self.party_id = np.zeros(0, dtype=np.int64)
        self.id = np.zeros(0, dtype=np.str_)
        self.cols: dict[str, FloatArray] = {f: np.zeros(0) for f in (*_FIELDS, "t_broker")}

    def __len__(self) -> int:
        """Aircraft in the picture."""
        return int(self.key.size)

    def update(self, batch: TrackBatch, now: float, stale_after_s: float) -> None:
        """Merge a batch received at broker time ``now`` (s).

        A batch with ``received_at`` (states read from storage) was received then
        (Unix s, at most ``now``): each party's newest report among the states
        received at one instant (one stored batch) counts as received at that instant.
        """
        if len(batch) == 0:
            return
        keys = _keys(batch.party_id, batch.id)
        # Each party's newest report in the batch is "now" on the broker's clock.
        if batch.received_at is None:
            t_broker = batch.time - _group_max(batch.time, batch.party_id) + now
        else:
            received = np.minimum(batch.received_at, now)
            t_broker = batch.time - _group_max(batch.time, batch.party_id, received) + received
        # Within the batch keep each aircraft's newest state.
        order = np.lexsort((batch.time, keys))
        last = np.r_[keys[order][1:] != keys[order][:-1], True]
        pick = order[last]
        keys = keys[pick]
        incoming = {f: getattr(batch, f)[pick] for f in _FIELDS}
        incoming["t_broker"] = t_broker[pick]
        pos = np.searchsorted(self.key, keys)
        pos_c = np.minimum(pos, max(len(self) - 1, 0))
        if len(self):
            known = (pos < len(self)) & (self.key[pos_c] == keys)
            held_old = incoming["t_broker"] - self.cols["t_broker"][pos_c] > reorder_window_s(
                stale_after_s
            )
            newer = known & ((incoming["time"] >= self.cols["time"][pos_c]) | held_old)
        else:
            known = newer = np.zeros(keys.size, dtype=bool)
        for f, values in incoming.items():
            self.cols[f][pos_c[newer]] = values[newer]
        add = ~known
        if add.any():
            key = np.concatenate([self.key, keys[add]])
            srt = np.argsort(key, kind="stable")
            self.key = key[srt]
            self.party_id = np.concatenate([self.party_id, batch.party_id[pick][add]])[srt]
            self.id = np.concatenate([self.id, batch.id[pick][add]])[srt]
            for f, values in incoming.items():
                self.cols[f] = np.concatenate([self.cols[f], values[add]])[srt]

    def snapshot(
        self, stale_after_s: float, now: float
    ) -> tuple[TrafficState, IntArray, StrArray] | None:
        """Fresh states dead-reckoned to broker time ``now``; also party ids and aircraft ids.

        Stale aircraft (no report for ``stale_after_s``) are dropped from the picture;
        None when no aircraft is left.
        """
        if len(self) == 0:
            return None
        fresh = self.cols["t_broker"] >= now - stale_after_s
        if not fresh.all():
            self.key, self.party_id, self.id = self.key[fresh], self.party_id[fresh], self.id[fresh]
            self.cols = {f: v[fresh] for f, v in self.cols.items()}
        if len(self) == 0:
            return None
        latest = TrafficState(
            time=self.cols["t_broker"],
            id=self.key,
            party=self.party_id.astype(np.str_),
            lat=self.cols["lat"],
            lon=self.cols["lon"],
            alt_ft=self.cols["alt_ft"],
            gs_kt=self.cols["gs_kt"],
            track_deg=self.cols["track_deg"],
            vs_fpm=self.cols["vs_fpm"],
        )
        return extrapolate(latest, now), self.party_id.copy(), self.id.copy()


def _group_max(t: FloatArray, *by: npt.NDArray[np.generic]) -> FloatArray:
    """Each row's largest ``t`` among the rows with the same values in every ``by`` column."""
    if len(by) == 1:
        groups, inverse = np.unique(by[0], return_inverse=True)
    else:
        stacked = np.stack([np.asarray(b, dtype=np.float64) for b in by], axis=1)
        groups, inverse = np.unique(stacked, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    top = np.full(len(groups), -np.inf)
    np.maximum.at(top, inverse, t)
    return top[inverse]


def _keep_pairs(tracker: AlertTracker, keep: npt.NDArray[np.bool_]) -> AlertTracker:
    """The tracker with only the pairs where ``keep``: every per-pair array is filtered."""
    n = len(tracker)
    per_pair = {
        f.name: value[keep]
        for f in dataclasses.fields(tracker)
        if isinstance(value := getattr(tracker, f.name), np.ndarray) and value.shape[:1] == (n,)
    }
    return dataclasses.replace(tracker, **per_pair)


#: Prefix of an open zone alert's topic (``zone:NAME``); conflict ids never start so.
ZONE_TOPIC = "zone:"
_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(AlertRecord))


def _open_key(topic: StrArray, own: StrArray) -> StrArray:
    """The key of an open alert: its topic and its own aircraft's key (no control chars)."""
    return np.strings.add(np.strings.add(topic.astype(np.str_), KEY_SEP), own.astype(np.str_))


def _put(old: npt.NDArray[np.generic], at: IntArray, values: npt.NDArray[np.generic]) -> Any:
    """A copy of ``old`` with ``values`` at ``at`` (wide enough for the longer strings)."""
    out = old.astype(np.result_type(old, values))
    out[at] = values
    return out


@dataclass(frozen=True)
class OpenAlerts:
    """The alerts sent and not yet cleared, one row per (topic, own aircraft), sorted by ``key``.

    ``topic`` is the conflict id, or ``zone:NAME`` for a zone alert; ``own`` the own
    aircraft's picture key (party id, separator, aircraft id), ``party_id`` and
    ``own_id`` the same apart; ``alert_id`` is the id the events carry (the conflict
    id, or the zone alert's opaque id); ``level`` and ``manoeuvre`` as last sent;
    ``seq`` the order in which they were first sent (clears go out in that order).
    Struct of arrays: a cycle diffs what it found against it in bulk.
    """

    key: StrArray
    topic: StrArray
    own: StrArray
    party_id: IntArray
    own_id: StrArray
    alert_id: StrArray
    level: StrArray
    manoeuvre: StrArray
    seq: IntArray

    @classmethod
    def empty(cls) -> OpenAlerts:
        """No open alert."""
        text = np.zeros(0, dtype=np.str_)
        none = np.zeros(0, dtype=np.int64)
        return cls(text, text, text, none, text, text, text, text, none)

    def __len__(self) -> int:
        """Number of open alerts."""
        return int(self.key.size)

    @property
    def is_zone(self) -> npt.NDArray[np.bool_]:
        """Which rows are zone alerts."""
        return np.strings.startswith(self.topic, ZONE_TOPIC)

    def find(self, keys: StrArray) -> tuple[npt.NDArray[np.bool_], IntArray]:
        """Whether each key is open, and its row (meaningful only where found)."""
        if len(self) == 0:
            return np.zeros(keys.size, dtype=bool), np.zeros(keys.size, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.key, keys), len(self) - 1)
        return self.key[pos] == keys, pos

    def upsert(self, rows: OpenAlerts) -> OpenAlerts:
        """These alerts as sent now.

        Open ones take the new level and manoeuvre (every other field is kept), new
        ones are added with their ``seq``.
        """
        found, pos = self.find(rows.key)
        at = pos[found]
        level = _put(self.level, at, rows.level[found])
        manoeuvre = _put(self.manoeuvre, at, rows.manoeuvre[found])
        merged = dataclasses.replace(self, level=level, manoeuvre=manoeuvre)
        if found.all():
            return merged
        added = rows.take(np.flatnonzero(~found))
        both = {
            f.name: np.concatenate([getattr(merged, f.name), getattr(added, f.name)])
            for f in dataclasses.fields(self)
        }
        order = np.argsort(both["key"], kind="stable")
        return OpenAlerts(**{name: values[order] for name, values in both.items()})

    def take(self, index: IntArray | npt.NDArray[np.bool_]) -> OpenAlerts:
        """The rows at ``index`` (or where a mask is true)."""
        return OpenAlerts(
            **{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)}
        )


def _optional(values: FloatArray) -> list[float | None]:
    """Floats as a list, None where NaN."""
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()  # type: ignore[no-any-return]


def alert_records(n: int, **columns: Any) -> list[AlertRecord]:
    """``n`` :class:`AlertRecord` s built in bulk from columns (arrays) or constants.

    Columns left out are None (``id`` 0); float arrays give None where NaN. Only the
    events themselves are Python objects: what a cycle finds unchanged never is one.
    """
    fields: list[Iterable[Any]] = []
    for name in _ALERT_FIELDS:
        value = columns.get(name, 0 if name == "id" else None)
        if value is None or np.ndim(value) == 0:
            fields.append([value] * n)
        elif np.asarray(value).dtype.kind == "f":
            fields.append(_optional(value))
        else:
            fields.append(np.asarray(value).tolist())
    return list(itertools.starmap(AlertRecord, zip(*fields, strict=True)))


class DetectionEngine:
    """Runs detection on the live picture and publishes what changed, per party."""

    def __init__(
        self,
        repo: Repository,
        agreement: Agreement,
        *,
        stale_after_s: float,
        detect_interval_s: float,
        idle_interval_s: float,
        id_secret: str,
        publish: Callable[[list[AlertRecord]], None],
        zones: Zones | None = None,
        clock: Callable[[], float] = time.time,
        data_clock: bool = False,
        on_picture: Callable[[Picture], None] | None = None,
    ) -> None:
        self.repo = repo
        self.agreement = agreement
        self.stale_after_s = stale_after_s
        self.detect_interval_s = detect_interval_s
        self.idle_interval_s = idle_interval_s
        self.id_secret = id_secret
        self.publish = publish
        #: Handed each cycle's fresh aircraft, after its alerts were published (the map).
        self.on_picture = on_picture
        self.cycles = 0
        self.zones = zones
        self.clock = clock  # broker wall time, s (a fake in tests)
        #: Lockstep exercises: the clock is the newest track time ingested (s).
        self.data_now_s = -np.inf
        if data_clock:
            self.clock = lambda: float(self.data_now_s)
        self.picture = LivePicture()
        self.tracker = AlertTracker.empty()
        #: Alerts sent and not yet cleared (conflict halves and zone alerts).
        self.open = OpenAlerts.empty()
        self._seq = 0  # next OpenAlerts.seq
        self._names: dict[int, str] = {}  # party names by id, for the advisory tie-break
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Wall time when the newest unprocessed batch arrived (for latency).
        self.pending_since: float | None = None

    def restore(self) -> None:
        """Rebuild the live picture and the open alerts from storage (after a restart).

        Each aircraft's latest stored report is placed at the broker time it was
        received (``received_at``), as before the restart: one already older than
        ``stale_after_s`` is stale, and the alerts it was in clear (``stale``) on the
        first cycle; the others age out normally unless the party reports again.
        Conflicts and zone alerts that were open keep their ids and levels, so a
        restart neither repeats a ``new`` alert nor leaves an old one that is never
        cleared.
        """
        now = self.clock()
        self.picture.update(self.repo.latest_tracks(-np.inf), now, self.stale_after_s)
        last: dict[tuple[str, int, str], AlertRecord] = {}
        after = 0
        while page := self.repo.alerts(None, after_id=after, limit=10_000):
            for r in page:  # once, at start
                last[(r.conflict_id, r.party_id, r.own_id)] = r
            after = page[-1].id
        still = [r for r in last.values() if r.event != "cleared"]
        halves: dict[str, list[AlertRecord]] = {}
        for r in still:
            if r.zone is None:
                halves.setdefault(r.conflict_id, []).append(r)
        if still:
            party_id = np.array([r.party_id for r in still], dtype=np.int64)
            own_id = np.array([r.own_id for r in still], dtype=np.str_)
            own = _keys(party_id, own_id)
            topic = np.array(
                [r.conflict_id if r.zone is None else ZONE_TOPIC + r.zone for r in still],
                dtype=np.str_,
            )
            rows = OpenAlerts(
                key=_open_key(topic, own),
                topic=topic,
                own=own,
                party_id=party_id,
                own_id=own_id,
                alert_id=np.array([r.conflict_id for r in still], dtype=np.str_),
                level=np.array([r.level for r in still], dtype=np.str_),
                manoeuvre=np.array([r.manoeuvre for r in still], dtype=np.str_),
                seq=np.arange(len(still), dtype=np.int64),
            )
            self.open = OpenAlerts.empty().upsert(rows)
            self._seq = len(still)
        pairs = [(cid, rs) for cid, rs in halves.items() if len(rs) == 2]
        if pairs:
            ids_a = np.array([f"{rs[0].party_id}{KEY_SEP}{rs[0].own_id}" for _, rs in pairs])
            ids_b = np.array([f"{rs[1].party_id}{KEY_SEP}{rs[1].own_id}" for _, rs in pairs])
            keys = pair_keys(ids_a, ids_b)
            order = np.argsort(keys, kind="stable")
            # The sense held: the advised manoeuvre of the aircraft whose key sorts first.
            man = manoeuvre_codes([[r.manoeuvre for r in rs] for _, rs in pairs]).reshape(-1, 2)
            first = ids_a <= ids_b
            sense = sense_from_halves(
                np.where(first, man[:, 0], man[:, 1]), np.where(first, man[:, 1], man[:, 0])
            )
            self.tracker = AlertTracker(
                key=keys[order],
                conflict_id=np.array([cid for cid, _ in pairs], dtype=np.str_)[order],
                level=np.array(
                    [max(LEVELS.index(r.level) for r in rs) for _, rs in pairs], dtype=np.int64
                )[order],
                first_seen=np.array([min(r.time for r in rs) for _, rs in pairs])[order],
                last_seen=np.full(len(pairs), now),
                sense=sense[order],
            )

    def ingest(self, batch: TrackBatch) -> None:
        """Add committed states to the picture and wake the loop."""
        with self._lock:
            if len(batch):
                self.data_now_s = max(self.data_now_s, float(batch.time.max()))
            self.picture.update(batch, self.clock(), self.stale_after_s)
            if self.pending_since is None:
                self.pending_since = time.time()
        self._wake.set()

    def start(self) -> None:
        """Run the detection loop in a background thread."""
        self._thread = threading.Thread(target=self._run, name="detection", daemon=True)
        self._wake.set()  # the first cycle at once: what a restart found stale clears now
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.idle_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            started = time.monotonic()
            try:
                self.cycle()
            except Exception:  # keep the broker alive; the failure is logged with its trace
                log.exception("detection cycle failed")
            rest = self.detect_interval_s - (time.monotonic() - started)
            if rest > 0:
                self._stop.wait(rest)

    def cycle(self) -> list[AlertRecord]:
        """One detection pass; returns (and stores, and publishes) the new alert events.

        Alerts of aircraft that went stale clear first (reason ``stale``), even when
        no aircraft is left to run detection on.
        """
        at_s = time.time()
        with self._lock:
            now = self.clock()
            snap = self.picture.snapshot(self.stale_after_s, now)
            live = self.picture.key  # replaced, never changed in place, by update/snapshot
            self.pending_since = None
        self.cycles += 1
        picture = empty_picture(self.cycles, now, at_s)
        records = self._stale_records(live, now)
        if snap is not None:
            state, party_id, aircraft = snap
            # The tie-break sees what every side sees: party names and reported aircraft ids.
            state = replace(state, party=self._party_names(party_id))
            picture = Picture(
                self.cycles,
                now,
                at_s,
                party_id,
                state.party,
                aircraft,
                state.lat,
                state.lon,
                state.alt_ft,
                state.gs_kt,
                state.track_deg,
                state.vs_fpm,
            )
            advice = advise_state(
                state,
                self.agreement,
                tracker=self.tracker,
                salt=self.id_secret,
                reported_id=aircraft,
            )
            self.tracker = advice.tracker
            records += self._records(state, party_id, aircraft, advice)
            if self.zones is not None and len(self.zones):
                records += self._zone_records(state, party_id, aircraft)
        stored = self.repo.add_alerts(records) if records else []
        if stored:
            self.publish(stored)
        if self.on_picture is not None:
            self.on_picture(picture)
        return stored

    def _stale_records(self, live: StrArray, now: float) -> list[AlertRecord]:
        """Clear (reason ``stale``) every open alert with an aircraft not in the picture.

        ``live``: the picture's sorted keys after stale aircraft were dropped. Both
        halves of a conflict clear when either aircraft is gone, and the pair leaves
        the alert tracker at once (it would otherwise clear only after clear_after_s).
        """
        if not len(self.open):
            return []
        own = self.open.own
        pos = np.minimum(np.searchsorted(live, own), max(live.size - 1, 0))
        present = live[pos] == own if live.size else np.zeros(own.size, dtype=bool)
        if present.all():
            return []
        zone = self.open.is_zone
        conflicts = np.unique(self.open.topic[~present & ~zone])
        out = self._clear(~present | (~zone & np.isin(self.open.topic, conflicts)), STALE, now, now)
        if conflicts.size and len(self.tracker):
            self.tracker = _keep_pairs(self.tracker, ~np.isin(self.tracker.conflict_id, conflicts))
        return out

    def _clear(
        self, which: npt.NDArray[np.bool_], reason: str, t: float, now: float
    ) -> list[AlertRecord]:
        """The ``cleared`` events of the open alerts ``which`` (forgotten), in sent order."""
        rows = np.flatnonzero(which)
        if rows.size == 0:
            return []
        rows = rows[np.argsort(self.open.seq[rows], kind="stable")]
        gone = self.open.take(rows)
        self.open = self.open.take(~which)
        zone = gone.is_zone
        names = np.strings.slice(gone.topic, len(ZONE_TOPIC), None)
        return alert_records(
            rows.size,
            conflict_id=gone.alert_id,
            party_id=gone.party_id,
            own_id=gone.own_id,
            event="cleared",
            level="none",
            manoeuvre="none",
            time=t,
            created_at=now,
            zone=np.where(zone, names.astype(object), None),
            reason=reason,
        )

    def _sent_now(self, rows: OpenAlerts) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Which of these alerts changed since sent (new, or level or manoeuvre), which were open.

        The changed ones are recorded as sent, in order (new ones take the next ``seq``).
        Returns (changed, was_open), aligned with ``rows``.
        """
        found, pos = self.open.find(rows.key)
        if len(self.open):
            same = (self.open.level[pos] == rows.level) & (
                self.open.manoeuvre[pos] == rows.manoeuvre
            )
            changed = ~(found & same)
        else:
            changed = np.ones(rows.key.size, dtype=bool)
        sel = np.flatnonzero(changed)
        fresh = sel[~found[sel]]
        seq = rows.seq.copy()
        seq[fresh] = self._seq + np.arange(fresh.size)
        self._seq += int(fresh.size)
        self.open = self.open.upsert(dataclasses.replace(rows, seq=seq).take(sel))
        return changed, found

    def _party_names(self, party_id: IntArray) -> StrArray:
        """Each party id's name (parties are never renamed; new ones are looked up once)."""
        ids, inverse = np.unique(party_id, return_inverse=True)
        if not set(ids.tolist()) <= self._names.keys():
            self._names = {p.id: p.name for p in self.repo.list_parties()}
        names = [self._names.get(int(p), str(p)) for p in ids]  # over parties (few)
        return np.asarray(names, dtype=np.str_)[inverse]

    def _records(
        self, state: TrafficState, party_id: IntArray, aircraft: StrArray, advice: Advice
    ) -> list[AlertRecord]:
        """Alert events for what changed since the last cycle, one per (conflict, own aircraft)."""
        now = self.clock()
        t = float(state.time[0]) if len(state) else 0.0
        out: list[AlertRecord] = []
        seen = np.zeros(0, dtype=np.str_)
        pairs = advice.pairs
        if len(pairs):
            # Each aircraft's merged advisory, looked up by state index (ids are sorted keys).
            adv = advice.advisories
            at = np.searchsorted(state.id, adv["id"].to_numpy(dtype=np.str_))
            manoeuvre = np.full(len(state), "", dtype=object)
            target_vs = np.full(len(state), np.nan)
            target_trk = np.full(len(state), np.nan)
            manoeuvre[at] = adv["manoeuvre"].to_numpy()
            target_vs[at] = adv["target_vs_fpm"].to_numpy(dtype=np.float64)
            target_trk[at] = adv["target_track_deg"].to_numpy(dtype=np.float64)
            target_vs, target_trk = disclosed_targets(
                manoeuvre, state.vs_fpm, target_vs, state.track_deg, target_trk
            )

            a = pairs["a"].to_numpy(dtype=np.int64)
            b = pairs["b"].to_numpy(dtype=np.int64)
            own = np.concatenate([a, b])  # each conflict's two halves: a's, then b's
            other = np.concatenate([b, a])
            cids = np.concatenate([pairs["conflict_id"].to_numpy(dtype=np.str_)] * 2)
            rows = OpenAlerts(
                key=_open_key(cids, state.id[own]),
                topic=cids,
                own=state.id[own],
                party_id=party_id[own],
                own_id=aircraft[own],
                alert_id=cids,
                level=np.concatenate([pairs["level"].to_numpy(dtype=np.str_)] * 2),
                manoeuvre=manoeuvre[own].astype(np.str_),
                seq=np.zeros(own.size, dtype=np.int64),
            )
            seen = rows.key
            changed, was_open = self._sent_now(rows)
            k = np.flatnonzero(changed)
            if k.size:
                i, j = own[k], other[k]
                rel = relative_geometry(Kinematics.from_state(state), state.lat, state.lon, i, j)
                reversed_ = np.concatenate([pairs["reversed"].to_numpy(dtype=bool)] * 2)[k]
                t_in = np.concatenate([pairs["t_in_s"].to_numpy(dtype=np.float64)] * 2)[k]
                # Nothing finer than a cockpit traffic display shows is stored or sent.
                out = alert_records(
                    k.size,
                    conflict_id=cids[k],
                    party_id=party_id[i],
                    own_id=aircraft[i],
                    event=np.where(was_open[k], "updated", "new"),
                    level=rows.level[k],
                    manoeuvre=rows.manoeuvre[k],
                    target_vs_fpm=target_vs[i],
                    target_track_deg=target_trk[i],
                    t_in_s=disclosed(t_in, "t_in_s"),
                    time=t,
                    created_at=now,
                    intruder_range_nm=disclosed(rel.range_nm, "range_nm"),
                    intruder_bearing_deg=disclosed(rel.bearing_deg, "bearing_deg"),
                    intruder_rel_alt_ft=disclosed(rel.rel_alt_ft, "rel_alt_ft"),
                    intruder_closure_kt=disclosed(rel.closure_kt, "closure_kt"),
                    reason=np.where(was_open[k] & reversed_, REVERSAL, None),
                )
        events = advice.events
        cleared = events.loc[events["event"] == "cleared", "conflict_id"].to_numpy(dtype=np.str_)
        if cleared.size and len(self.open):
            gone = (
                ~self.open.is_zone
                & np.isin(self.open.topic, cleared)
                & ~np.isin(self.open.key, seen)
            )
            out += self._clear(gone, RESOLVED, t, now)
        return out

    def _zone_records(
        self, state: TrafficState, party_id: IntArray, aircraft: StrArray
    ) -> list[AlertRecord]:
        """Zone events: an aircraft inside (warning) or predicted to enter (caution) a zone."""
        assert self.zones is not None
        entries = zone_entries(state, self.zones, self.agreement.lookahead_s)
        now = self.clock()
        t = float(state.time[0]) if len(state) else 0.0
        names = self.zones.name[entries.zone].astype(np.str_)
        own = state.id[entries.aircraft]
        topic = np.strings.add(ZONE_TOPIC, names)
        violation = entries.violation.astype(bool)
        rows = OpenAlerts(
            key=_open_key(topic, own),
            topic=topic,
            own=own,
            party_id=party_id[entries.aircraft],
            own_id=aircraft[entries.aircraft],
            alert_id=np.zeros(own.size, dtype=np.str_),
            level=np.where(violation, "warning", "caution"),
            manoeuvre=np.where(violation, "zone_violation", "avoid_zone"),
            seq=np.zeros(own.size, dtype=np.int64),
        )
        # A zone alert keeps its opaque id while open; a new one gets a keyed hash.
        found, pos = self.open.find(rows.key)
        ids = np.zeros(own.size, dtype="<U17")
        if (~found).any():
            keys = np.strings.add(np.strings.add(names[~found], KEY_SEP), own[~found])
            ids[~found] = hex_ids(hash_strings(keys, key=self.id_secret), "Z")
        if found.any():
            ids[found] = self.open.alert_id[pos[found]]
        rows = dataclasses.replace(rows, alert_id=ids)
        changed, was_open = self._sent_now(rows)
        k = np.flatnonzero(changed)
        out = alert_records(
            k.size,
            conflict_id=ids[k],
            party_id=rows.party_id[k],
            own_id=rows.own_id[k],
            event=np.where(was_open[k], "updated", "new"),
            level=rows.level[k],
            manoeuvre=rows.manoeuvre[k],
            t_in_s=disclosed(entries.t_entry_s[k], "t_in_s"),
            time=t,
            created_at=now,
            zone=names[k],
        )
        if len(self.open):
            out += self._clear(
                self.open.is_zone & ~np.isin(self.open.key, rows.key), LEFT_ZONE, t, now
            )
        return out
