"""The shared agreement: the public name for :mod:`deconflict.core.agreement` (see there)."""

from deconflict.core.agreement import (
    CANONICAL_FORM_VERSION,
    Agreement,
    AlertThresholds,
    ResolutionRules,
    StrategicRules,
)

__all__ = [
    "CANONICAL_FORM_VERSION",
    "Agreement",
    "AlertThresholds",
    "ResolutionRules",
    "StrategicRules",
]
