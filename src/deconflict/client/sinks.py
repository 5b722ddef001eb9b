"""Where a party client's alerts go: JSON lines, one alert a line, flushed per line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from deconflict.errors import InputError


class JsonLines:
    """Write each alert as one JSON line to a stream, or append it to a file.

    A file is created 0600 (alerts describe the party's own aircraft and the geometry
    of others near them) and appended to, never truncated; every line is flushed as
    it is written, so a reader (``tail -f``) sees it at once and a crash loses none.
    """

    def __init__(self, target: Path | TextIO) -> None:
        if isinstance(target, Path):
            try:
                fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as err:
                raise InputError(f"{target}: cannot write alerts ({err.strerror})") from None
            self._stream: TextIO = os.fdopen(fd, "a", encoding="utf-8")
            self._own = True
        else:
            self._stream = target
            self._own = False

    def __call__(self, alert: dict[str, Any]) -> None:
        """Write one alert line and flush it."""
        self._stream.write(json.dumps(alert, separators=(",", ":")) + "\n")
        self._stream.flush()

    def close(self) -> None:
        """Close the file (a stream given is left open)."""
        if self._own:
            self._stream.close()
