"""A party's own hotline store: exactly-once, per-sender-order release; outbox; deadlines."""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from deconflict.errors import InputError
from deconflict.hotline.client_store import ClientStore, Draft, OwedRequest
from deconflict.hotline.messages import Message, new_message, sign

ME = "blue"
KEYS = {
    name: SigningKey(bytes([i]) * 32) for i, name in enumerate(["blue", "red", "green", "amber"])
}


def from_(sender: str, seq: int, kind: str = "notice", **fields: object) -> Message:
    """A signed message from ``sender`` to us (blue) with sequence number ``seq``."""
    args: dict[str, object] = {"to": ME, "body": f"{sender} #{seq}", "ts": 1e9 + seq}
    args.update(fields)
    return new_message(KEYS[sender], kind=kind, sender=sender, seq=seq, **args)  # type: ignore[arg-type]


def ours(seq: int, kind: str = "notice", to: str = "red", **fields: object) -> Message:
    """A signed message of ours (blue) numbered ``seq``."""
    args: dict[str, object] = {"body": f"blue #{seq}", "ts": 1e9 + seq}
    args.update(fields)
    return new_message(KEYS[ME], kind=kind, sender=ME, to=to, seq=seq, **args)  # type: ignore[arg-type]


def builder(kind: str = "notice", to: str = "red", **fields: object) -> Draft:
    """A draft of ours to ``to``: its stream and its builder."""
    return to, lambda seq: ours(seq, kind, to, **fields)


class InboxModel:
    """What the inbox should hold back: per sender, the seqs received beyond the prefix."""

    def __init__(self) -> None:
        self.got: dict[str, set[int]] = {}

    def add(self, batch: list[Message]) -> None:
        for m in batch:
            self.got.setdefault(m.sender, set()).add(m.seq)

    def held_back(self) -> int:
        held = 0
        for seqs in self.got.values():
            prefix = 0
            while prefix + 1 in seqs:
                prefix += 1
            held += sum(1 for s in seqs if s > prefix)
        return held


def check_exactly_once_in_order(
    store: ClientStore, originals: list[Message], released: list[Message]
) -> None:
    delivered = store.delivered()
    assert [n for n, _ in delivered] == list(range(1, len(originals) + 1))
    keys = [(m.sender, m.id) for _, m in delivered]
    assert len(keys) == len(set(keys)) == len(originals)
    assert set(keys) == {(m.sender, m.id) for m in originals}
    per_sender: dict[str, list[int]] = {}
    for _, m in delivered:
        per_sender.setdefault(m.sender, []).append(m.seq)
    expected = Counter(m.sender for m in originals)
    assert {s: len(v) for s, v in per_sender.items()} == dict(expected)
    for seqs in per_sender.values():
        assert seqs == list(range(1, len(seqs) + 1))
    # what receive() returned, concatenated, is exactly the release order
    assert [(m.sender, m.id) for m in released] == keys
    assert store.held_back() == 0


@pytest.fixture
def store(tmp_path: Path):
    s = ClientStore(tmp_path / "blue.db")
    yield s
    s.close()


# -- the central property ------------------------------------------------------------


def test_ten_thousand_messages_exactly_once_in_sender_order_across_crashes(
    tmp_path: Path,
) -> None:
    rng = random.Random(20240607)
    counts = {"red": 3334, "green": 3333, "amber": 3333}
    streams = {s: [from_(s, i) for i in range(1, n + 1)] for s, n in counts.items()}
    originals = [m for ms in streams.values() for m in ms]
    assert len(originals) == 10_000

    # Interleave the senders, each in its own order, as a relay would pass them on.
    cursors = dict.fromkeys(streams, 0)
    merged: list[Message] = []
    while len(merged) < len(originals):
        sender = rng.choice([s for s in streams if cursors[s] < len(streams[s])])
        merged.append(streams[sender][cursors[sender]])
        cursors[sender] += 1
    # Cut into random batches, each on a random channel.
    batches: list[tuple[str, list[Message]]] = []
    i = 0
    while i < len(merged):
        size = rng.randint(1, 120)
        batches.append((rng.choice(["primary", "backup"]), merged[i : i + size]))
        i += size
    # ~20 % of the messages arrive a second time, on the other channel, in another batch.
    for m in merged:
        if rng.random() < 0.2:
            via, batch = rng.choice(batches)
            batch.insert(rng.randint(0, len(batch)), m)
    for _, batch in batches:
        if rng.random() < 0.3:
            rng.shuffle(batch)
    # Re-order: batches overtake each other within a window of eight.
    batches = [b for _, b in sorted(enumerate(batches), key=lambda p: p[0] + rng.uniform(0, 8))]
    n_dups = sum(len(b) for _, b in batches) - len(originals)
    assert 1_500 < n_dups < 2_500

    crashes = set(rng.sample(range(10, len(batches) - 10), 4))
    path = tmp_path / "blue.db"
    store = ClientStore(path)
    model = InboxModel()
    released: list[Message] = []
    max_held = 0
    try:
        for step, (via, batch) in enumerate(batches):
            released += store.receive(batch, via)
            model.add(batch)
            held = store.held_back()
            assert held == model.held_back(), step
            max_held = max(max_held, held)
            if step in crashes:
                store.close()
                store = ClientStore(path)
                assert store.held_back() == held
        assert max_held > 0
        check_exactly_once_in_order(store, originals, released)
        # delivering everything again changes nothing
        assert store.receive(originals[:500], "backup") == []
        assert len(store.delivered()) == 10_000
        tail = store.delivered(after_no=9_990)
        assert [n for n, _ in tail] == list(range(9_991, 10_001))
        assert len(store.delivered(after_no=100, limit=7)) == 7
    finally:
        store.close()


def test_held_back_while_a_gap_exists(store: ClientStore) -> None:
    red = [from_("red", i) for i in range(1, 6)]
    assert store.receive([red[2], red[4]], "backup") == []
    assert store.held_back() == 2
    assert [m.seq for m in store.receive([red[0]], "primary")] == [1]
    assert store.held_back() == 2
    assert [m.seq for m in store.receive([red[1], red[1]], "primary")] == [2, 3]
    assert store.held_back() == 1
    assert [m.seq for m in store.receive([red[3]], "backup")] == [4, 5]
    assert store.held_back() == 0
    # another sender's gap does not hold red back
    assert store.receive([from_("green", 2)], "primary") == []
    assert [m.seq for m in store.receive([from_("red", 6)], "primary")] == [6]
    assert store.held_back() == 1


def test_receive_nothing_or_only_duplicates_releases_nothing(store: ClientStore) -> None:
    assert store.receive([], "primary") == []
    m = from_("red", 1)
    assert store.receive([m], "primary") == [m]
    assert store.receive([m], "backup") == []
    assert store.receive([m, m], "primary") == []
    assert len(store.delivered()) == 1


# -- end-to-end ack and response ----------------------------------------------------


def test_ack_and_response_mark_the_outbox_entry(store: ClientStore) -> None:
    req = store.enqueue(builder("request", deadline_s=60.0))
    row = store.outbox_row(req.id)
    assert row is not None and row["acked_at"] is None and row["answered_at"] is None

    # an ack that arrives ahead of a gap marks nothing until it is released
    ack = from_("red", 2, "ack", in_reply_to=req.id)
    assert store.receive([ack], "primary") == []
    assert store.outbox_row(req.id)["acked_at"] is None  # type: ignore[index]
    store.receive([from_("red", 1)], "backup")
    row = store.outbox_row(req.id)
    assert row is not None and row["acked_at"] is not None and row["answered_at"] is None
    assert store.outbox_counts()["acked"] == 1

    first_ack = row["acked_at"]
    store.receive([from_("red", 3, "ack", in_reply_to=req.id)], "primary")
    assert store.outbox_row(req.id)["acked_at"] == first_ack  # type: ignore[index]

    store.receive([from_("red", 4, "response", in_reply_to=req.id, body="approved")], "primary")
    row = store.outbox_row(req.id)
    assert row is not None and row["answered_at"] is not None
    assert store.outbox_row("f" * 32) is None


# -- outbox ---------------------------------------------------------------------------


def test_enqueue_numbers_consecutively_and_continues_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "blue.db"
    store = ClientStore(path)
    seen: list[int] = []

    def recording(seq: int) -> Message:
        seen.append(seq)
        return ours(seq)

    msgs = store.enqueue_many([("red", recording)] * 5)
    assert [m.seq for m in msgs] == seen == [1, 2, 3, 4, 5]
    assert store.enqueue(builder()).seq == 6
    assert store.enqueue_many([]) == []
    store.close()

    store = ClientStore(path)
    try:
        assert [m.seq for m in store.enqueue_many([builder(), builder()])] == [7, 8]
        assert [m.seq for m in store.unrelayed()] == list(range(1, 9))
    finally:
        store.close()


def test_enqueue_many_is_all_or_nothing(store: ClientStore) -> None:
    store.enqueue(builder())

    def broken(seq: int) -> Message:
        raise InputError("bad body")

    with pytest.raises(InputError):
        store.enqueue_many([builder(), ("red", broken)])
    assert store.outbox_counts()["total"] == 1
    assert store.enqueue(builder()).seq == 2


def test_unrelayed_mark_relayed_mark_rejected_and_counts(store: ClientStore) -> None:
    msgs = store.enqueue_many([builder()] * 5)
    ids = [m.id for m in msgs]
    assert store.outbox_counts() == {"total": 5, "relayed": 0, "acked": 0, "rejected": 0}
    assert [m.id for m in store.unrelayed()] == ids
    assert store.unrelayed()[0] == msgs[0]
    assert [m.id for m in store.unrelayed(limit=2)] == ids[:2]

    store.mark_relayed(ids[:2], "primary")
    assert [m.id for m in store.unrelayed()] == ids[2:]
    row = store.outbox_row(ids[0])
    assert row is not None and row["relayed_via"] == "primary" and row["relayed_at"] is not None

    # a second confirmation (the other relay) keeps the first one
    first = row["relayed_at"]
    store.mark_relayed([ids[0]], "backup")
    row = store.outbox_row(ids[0])
    assert row is not None and row["relayed_via"] == "primary" and row["relayed_at"] == first

    store.mark_rejected([(ids[2], "bad signature")])
    store.mark_rejected([("0" * 32, "no such message")])
    assert [m.id for m in store.unrelayed()] == ids[3:]
    assert store.outbox_row(ids[2])["rejected"] == "bad signature"  # type: ignore[index]

    store.mark_relayed(ids[3:], "backup")
    assert store.unrelayed() == []
    assert store.outbox_counts() == {"total": 5, "relayed": 4, "acked": 0, "rejected": 1}


# -- deadlines ------------------------------------------------------------------------


def test_owed_lists_both_directions_until_answered(store: ClientStore) -> None:
    now = time.time()
    late = store.enqueue(builder("request", ts=now - 100, deadline_s=10.0, body="may we?"))
    store.enqueue(builder("request", ts=now, deadline_s=3600.0, body="not due yet"))
    store.enqueue(builder("notice", ts=now - 100))
    theirs = from_("red", 1, "request", ts=now - 200, deadline_s=50.0, body="will you?")
    store.receive([theirs, from_("red", 2, "request", ts=now, deadline_s=3600.0)], "primary")

    owed = store.owed(now)
    assert owed == [
        OwedRequest(late.id, "they owe us", "red", "may we?", late.due_at),
        OwedRequest(theirs.id, "we owe them", "red", "will you?", theirs.due_at),
    ]
    assert store.owed(now - 160) == []  # neither was due yet

    # red answers ours: it drops out
    store.receive([from_("red", 3, "response", in_reply_to=late.id)], "backup")
    assert [(o.id, o.direction) for o in store.owed(now)] == [(theirs.id, "we owe them")]

    # we answer theirs: it drops out too
    store.enqueue(builder("response", in_reply_to=theirs.id, body="yes"))
    assert store.owed(now) == []
    assert store.owed(now + 7200) != []  # the second request of red is now late


def test_owed_skips_a_rejected_request(store: ClientStore) -> None:
    now = time.time()
    late = store.enqueue(builder("request", ts=now - 100, deadline_s=10.0))
    store.mark_rejected([(late.id, "unknown recipient 'red'")])
    assert store.owed(now) == []


def test_a_received_request_without_deadline_is_never_owed(store: ClientStore) -> None:
    now = time.time()
    store.receive([from_("red", 1, "request", ts=now - 100)], "primary")
    store.enqueue(builder("request", ts=now - 100))
    assert store.owed(now + 86400) == []


# -- heads and meta ------------------------------------------------------------------


def test_save_head_keeps_the_highest_n(tmp_path: Path) -> None:
    path = tmp_path / "blue.db"
    store = ClientStore(path)
    store.save_head("primary", {"n": 5, "head": "a"})
    store.save_head("primary", {"n": 3, "head": "older"})
    assert store.heads() == {"primary": {"n": 5, "head": "a"}}
    store.save_head("backup", {"n": 1, "head": "b"})
    store.save_head("primary", {"n": 9, "head": "c"})
    store.close()
    store = ClientStore(path)
    try:
        assert store.heads() == {"primary": {"n": 9, "head": "c"}, "backup": {"n": 1, "head": "b"}}
        store.save_head("primary", {"n": 8, "head": "d"})
        assert store.heads()["primary"]["head"] == "c"
    finally:
        store.close()


def test_meta(store: ClientStore) -> None:
    assert store.get_meta("printed") == ""
    assert store.get_meta("printed", "0") == "0"
    store.set_meta("printed", "12")
    store.set_meta("printed", "13")
    assert store.get_meta("printed", "0") == "13"


def test_a_file_that_is_not_a_database_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not an SQLite database at all" * 100)
    with pytest.raises(InputError, match=r"junk\.db"):
        ClientStore(path)


# -- privacy, party binding, id prefixes, the read cursor ----------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets new files be read by everyone (as on many desktops)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_store_and_its_wal_and_shm_are_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "sub" / "blue.db"
    store = ClientStore(path)
    try:
        store.enqueue(builder())  # a write: the -wal and -shm files exist while it is open
        companions = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() for p in companions)
        assert [mode(p) for p in [path, *companions]] == [0o600] * 3
    finally:
        store.close()
    assert mode(path) == 0o600


def test_an_existing_readable_store_is_made_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "blue.db"
    ClientStore(path).close()
    path.chmod(0o644)
    wal = Path(f"{path}-wal")
    wal.write_bytes(b"")
    wal.chmod(0o644)
    store = ClientStore(path)
    try:
        assert mode(path) == 0o600 and mode(wal) == 0o600
        assert store.outbox_counts()["total"] == 0
    finally:
        store.close()


def test_a_store_belongs_to_the_first_party_that_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "red.db"
    store = ClientStore(path)
    try:
        store.bind_party("red")
        store.bind_party("red")  # the same party again: fine
    finally:
        store.close()
    store = ClientStore(path)
    try:
        with pytest.raises(InputError) as err:
            store.bind_party("blue")
        text = str(err.value)
        assert "'red'" in text and "'blue'" in text and "red.db" in text
        assert "\n" not in text
        assert store.get_meta("party") == "red"
    finally:
        store.close()


def with_id(msg: Message, msg_id: str) -> Message:
    """``msg`` re-signed under another id."""
    return sign(msg.model_copy(update={"id": msg_id}), KEYS[msg.sender])


def test_resolve_id_takes_any_unique_prefix(store: ClientStore) -> None:
    a = with_id(from_("red", 1, "request", deadline_s=60), "abc1" + "0" * 28)
    b = with_id(from_("red", 2), "abc2" + "0" * 28)
    store.receive([a, b], "primary")
    (mine,) = store.enqueue_many([("red", lambda seq: with_id(ours(seq), "abd" + "1" * 29))])
    assert store.resolve_id("abc1") == a.id
    assert store.resolve_id("ABC2") == b.id  # ids are lower-case hex; any case is accepted
    assert store.resolve_id(a.id) == a.id
    assert store.resolve_id("abd") == mine.id  # our own messages count too
    with pytest.raises(InputError, match="ambiguous") as err:
        store.resolve_id("abc")
    assert a.id in str(err.value) and b.id in str(err.value) and "from red" in str(err.value)
    with pytest.raises(InputError, match="ambiguous") as err:
        store.resolve_id("ab")
    assert mine.id in str(err.value)
    with pytest.raises(InputError, match=r"no message .* starting with 'fff'"):
        store.resolve_id("fff")
    for bad in ["", "xyz", "a" * 33]:
        with pytest.raises(InputError, match="hex digits"):
            store.resolve_id(bad)


def test_the_read_cursor_only_moves_forward(store: ClientStore) -> None:
    assert store.cursor() == 0 and store.last_delivered() == 0
    store.receive([from_("red", 1), from_("red", 2)], "primary")
    assert store.last_delivered() == 2
    store.advance_cursor(2)
    store.advance_cursor(1)  # a slower reader never moves it back
    assert store.cursor() == 2


# -- small random interleavings --------------------------------------------------------

POOL = {s: [from_(s, i) for i in range(1, 16)] for s in ("red", "green")}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_small_interleavings_release_exactly_once_in_order(data: st.DataObject) -> None:
    n_red = data.draw(st.integers(0, 15), label="red")
    n_green = data.draw(st.integers(0, min(15, 30 - n_red)), label="green")
    originals = POOL["red"][:n_red] + POOL["green"][:n_green]
    dups = data.draw(st.lists(st.sampled_from(originals), max_size=8)) if originals else []
    arrivals = data.draw(st.permutations(originals + dups), label="arrivals")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(arrivals)), max_size=8), label="cuts"))
    bounds = [0, *cuts, len(arrivals)]
    batches = [arrivals[a:b] for a, b in itertools.pairwise(bounds)]
    channel = st.sampled_from(["primary", "backup"])
    vias = data.draw(st.lists(channel, min_size=len(batches), max_size=len(batches)), label="via")
    crash_after = data.draw(st.sets(st.integers(0, len(batches) - 1), max_size=2), label="crash")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blue.db"
        store = ClientStore(path)
        model = InboxModel()
        released: list[Message] = []
        try:
            for step, (via, batch) in enumerate(zip(vias, batches, strict=True)):
                released += store.receive(list(batch), via)
                model.add(list(batch))
                assert store.held_back() == model.held_back()
                if step in crash_after:
                    store.close()
                    store = ClientStore(path)
            check_exactly_once_in_order(store, originals, released)
        finally:
            store.close()


# -- streams: one sequence per (sender, recipient field) --------------------------------


def test_each_stream_is_numbered_from_one(store: ClientStore) -> None:
    drafts = [builder(to="red"), builder(to="green"), builder(to="all"), builder(to="red")]
    assert [(m.to, m.seq) for m in store.enqueue_many(drafts)] == [
        ("red", 1),
        ("green", 1),
        ("all", 1),
        ("red", 2),
    ]
    assert store.enqueue(builder(to="green")).seq == 2
    with pytest.raises(ValueError, match="draft"):  # a builder must keep to its stream
        store.enqueue(("red", lambda seq: ours(seq, to="green")))


def test_a_message_to_another_party_leaves_no_gap(store: ClientStore) -> None:
    """Red sent #1 to green (not ours to see), then #1 of its stream to us: shown at once."""
    distress = from_("red", 1, "distress", body="MAYDAY")
    assert store.receive([distress], "primary") == [distress]
    # broadcasts are their own stream: the first is #1 whatever red sent us directly
    shout = from_("red", 1, to="all", body="to everyone")
    assert store.receive([shout], "backup") == [shout]
    # a gap in one stream holds that stream only
    assert store.receive([from_("red", 3, to="all")], "primary") == []
    later = from_("red", 2)
    assert store.receive([later], "primary") == [later]
    assert store.held_back() == 1
    assert [m.seq for m in store.receive([from_("red", 2, to="all")], "primary")] == [2, 3]
    assert store.held_back() == 0


def test_streams_released_together_interleave_by_send_time(store: ClientStore) -> None:
    direct = [from_("red", i, ts=1e9 + 2 * i) for i in (1, 2)]
    broadcast = [from_("red", i, to="all", ts=1e9 + 2 * i + 1) for i in (1, 2)]
    out = store.receive([*broadcast, *direct], "primary")
    assert [(m.to, m.seq) for m in out] == [("blue", 1), ("all", 1), ("blue", 2), ("all", 2)]


def test_a_refused_message_at_the_end_of_its_stream_gives_its_number_back(
    store: ClientStore,
) -> None:
    to_red = store.enqueue(builder(to="red"))
    first, second = store.enqueue_many([builder(to="nobody"), builder(to="nobody")])
    assert store.refuse([(first.id, "unknown recipient"), (second.id, "unknown recipient")]) == []
    assert store.outbox_row(first.id) is None and store.outbox_row(second.id) is None
    assert store.refusal(first.id) == "unknown recipient"
    assert store.refusal(to_red.id) is None
    assert [m.id for m in store.unrelayed()] == [to_red.id]
    assert store.enqueue(builder(to="nobody")).seq == 1  # the number is used again
    assert store.enqueue(builder(to="red")).seq == 2  # other streams never noticed
    assert store.outbox_counts()["rejected"] == 2


def test_a_refused_message_with_later_ones_after_it_keeps_its_number(store: ClientStore) -> None:
    refused, after = store.enqueue_many([builder(to="red"), builder(to="red")])
    assert store.refuse([(refused.id, "bad signature")]) == [refused.id]
    assert store.outbox_row(refused.id)["rejected"] == "bad signature"  # type: ignore[index]
    assert store.refusal(refused.id) == "bad signature"
    assert [m.id for m in store.unrelayed()] == [after.id]
    # a message a relay already stored keeps its number too (the recipient may have it)
    stored = store.enqueue(builder(to="green"))
    store.mark_relayed([stored.id], "backup")
    assert store.refuse([(stored.id, "unknown recipient")]) == [stored.id]
    assert store.enqueue(builder(to="green")).seq == 2


#: The schema of a store made before per-stream numbering (one sequence per sender).
OLD_SCHEMA = """
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    recipient TEXT NOT NULL, message TEXT NOT NULL, created_at REAL NOT NULL, due_at REAL,
    relayed_at REAL, relayed_via TEXT, rejected TEXT, acked_at REAL, answered_at REAL
);
CREATE INDEX ix_outbox_unrelayed ON outbox (relayed_at, rejected, seq);
CREATE INDEX ix_outbox_created_at ON outbox (created_at);
CREATE TABLE inbox (
    sender TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    in_reply_to TEXT, message TEXT NOT NULL, received_at REAL NOT NULL, via TEXT NOT NULL,
    delivered_no INTEGER UNIQUE, PRIMARY KEY (sender, id)
);
CREATE INDEX ix_inbox_sender_seq ON inbox (sender, seq);
CREATE TABLE next_seq (sender TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE heads (relay TEXT PRIMARY KEY, n INTEGER NOT NULL, head TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def test_an_old_store_is_upgraded_and_releases_what_the_old_rule_held(tmp_path: Path) -> None:
    """Blue's old store: red's #17 held behind #16 (sent to green), ours numbered 1..3."""
    path = tmp_path / "blue.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    mine = [ours(1, to="red"), ours(2, to="green"), ours(3, to="red")]
    db.executemany(
        "INSERT INTO outbox (seq, id, kind, recipient, message, created_at, relayed_at,"
        " relayed_via) VALUES (?, ?, ?, ?, ?, 1.0, 2.0, 'primary')",
        [(m.seq, m.id, m.kind, m.to, m.to_json()) for m in mine],
    )
    shown, held = from_("red", 15), from_("red", 17, "distress", body="MAYDAY")
    db.executemany(
        "INSERT INTO inbox (sender, id, seq, kind, message, received_at, via, delivered_no)"
        " VALUES (?, ?, ?, ?, ?, 1.0, 'primary', ?)",
        [(m.sender, m.id, m.seq, m.kind, m.to_json(), n) for m, n in ((shown, 1), (held, None))],
    )
    db.execute("INSERT INTO next_seq VALUES ('red', 16)")
    db.execute("INSERT INTO meta VALUES ('party', 'blue'), ('printed', '1')")
    db.commit()
    db.close()

    store = ClientStore(path)
    try:
        assert store.held_back() == 0
        assert [(n, m.id) for n, m in store.delivered()] == [(1, shown.id), (2, held.id)]
        assert store.cursor() == 1 and store.get_meta("party") == "blue"
        row = store.outbox_row(mine[2].id)
        assert row is not None and row["seq"] == 3 and row["relayed_via"] == "primary"
        # our streams continue after their highest number; a new stream starts at 1
        assert [m.seq for m in store.enqueue_many([builder(to="red"), builder(to="green")])] == [
            4,
            3,
        ]
        assert store.enqueue(builder(to="all")).seq == 1
        # red's direct stream goes on after #17; its first broadcast is #1
        nxt = from_("red", 18)
        assert store.receive([nxt], "primary") == [nxt]
        first_all = from_("red", 1, to="all")
        assert store.receive([first_all], "primary") == [first_all]
    finally:
        store.close()
    ClientStore(path).close()  # opening an upgraded store again changes nothing
