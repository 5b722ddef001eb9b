"""Ed25519 signing keys on disk: a 32-byte seed as hex, in a file only its owner can read."""

from __future__ import annotations

import os
from pathlib import Path

from nacl.signing import SigningKey

from deconflict._util import atomic_write
from deconflict.errors import InputError


def new_key_file(path: Path, *, overwrite: bool = False) -> SigningKey:
    """Make a signing key and write its seed to ``path`` (mode 0600); returns the key."""
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists; refusing to overwrite a signing key")
    key = SigningKey.generate()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, key.encode().hex() + "\n", mode=0o600)  # 0600 whatever the umask
    return key


def load_key_file(path: Path, *, private: bool = False) -> SigningKey:
    """The signing key in ``path``; :class:`InputError` if missing or malformed.

    ``private``: also refuse a file that group or others may read (a relay's key).
    """
    try:
        if private:
            check_private(path)
        text = path.read_text().strip()
    except OSError as err:
        raise InputError(f"signing key file {path}: {err.strerror}") from None
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise InputError(f"signing key file {path}: expected 64 hex digits (a 32-byte seed)")
    return SigningKey(seed)


def check_private(path: Path) -> None:
    """:class:`InputError` unless only its owner may read the file at ``path``."""
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise InputError(
            f"signing key file {path}: group or others have access (mode {mode:04o}); "
            f"run `chmod 600 {path}`"
        )


def public_hex(key: SigningKey) -> str:
    """The verify key of ``key``, 64 hex digits."""
    return key.verify_key.encode().hex()
