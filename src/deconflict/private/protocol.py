"""The two-round exchange between an initiator (A) and a responder (B), and its results.

Five messages, each a :class:`deconflict.private.psi.Message` serialised to bytes::

    1  A → B  offer          A's coarse elements, blinded by a
    2  B → A  answer         A's coarse elements re-blinded by b; B's, blinded by b
    3  A → B  refine         B's coarse elements re-blinded by a   (A knows the common
                             coarse cells); A's fine elements inside them, blinded by a
    4  B → A  refine-answer  A's fine elements re-blinded by b     (B knows the common
                             coarse cells); B's fine elements inside them, blinded by b
    5  A → B  finish         B's fine elements re-blinded by a     (A knows its matches)

after which B knows its matches too. A :class:`Party` holds one side: its cells,
secret scalar and where it is in the exchange; it consumes and produces only bytes,
and :meth:`Party.to_state` / :meth:`Party.from_state` let a command-line step stop
and resume between messages.

What a party learns (:class:`Learned`): which of its own coarse cells the other
plan also holds, which of its own fine records (hexagons, bands, slots inside those
coarse cells) the other plan also holds, and the size classes of the other's lists.
:meth:`Party.overlaps` turns that into its own volumes' overlaps;
:func:`join` combines both parties' results into exact pairs (the local two-sided
run, :func:`local_check`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from deconflict._util import iso_utc
from deconflict.airspace.overlaps import OVERLAP_COLUMNS
from deconflict.errors import InputError
from deconflict.private import psi
from deconflict.private.cells import (
    BAND,
    HEX,
    SLOT,
    Grid,
    PlanCells,
    coarse_by_volume,
    coarse_records,
    discretise,
    fine_by_volume,
    fine_records,
    isin_rows,
)
from deconflict.private.psi import Kind

IntArray = npt.NDArray[np.int64]
Role = Literal["a", "b"]
Step = Literal["new", "offered", "answered", "refined", "done"]

STATE_FORMAT = "deconflict-private-state"
STATE_VERSION = 1

#: Columns of :func:`join` / :func:`local_check`.
PAIR_COLUMNS = list(OVERLAP_COLUMNS)
#: Columns of :meth:`Party.overlaps` (one side: its own ids only).
OWN_COLUMNS = ["id", "alt_lower_ft", "alt_upper_ft", "time_start", "time_end", "mode", "geometry"]

#: Message file names written by :func:`local_check`, in order.
MESSAGE_FILES = (
    "01-a-offer.bin",
    "02-b-answer.bin",
    "03-a-refine.bin",
    "04-b-refine-answer.bin",
    "05-a-finish.bin",
)


@dataclass(frozen=True)
class Learned:
    """Everything one party learned from the exchange.

    Attributes
    ----------
    role:
        ``"a"`` (initiator) or ``"b"`` (responder).
    common:
        Coarse records (``(n, 4)``) both plans hold; both parties learn the same set.
    matched:
        This party's own fine records (``(m, 4)``) that the other plan also holds.
    their_sizes:
        Size classes of the other party's coarse and fine lists (padded lengths).

    """

    role: Role
    common: IntArray
    matched: IntArray
    their_sizes: tuple[int, int]


def _buffered_cells(volumes: Any, agreement: Any, time_buffer_s: float, grid: Grid) -> PlanCells:
    """Buffer by half the minima (plus the grid's margin) and discretise."""
    from deconflict.airspace.volumes import buffered
    from deconflict.units import NM

    if not (np.isfinite(time_buffer_s) and time_buffer_s >= 0):
        raise InputError(f"time_buffer_s must be a number ≥ 0, got {time_buffer_s!r}")
    grown = buffered(
        volumes,
        horizontal_m=agreement.horizontal_nm * NM / 2 + grid.margin_m,
        vertical_ft=agreement.vertical_ft / 2,
        time_s=time_buffer_s / 2,
    )
    return discretise(grown, grid)


def _workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else min(8, os.cpu_count() or 1))


class Party:
    """One side of the exchange. Build with :meth:`initiator` or :meth:`responder`.

    Call order — A: :meth:`offer`, :meth:`refine`, :meth:`finish`; B: :meth:`answer`,
    :meth:`refine`, :meth:`finish`. Each call takes the other side's last message
    (bytes) and returns the next one (A's :meth:`finish` returns the last message;
    B's returns ``None``). A message from another agreement, grid or exchange, or
    out of order, raises :class:`InputError` naming what is wrong.
    """

    def __init__(
        self,
        role: Role,
        cells: PlanCells,
        fingerprint: str,
        grid: Grid,
        *,
        scalar: bytes | None = None,
        session: bytes | None = None,
        time_buffer_s: float = 0.0,
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> None:
        self.group = group
        self.time_buffer_s = float(time_buffer_s)
        self.role: Role = role
        self.cells = cells
        self.fingerprint = fingerprint
        self.grid = grid
        self.scalar = scalar if scalar is not None else group.new_scalar()
        self.session = session
        self.workers = _workers(workers)
        self.step: Step = "new"
        self.sent_index = np.zeros(0, dtype=np.int64)
        self.reblinded = b""
        self.common = np.zeros((0, 4), dtype=np.int64)
        self.matched = np.zeros((0, 4), dtype=np.int64)
        self.their_sizes: tuple[int, int] = (0, 0)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def initiator(
        cls,
        volumes: Any,
        agreement: Any,
        time_buffer_s: float = 0.0,
        grid: Grid | None = None,
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> Party:
        """Party A for ``volumes`` (a :class:`~deconflict.airspace.volumes.Volumes`)."""
        return cls._for("a", volumes, agreement, time_buffer_s, grid, workers, group)

    @classmethod
    def responder(
        cls,
        volumes: Any,
        agreement: Any,
        time_buffer_s: float = 0.0,
        grid: Grid | None = None,
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> Party:
        """Party B for ``volumes``; its session comes with A's offer."""
        return cls._for("b", volumes, agreement, time_buffer_s, grid, workers, group)

    @classmethod
    def _for(
        cls,
        role: Role,
        volumes: Any,
        agreement: Any,
        time_buffer_s: float,
        grid: Grid | None,
        workers: int | None,
        group: psi.Group,
    ) -> Party:
        grid = grid or Grid.from_agreement(agreement)
        cells = _buffered_cells(volumes, agreement, time_buffer_s, grid)
        return cls(
            role,
            cells,
            agreement.fingerprint,
            grid,
            session=os.urandom(16) if role == "a" else None,
            time_buffer_s=time_buffer_s,
            workers=workers,
            group=group,
        )

    # -- helpers --------------------------------------------------------------------------
    @property
    def prefix(self) -> bytes:
        """Hash prefix of this exchange (agreement, session, grid)."""
        if self.session is None:
            raise InputError("no session yet: the responder learns it from the offer")
        return psi.domain(self.fingerprint, self.session, self.grid, self.time_buffer_s)

    def _expect(self, role: Role, step: Step, action: str) -> None:
        if self.role != role:
            who = "initiator (A)" if self.role == "a" else "responder (B)"
            raise InputError(f"{action}: this is the {who}'s state; {action} is the other side's")
        if self.step != step:
            raise InputError(
                f"{action}: this party is at step '{self.step}', {action} needs '{step}'"
            )

    def _read(self, data: bytes, kind: Kind, source: str) -> psi.Message:
        msg = psi.decode(data, source, self.group)
        if msg.fingerprint != self.fingerprint:
            raise InputError(
                f"{source}: made under agreement {msg.fingerprint[:12]}…, this side uses "
                f"{self.fingerprint[:12]}…; both sides must use the same agreement"
            )
        if msg.grid != self.grid:
            raise InputError(
                f"{source}: made with grid {msg.grid.describe()}, this side uses "
                f"{self.grid.describe()}"
            )
        if msg.time_buffer_s != self.time_buffer_s:
            raise InputError(
                f"{source}: made with a time buffer of {msg.time_buffer_s:g} s, this side uses "
                f"{self.time_buffer_s:g} s; both sides must use the same"
            )
        if msg.kind != kind:
            raise InputError(
                f"{source}: a '{msg.kind.label}' message, expected '{kind.label}' here"
            )
        if self.session is None:  # the responder joins the initiator's exchange
            self.session = msg.session
        elif msg.session != self.session:
            raise InputError(
                f"{source}: belongs to another exchange (session {msg.session.hex()[:8]}…, "
                f"this one is {self.session.hex()[:8]}…)"
            )
        return msg

    def _check_reply(self, reply: bytes, source: str) -> None:
        n = len(reply) // psi.POINT_BYTES
        if n != len(self.sent_index):
            raise InputError(
                f"{source}: the reply holds {n} elements, this side sent {len(self.sent_index)}"
            )

    def _send(self, records: IntArray) -> bytes:
        g = self.group
        points = g.blind(g.hash_to_group(self.prefix, records), self.scalar, self.workers)
        sent, self.sent_index = psi.pad_and_shuffle(points, g)
        return sent

    def _matches(self, reply: bytes, theirs: set[bytes]) -> IntArray:
        """Indexes (into the records last sent) whose reply is in ``theirs``."""
        found = [
            int(i)
            for i, p in zip(self.sent_index, psi.split(reply), strict=True)
            if i >= 0 and p in theirs
        ]
        return np.asarray(sorted(found), dtype=np.int64)

    def _message(self, kind: Kind, *sections: bytes) -> bytes:
        assert self.session is not None
        return psi.Message(
            kind, self.fingerprint, self.session, self.grid, self.time_buffer_s, sections
        ).to_bytes()

    # -- the five steps ---------------------------------------------------------------------
    def offer(self) -> bytes:
        """A, step 1: the offer (A's coarse elements)."""
        self._expect("a", "new", "offer")
        sent = self._send(coarse_records(self.cells, self.grid))
        self.step = "offered"
        return self._message(Kind.OFFER, sent)

    def answer(self, data: bytes, source: str = "offer") -> bytes:
        """B, step 2: re-blind A's coarse elements and send B's own."""
        self._expect("b", "new", "answer")
        msg = self._read(data, Kind.OFFER, source)
        (theirs,) = msg.sections
        self.reblinded = self.group.blind(theirs, self.scalar, self.workers)
        sent = self._send(coarse_records(self.cells, self.grid))
        self.their_sizes = (len(theirs) // psi.POINT_BYTES, 0)
        self.step = "answered"
        return self._message(Kind.ANSWER, self.reblinded, sent)

    def refine(self, data: bytes, source: str = "message") -> bytes:
        """A, step 3 (after the answer) or B, step 4 (after A's refine): the fine round."""
        if self.role == "a":
            self._expect("a", "offered", "refine")
            msg = self._read(data, Kind.ANSWER, source)
            reply, theirs = msg.sections
            self._check_reply(reply, source)
            mine_again = self.group.blind(theirs, self.scalar, self.workers)
            own = coarse_records(self.cells, self.grid)
            self.common = own[self._matches(reply, set(psi.split(mine_again)))]
            self.their_sizes = (len(theirs) // psi.POINT_BYTES, 0)
            sent = self._send(fine_records(self.cells, self.grid, self.common))
            self.step = "refined"
            return self._message(Kind.REFINE, mine_again, sent)
        self._expect("b", "answered", "refine")
        msg = self._read(data, Kind.REFINE, source)
        reply, theirs = msg.sections
        self._check_reply(reply, source)
        reblinded = self.group.blind(theirs, self.scalar, self.workers)
        own = coarse_records(self.cells, self.grid)
        self.common = own[self._matches(reply, set(psi.split(self.reblinded)))]
        self.reblinded = reblinded
        sent = self._send(fine_records(self.cells, self.grid, self.common))
        self.their_sizes = (self.their_sizes[0], len(theirs) // psi.POINT_BYTES)
        self.step = "refined"
        return self._message(Kind.REFINE_ANSWER, self.reblinded, sent)

    def finish(self, data: bytes, source: str = "message") -> bytes | None:
        """A, step 5 (returns the finish message) or B, last (returns ``None``)."""
        if self.role == "a":
            self._expect("a", "refined", "finish")
            msg = self._read(data, Kind.REFINE_ANSWER, source)
            reply, theirs = msg.sections
            self._check_reply(reply, source)
            mine_again = self.group.blind(theirs, self.scalar, self.workers)
            own = fine_records(self.cells, self.grid, self.common)
            self.matched = own[self._matches(reply, set(psi.split(mine_again)))]
            self.their_sizes = (self.their_sizes[0], len(theirs) // psi.POINT_BYTES)
            self.step = "done"
            self.reblinded = b""
            return self._message(Kind.FINISH, mine_again)
        self._expect("b", "refined", "finish")
        msg = self._read(data, Kind.FINISH, source)
        (reply,) = msg.sections
        self._check_reply(reply, source)
        own = fine_records(self.cells, self.grid, self.common)
        self.matched = own[self._matches(reply, set(psi.split(self.reblinded)))]
        self.reblinded = b""
        self.step = "done"
        return None

    # -- results ------------------------------------------------------------------------
    @property
    def learned(self) -> Learned:
        """What this party learned; only once the exchange is done."""
        if self.step != "done":
            raise InputError(f"the exchange is not finished (this party is at '{self.step}')")
        return Learned(self.role, self.common, self.matched, self.their_sizes)

    def owned_matches(self) -> dict[int, pd.DataFrame]:
        """Matched fine records with the own volume(s) each belongs to, by kind.

        ``{HEX: (volume, parent, hexagon), BAND: (volume, parent, coarse, band),
        SLOT: (volume, parent, coarse, slot)}`` as DataFrames.
        """
        learned = self.learned
        vol, rec = fine_by_volume(self.cells, self.grid, learned.common)
        hit = isin_rows(rec, learned.matched)
        vol, rec = vol[hit], rec[hit]
        frame = pd.DataFrame(
            {"volume": vol, "kind": rec[:, 0], "parent": rec[:, 1], "x": rec[:, 2], "y": rec[:, 3]}
        )
        return {
            HEX: frame[frame.kind == HEX][["volume", "parent", "x"]]
            .rename(columns={"x": "hexagon"})
            .reset_index(drop=True),
            BAND: frame[frame.kind == BAND][["volume", "parent", "x", "y"]]
            .rename(columns={"x": "coarse", "y": "band"})
            .reset_index(drop=True),
            SLOT: frame[frame.kind == SLOT][["volume", "parent", "x", "y"]]
            .rename(columns={"x": "coarse", "y": "slot"})
            .reset_index(drop=True),
        }

    def overlaps(self) -> pd.DataFrame:
        """Own volumes that overlap the other plan, as far as this side can tell.

        Columns :data:`OWN_COLUMNS`. Inside each common coarse cell a volume is
        reported when the other plan holds one of its hexagons, one of its bands and
        one of its slots there; when the other plan has several volumes in that
        coarse cell this may include a combination none of them holds, so one side
        alone can over-report (never under-report). :func:`join` is exact.
        """
        own = self.owned_matches()
        vol, coarse = coarse_by_volume(self.cells, self.grid)
        keep = isin_rows(coarse, self.learned.common)
        cells = pd.DataFrame(
            {
                "volume": vol[keep],
                "parent": coarse[keep, 1],
                "cband": coarse[keep, 2],
                "cslot": coarse[keep, 3],
            }
        )
        hx = own[HEX][["volume", "parent"]].drop_duplicates()
        bd = own[BAND][["volume", "parent", "coarse"]].drop_duplicates()
        st = own[SLOT][["volume", "parent", "coarse"]].drop_duplicates()
        valid = cells.merge(hx, on=["volume", "parent"]).merge(
            bd.rename(columns={"coarse": "cband"}), on=["volume", "parent", "cband"]
        )
        valid = valid.merge(
            st.rename(columns={"coarse": "cslot"}), on=["volume", "parent", "cslot"]
        )
        hexes = own[HEX].merge(valid[["volume", "parent"]].drop_duplicates())
        bands = own[BAND].merge(
            valid[["volume", "parent", "cband"]]
            .drop_duplicates()
            .rename(columns={"cband": "coarse"})
        )
        slots = own[SLOT].merge(
            valid[["volume", "parent", "cslot"]]
            .drop_duplicates()
            .rename(columns={"cslot": "coarse"})
        )
        rows = _summarise(hexes, bands, slots, ["volume"], self.grid)
        rows.insert(0, "id", [self.cells.ids[v] for v in rows.pop("volume")])
        return rows[OWN_COLUMNS].sort_values("id", ignore_index=True)

    # -- state -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-able state holding the secret scalar: keep it private (file mode 0600)."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "role": self.role,
            "step": self.step,
            "fingerprint": self.fingerprint,
            "grid": {
                "fine_res": self.grid.fine_res,
                "coarse_res": self.grid.coarse_res,
                "band_ft": self.grid.band_ft,
                "coarse_bands": self.grid.coarse_bands,
                "slot_s": self.grid.slot_s,
                "coarse_slots": self.grid.coarse_slots,
                "margin_m": self.grid.margin_m,
            },
            "session": self.session.hex() if self.session is not None else None,
            "time_buffer_s": self.time_buffer_s,
            "scalar": self.scalar.hex(),
            "cells": self.cells.to_state(),
            "sent_index": self.sent_index.tolist(),
            "reblinded": base64.b64encode(self.reblinded).decode("ascii"),
            "common": self.common.tolist(),
            "matched": self.matched.tolist(),
            "their_sizes": list(self.their_sizes),
        }

    @classmethod
    def from_state(
        cls,
        data: Any,
        source: str = "state",
        workers: int | None = None,
        group: psi.Group = psi.RISTRETTO255,
    ) -> Party:
        """Inverse of :meth:`to_state`; a foreign or damaged state raises :class:`InputError`."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise InputError(f"{source}: not a deconflict private-mode state file")
        if data.get("version") != STATE_VERSION:
            raise InputError(
                f"{source}: state version {data.get('version')!r}, expected {STATE_VERSION}"
            )
        try:
            party = cls(
                data["role"],
                PlanCells.from_state(data["cells"]),
                data["fingerprint"],
                Grid(**data["grid"]),
                scalar=bytes.fromhex(data["scalar"]),
                session=bytes.fromhex(data["session"]) if data["session"] else None,
                time_buffer_s=float(data["time_buffer_s"]),
                workers=workers,
                group=group,
            )
            party.step = data["step"]
            party.sent_index = np.asarray(data["sent_index"], dtype=np.int64)
            party.reblinded = base64.b64decode(data["reblinded"])
            party.common = np.asarray(data["common"], dtype=np.int64).reshape(-1, 4)
            party.matched = np.asarray(data["matched"], dtype=np.int64).reshape(-1, 4)
            sizes = [int(n) for n in data["their_sizes"]]
            party.their_sizes = (sizes[0], sizes[1])
        except InputError as err:
            raise InputError(f"{source}: damaged private-mode state ({err})") from None
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise InputError(f"{source}: damaged private-mode state ({err})") from None
        if party.role not in ("a", "b") or party.step not in (
            "new",
            "offered",
            "answered",
            "refined",
            "done",
        ):
            raise InputError(f"{source}: damaged private-mode state (role or step)")
        if len(party.scalar) != psi.POINT_BYTES:
            raise InputError(f"{source}: damaged private-mode state (scalar)")
        return party


# -- results ----------------------------------------------------------------------------------
def hex_union(hexes: npt.ArrayLike) -> shapely.Polygon | shapely.MultiPolygon:
    """The union of H3 cells (uint64 or int64 bit patterns) as a lon/lat shapely geometry.

    Cut at the antimeridian into a MultiPolygon where it crosses it (as RFC 7946 asks).
    """
    import h3

    cells = [h3.int_to_str(int(h)) for h in np.asarray(hexes).astype(np.uint64)]
    if not cells:
        return shapely.Polygon()
    geom = shapely.geometry.shape(h3.cells_to_geo(cells))
    minx, _, maxx, _ = geom.bounds
    if maxx - minx <= 180.0:
        return geom
    # Near the antimeridian: unwrap longitudes around the first cell, unite, cut at ±180.
    ref = h3.cell_to_latlng(cells[0])[1]
    polys = []
    for c in cells:
        ring = np.asarray(h3.cell_to_boundary(c))[:, ::-1]
        ring[:, 0] = ref + (ring[:, 0] - ref + 180.0) % 360.0 - 180.0
        polys.append(shapely.Polygon(ring))
    united = shapely.union_all(polys)
    parts: list[shapely.Polygon] = []
    for lo, shift in ((-540.0, 360.0), (-180.0, 0.0), (180.0, -360.0)):
        piece = shapely.intersection(united, shapely.box(lo, -90.0, lo + 360.0, 90.0))
        piece = shapely.transform(piece, lambda c, s=shift: c + np.array([s, 0.0]))
        parts.extend(p for p in shapely.get_parts(piece) if isinstance(p, shapely.Polygon))
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _summarise(
    hexes: pd.DataFrame, bands: pd.DataFrame, slots: pd.DataFrame, by: list[str], grid: Grid
) -> pd.DataFrame:
    """One row per group present in all three tables: hexagon union, band and slot extents."""
    cols = [*by, "alt_lower_ft", "alt_upper_ft", "time_start", "time_end", "mode", "geometry"]
    if hexes.empty or bands.empty or slots.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    b = bands.groupby(by)["band"].agg(min_band="min", max_band="max")
    s = slots.groupby(by)["slot"].agg(min_slot="min", max_slot="max")
    h = hexes.groupby(by)["hexagon"].agg(lambda x: np.unique(x.to_numpy()))
    both = b.join(s, how="inner").join(h, how="inner")
    out = pd.DataFrame(index=both.index)
    out["alt_lower_ft"] = both["min_band"].to_numpy() * grid.band_ft
    out["alt_upper_ft"] = (both["max_band"].to_numpy() + 1) * grid.band_ft
    out["time_start"] = [iso_utc(k * grid.slot_s) for k in both["min_slot"]]
    out["time_end"] = [iso_utc((k + 1) * grid.slot_s) for k in both["max_slot"]]
    out["mode"] = "private"
    out["geometry"] = [hex_union(x) for x in both["hexagon"]]
    return out.reset_index()[cols]


def join(a: Party, b: Party) -> pd.DataFrame:
    """Exact pairs from what A and B learned (the local two-sided run).

    Each side knows which of its own fine records matched and which of its
    volumes each belongs to; joining the two on the record gives, per pair of
    volumes, the shared hexagons, bands and slots. A volume is a product of its
    three sets, so a pair shares a fine 4-D cell exactly when it shares one of
    each. Columns :data:`PAIR_COLUMNS`; ``geometry`` is the union of the shared
    hexagons, the band and window the extent of the shared bands and slots.
    """
    if a.grid != b.grid:
        raise InputError("join: the two parties used different grids")
    own_a, own_b = a.owned_matches(), b.owned_matches()
    keys = {HEX: ["parent", "hexagon"], BAND: ["parent", "coarse", "band"]}
    keys[SLOT] = ["parent", "coarse", "slot"]
    joined = {}
    for kind, on in keys.items():
        joined[kind] = (
            own_a[kind]
            .rename(columns={"volume": "a"})
            .merge(own_b[kind].rename(columns={"volume": "b"}), on=on)
        )
    rows = _summarise(joined[HEX], joined[BAND], joined[SLOT], ["a", "b"], a.grid)
    rows.insert(0, "a_id", [a.cells.ids[i] for i in rows.pop("a")])
    rows.insert(1, "b_id", [b.cells.ids[i] for i in rows.pop("b")])
    return rows[PAIR_COLUMNS].sort_values(["a_id", "b_id"], ignore_index=True)


def exchange(a: Party, b: Party, messages_dir: Path | None = None) -> list[bytes]:
    """Run the five messages between two parties; write them to ``messages_dir`` if given."""
    m1 = a.offer()
    m2 = b.answer(m1)
    m3 = a.refine(m2)
    m4 = b.refine(m3)
    m5 = a.finish(m4)
    assert m5 is not None
    b.finish(m5)
    messages = [m1, m2, m3, m4, m5]
    if messages_dir is not None:
        folder = Path(messages_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in zip(MESSAGE_FILES, messages, strict=True):
            (folder / name).write_bytes(data)
    return messages


def local_check(
    a: Any,
    b: Any,
    agreement: Any,
    time_buffer_s: float = 0.0,
    messages_dir: Path | None = None,
    *,
    grid: Grid | None = None,
    workers: int | None = None,
    group: psi.Group = psi.RISTRETTO255,
) -> pd.DataFrame:
    """Private-mode overlaps between two plans, both sides run here as separate parties.

    ``a`` and ``b`` are :class:`~deconflict.airspace.volumes.Volumes`; each is buffered
    by half the agreement's minima (and half ``time_buffer_s``), discretised on
    ``grid`` (default: :meth:`Grid.from_agreement`), and the two
    :class:`Party` objects exchange only serialised messages — written to
    ``messages_dir`` as ``01-a-offer.bin`` … ``05-a-finish.bin`` when given. The
    result joins what each learned: columns ``a_id, b_id, alt_lower_ft,
    alt_upper_ft, time_start, time_end, mode, geometry`` with ``mode`` "private",
    ``geometry`` the union of the common cells (lon/lat) and band and window their
    extent (ISO 8601 UTC).
    """
    grid = grid or Grid.from_agreement(agreement)
    party_a = Party.initiator(a, agreement, time_buffer_s, grid, workers, group)
    party_b = Party.responder(b, agreement, time_buffer_s, grid, workers, group)
    exchange(party_a, party_b, messages_dir)
    return join(party_a, party_b)


__all__ = [
    "MESSAGE_FILES",
    "OWN_COLUMNS",
    "PAIR_COLUMNS",
    "Learned",
    "Party",
    "exchange",
    "hex_union",
    "iso_utc",
    "join",
    "local_check",
]
