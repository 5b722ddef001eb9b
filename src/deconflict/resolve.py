"""Coordinated advisories: the public name for :mod:`deconflict.core.resolve`."""

from deconflict.core.resolve import (
    MANOEUVRES,
    TIE_FT,
    TIE_HEAD_ON_RAD,
    AircraftAdvice,
    PairAdvice,
    order_free_pair_hash,
    pair_advice,
    per_aircraft,
)

__all__ = [
    "MANOEUVRES",
    "TIE_FT",
    "TIE_HEAD_ON_RAD",
    "AircraftAdvice",
    "PairAdvice",
    "order_free_pair_hash",
    "pair_advice",
    "per_aircraft",
]
