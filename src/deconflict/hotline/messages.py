"""Hotline messages: kinds, the canonical signed form, Ed25519 signing and verification.

A message is signed by its sender over its canonical bytes: a domain tag, then the
JSON of every field but ``sig`` with sorted keys and no spaces. Anyone holding the
sender's public key can check it; a relay that alters one byte breaks the signature.
Times are Unix seconds (UTC); ``deadline_s`` is seconds after ``ts``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from deconflict._util import one_line_error
from deconflict.errors import InputError
from deconflict.names import BROADCAST, PARTY_NAME_PATTERN, party_name_problem

Kind = Literal["distress", "notice", "request", "response", "ack"]
KINDS: tuple[str, ...] = ("distress", "notice", "request", "response", "ack")
#: Recipient meaning every other party (a common guard frequency); no party's name.
ALL = BROADCAST
#: Prefix of the signed bytes, so a hotline signature is never valid for anything else.
DOMAIN = b"deconflict-hotline-v1\n"
MAX_BODY_CHARS = 10_000
#: Longest response deadline a request may set, s (30 days).
MAX_DEADLINE_S = 30 * 86400
#: A party name: the one rule of :mod:`deconflict.names`, shared with ``party add``.
NAME_PATTERN = PARTY_NAME_PATTERN


class Message(BaseModel):
    """One hotline message as it crosses the wire (units in the names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="Unique id (UUID4, hex)")
    kind: Kind
    sender: str = Field(pattern=NAME_PATTERN)
    to: str = Field(pattern=NAME_PATTERN, description="A party name, or 'all'")
    seq: int = Field(ge=1, le=2**62, description="Sender's sequence number, from 1")
    ts: float = Field(ge=0, le=1e11, allow_inf_nan=False, description="Unix time, s")
    body: str = Field(max_length=MAX_BODY_CHARS)
    in_reply_to: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    deadline_s: float | None = Field(None, gt=0, le=MAX_DEADLINE_S, allow_inf_nan=False)
    sig: str = Field("", pattern=r"^([0-9a-f]{128})?$", description="Ed25519, hex")

    @field_validator("sender")
    @classmethod
    def _sender_name(cls, v: str) -> str:
        problem = party_name_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("to")
    @classmethod
    def _recipient_name(cls, v: str) -> str:
        problem = None if v == ALL else party_name_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Message:
        if self.kind in ("response", "ack") and self.in_reply_to is None:
            raise ValueError(f"a {self.kind} needs in_reply_to")
        if self.deadline_s is not None and self.kind != "request":
            raise ValueError("only a request has a deadline_s")
        if self.to == self.sender:
            raise ValueError("a party cannot send to itself")
        return self

    @property
    def due_at(self) -> float | None:
        """When a request's response is due (Unix s); None for other kinds."""
        return self.ts + self.deadline_s if self.deadline_s is not None else None

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers."""
        fields = self.model_dump(exclude={"sig"})
        return DOMAIN + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        """Compact JSON, the form stored and sent."""
        return self.model_dump_json()


def new_message(
    key: SigningKey,
    *,
    kind: str,
    sender: str,
    to: str,
    seq: int,
    body: str,
    in_reply_to: str | None = None,
    deadline_s: float | None = None,
    ts: float | None = None,
) -> Message:
    """A fresh message, signed with ``key``; bad fields raise :class:`InputError`."""
    unsigned = parse_message(
        {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "sender": sender,
            "to": to,
            "seq": seq,
            "ts": time.time() if ts is None else ts,
            "body": body,
            "in_reply_to": in_reply_to,
            "deadline_s": deadline_s,
        }
    )
    return sign(unsigned, key)


def sign(message: Message, key: SigningKey) -> Message:
    """``message`` with its Ed25519 signature."""
    sig = key.sign(message.signed_bytes()).signature.hex()
    return message.model_copy(update={"sig": sig})


def verify(message: Message, public_key_hex: str) -> bool:
    """True when ``message`` carries a valid signature of the key ``public_key_hex``."""
    if not message.sig:
        return False
    try:
        VerifyKey(bytes.fromhex(public_key_hex)).verify(
            message.signed_bytes(), bytes.fromhex(message.sig)
        )
    except (BadSignatureError, ValueError):
        return False
    return True


def parse_message(data: Any) -> Message:
    """Validate a message (a dict or JSON text); :class:`InputError` names the field."""
    try:
        if isinstance(data, str | bytes):
            return Message.model_validate_json(data)
        return Message.model_validate(data)
    except ValidationError as err:
        raise InputError(one_line_error(err, "hotline message field", whole="message")) from None
