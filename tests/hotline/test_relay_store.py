"""The relay's store: accept, fan-out, refusals, deliveries, deadlines, registry copy."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from deconflict.errors import InputError
from deconflict.hotline.audit import AuditLog, entries, verify_log
from deconflict.hotline.keys import public_hex
from deconflict.hotline.messages import Message, new_message, sign
from deconflict.hotline.relay import Relay as HotlineRelay
from deconflict.hotline.relay_store import HotlineStore, KeyTakenError, Rejected, key_fingerprint
from deconflict.store.records import PartyRecord
from deconflict.store.sql import SqlRepository
from deconflict.store.tokens import hash_token, new_token

KEYS = {name: SigningKey(bytes([i + 1]) * 32) for i, name in enumerate(["blue", "red", "green"])}


@dataclass
class Relay:
    repo: SqlRepository
    store: HotlineStore
    parties: dict[str, PartyRecord]
    tokens: dict[str, str]
    seq: dict[str, int]

    def msg(
        self,
        sender: str,
        to: str,
        kind: str = "notice",
        key: SigningKey | None = None,
        **fields: object,
    ) -> Message:
        """A message from ``sender`` with its next sequence number, signed with its key."""
        seq = self.seq[sender] = self.seq.get(sender, 0) + 1
        args: dict[str, object] = {"body": f"{sender} #{seq}", **fields}
        return new_message(key or KEYS[sender], kind=kind, sender=sender, to=to, seq=seq, **args)  # type: ignore[arg-type]

    def send(self, sender: str, messages: list[Message]):
        return self.store.accept(self.parties[sender], [json.loads(m.to_json()) for m in messages])

    def pending_ids(self, name: str) -> list[str]:
        return [json.loads(text)["id"] for _, text in self.store.pending(self.parties[name].id)]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, empty database file, copied for each test (migrating takes a while)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    SqlRepository(f"sqlite:///{path}", migrate=True).close()
    return path


def fresh_db(migrated: Path, path: Path) -> SqlRepository:
    shutil.copyfile(migrated, path)
    return SqlRepository(f"sqlite:///{path}")


@pytest.fixture
def relay(migrated: Path, tmp_path: Path):
    """Parties blue, red, green (keys registered), grey (no key) and an admin."""
    repo = fresh_db(migrated, tmp_path / "relay.db")
    store = HotlineStore(repo.engine)
    parties: dict[str, PartyRecord] = {}
    tokens: dict[str, str] = {}
    for name in ["blue", "red", "green", "grey", "admin"]:
        tokens[name] = new_token()
        parties[name] = repo.add_party(name, hash_token(tokens[name]), is_admin=name == "admin")
    for name, key in KEYS.items():
        store.register_key(parties[name].id, public_hex(key))
    yield Relay(repo, store, parties, tokens, {})
    repo.close()


# -- accept ---------------------------------------------------------------------------


def test_accept_stores_a_valid_batch_with_one_delivery_per_recipient(relay: Relay) -> None:
    batch = [relay.msg("blue", "red") for _ in range(3)]
    raw: list[object] = [json.loads(batch[0].to_json()), batch[1].to_json(), batch[2].to_json()]
    result = relay.store.accept(relay.parties["blue"], raw)
    assert result.stored == [m.id for m in batch]
    assert result.rejected == []
    assert [m for _, m in result.new] == batch
    relay_ids = [rid for rid, _ in result.new]
    assert relay_ids == sorted(relay_ids) and len(set(relay_ids)) == 3
    assert result.recipients == {relay.parties["red"].id}
    assert relay.store.count_messages() == 3
    pending = relay.store.pending(relay.parties["red"].id)
    assert [Message.model_validate_json(text) for _, text in pending] == batch
    for name in ["blue", "green", "grey", "admin"]:
        assert relay.store.pending(relay.parties[name].id) == []
    assert [json.loads(t)["id"] for _, t in relay.store.messages_after(0)] == result.stored
    assert relay.store.messages_after(relay_ids[1]) == [(relay_ids[2], batch[2].to_json())]
    assert relay.store.rejects() == []


def test_to_all_fans_out_to_every_live_non_admin_party_but_the_sender(relay: Relay) -> None:
    relay.repo.add_party("gone", hash_token(new_token()))
    relay.repo.revoke_party("gone")
    m = relay.msg("blue", "all", "distress", body="MAYDAY engine fire")
    result = relay.send("blue", [m])
    want = {relay.parties[n].id for n in ["red", "green", "grey"]}
    assert result.recipients == want
    for name in ["red", "green", "grey"]:
        assert relay.pending_ids(name) == [m.id]
    for name in ["blue", "admin"]:
        assert relay.pending_ids(name) == []
    gone = next(p for p in relay.repo.list_parties() if p.name == "gone")
    assert relay.store.pending(gone.id) == []


def test_the_same_message_twice_is_stored_once(relay: Relay) -> None:
    m = relay.msg("blue", "red")
    first = relay.send("blue", [m])
    second = relay.send("blue", [m])
    assert first.stored == second.stored == [m.id]
    assert len(first.new) == 1 and second.new == [] and second.recipients == set()
    both = relay.send("blue", [relay.msg("blue", "red")] * 2)
    assert len(both.stored) == 2 and len(set(both.stored)) == 1 and len(both.new) == 1
    assert relay.store.count_messages() == 2
    assert len(relay.pending_ids("red")) == 2


def test_another_sender_may_reuse_an_id(relay: Relay) -> None:
    m = relay.msg("blue", "green")
    same_id = sign(relay.msg("red", "green").model_copy(update={"id": m.id}), KEYS["red"])
    assert relay.send("blue", [m]).new and relay.send("red", [same_id]).new
    assert relay.store.count_messages() == 2


def _bad_signature(relay: Relay) -> dict[str, object]:
    wire = json.loads(relay.msg("blue", "red").to_json())
    wire["body"] = "tampered"
    return wire


def _other_key(relay: Relay) -> dict[str, object]:
    return json.loads(relay.msg("blue", "red", key=KEYS["green"]).to_json())


def _wrong_sender(relay: Relay) -> dict[str, object]:
    return json.loads(relay.msg("red", "green").to_json())


def _unknown_recipient(relay: Relay) -> dict[str, object]:
    return json.loads(relay.msg("blue", "nobody").to_json())


def _admin_recipient(relay: Relay) -> dict[str, object]:
    return json.loads(relay.msg("blue", "admin").to_json())


def _malformed(relay: Relay) -> dict[str, object]:
    return {"id": "x" * 5, "kind": "notice"}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_bad_signature, "bad signature"),
        (_other_key, "bad signature"),
        (_wrong_sender, "is not the authenticated party"),
        (_unknown_recipient, "unknown recipient 'nobody'"),
        (_admin_recipient, "unknown recipient 'admin'"),
        (_malformed, "hotline message field"),
    ],
)
def test_refused_messages_are_recorded_with_the_reason(
    relay: Relay, make: Callable[[Relay], dict[str, object]], reason: str
) -> None:
    item = make(relay)
    good = relay.msg("blue", "green")
    result = relay.store.accept(relay.parties["blue"], [item, json.loads(good.to_json())])
    assert result.stored == [good.id]
    assert len(result.rejected) == 1
    rej = result.rejected[0]
    assert reason in rej.reason and "\n" not in rej.reason
    assert rej.id == item["id"]
    assert relay.store.count_messages() == 1
    assert relay.pending_ids("red") == []
    rows = relay.store.rejects()
    assert len(rows) == 1
    assert rows[0]["party_id"] == relay.parties["blue"].id
    assert rows[0]["reason"] == rej.reason
    assert json.loads(rows[0]["raw"]) == item


def test_a_party_without_a_registered_key_is_refused(relay: Relay) -> None:
    m = new_message(SigningKey(bytes(32)), kind="notice", sender="grey", to="red", seq=1, body="x")
    result = relay.send("grey", [m])
    assert result.stored == []
    assert result.rejected == [Rejected(m.id, result.rejected[0].reason)]
    assert "no registered key" in result.rejected[0].reason
    assert relay.store.count_messages() == 0
    assert relay.store.rejects()[0]["party_id"] == relay.parties["grey"].id


@pytest.mark.parametrize("item", [42, "not json", ["a", "list"], None])
def test_junk_items_are_refused_without_an_id(relay: Relay, item: object) -> None:
    result = relay.store.accept(relay.parties["blue"], [item])
    assert result.stored == [] and len(result.rejected) == 1
    assert result.rejected[0].id is None
    assert len(relay.store.rejects()) == 1


def test_a_replaced_key_invalidates_old_signatures(relay: Relay) -> None:
    old = relay.msg("blue", "red")
    new_key = SigningKey(bytes([9]) * 32)
    relay.store.register_key(relay.parties["blue"].id, public_hex(new_key).upper())
    assert relay.store.keys()["blue"] == public_hex(new_key)
    assert relay.send("blue", [old]).rejected[0].reason == "bad signature"
    assert relay.send("blue", [relay.msg("blue", "red", key=new_key)]).rejected == []


@pytest.mark.parametrize("bad", ["", "zz" * 32, "00" * 31])
def test_register_key_refuses_a_malformed_key(relay: Relay, bad: str) -> None:
    with pytest.raises(InputError, match="public_key"):
        relay.store.register_key(relay.parties["grey"].id, bad)


def test_a_key_registered_to_another_party_is_refused(relay: Relay) -> None:
    before = relay.store.keys()
    blue = public_hex(KEYS["blue"])
    for attempt in [blue, blue.upper()]:
        with pytest.raises(KeyTakenError, match="registered to another party"):
            relay.store.register_key(relay.parties["grey"].id, attempt)
        with pytest.raises(KeyTakenError):  # replacing one's own key by another's: the same
            relay.store.register_key(relay.parties["red"].id, attempt)
    relay.repo.revoke_party("green")  # a revoked party's key is still its own
    with pytest.raises(KeyTakenError):
        relay.store.register_key(relay.parties["grey"].id, public_hex(KEYS["green"]))
    assert relay.store.keys() == {n: k for n, k in before.items() if n != "green"}
    assert relay.send("grey", [relay.msg("grey", "red", key=KEYS["blue"])]).stored == []


def _register(
    store: HotlineStore, pid: int, key: str, start: threading.Barrier, outcomes: list[str]
) -> None:
    start.wait()
    try:
        store.register_key(pid, key)
        outcomes.append("ok")
    except KeyTakenError:
        outcomes.append("taken")


def race_for_keys(store: HotlineStore, party_ids: list[int], rounds: int = 10) -> None:
    """Parties register the same new key at the same moment, ``rounds`` times: one wins each."""
    for r in range(rounds):
        key = public_hex(SigningKey(bytes([200 + r]) * 32))
        start = threading.Barrier(len(party_ids))
        outcomes: list[str] = []
        threads = [
            threading.Thread(target=_register, args=(store, pid, key, start, outcomes))
            for pid in party_ids
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["ok"] + ["taken"] * (len(party_ids) - 1)
        assert list(store.keys().values()).count(key) == 1


def test_parties_racing_for_one_key_on_sqlite(relay: Relay) -> None:
    race_for_keys(relay.store, [relay.parties[n].id for n in ("blue", "red", "grey")])


def test_a_key_belongs_to_one_party_on_postgresql(pg_url: str) -> None:
    repo = SqlRepository(pg_url, migrate=True)
    try:
        store = HotlineStore(repo.engine)
        ids = [repo.add_party(n, hash_token(new_token())).id for n in ("blue", "red", "grey")]
        store.register_key(ids[0], public_hex(KEYS["blue"]))
        with pytest.raises(KeyTakenError):
            store.register_key(ids[1], public_hex(KEYS["blue"]).upper())
        race_for_keys(store, ids)
    finally:
        repo.close()


def test_register_key_reports_each_change_inside_its_transaction(relay: Relay) -> None:
    changes: list[tuple[str | None, str]] = []
    grey = relay.parties["grey"].id
    first, second = SigningKey(bytes([7]) * 32), SigningKey(bytes([8]) * 32)
    on_change = lambda old, new: changes.append((old, new))  # noqa: E731
    assert relay.store.register_key(grey, public_hex(first), on_change=on_change) is None
    assert relay.store.register_key(grey, public_hex(first), on_change=on_change) == public_hex(
        first
    )
    relay.store.register_key(grey, public_hex(second), on_change=on_change)
    assert changes == [(None, public_hex(first)), (public_hex(first), public_hex(second))]

    def fail(old: str | None, new: str) -> None:
        raise OSError("audit log unwritable")

    with pytest.raises(OSError):  # no audit entry: no change
        relay.store.register_key(grey, public_hex(first), on_change=fail)
    assert relay.store.keys()["grey"] == public_hex(second)


def test_the_relay_audits_key_changes_with_both_fingerprints(relay: Relay, tmp_path: Path) -> None:
    relay_key = SigningKey(bytes([99]) * 32)
    log_path = tmp_path / "relay.audit.jsonl"
    blue, grey = relay.parties["blue"], relay.parties["grey"]
    primary = HotlineRelay(name="primary", can_register_keys=True)
    blue_new, grey_first = SigningKey(bytes([9]) * 32), SigningKey(bytes([10]) * 32)
    with AuditLog.open(log_path, relay_key) as log:
        primary.bind(relay.store, log)
        primary.register_key(blue, public_hex(blue_new))
        primary.register_key(blue, public_hex(blue_new))  # the same key again: no change
        primary.register_key(grey, public_hex(grey_first))
        with pytest.raises(KeyTakenError):
            primary.register_key(grey, public_hex(KEYS["red"]))
    found = [e["data"] for e in entries(log_path) if e["type"] == "key"]
    assert found == [
        {
            "party": "blue",
            "old": key_fingerprint(public_hex(KEYS["blue"])),
            "new": key_fingerprint(public_hex(blue_new)),
        },
        {"party": "grey", "old": None, "new": key_fingerprint(public_hex(grey_first))},
    ]
    assert verify_log(log_path, public_key=public_hex(relay_key)).ok


def test_keys_lists_live_parties_only(relay: Relay) -> None:
    assert relay.store.keys() == {n: public_hex(k) for n, k in KEYS.items()}
    relay.repo.revoke_party("green")
    assert set(relay.store.keys()) == {"blue", "red"}


# -- deliveries -----------------------------------------------------------------------


def test_pending_and_mark_delivered(relay: Relay) -> None:
    relay.send("blue", [relay.msg("blue", "red") for _ in range(4)])
    red, green = relay.parties["red"].id, relay.parties["green"].id
    ids = [d for d, _ in relay.store.pending(red)]
    assert len(ids) == 4 and ids == sorted(ids)
    assert [d for d, _ in relay.store.pending(red, after=ids[1])] == ids[2:]
    assert [d for d, _ in relay.store.pending(red, limit=1)] == ids[:1]

    assert relay.store.mark_delivered(green, ids) == 0  # not green's deliveries
    assert len(relay.store.pending(red)) == 4
    assert relay.store.mark_delivered(red, []) == 0
    assert relay.store.mark_delivered(red, ids[:2]) == 2
    assert [d for d, _ in relay.store.pending(red)] == ids[2:]
    assert relay.store.mark_delivered(red, ids[:2]) == 0
    assert relay.store.mark_delivered(red, ids) == 2
    assert relay.store.pending(red) == []
    assert relay.store.mark_delivered(red, [10**9]) == 0


# -- deadlines ------------------------------------------------------------------------


def test_overdue_until_the_recipient_responds(relay: Relay) -> None:
    now = time.time()
    req = relay.msg("blue", "red", "request", ts=now - 100, deadline_s=10.0, body="FL350?")
    relay.send("blue", [req, relay.msg("blue", "red", "request", ts=now, deadline_s=600.0)])
    relay.send("blue", [relay.msg("blue", "red", "notice", ts=now - 100)])

    overdue = relay.store.overdue(now)
    assert len(overdue) == 1
    o = overdue[0]
    assert (o.msg_id, o.sender, o.to, o.body) == (req.id, "blue", "red", "FL350?")
    assert o.sent_at == req.ts and o.due_at == req.due_at and o.escalated_at is None
    assert relay.store.overdue(req.ts + 5) == []
    assert [x.msg_id for x in relay.store.overdue(now, "red")] == [req.id]
    assert [x.msg_id for x in relay.store.overdue(now, "blue")] == [req.id]
    assert relay.store.overdue(now, "green") == []

    # the sender answering itself does not count, nor does an ack
    relay.send("blue", [relay.msg("blue", "red", "response", in_reply_to=req.id)])
    relay.send("red", [relay.msg("red", "blue", "ack", in_reply_to=req.id)])
    assert [x.msg_id for x in relay.store.overdue(now)] == [req.id]

    relay.send("red", [relay.msg("red", "blue", "response", in_reply_to=req.id, body="yes")])
    assert relay.store.overdue(now) == []
    assert len(relay.store.overdue(now + 3600)) == 1  # the second request


def test_overdue_of_a_request_to_all_concerns_every_party(relay: Relay) -> None:
    now = time.time()
    req = relay.msg("blue", "all", "request", ts=now - 100, deadline_s=10.0)
    relay.send("blue", [req])
    assert [x.msg_id for x in relay.store.overdue(now, "green")] == [req.id]


def test_escalate_returns_each_overdue_request_once(relay: Relay) -> None:
    now = time.time()
    a = relay.msg("blue", "red", "request", ts=now - 100, deadline_s=10.0)
    b = relay.msg("green", "blue", "request", ts=now - 50, deadline_s=10.0)
    later = relay.msg("red", "green", "request", ts=now, deadline_s=100.0)
    relay.send("blue", [a])
    relay.send("green", [b])
    relay.send("red", [later])

    assert [o.msg_id for o in relay.store.escalate(now)] == [a.id, b.id]
    assert relay.store.escalate(now + 1) == []
    assert all(o.escalated_at == now for o in relay.store.overdue(now + 1))
    assert [o.msg_id for o in relay.store.escalate(now + 200)] == [later.id]
    assert relay.store.escalate(now + 300) == []


# -- registry copy --------------------------------------------------------------------


def test_copy_registry_from(relay: Relay, migrated: Path, tmp_path: Path) -> None:
    backup_repo = fresh_db(migrated, tmp_path / "backup.db")
    backup = HotlineStore(backup_repo.engine)
    try:
        assert backup_repo.party_by_token_hash(hash_token(relay.tokens["blue"])) is None
        assert backup.copy_registry_from(relay.store) == 5
        for name, token in relay.tokens.items():
            found = backup_repo.party_by_token_hash(hash_token(token))
            assert found is not None and found.name == name and not found.revoked
            assert found.id == relay.parties[name].id
            assert found.is_admin == (name == "admin")
        assert backup_repo.party_by_token_hash(hash_token(new_token())) is None
        assert backup.keys() == relay.store.keys()

        # the backup now checks signatures on its own
        m = relay.msg("blue", "red")
        assert backup.accept(relay.parties["blue"], [m.to_json()]).stored == [m.id]

        # revocations, new keys and new parties arrive with the next copy
        relay.repo.revoke_party("red")
        new_key = SigningKey(bytes([42]) * 32)
        relay.store.register_key(relay.parties["grey"].id, public_hex(new_key))
        blue_key = SigningKey(bytes([43]) * 32)
        relay.store.register_key(relay.parties["blue"].id, public_hex(blue_key))
        late_token = new_token()
        relay.repo.add_party("violet", hash_token(late_token))
        assert backup.copy_registry_from(relay.store) == 6
        red = backup_repo.party_by_token_hash(hash_token(relay.tokens["red"]))
        assert red is not None and red.revoked
        copied = backup.keys()
        assert copied == relay.store.keys()
        assert "red" not in copied
        assert copied["grey"] == public_hex(new_key)
        assert copied["blue"] == public_hex(blue_key)
        violet = backup_repo.party_by_token_hash(hash_token(late_token))
        assert violet is not None and violet.name == "violet"

        # a copy is idempotent
        assert backup.copy_registry_from(relay.store) == 6
        assert backup_repo.list_parties() == relay.repo.list_parties()
    finally:
        backup_repo.close()
