"""The exception hierarchy of deconflict, documented in one place.

Every error a user can cause is a :class:`DeconflictError`; its message is one
line that names the field (and row, where there is one), the bad value and what
was expected. The CLI prints that line and exits non-zero; it never shows a
traceback for these.
"""

from __future__ import annotations


class DeconflictError(Exception):
    """Base class of every error deconflict raises on purpose."""


class InputError(DeconflictError, ValueError):
    """Input data (states, files, columns) is missing, malformed or impossible."""


class AgreementError(DeconflictError, ValueError):
    """An agreement field is missing or out of range."""
