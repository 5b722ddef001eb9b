"""What the parties learned, as volumes' overlaps: one side's own, or both sides' exact pairs.

Works on finished :class:`~deconflict.private.protocol.Party` objects (their
:attr:`~deconflict.private.protocol.Party.learned`): :func:`own_overlaps` is what one
side can tell alone, :func:`join` the exact pairs from both sides' results (the
local two-sided run), :func:`hex_union` the geometry of a set of H3 cells.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from deconflict._util import iso_utc
from deconflict.airspace.overlaps import OVERLAP_COLUMNS
from deconflict.errors import InputError
from deconflict.private.cells import (
    BAND,
    HEX,
    SLOT,
    Grid,
    coarse_by_volume,
    fine_by_volume,
    isin_rows,
)
from deconflict.private.protocol import Party

#: Columns of :func:`join` / :func:`~deconflict.private.local.local_check`.
PAIR_COLUMNS = list(OVERLAP_COLUMNS)
#: Columns of :func:`own_overlaps` (one side: its own ids only).
OWN_COLUMNS = ["id", "alt_lower_ft", "alt_upper_ft", "time_start", "time_end", "mode", "geometry"]


def owned_matches(party: Party) -> dict[int, pd.DataFrame]:
    """Matched fine records of ``party`` with the own volume(s) each belongs to, by kind.

    ``{HEX: (volume, parent, hexagon), BAND: (volume, parent, coarse, band),
    SLOT: (volume, parent, coarse, slot)}`` as DataFrames.
    """
    learned = party.learned
    vol, rec = fine_by_volume(party.cells, party.grid, learned.common)
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


def own_overlaps(party: Party) -> pd.DataFrame:
    """``party``'s own volumes that overlap the other plan, as far as this side can tell.

    Columns :data:`OWN_COLUMNS`. Inside each common coarse cell a volume is
    reported when the other plan holds one of its hexagons, one of its bands and
    one of its slots there; when the other plan has several volumes in that
    coarse cell this may include a combination none of them holds, so one side
    alone can over-report (never under-report). :func:`join` is exact.
    """
    own = owned_matches(party)
    vol, coarse = coarse_by_volume(party.cells, party.grid)
    keep = isin_rows(coarse, party.learned.common)
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
    valid = valid.merge(st.rename(columns={"coarse": "cslot"}), on=["volume", "parent", "cslot"])
    hexes = own[HEX].merge(valid[["volume", "parent"]].drop_duplicates())
    bands = own[BAND].merge(
        valid[["volume", "parent", "cband"]].drop_duplicates().rename(columns={"cband": "coarse"})
    )
    slots = own[SLOT].merge(
        valid[["volume", "parent", "cslot"]].drop_duplicates().rename(columns={"cslot": "coarse"})
    )
    rows = _summarise(hexes, bands, slots, ["volume"], party.grid)
    rows.insert(0, "id", [party.cells.ids[v] for v in rows.pop("volume")])
    return rows[OWN_COLUMNS].sort_values("id", ignore_index=True)


def own_pairs(party: Party) -> pd.DataFrame:
    """:func:`own_overlaps` in the columns of :func:`join` (:data:`PAIR_COLUMNS`).

    The party's ids go in its own column (``a_id`` for A, ``b_id`` for B); the other
    side's ids, which it does not learn, are empty (None).
    """
    own = own_overlaps(party)
    mine, theirs = ("a_id", "b_id") if party.role == "a" else ("b_id", "a_id")
    frame = own.rename(columns={"id": mine})
    frame.insert(1 if party.role == "a" else 0, theirs, None)
    return frame[PAIR_COLUMNS]


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
    own_a, own_b = owned_matches(a), owned_matches(b)
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
