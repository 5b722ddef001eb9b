"""Hotline messages: signing, verification, the canonical form and field validation."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

from deconflict.errors import InputError
from deconflict.hotline.keys import public_hex
from deconflict.hotline.messages import (
    DOMAIN,
    MAX_BODY_CHARS,
    Message,
    new_message,
    parse_message,
    sign,
    verify,
)

KEY = SigningKey(bytes(range(32)))
OTHER = SigningKey(bytes(range(1, 33)))
PUB = public_hex(KEY)
TS = 1_700_000_000.25
PARENT = "ab" * 16


def make(**overrides: object) -> Message:
    """A signed request from blue to red; ``overrides`` replace fields."""
    fields: dict[str, object] = {
        "kind": "request",
        "sender": "blue",
        "to": "red",
        "seq": 7,
        "body": "climb to FL350 over ROMEO?",
        "deadline_s": 60.0,
        "ts": TS,
    }
    fields.update(overrides)
    return new_message(KEY, **fields)  # type: ignore[arg-type]


def flip_sig_byte(sig: str, index: int) -> str:
    raw = bytearray(bytes.fromhex(sig))
    raw[index] ^= 0x01
    return raw.hex()


# -- signing and verification ---------------------------------------------------------


def test_sign_verify_round_trip() -> None:
    msg = make()
    assert len(msg.sig) == 128
    assert verify(msg, PUB)
    for wire in (msg.to_json(), msg.to_json().encode(), json.loads(msg.to_json())):
        parsed = parse_message(wire)
        assert parsed == msg
        assert verify(parsed, PUB)


def test_sign_is_deterministic_and_replaces_an_old_signature() -> None:
    msg = make()
    unsigned = msg.model_copy(update={"sig": ""})
    assert sign(unsigned, KEY) == msg
    resigned = sign(msg, OTHER)
    assert not verify(resigned, PUB)
    assert verify(resigned, public_hex(OTHER))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", "climb to FL360 over ROMEO?"),
        ("body", "climb to FL350 over ROMEO? "),
        ("to", "green"),
        ("to", "all"),
        ("seq", 8),
        ("ts", TS + 1),
        ("ts", TS + 1e-6),
        ("kind", "notice"),
        ("kind", "distress"),
        ("deadline_s", 61.0),
        ("deadline_s", None),
        ("sender", "bluf"),
        ("id", "0" * 32),
        ("in_reply_to", PARENT),
    ],
)
def test_changing_any_field_breaks_the_signature(field: str, value: object) -> None:
    msg = make()
    tampered = msg.model_copy(update={field: value})
    assert getattr(tampered, field) == value
    assert not verify(tampered, PUB)


def test_tampering_on_the_wire_breaks_the_signature() -> None:
    wire = json.loads(make().to_json())
    wire["body"] = wire["body"].replace("350", "390")
    assert not verify(parse_message(wire), PUB)


@pytest.mark.parametrize("index", [0, 1, 31, 32, 63])
def test_one_flipped_signature_byte_breaks_verify(index: int) -> None:
    msg = make()
    bad = msg.model_copy(update={"sig": flip_sig_byte(msg.sig, index)})
    assert not verify(bad, PUB)


def test_verify_with_another_key_fails() -> None:
    msg = make()
    assert not verify(msg, public_hex(OTHER))
    theirs = new_message(OTHER, kind="notice", sender="blue", to="red", seq=1, body="x")
    assert verify(theirs, public_hex(OTHER))
    assert not verify(theirs, PUB)


@pytest.mark.parametrize("public_key", ["", "zz" * 32, "00" * 31, "00" * 33, "not hex"])
def test_verify_with_a_malformed_key_is_false_not_an_error(public_key: str) -> None:
    assert not verify(make(), public_key)


def test_an_unsigned_message_does_not_verify() -> None:
    assert not verify(make().model_copy(update={"sig": ""}), PUB)


def test_canonical_bytes_do_not_depend_on_dict_key_order() -> None:
    msg = make(kind="response", in_reply_to=PARENT, deadline_s=None)
    forward = json.loads(msg.to_json())
    backward = dict(reversed(list(forward.items())))
    assert list(forward) != list(backward)
    a, b = parse_message(forward), parse_message(backward)
    assert a.signed_bytes() == b.signed_bytes() == msg.signed_bytes()
    assert verify(a, PUB) and verify(b, PUB)
    # ... and via JSON text with the keys in another order and extra whitespace
    text = json.dumps(backward, indent=2)
    assert parse_message(text).signed_bytes() == msg.signed_bytes()
    assert verify(parse_message(text), PUB)


def test_canonical_bytes_are_the_domain_then_sorted_compact_json_without_sig() -> None:
    msg = make()
    signed = msg.signed_bytes()
    assert signed.startswith(DOMAIN)
    body = json.loads(signed[len(DOMAIN) :])
    assert "sig" not in body
    assert list(body) == sorted(body)
    assert signed[len(DOMAIN) :] == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert msg.sig not in signed.decode()


def test_the_signature_is_domain_separated() -> None:
    """A hotline signature is not valid over the same JSON without the domain tag."""
    msg = make()
    bare = msg.signed_bytes()[len(DOMAIN) :]
    with pytest.raises(BadSignatureError):
        KEY.verify_key.verify(bare, bytes.fromhex(msg.sig))


# -- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"kind": "shout"}, "kind"),
        ({"kind": "response", "deadline_s": None}, "in_reply_to"),
        ({"kind": "ack", "deadline_s": None}, "in_reply_to"),
        ({"kind": "notice"}, "deadline_s"),
        ({"kind": "response", "in_reply_to": PARENT}, "deadline_s"),
        ({"to": "blue"}, "itself"),
        ({"body": "x" * (MAX_BODY_CHARS + 1)}, "body"),
        ({"seq": 0}, "seq"),
        ({"seq": 2**62 + 1}, "seq"),
        ({"sender": "bad name!"}, "sender"),
        ({"sender": ""}, "sender"),
        ({"to": "-dash-first"}, "to"),
        ({"ts": -1.0}, "ts"),
        ({"ts": math.nan}, "ts"),
        ({"deadline_s": 0.0}, "deadline_s"),
        ({"deadline_s": 31 * 86400.0}, "deadline_s"),
        ({"kind": "response", "deadline_s": None, "in_reply_to": "XYZ"}, "in_reply_to"),
    ],
)
def test_bad_fields_raise_input_error_naming_the_field(
    overrides: dict[str, object], names: str
) -> None:
    with pytest.raises(InputError) as info:
        make(**overrides)
    text = str(info.value)
    assert names in text
    assert text.startswith("hotline message field ")
    assert "\n" not in text


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"id": "XYZ"}, "'id'"),
        ({"id": "A" * 32}, "'id'"),
        ({"id": "0" * 31}, "'id'"),
        ({"sig": "00"}, "'sig'"),
        ({"v": 2}, "'v'"),
        ({"colour": "red"}, "'colour'"),
    ],
)
def test_parse_message_names_the_bad_field(change: dict[str, object], names: str) -> None:
    wire = {**json.loads(make().to_json()), **change}
    with pytest.raises(InputError, match=names):
        parse_message(wire)


@pytest.mark.parametrize("missing", ["id", "kind", "sender", "to", "seq", "ts", "body"])
def test_parse_message_names_a_missing_field(missing: str) -> None:
    wire = json.loads(make().to_json())
    del wire[missing]
    with pytest.raises(InputError, match=f"'{missing}'"):
        parse_message(wire)


@pytest.mark.parametrize("junk", ["not json", b"\xff\xfe", "[]", 42, None])
def test_parse_message_rejects_junk_with_input_error(junk: object) -> None:
    with pytest.raises(InputError):
        parse_message(junk)


def test_body_of_exactly_the_maximum_length_is_fine() -> None:
    msg = make(body="x" * MAX_BODY_CHARS)
    assert verify(parse_message(msg.to_json()), PUB)


def test_response_and_ack_with_in_reply_to_are_fine() -> None:
    for kind in ("response", "ack"):
        msg = make(kind=kind, in_reply_to=PARENT, deadline_s=None)
        assert msg.in_reply_to == PARENT and verify(msg, PUB)


def test_to_all_is_allowed() -> None:
    assert make(to="all").to == "all"


# -- due_at ---------------------------------------------------------------------------


def test_due_at() -> None:
    assert make(ts=1000.0, deadline_s=60.0).due_at == 1060.0
    assert make(deadline_s=None).due_at is None
    assert make(kind="notice", deadline_s=None).due_at is None
    assert make(kind="ack", deadline_s=None, in_reply_to=PARENT).due_at is None


def test_new_message_stamps_the_current_time_and_a_fresh_id() -> None:
    a = new_message(KEY, kind="notice", sender="blue", to="red", seq=1, body="x")
    b = new_message(KEY, kind="notice", sender="blue", to="red", seq=1, body="x")
    assert a.id != b.id
    assert a.ts > 1.6e9


# -- property -------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    body=st.text(max_size=200),
    ts=st.floats(min_value=0, max_value=1e11, allow_nan=False, allow_infinity=False),
    deadline_s=st.none() | st.floats(min_value=0.001, max_value=30 * 86400),
)
def test_any_body_round_trips_and_still_verifies(
    body: str, ts: float, deadline_s: float | None
) -> None:
    msg = make(body=body, ts=ts, deadline_s=deadline_s)
    parsed = parse_message(msg.to_json())
    assert parsed == msg
    assert parsed.body == body
    assert verify(parsed, PUB)
    assert parse_message(msg.to_json().encode("utf-8")) == msg
