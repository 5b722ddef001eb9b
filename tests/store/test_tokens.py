from __future__ import annotations

import hashlib
import re

from deconflict.store.tokens import hash_token, new_token


def test_tokens_are_random_url_safe_and_256_bit():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in tokens)


def test_hash_is_sha256_hex():
    t = new_token()
    assert hash_token(t) == hashlib.sha256(t.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(t))
    assert hash_token(t) != hash_token(new_token())
