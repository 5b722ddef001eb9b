"""Bearer tokens of parties: made once, shown once, stored only as a hash.

A token is 32 random bytes from :mod:`secrets` (256 bits), URL-safe base64 text.
The broker stores SHA-256 of it and finds the party by that hash. A fast hash is
right here, unlike for passwords: slow, salted hashes (bcrypt, scrypt, argon2)
exist to make guessing low-entropy secrets expensive, but nobody can enumerate
2**256 random tokens, so the only thing the hash must do is not reveal the token
if the database leaks, which SHA-256 preimage resistance gives. It also keeps the
per-request lookup an indexed equality match.
"""

from __future__ import annotations

import hashlib
import secrets

#: Random bytes in a token (256 bits).
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random bearer token (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which ``token`` is stored (64 lowercase hex digits).

    >>> hash_token("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
