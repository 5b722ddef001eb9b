"""Private-mode messages as files: each the bytes of one :class:`~deconflict.private.psi.Message`.

The command-line steps read the other side's message and write their own
(:func:`read_message`, :func:`write_message`); a local two-sided run may keep all
five in a folder (:func:`write_exchange`, named :data:`MESSAGE_FILES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deconflict._util import atomic_write
from deconflict.errors import InputError

#: Message file names written by :func:`write_exchange`, in order.
MESSAGE_FILES = (
    "01-a-offer.bin",
    "02-b-answer.bin",
    "03-a-refine.bin",
    "04-b-refine-answer.bin",
    "05-a-finish.bin",
)


def read_message(path: Path, what: str = "message") -> bytes:
    """A message file's bytes; a missing or unreadable file is an :class:`InputError`.

    ``what`` names the message in the error (``offer``, ``message``).
    """
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror or err}") from None


def write_message(path: Path, data: bytes) -> None:
    """Write a message file atomically; a failure is an :class:`InputError`."""
    try:
        atomic_write(path, data)
    except OSError as err:
        raise InputError(f"{path}: cannot write message: {err.strerror or err}") from None


def write_exchange(folder: Path, messages: Sequence[bytes]) -> None:
    """Write the five messages of one exchange to ``folder`` (created) as :data:`MESSAGE_FILES`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in zip(MESSAGE_FILES, messages, strict=True):
        (folder / name).write_bytes(data)
