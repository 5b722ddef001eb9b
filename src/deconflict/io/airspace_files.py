"""Airspace files: protected zones and operation volumes in, overlaps out (GeoJSON).

The formats are documented where they are parsed: :meth:`Zones.from_geojson
<deconflict.airspace.zones.Zones.from_geojson>`, :meth:`Volumes.from_geojson
<deconflict.airspace.volumes.Volumes.from_geojson>` and
:func:`~deconflict.airspace.volume4d.from_volume4d`. Every error is one line naming
the file and, for a bad item, the feature (index and name) and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from deconflict._util import atomic_write
from deconflict.airspace.overlaps import to_geojson
from deconflict.airspace.volume4d import parse_volumes
from deconflict.airspace.volumes import Volumes
from deconflict.airspace.zones import Zones
from deconflict.errors import InputError
from deconflict.json_text import read_json


def read_zones(path: str | os.PathLike[str]) -> Zones:
    """Read a GeoJSON zones file (see :meth:`~deconflict.airspace.zones.Zones.from_geojson`)."""
    return Zones.from_geojson(read_json(path, "zones"), source=str(path))


def read_volumes(path: str | os.PathLike[str]) -> Volumes:
    """Read a volumes file: a GeoJSON FeatureCollection or ASTM F3548 ``Volume4D`` JSON."""
    return parse_volumes(read_json(path, "volumes"), source=str(path))


def write_overlaps(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write an overlap table as GeoJSON (:func:`~deconflict.airspace.overlaps.to_geojson`).

    Atomically: a temporary file, then a rename.
    """
    p = Path(path)
    text = json.dumps(to_geojson(frame), indent=1, allow_nan=False)
    try:
        atomic_write(p, text + "\n")
    except OSError as err:
        raise InputError(f"{p}: cannot write: {err.strerror or err}") from None
