"""Units: the one place where aviation units are defined.

The numeric core works in SI (metres, seconds, metres per second) except where a
quantity is compared against a minimum stated in aviation units and an exact
decimal boundary matters (vertical separation is compared in feet, see
:mod:`deconflict.tactical.detect`). Convert once, at the edge, with these helpers.

>>> nm_to_m(1.0)
1852.0
>>> round(kt_to_mps(1.0), 6)
0.514444
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

#: One minute in seconds.
MINUTE = 60.0
#: One hour in seconds.
HOUR = 3600.0
#: One kilometre in metres.
KM = 1000.0
#: One international nautical mile in metres (exact).
NM = 1852.0
#: One international foot in metres (exact).
FT = 0.3048
#: One knot (NM per hour) in metres per second.
KT = NM / HOUR
#: One foot per minute in metres per second.
FPM = FT / MINUTE

ArrayOrFloat = TypeVar("ArrayOrFloat", float, npt.NDArray[np.float64])


def nm_to_m(x: ArrayOrFloat) -> ArrayOrFloat:
    """Nautical miles → metres."""
    return x * NM


def m_to_nm(x: ArrayOrFloat) -> ArrayOrFloat:
    """Metres → nautical miles."""
    return x / NM


def ft_to_m(x: ArrayOrFloat) -> ArrayOrFloat:
    """Feet → metres."""
    return x * FT


def m_to_ft(x: ArrayOrFloat) -> ArrayOrFloat:
    """Metres → feet."""
    return x / FT


def kt_to_mps(x: ArrayOrFloat) -> ArrayOrFloat:
    """Knots → metres per second."""
    return x * KT


def mps_to_kt(x: ArrayOrFloat) -> ArrayOrFloat:
    """Metres per second → knots."""
    return x / KT


def fpm_to_mps(x: ArrayOrFloat) -> ArrayOrFloat:
    """Feet per minute → metres per second."""
    return x * FPM


def mps_to_fpm(x: ArrayOrFloat) -> ArrayOrFloat:
    """Metres per second → feet per minute."""
    return x / FPM


def fpm_to_fps(x: ArrayOrFloat) -> ArrayOrFloat:
    """Feet per minute → feet per second (``x / 60``).

    >>> fpm_to_fps(1500.0)
    25.0
    """
    return x / MINUTE


def fps_to_fpm(x: ArrayOrFloat) -> ArrayOrFloat:
    """Feet per second → feet per minute (``x * 60``); also ft/s² → ft/min per second.

    >>> fps_to_fpm(8.0)
    480.0
    """
    return x * MINUTE
