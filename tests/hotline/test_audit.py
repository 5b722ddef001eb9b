"""The tamper-evident audit log: chain, signatures, party heads, crash repair and the CLI."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from typer.testing import CliRunner

from deconflict.cli.audit_cmd import audit_app
from deconflict.errors import InputError
from deconflict.hotline import audit
from deconflict.hotline.audit import (
    ZERO_HASH,
    AuditLog,
    canonical,
    entries,
    load_head,
    read_head,
    verify_log,
)
from deconflict.hotline.keys import new_key_file, public_hex

KEY = SigningKey(bytes(range(32)))
OTHER = SigningKey(bytes(range(1, 33)))


def make_log(path: Path, count: int, key: SigningKey = KEY, tag: str = "m") -> Path:
    """A log at ``path`` with the genesis and ``count`` message entries."""
    with AuditLog.open(path, key) as log:
        log.append_many([("message", {"i": i, "body": f"{tag}{i:05d}"}) for i in range(count)])
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def problem(path: Path, **kwargs) -> str:
    report = verify_log(path, **kwargs)
    assert not report.ok
    assert report.problem is not None and "\n" not in report.problem
    return report.problem


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return make_log(tmp_path / "audit.jsonl", 9)  # entries 1..10


# --- building and verifying ---------------------------------------------------------------


def test_fresh_log_verifies(tmp_path: Path):
    path = tmp_path / "sub" / "new.jsonl"
    path.parent.mkdir()
    with AuditLog.open(path, KEY) as log:
        assert log.n == 1 and log.public_key == public_hex(KEY)
    report = verify_log(path, public_key=public_hex(KEY))
    assert report.ok and report.problem is None and report.entries == 1 and report.key_checked
    [genesis] = list(entries(path))
    assert genesis["n"] == 1 and genesis["type"] == "genesis" and genesis["prev"] == ZERO_HASH
    assert genesis["data"] == {"public_key": public_hex(KEY)}
    assert set(genesis) == {"n", "time", "type", "data", "prev", "hash", "sig"}
    assert report.head_hash == genesis["hash"]


def test_thousand_entries_verify_and_read_back(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    with AuditLog.open(path, KEY) as log:
        returned = [log.append("message", {"i": i, "text": 'é ✈ \n"q"'}) for i in range(1000)]
    report = verify_log(path)
    assert report.ok and report.entries == 1001 and not report.key_checked
    assert report.public_key == public_hex(KEY)
    read = list(entries(path))
    assert [e["n"] for e in read] == list(range(1, 1002))
    assert read[1:] == returned  # append returns the entry exactly as it reads back
    assert all(b.isascii() for b in lines_of(path))
    for entry in read:  # every line is the canonical JSON of its entry
        assert entry["hash"] == audit.entry_hash(
            entry["n"], entry["time"], entry["type"], entry["data"], entry["prev"]
        )
    assert lines_of(path)[5] == (canonical(read[5]) + "\n").encode()


def test_append_many_ten_thousand(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    with AuditLog.open(path, KEY) as log:
        out = log.append_many([("alert", {"k": k, "pair": ["A1", "B2"]}) for k in range(10_000)])
        assert log.n == 10_001 and [e["n"] for e in out] == list(range(2, 10_002))
        assert log.append_many([]) == [] and log.n == 10_001
    assert all(a["hash"] == b["prev"] for a, b in itertools.pairwise(out))
    report = verify_log(path)
    assert report.ok and report.entries == 10_001 and report.head_hash == out[-1]["hash"]


def test_reopen_continues_the_chain(log_path: Path):
    before = verify_log(log_path)
    with AuditLog.open(log_path, KEY) as log:
        assert log.n == 10 and log.dropped_bytes == 0
        entry = log.append("escalation", {"to": "supervisor"})
    assert entry["n"] == 11 and entry["prev"] == before.head_hash
    assert verify_log(log_path).ok and verify_log(log_path).entries == 11


def test_reopen_after_an_entry_larger_than_a_read_chunk(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    with AuditLog.open(path, KEY) as log:
        log.append("message", {"body": "x" * 200_000})
    with AuditLog.open(path, KEY) as log:
        assert log.n == 2
        log.append("message", {"body": "after"})
    assert verify_log(path).entries == 3


def test_concurrent_appends_from_threads(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    with AuditLog.open(path, KEY) as log:

        def work(t: int) -> None:
            for i in range(50):
                if i % 2:
                    log.append("message", {"t": t, "i": i})
                else:
                    log.append_many([("message", {"t": t, "i": i, "j": j}) for j in range(3)])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    report = verify_log(path)
    assert report.ok and report.entries == 1 + 8 * (25 + 25 * 3)


def test_open_refuses_another_key_and_a_second_writer(log_path: Path):
    with pytest.raises(InputError, match=r"signed by key .* not by this key"):
        AuditLog.open(log_path, OTHER)
    with AuditLog.open(log_path, KEY), pytest.raises(InputError, match="open for writing"):
        AuditLog.open(log_path, KEY)
    with AuditLog.open(log_path, KEY) as log:  # the lock went with the first one
        assert log.n == 10


def test_open_refuses_a_damaged_last_entry_and_a_non_log(tmp_path: Path, log_path: Path):
    lines = lines_of(log_path)
    lines[-1] = lines[-1].replace(b'"body":"m', b'"body":"M')
    write_lines(log_path, lines)
    with pytest.raises(InputError, match="last entry is damaged"):
        AuditLog.open(log_path, KEY)
    other = tmp_path / "notes.txt"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(InputError, match="not a genesis entry"):
        AuditLog.open(other, KEY)
    with pytest.raises(InputError, match="audit log"):
        AuditLog.open(tmp_path / "missing-dir" / "log.jsonl", KEY)


def test_bad_appends_raise_and_write_nothing(log_path: Path):
    size = log_path.stat().st_size
    with AuditLog.open(log_path, KEY) as log:
        with pytest.raises(InputError, match="not JSON"):
            log.append_many([("message", {"ok": 1}), ("message", {"x": float("nan")})])
        with pytest.raises(InputError, match="not JSON"):
            log.append("message", {"x": object()})
        with pytest.raises(InputError, match="type"):
            log.append("genesis", {"public_key": public_hex(OTHER)})
        with pytest.raises(InputError, match="type"):
            log.append("", {})
        with pytest.raises(InputError, match="not an object"):
            log.append("message", ["a", "list"])  # type: ignore[arg-type]
        assert log.n == 10
        assert log.append("message", {"ok": 2})["n"] == 11
    assert log_path.stat().st_size > size and verify_log(log_path).entries == 11
    with pytest.raises(ValueError, match="closed"):
        log.append("message", {})


def test_a_failed_write_is_rolled_back(log_path: Path, monkeypatch: pytest.MonkeyPatch):
    size = log_path.stat().st_size
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    with AuditLog.open(log_path, KEY) as log:
        monkeypatch.setattr(audit.os, "write", half_then_full)
        with pytest.raises(OSError, match="No space"):
            log.append_many([("message", {"i": i}) for i in range(5)])
        monkeypatch.setattr(audit.os, "write", real_write)
        assert log_path.stat().st_size == size and log.n == 10
        assert log.append("message", {"after": True})["n"] == 11
    assert verify_log(log_path).ok


@settings(max_examples=50, deadline=None)
@given(
    data=st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=12)
            | st.sampled_from([',"n":', ',"time":', '"hash"', "\\"]),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    ),
    type_=st.text(min_size=1, max_size=10).filter(lambda t: t != "genesis"),
)
def test_any_json_data_round_trips_and_verifies(data: dict, type_: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        with AuditLog.open(path, KEY) as log:
            entry = log.append(type_, data)
        assert entry["data"] == json.loads(json.dumps(data))
        assert lines_of(path)[1] == (canonical(entry) + "\n").encode()
        assert verify_log(path).ok


# --- tampering that the log alone reveals ---------------------------------------------------


def test_one_byte_in_an_entrys_data_is_detected(log_path: Path):
    lines = lines_of(log_path)
    assert b'"body":"m00004"' in lines[5]
    lines[5] = lines[5].replace(b'"body":"m00004"', b'"body":"m00005"')
    write_lines(log_path, lines)
    report = verify_log(log_path)
    assert not report.ok and report.entries == 5
    assert report.problem == "entry 6: hash does not match its content (changed)"


def test_a_changed_hash_or_signature_is_detected(log_path: Path):
    good = lines_of(log_path)
    for field, expected in (("hash", "entry 4: hash does not match"), ("sig", "entry 4: bad sig")):
        lines = list(good)
        entry = json.loads(lines[3])
        digit = entry[field][10]
        entry[field] = entry[field][:10] + ("1" if digit != "1" else "2") + entry[field][11:]
        lines[3] = (canonical(entry) + "\n").encode()
        write_lines(log_path, lines)
        assert problem(log_path).startswith(expected), field
    lines = list(good)  # the genesis signature too
    entry = json.loads(lines[0])
    entry["sig"] = ("0" if entry["sig"][0] != "0" else "1") + entry["sig"][1:]
    write_lines(log_path, [(canonical(entry) + "\n").encode(), *lines[1:]])
    assert problem(log_path) == "entry 1: bad signature"


def test_a_bad_signature_far_into_a_long_log_is_found(tmp_path: Path):
    path = make_log(tmp_path / "long.jsonl", 6000)
    lines = lines_of(path)
    for n in (5000, 5900):  # two bad ones in different chunks: the first is named
        entry = json.loads(lines[n - 1])
        entry["sig"] = entry["sig"][::-1]
        lines[n - 1] = (canonical(entry) + "\n").encode()
    write_lines(path, lines)
    report = verify_log(path)
    assert report.problem == "entry 5000: bad signature" and report.entries == 4999


def test_removed_and_reordered_entries_are_detected(log_path: Path):
    good = lines_of(log_path)
    write_lines(log_path, good[:4] + good[5:])  # drop entry 5
    assert problem(log_path) == (
        "entry at line 5 is numbered 6, expected 5 (an entry was removed or re-ordered)"
    )
    write_lines(log_path, good[1:])  # drop the genesis
    assert problem(log_path).startswith("entry at line 1 is numbered 2, expected 1")
    swapped = list(good)
    swapped[3], swapped[6] = swapped[6], swapped[3]
    write_lines(log_path, swapped)
    assert problem(log_path).startswith("entry at line 4 is numbered 7, expected 4")


def test_a_renumbered_chain_is_caught_by_its_links(log_path: Path):
    """An outsider who drops entry 5 and renumbers the rest still breaks ``prev``."""
    lines = lines_of(log_path)
    del lines[4]
    for i in range(4, len(lines)):
        entry = json.loads(lines[i])
        entry["n"] = i + 1
        lines[i] = (canonical(entry) + "\n").encode()
    write_lines(log_path, lines)
    assert problem(log_path) == "entry 5: prev does not match entry 4 (removed or re-ordered)"


def test_non_canonical_and_malformed_lines(log_path: Path):
    good = lines_of(log_path)
    spaced = json.dumps(json.loads(good[2])).encode() + b"\n"  # same content, with spaces
    write_lines(log_path, [*good[:2], spaced, *good[3:]])
    assert problem(log_path) == "entry 3: not in canonical form (changed)"
    for bad in (b"not json\n", b"[1, 2]\n", b'{"n": 3}\n', b"\xff\xfe\n", b"[" * 5000 + b"\n"):
        write_lines(log_path, [*good[:2], bad, *good[3:]])
        assert problem(log_path) == "entry 3: not a valid entry (changed)"
    extra = json.loads(good[2])
    extra["note"] = "x"
    write_lines(log_path, [*good[:2], (canonical(extra) + "\n").encode(), *good[3:]])
    assert problem(log_path) == "entry 3: not a valid entry (changed)"


def test_genesis_rules(tmp_path: Path, log_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert problem(empty) == "log is empty (no genesis entry)"
    with AuditLog.open(empty, KEY) as log:  # an empty file gets its genesis
        assert log.n == 1
    assert verify_log(empty).ok
    # A holder who writes a second genesis mid-log (entries forged with the real key).
    lines = lines_of(log_path)
    entry = json.loads(lines[4])
    body = audit.entry_content(
        5, entry["time"], "genesis", {"public_key": "ab" * 32}, entry["prev"]
    )
    digest = hashlib.sha256(body.encode()).hexdigest()
    sig = KEY.sign(audit.ENTRY_DOMAIN + digest.encode()).signature.hex()
    lines[4] = (audit._entry_line(body, digest, sig) + "\n").encode()
    write_lines(log_path, lines)
    assert problem(log_path) == "entry 5: a second genesis entry"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_detected_at_its_entry(data: st.DataObject):
    raw = SMALL_LOG
    pos = data.draw(st.integers(0, len(raw) - 1), label="position")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]), label="byte")
    line = raw.count(b"\n", 0, pos) + 1
    changed = raw[:pos] + bytes([new]) + raw[pos + 1 :]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        path.write_bytes(changed)
        text = problem(path)
    assert f"entry {line}:" in text or f"line {line} " in text or "last line torn" in text, text


def _small_log() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return make_log(Path(tmp) / "small.jsonl", 4).read_bytes()


SMALL_LOG = _small_log()


# --- what only a party's head reveals -------------------------------------------------------


def test_dropping_the_last_entry_is_caught_only_by_a_head(log_path: Path):
    with AuditLog.open(log_path, KEY) as log:
        head = log.head()
    lines = lines_of(log_path)
    write_lines(log_path, lines[:-1])
    alone = verify_log(log_path)
    assert alone.ok and alone.entries == 9  # undetectable from the log alone
    assert problem(log_path, heads=[head]) == "log has 9 entries but party head n=10: truncated"


def test_truncation_is_caught_by_a_head(log_path: Path):
    old_head = read_head(log_path, KEY)
    with AuditLog.open(log_path, KEY) as log:
        log.append_many([("message", {"i": i}) for i in range(5)])
        new_head = log.head()
    assert verify_log(log_path, heads=[old_head, new_head]).heads_checked == 2
    write_lines(log_path, lines_of(log_path)[:12])
    assert verify_log(log_path, heads=[old_head]).ok
    assert problem(log_path, heads=[old_head, new_head]) == (
        "log has 12 entries but party head n=15: truncated"
    )


def test_a_log_rebuilt_by_the_holder_is_caught_by_a_head(tmp_path: Path):
    path = make_log(tmp_path / "log.jsonl", 20, tag="original")
    head = read_head(path, KEY)
    early = read_head(path, KEY)
    path.unlink()
    make_log(path, 25, tag="rewritten")  # same key, fresh genesis, other content
    rebuilt = verify_log(path, public_key=public_hex(KEY))
    assert rebuilt.ok and rebuilt.key_checked  # it is self-consistent...
    assert problem(path, heads=[head]) == (  # ...but not with what a party kept
        "entry 21 differs from the head a party holds: log rewritten"
    )
    assert problem(path, heads=[early]).startswith("entry 21 differs")


def test_truncate_then_append_again_is_caught_by_a_head(log_path: Path):
    head = read_head(log_path, KEY)
    write_lines(log_path, lines_of(log_path)[:6])
    with AuditLog.open(log_path, KEY) as log:  # the holder rewrites history from entry 7 on
        log.append_many([("message", {"i": i, "body": "edited"}) for i in range(6)])
    assert verify_log(log_path).ok
    assert problem(log_path, heads=[head]) == (
        "entry 10 differs from the head a party holds: log rewritten"
    )


def test_a_log_rebuilt_under_another_key(tmp_path: Path):
    path = make_log(tmp_path / "log.jsonl", 3)
    head = read_head(path, KEY)
    path.unlink()
    make_log(path, 3, key=OTHER)
    assert verify_log(path).ok
    assert "rebuilt under another key" in problem(path, heads=[head])
    assert problem(path, public_key=public_hex(KEY)).startswith(
        f"log is signed by key {public_hex(OTHER)[:16]}…, expected {public_hex(KEY)[:16]}…"
    )


def test_head_signature_and_shape(tmp_path: Path, log_path: Path):
    with AuditLog.open(log_path, KEY) as log:
        head = log.head()
    assert set(head) == {"n", "hash", "time", "public_key", "sig"} and head["n"] == 10
    assert head["hash"] == verify_log(log_path).head_hash
    forged = {**head, "n": 11}  # a party cannot claim a longer log than it was given
    assert problem(log_path, heads=[forged]) == "head n=11: bad signature"
    with pytest.raises(InputError, match="head #1: n"):
        verify_log(log_path, heads=[{**head, "n": 0}])
    with pytest.raises(InputError, match="head #2: not a head"):
        verify_log(log_path, heads=[head, {"n": 1}])
    with pytest.raises(InputError, match="64 hex"):
        verify_log(log_path, public_key="xyz")
    assert verify_log(log_path, public_key=public_hex(KEY).upper()).key_checked


def test_load_head(tmp_path: Path, log_path: Path):
    head = read_head(log_path, KEY)
    path = tmp_path / "head.json"
    path.write_text(json.dumps(head))
    assert load_head(path) == head
    cases = {
        "missing.json": None,
        "bad.json": "{not json",
        "list.json": "[1]",
        "hash.json": json.dumps({**head, "hash": "XYZ"}),
        "time.json": json.dumps({**head, "time": "noon"}),
        "binary.json": b"\xff\xfe",
    }
    for name, content in cases.items():
        target = tmp_path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif content is not None:
            target.write_text(content)
        with pytest.raises(InputError, match=f"head file .*{name}") as info:
            load_head(target)
        assert "\n" not in str(info.value)


def test_read_head_while_a_writer_holds_the_log(log_path: Path):
    with AuditLog.open(log_path, KEY) as log:
        log.append("message", {"x": 1})
        head = read_head(log_path, KEY)
        assert head["n"] == 11 and head["hash"] == log.head()["hash"]
    with pytest.raises(InputError, match="not by this key"):
        read_head(log_path, OTHER)
    with pytest.raises(InputError, match="audit log"):
        read_head(log_path.with_name("missing.jsonl"), KEY)


# --- crashes mid-write -------------------------------------------------------------------


def test_a_torn_last_line_is_reported_then_repaired(log_path: Path):
    good = log_path.read_bytes()
    with AuditLog.open(log_path, KEY) as log:
        log.append("message", {"body": "never acknowledged"})
    torn = log_path.read_bytes()[: len(good) + 40]  # the crash cut the last write short
    log_path.write_bytes(torn)
    report = verify_log(log_path)
    assert not report.ok and report.entries == 10
    assert report.problem is not None and report.problem.startswith("last line torn (line 11")
    assert [e["n"] for e in entries(log_path)][-1] == 10  # the torn line is not an entry
    head = read_head(log_path, KEY)  # a head never covers the torn line
    assert head["n"] == 10
    with AuditLog.open(log_path, KEY) as log:
        assert log.dropped_bytes == 40 and log.n == 10
        assert log_path.read_bytes() == good
        assert log.append("message", {"body": "again"})["n"] == 11
    assert verify_log(log_path, heads=[head]).ok


def test_a_torn_genesis_is_replaced(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"data":{"public_k')
    with AuditLog.open(path, KEY) as log:
        assert log.n == 1 and log.dropped_bytes == 18
    assert verify_log(path).ok


def test_entries_rejects_a_line_that_is_not_an_object(log_path: Path):
    write_lines(log_path, [*lines_of(log_path)[:3], b"garbage\n"])
    with pytest.raises(InputError, match="line 4 is not a JSON object"):
        list(entries(log_path))
    with pytest.raises(InputError, match="audit log"):
        list(entries(log_path.with_name("missing.jsonl")))


# --- the CLI -----------------------------------------------------------------------------


def invoke(*args: str | Path):
    return CliRunner().invoke(audit_app, [str(a) for a in args])


def test_cli_verify_ok(tmp_path: Path, log_path: Path):
    res = invoke("verify", log_path)
    assert res.exit_code == 0, res.output
    head_hash = verify_log(log_path).head_hash
    assert res.stdout.strip() == (
        f"ok: 10 entries, head {head_hash[:16]}; signed by {public_hex(KEY)[:16]}…; "
        "key not pinned, pass --key to check who signed"
    )
    res = invoke("verify", log_path, "--key", public_hex(KEY))
    assert res.exit_code == 0 and "signed by the expected key" in res.stdout
    assert "not pinned" not in res.stdout
    key_file = tmp_path / "holder.key"
    key_file.write_text(KEY.encode().hex() + "\n")
    res = invoke("verify", log_path, "--key-file", key_file)
    assert res.exit_code == 0 and "signed by the expected key" in res.stdout


def test_cli_head_then_verify_against_it(tmp_path: Path, log_path: Path):
    key_file = tmp_path / "holder.key"
    key_file.write_text(KEY.encode().hex() + "\n")
    res = invoke("head", log_path, "--key-file", key_file)
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert printed["n"] == 10 and printed["public_key"] == public_hex(KEY)
    out = tmp_path / "heads" / "h1.json"
    out.parent.mkdir()
    res = invoke("head", log_path, "--key-file", key_file, "-o", out)
    assert res.exit_code == 0 and f"head n=10 hash {printed['hash'][:16]}" in res.stdout
    res = invoke("verify", log_path, "--head", out, "--head", out)
    assert res.exit_code == 0 and "consistent with 2 party head(s)" in res.stdout
    write_lines(log_path, lines_of(log_path)[:7])
    res = invoke("verify", log_path, "--head", out)
    assert res.exit_code == 1
    assert res.stderr.strip() == "TAMPERED: log has 7 entries but party head n=10: truncated"
    assert res.stdout == ""


def test_cli_head_with_the_wrong_key(tmp_path: Path, log_path: Path):
    key_file = tmp_path / "other.key"
    new_key_file(key_file)
    res = invoke("head", log_path, "--key-file", key_file)
    assert res.exit_code == 2 and res.stderr.startswith("error: audit log")
    assert "not by this key" in res.stderr and "Traceback" not in res.output


def test_cli_tampered_exits_1(log_path: Path):
    lines = lines_of(log_path)
    lines[2] = lines[2].replace(b'"body":"m00001"', b'"body":"m00009"')
    write_lines(log_path, lines)
    res = invoke("verify", log_path)
    assert res.exit_code == 1
    assert res.stderr.strip() == "TAMPERED: entry 3: hash does not match its content (changed)"


def test_cli_wrong_key_exits_1(log_path: Path):
    res = invoke("verify", log_path, "--key", public_hex(OTHER))
    assert res.exit_code == 1
    assert res.stderr.startswith(f"TAMPERED: log is signed by key {public_hex(KEY)[:16]}…")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "{tmp}/missing.jsonl"], "error: audit log {tmp}/missing.jsonl: No such file"),
        (["verify", "{tmp}"], "error: audit log {tmp}: Is a directory"),
        (["verify", "{log}", "--key", "abc"], "error: public key 'abc': expected 64 hex digits"),
        (["verify", "{log}", "--key", "00", "--key-file", "{log}"], "error: give --key or"),
        (["verify", "{log}", "--key-file", "{tmp}/none.key"], "error: signing key file"),
        (["verify", "{log}", "--head", "{log}"], "error: head file"),
        (["head", "{tmp}/missing.jsonl", "--key-file", "{tmp}/none.key"], "error: signing key"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, log_path: Path, args: list[str], message: str):
    fill = {"tmp": str(tmp_path), "log": str(log_path)}
    res = invoke(*[a.format(**fill) for a in args])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(message.format(**fill)), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_cli_help_lists_the_commands():
    res = invoke()
    assert "verify" in res.output and "head" in res.output
