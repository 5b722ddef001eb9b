"""Strategic deconfliction in the broker: a party's planned volumes against the others'.

A party submits its planned operation volumes; the broker checks them exactly
against every other party's stored volumes and answers each side with only the
overlap — region, altitude band, time window — and an opaque id shared by the two
halves: never the other side's volume, id or identity.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import numpy as np
import shapely

from deconflict._util import KEY_SEP, iso_utc
from deconflict.agreement import Agreement
from deconflict.airspace.overlaps import overlaps
from deconflict.airspace.volume4d import parse_volumes as parse
from deconflict.airspace.volumes import Volume, Volumes
from deconflict.errors import InputError
from deconflict.json_text import parse_json
from deconflict.store.records import OverlapRecord, PartyRecord, PlanVolumeRecord
from deconflict.store.repository import Repository
from deconflict.tactical.hashing import hash_strings, hex_ids

#: Most volumes one submission may hold.
MAX_VOLUMES = 10_000


def _feature(v: Volume) -> str:
    """A stored volume as a GeoJSON Feature (text) that :func:`parse` reads back."""
    return json.dumps(
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(v.geometry),
            "properties": {
                "id": v.id,
                "alt_lower_ft": v.alt_lower_ft,
                "alt_upper_ft": v.alt_upper_ft,
                "time_start": iso_utc(v.time_start_s),
                "time_end": iso_utc(v.time_end_s),
            },
        }
    )


def _stored_volumes(records: list[PlanVolumeRecord]) -> dict[int, Volumes]:
    by_party: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_party[r.party_id].append(json.loads(r.feature))
    return {
        pid: parse({"type": "FeatureCollection", "features": feats}, source=f"stored plan {pid}")
        for pid, feats in by_party.items()
    }


def read_plan(body: bytes) -> Volumes:
    """A submitted plan (GeoJSON or ASTM F3548 Volume4D, JSON text) as volumes.

    :class:`InputError` naming the ``body`` for bad input or more than
    :data:`MAX_VOLUMES` volumes.
    """
    mine = parse(parse_json(body, "body"), source="body")
    if len(mine) > MAX_VOLUMES:
        raise InputError(f"body: {len(mine)} volumes; at most {MAX_VOLUMES} per request")
    return mine


def submit(
    repo: Repository, agreement: Agreement, secret: str, party: PartyRecord, mine: Volumes
) -> list[OverlapRecord]:
    """Check ``mine`` against every other party's plan, store both, return this party's halves."""
    now = time.time()
    halves: list[OverlapRecord] = []
    for other, theirs in _stored_volumes(repo.plan_volumes(exclude_party_id=party.id)).items():
        found = overlaps(mine, theirs, agreement.horizontal_nm, agreement.vertical_ft)
        if not len(found):
            continue
        mine_ids = np.array([mine.items[i].id for i in found.a_index], dtype=np.str_)
        their_ids = np.array([theirs.items[i].id for i in found.b_index], dtype=np.str_)
        keys = np.char.add(
            np.char.add(f"{party.id}{KEY_SEP}", mine_ids),
            np.char.add(f"{KEY_SEP}{other}{KEY_SEP}", their_ids),
        )
        ids = hex_ids(hash_strings(keys, key=secret + agreement.fingerprint), "O")
        for k in range(len(found)):  # over overlaps found (few)
            region = json.dumps(shapely.geometry.mapping(found.geometry[k]))
            common = (
                region,
                float(found.alt_lower_ft[k]),
                float(found.alt_upper_ft[k]),
                float(found.time_start_s[k]),
                float(found.time_end_s[k]),
                now,
            )
            halves.append(OverlapRecord(0, str(ids[k]), party.id, str(mine_ids[k]), *common))
            halves.append(OverlapRecord(0, str(ids[k]), other, str(their_ids[k]), *common))
    repo.add_plan_volumes([PlanVolumeRecord(party.id, v.id, _feature(v), now) for v in mine.items])
    stored = repo.add_overlaps(halves)
    return [h for h in stored if h.party_id == party.id]
