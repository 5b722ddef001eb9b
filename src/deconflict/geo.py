"""WGS84 geodesy: the public name for :mod:`deconflict.core.geo` (see there)."""

from deconflict.core.geo import (
    WGS84_A,
    WGS84_E2,
    WGS84_F,
    WGS84_MIN_RADIUS,
    ecef_to_geodetic,
    enu_basis,
    enu_from_geodetic,
    geodetic_from_enu,
    geodetic_to_ecef,
    horizontal_velocity_ecef,
)

__all__ = [
    "WGS84_A",
    "WGS84_E2",
    "WGS84_F",
    "WGS84_MIN_RADIUS",
    "ecef_to_geodetic",
    "enu_basis",
    "enu_from_geodetic",
    "geodetic_from_enu",
    "geodetic_to_ecef",
    "horizontal_velocity_ecef",
]
