"""deconflict: airspace deconfliction between parties that do not trust each other.

Public API (everything else is reachable through its module):

- :class:`Agreement`: the shared rules (minima, look-ahead, alerts), fingerprinted.
- :func:`detect`: tactical conflicts in a DataFrame of aircraft states.
- :func:`advise`: alert levels and coordinated complementary advisories per aircraft.
- :class:`TrafficState`: validated struct-of-arrays states for the numeric core.
- :class:`Zones`: protected airspace compiled for checking (GeoJSON, or the agreement's).
- :class:`Volumes`: one party's planned 4-D operation volumes.
- :class:`DeconflictError`, :class:`InputError`, :class:`AgreementError`.
"""

from deconflict.agreement import Agreement
from deconflict.airspace.volumes import Volumes
from deconflict.airspace.zones import Zones
from deconflict.errors import AgreementError, DeconflictError, InputError
from deconflict.tactical.advise import advise
from deconflict.tactical.state import TrafficState
from deconflict.tactical.tables import detect

__all__ = [
    "Agreement",
    "AgreementError",
    "DeconflictError",
    "InputError",
    "TrafficState",
    "Volumes",
    "Zones",
    "advise",
    "detect",
]

__version__ = "0.1.0"
