"""Read a JSON file with one-line errors naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from deconflict.errors import InputError


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parsed JSON from ``path``; :class:`InputError` names the file and what it should hold."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{p}: cannot read {what} file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: not UTF-8 text: {err.reason} at byte {err.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{p}: not valid JSON: {err}") from None
