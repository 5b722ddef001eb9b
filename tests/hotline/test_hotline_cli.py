"""``deconflict keys new`` and ``deconflict hotline``: key files, settings, one-line errors."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner, Result

from deconflict.cli.main import app
from deconflict.errors import InputError
from deconflict.hotline.audit import entries
from deconflict.hotline.client import HotlineClient, describe_event
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.config import FIELDS, load_config, store_path
from deconflict.hotline.keys import load_key_file, new_key_file, public_hex
from deconflict.hotline.messages import new_message, sign
from deconflict.hotline.relay_store import key_fingerprint
from deconflict.store.migrate import upgrade
from tests.hotline.conftest import read_jsonl, until
from tests.service.conftest import free_port, quick_party

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DECONFLICT_* settings and a HOME without a config file."""
    for name in [*FIELDS, "config"]:
        monkeypatch.delenv(f"DECONFLICT_{name.upper()}", raising=False)
        monkeypatch.delenv(f"DECONFLICT_CLIENT_{name.upper()}", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(res: Result, *needles: str) -> None:
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for needle in needles:
        assert needle in lines[0], res.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- keys new -------------------------------------------------------------------------


def test_keys_new_writes_a_private_file_and_prints_the_public_key(tmp_path: Path) -> None:
    out = tmp_path / "keys" / "blue.key"
    res = invoke("keys", "new", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    assert mode(out) == 0o600
    printed = [line for line in res.stdout.splitlines() if HEX64.match(line.strip())]
    assert len(printed) == 1
    assert printed[0].strip() == public_hex(load_key_file(out))
    assert str(out) in res.stdout


def test_keys_new_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "blue.key"
    assert invoke("keys", "new", "-o", out).exit_code == 0
    before = out.read_text()
    assert_one_line_error(invoke("keys", "new", "-o", out), str(out), "exists")
    assert out.read_text() == before
    res = invoke("keys", "new", "--out", out, "--force")
    assert res.exit_code == 0, res.stderr
    assert out.read_text() != before
    assert mode(out) == 0o600


def test_keys_new_force_makes_an_existing_file_private(tmp_path: Path) -> None:
    out = tmp_path / "blue.key"
    out.write_text("old\n")
    out.chmod(0o644)
    assert invoke("keys", "new", "-o", out, "--force").exit_code == 0
    assert mode(out) == 0o600


def test_key_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "k")
    assert load_key_file(tmp_path / "k").encode() == key.encode()
    with pytest.raises(InputError, match="No such file"):
        load_key_file(tmp_path / "missing")
    (tmp_path / "short").write_text("abcd\n")
    with pytest.raises(InputError, match="64 hex digits"):
        load_key_file(tmp_path / "short")
    (tmp_path / "junk").write_text("z" * 64)
    with pytest.raises(InputError, match="64 hex digits"):
        load_key_file(tmp_path / "junk")


# -- hotline send: settings errors -----------------------------------------------------


def test_send_without_a_token_names_the_flag(tmp_path: Path) -> None:
    res = invoke("hotline", "send", "hello", "--to", "red", "--store", tmp_path / "s.db")
    assert_one_line_error(res, "--token")


def test_send_without_a_key_file_names_the_flag(tmp_path: Path) -> None:
    res = invoke("hotline", "send", "hello", "--to", "red", "--token", "t")
    assert_one_line_error(res, "--key-file")


def test_send_with_a_missing_key_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.key"
    res = invoke(
        "hotline",
        "send",
        "hello",
        "--to",
        "red",
        "--token",
        "t",
        "--key-file",
        missing,
        "--store",
        tmp_path / "s.db",
    )
    assert_one_line_error(res, str(missing))


def test_a_missing_key_file_creates_no_store(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    res = invoke(
        "hotline",
        "send",
        "hello",
        "--to",
        "red",
        "--token",
        "t",
        "--key-file",
        tmp_path / "nowhere.key",
        "--store",
        store,
    )
    assert res.exit_code == 2
    assert not store.exists()


def test_send_with_a_bad_broker_url_names_the_setting(tmp_path: Path) -> None:
    key = tmp_path / "k"
    new_key_file(key)
    res = invoke(
        "hotline",
        "send",
        "hello",
        "--to",
        "red",
        "--token",
        "t",
        "--key-file",
        key,
        "--broker-url",
        "ftp://nope",
        "--store",
        tmp_path / "s.db",
    )
    assert_one_line_error(res, "broker_url")


def test_send_with_an_unknown_config_key_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('token = "t"\ncolour = "red"\n')
    res = invoke("hotline", "send", "hello", "--to", "red", "--config", cfg)
    assert_one_line_error(res, "colour")


# -- load_config precedence ------------------------------------------------------------


def write_toml(path: Path, **values: str) -> Path:
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()))
    return path


NO_FLAGS = dict.fromkeys(FIELDS)


def test_flags_beat_env_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_toml(
        tmp_path / "hotline.toml",
        broker_url="http://file:1",
        backup_url="http://file:2",
        token="file-token",
        key_file="/file/key",
        store="/file/store.db",
    )
    from_file = load_config(NO_FLAGS, cfg)
    assert from_file.broker_url == "http://file:1"
    assert from_file.backup_url == "http://file:2"
    assert from_file.token == "file-token"
    assert from_file.key_file == Path("/file/key")
    assert from_file.store == Path("/file/store.db")

    monkeypatch.setenv("DECONFLICT_TOKEN", "env-token")
    monkeypatch.setenv("DECONFLICT_BROKER_URL", "http://env:1")
    monkeypatch.setenv("DECONFLICT_STORE", "/env/store.db")
    merged = load_config({**NO_FLAGS, "token": "flag-token", "key_file": Path("/flag/key")}, cfg)
    assert merged.token == "flag-token"  # flag over env over file
    assert merged.broker_url == "http://env:1"  # env over file
    assert merged.store == Path("/env/store.db")  # env over file
    assert merged.key_file == Path("/flag/key")  # flag over file
    assert merged.backup_url == "http://file:2"  # file only


def test_env_alone_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECONFLICT_TOKEN", "env-token")
    monkeypatch.setenv("DECONFLICT_KEY_FILE", "~/k.key")
    cfg = load_config(NO_FLAGS)
    assert cfg.token == "env-token"
    assert cfg.key_file == Path.home() / "k.key"
    assert cfg.broker_url == "http://127.0.0.1:8000"
    assert cfg.backup_url is None
    assert cfg.store == Path("hotline.db")


def test_config_file_from_env_and_default_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    default = clean_env / ".config" / "deconflict" / "hotline.toml"
    default.parent.mkdir(parents=True)
    write_toml(default, token="default-token", key_file="~/default.key")
    cfg = load_config(NO_FLAGS)
    assert cfg.token == "default-token" and cfg.key_file == clean_env / "default.key"

    named = write_toml(tmp_path / "named.toml", token="named-token", key_file="/k")
    monkeypatch.setenv("DECONFLICT_CONFIG", str(named))
    assert load_config(NO_FLAGS).token == "named-token"

    explicit = write_toml(tmp_path / "explicit.toml", token="explicit-token", key_file="/k")
    assert load_config(NO_FLAGS, explicit).token == "explicit-token"


def test_client_prefixed_names_win_over_the_older_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECONFLICT_TOKEN", "old-token")
    monkeypatch.setenv("DECONFLICT_CLIENT_TOKEN", "new-token")
    monkeypatch.setenv("DECONFLICT_KEY_FILE", "/old/key")
    monkeypatch.setenv("DECONFLICT_CLIENT_KEY_FILE", "/new/key")
    monkeypatch.setenv("DECONFLICT_STORE", "/old/store.db")  # an older name alone still counts
    cfg = load_config(NO_FLAGS)
    assert (cfg.token, cfg.key_file, cfg.store) == (
        "new-token",
        Path("/new/key"),
        Path("/old/store.db"),
    )
    assert load_config({**NO_FLAGS, "token": "flag-token"}).token == "flag-token"
    old = write_toml(tmp_path / "old.toml", broker_url="http://old:1")
    new = write_toml(tmp_path / "new.toml", broker_url="http://new:1")
    monkeypatch.setenv("DECONFLICT_CONFIG", str(old))
    monkeypatch.setenv("DECONFLICT_CLIENT_CONFIG", str(new))
    assert load_config(NO_FLAGS).broker_url == "http://new:1"
    monkeypatch.setenv("DECONFLICT_CLIENT_STORE", "/new/store.db")
    assert store_path() == Path("/new/store.db")
    assert store_path(Path("flag.db")) == Path("flag.db")


def test_config_file_errors(tmp_path: Path) -> None:
    unknown = write_toml(tmp_path / "u.toml", token="t", key_file="/k", tokn="typo")
    with pytest.raises(InputError, match="unknown key 'tokn'"):
        load_config(NO_FLAGS, unknown)
    bad = tmp_path / "bad.toml"
    bad.write_text("token = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(NO_FLAGS, bad)
    with pytest.raises(InputError, match=r"missing\.toml"):
        load_config(NO_FLAGS, tmp_path / "missing.toml")


def test_missing_or_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="--token"):
        load_config(NO_FLAGS)
    with pytest.raises(InputError, match="--key-file"):
        load_config({**NO_FLAGS, "token": "t"})
    with pytest.raises(InputError, match="setting 'backup_url'"):
        load_config({**NO_FLAGS, "token": "t", "key_file": "/k", "backup_url": "nope"})
    monkeypatch.setenv("DECONFLICT_TOKEN", "")
    with pytest.raises(InputError, match="setting 'token'"):
        load_config({**NO_FLAGS, "key_file": "/k"})


# -- hotline overdue (local store) -----------------------------------------------------


def test_overdue_lists_an_unanswered_request_from_the_local_store(tmp_path: Path) -> None:
    key_file = tmp_path / "blue.key"
    key = new_key_file(key_file)
    store_path = tmp_path / "blue.db"
    now = time.time()
    store = ClientStore(store_path)
    try:
        store.set_meta("party", "blue")
        (req,) = store.enqueue_many(
            [
                (
                    "red",
                    lambda seq: new_message(
                        key,
                        kind="request",
                        sender="blue",
                        to="red",
                        seq=seq,
                        body="please hold at FL310",
                        ts=now - 120,
                        deadline_s=30.0,
                    ),
                )
            ]
        )
        store.enqueue(
            (
                "green",
                lambda seq: new_message(
                    key,
                    kind="request",
                    sender="blue",
                    to="green",
                    seq=seq,
                    body="not yet due",
                    ts=now,
                    deadline_s=3600.0,
                ),
            )
        )
    finally:
        store.close()

    res = invoke(
        "hotline", "overdue", "--token", "x", "--key-file", key_file, "--store", store_path
    )
    assert res.exit_code == 0, res.stderr
    (row,) = [line for line in res.stdout.splitlines() if req.id in line]  # the whole id
    assert re.search(r"\bred\W+blue\b", row), row  # red owes blue
    assert "please hold at FL310" in row
    assert "not yet due" not in res.stdout


def test_overdue_with_nothing_overdue(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    new_key_file(key_file)
    ClientStore(tmp_path / "s.db").close()  # a store that exists, with nothing in it
    res = invoke(
        "hotline", "overdue", "--token", "x", "--key-file", key_file, "--store", tmp_path / "s.db"
    )
    assert res.exit_code == 0, res.stderr
    assert "no overdue requests" in res.stdout


def test_overdue_on_a_store_that_does_not_exist_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "k"
    new_key_file(key_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)  # the default store, hotline.db, in an empty folder
    res = invoke("hotline", "overdue", "--token", "x", "--key-file", key_file)
    assert_one_line_error(res, "hotline.db", "does not exist")
    assert list(empty.iterdir()) == []


def test_overdue_refuses_a_store_of_another_party(tmp_path: Path) -> None:
    red_key, blue_key = tmp_path / "red.key", tmp_path / "blue.key"
    new_key_file(blue_key)
    store = ClientStore(tmp_path / "red.db")
    try:
        store.bind_party("red", public_hex(new_key_file(red_key)))
    finally:
        store.close()
    flags = ["--token", "x", "--store", tmp_path / "red.db"]
    assert invoke("hotline", "overdue", "--key-file", red_key, *flags).exit_code == 0
    res = invoke("hotline", "overdue", "--key-file", blue_key, *flags)
    assert_one_line_error(res, "red.db", "'red'", "blue.key")


def test_send_options_are_checked_in_their_own_words(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    new_key_file(key_file)
    store = tmp_path / "s.db"
    flags = ["--token", "t", "--key-file", key_file, "--store", store]
    send = ["hotline", "send", "hi", *flags]
    assert_one_line_error(invoke(*send, "--to", "red", "--kind", "response"), "--reply-to")
    assert_one_line_error(invoke(*send, "--to", "red", "--kind", "ack"), "--reply-to")
    res = invoke(*send, "--to", "red green")
    assert_one_line_error(res, "--to", "ASCII letters, digits")
    assert "^[" not in res.stderr and "Value error" not in res.stderr
    assert_one_line_error(invoke(*send, "--to", "red", "--deadline-s", "5"), "--deadline-s")
    res = invoke(*send, "--to", "red", "--kind", "request", "--deadline-s", "-1")
    assert_one_line_error(res, "--deadline-s")
    assert_one_line_error(invoke(*send, "--to", "red", "--kind", "shout"), "--kind", "distress")
    assert not store.exists()  # refused before any store was made


def test_listen_count_must_be_at_least_one(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    new_key_file(key_file)
    store = tmp_path / "s.db"
    for bad in ("0", "-1"):
        res = invoke(
            "hotline",
            "listen",
            "--count",
            bad,
            "--token",
            "t",
            "--key-file",
            key_file,
            "--store",
            store,
        )
        assert_one_line_error(res, "--count", "1 or more")
    assert not store.exists()


def test_public_hex_is_the_verify_key() -> None:
    key = SigningKey(bytes(32))
    assert HEX64.match(public_hex(key))
    assert bytes.fromhex(public_hex(key)) == key.verify_key.encode()


# -- the documented flow, with real processes ------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
#: Child processes import this checkout (``src``) and its tests, whatever is installed.
CHILD_PATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
MESSAGE_ID = re.compile(r"\b[0-9a-f]{32}\b")


@dataclass
class Flow:
    """A broker on 127.0.0.1 and the parties blue, red and green, run as a new user would."""

    tmp: Path
    broker_url: str
    db: str

    def flags(self, name: str, *, key: str | None = None, store: str | None = None) -> list[str]:
        """The client flags of party ``name`` (its token; its key and store unless given)."""
        return [
            "--token",
            (self.tmp / f"{name}.token").read_text().strip(),
            "--key-file",
            str(self.tmp / (key or f"{name}.key")),
            "--store",
            str(self.tmp / (store or f"{name}.db")),
            "--broker-url",
            self.broker_url,
        ]

    def run(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``deconflict ARGS`` in its own process, in the flow's directory."""
        return subprocess.run(
            [sys.executable, "-m", "deconflict", *args],
            cwd=self.tmp,
            env={**os.environ, "PYTHONPATH": CHILD_PATH},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def ok(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        res = self.run(*args, timeout_s=timeout_s)
        assert res.returncode == 0, (res.stdout, res.stderr)
        assert "Traceback" not in res.stderr
        return res

    def send(self, name: str, *args: str) -> str:
        """Send as ``name``; the full id it printed."""
        res = self.ok("hotline", "send", *args, *self.flags(name))
        return MESSAGE_ID.findall(res.stdout)[0]

    def listen(
        self, name: str, *args: str, timeout_s: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return self.ok("hotline", "listen", *args, *self.flags(name), timeout_s=timeout_s)

    def audit_entries(self, kind: str) -> list[dict[str, object]]:
        """Entries of ``kind`` in the audit logs the relays wrote under the flow's directory."""
        return [
            e for log in self.tmp.rglob("*.audit.jsonl") for e in entries(log) if e["type"] == kind
        ]


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    db = f"sqlite:///{tmp_path / 'broker.db'}"
    upgrade(db)
    for name in ("blue", "red", "green"):
        (tmp_path / f"{name}.token").write_text(quick_party(db, name) + "\n")
        new_key_file(tmp_path / f"{name}.key")
    port = free_port()
    log = (tmp_path / "broker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconflict", "serve", "--db", db, "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": CHILD_PATH},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "broker.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the broker did not answer in 30 s"
            try:
                if httpx.get(f"{url}/health", timeout=1.0, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield Flow(tmp_path, url, db)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def message_lines(out: str) -> list[str]:
    """The printed messages of ``hotline listen`` (one line each)."""
    kinds = "DISTRESS|NOTICE|REQUEST|RESPONSE|ACK"
    return [line for line in out.splitlines() if re.search(rf"\b({kinds}) from \w+ #\d+", line)]


def shown(out: str) -> list[tuple[str, str]]:
    """(id, body) of each message ``hotline listen`` printed."""
    found = [re.search(r" id ([0-9a-f]{32})[^:]*: (.*)$", line) for line in message_lines(out)]
    return [(m.group(1), m.group(2)) if m else ("", "") for m in found]


def test_the_documented_reply_flow_works_with_full_ids_and_a_prefix(flow: Flow) -> None:
    req = flow.send(
        "blue", "--to", "red", "--kind", "request", "--deadline-s", "1", "Confirm C3 closed?"
    )
    heard = flow.listen("red", "--count", "1")  # it sends its ack before it exits
    (line,) = message_lines(heard.stdout)
    assert "REQUEST from blue #1" in line and f"id {req}" in line
    assert "hotline: primary channel up (broker WebSocket)" in heard.stderr.splitlines()
    assert "primary_up" not in heard.stderr

    deadline = time.monotonic() + 20  # the request falls due 1 s after it was sent
    while req not in (owed := flow.ok("hotline", "overdue", *flow.flags("red")).stdout):
        assert time.monotonic() < deadline, owed
        time.sleep(0.2)
    (row,) = [r for r in owed.splitlines() if req in r]  # the whole id, to copy
    assert re.search(r"\bred\W+blue\b", row), row

    answer = flow.send(
        "red", "--to", "blue", "--kind", "response", "--reply-to", req[:6], "C3 closed until 1400Z"
    )
    lines = message_lines(flow.listen("blue", "--count", "2").stdout)  # red's ack, its answer
    (response,) = [x for x in lines if "RESPONSE" in x]
    assert f"id {answer} re {req}:" in response and "C3 closed until 1400Z" in response
    assert "no overdue requests" in flow.ok("hotline", "overdue", *flow.flags("blue")).stdout


def test_reply_to_an_unknown_or_ambiguous_prefix_is_a_one_line_error(tmp_path: Path) -> None:
    key_file = tmp_path / "red.key"
    new_key_file(key_file)
    blue = SigningKey(bytes([3]) * 32)
    store = ClientStore(tmp_path / "red.db")
    try:
        for seq, msg_id in enumerate(["abc1" + "0" * 28, "abc2" + "0" * 28], start=1):
            msg = new_message(blue, kind="request", sender="blue", to="red", seq=seq, body="?")
            store.receive([sign(msg.model_copy(update={"id": msg_id}), blue)], "primary")
    finally:
        store.close()
    flags = ["--token", "t", "--key-file", key_file, "--store", tmp_path / "red.db"]
    send = ["hotline", "send", "yes", "--to", "blue", "--kind", "response", *flags]
    assert_one_line_error(invoke(*send, "--reply-to", "abc"), "ambiguous", "abc1", "abc2")
    assert_one_line_error(invoke(*send, "--reply-to", "abd"), "no message", "'abd'")
    assert_one_line_error(invoke(*send, "--reply-to", "zz"), "hex digits")


def test_listen_counts_exactly_and_plain_and_jsonl_share_one_cursor(flow: Flow) -> None:
    sent = [flow.send("blue", "--to", "red", f"notice {i}") for i in (1, 2, 3)]

    async def receive_all() -> None:  # all three in red's store before listen reads it
        red = HotlineClient(
            ClientStore(flow.tmp / "red.db"),
            load_key_file(flow.tmp / "red.key"),
            flow.flags("red")[1],
            flow.broker_url,
        )
        await red.start()
        try:
            await until(lambda: len(red.store.delivered()) == 3)
        finally:
            await red.stop()
            red.store.close()

    asyncio.run(receive_all())
    first = flow.listen("red", "--count", "1")
    assert shown(first.stdout) == [(sent[0], "notice 1")]

    jsonl = flow.tmp / "red.jsonl"
    second = flow.listen("red", "--count", "1", "--jsonl", str(jsonl))
    assert shown(second.stdout) == [(sent[1], "notice 2")]
    assert [(r["n"], r["id"]) for r in read_jsonl(jsonl)] == [(2, sent[1])]

    third = flow.listen("red", "--count", "1")
    assert shown(third.stdout) == [(sent[2], "notice 3")]


def test_a_store_refuses_a_party_it_does_not_belong_to(flow: Flow) -> None:
    flow.send("red", "--to", "blue", "red's own")
    res = flow.run("hotline", "send", "--to", "red", "as blue", *flow.flags("blue", store="red.db"))
    assert res.returncode == 2, (res.stdout, res.stderr)
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and "'red'" in line and "'blue'" in line, line
    store = ClientStore(flow.tmp / "red.db")
    try:
        assert store.outbox_counts()["total"] == 1 and store.get_meta("party") == "red"
    finally:
        store.close()


def test_a_key_belongs_to_one_party_and_key_changes_are_audited(flow: Flow) -> None:
    flow.send("blue", "--to", "red", "registers blue's key")
    blue_key = public_hex(load_key_file(flow.tmp / "blue.key"))
    red_token = flow.flags("red")[1]
    headers = {"Authorization": f"Bearer {red_token}"}

    def put(key: str) -> httpx.Response:
        body = {"public_key": key}
        return httpx.put(
            f"{flow.broker_url}/hotline/key", json=body, headers=headers, trust_env=False
        )

    taken = put(blue_key.upper())
    assert taken.status_code == 409
    detail = taken.json()["detail"]
    assert "another party" in detail and "\n" not in detail and "blue" not in detail
    res = flow.run("hotline", "send", "--to", "blue", "x", *flow.flags("red", key="blue.key"))
    assert res.returncode == 2, (res.stdout, res.stderr)
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and "another party" in line, line

    first, second = SigningKey(bytes([5]) * 32), SigningKey(bytes([6]) * 32)
    for key in (first, second, second):
        assert put(public_hex(key)).status_code == 200
    keys = httpx.get(
        f"{flow.broker_url}/hotline/keys",
        params={"name": ["blue", "red"]},
        headers=headers,
        trust_env=False,
    ).json()
    assert keys == {"blue": blue_key, "red": public_hex(second)}
    changes = [e["data"] for e in flow.audit_entries("key")]
    fp = key_fingerprint
    assert changes == [
        {"party": "blue", "old": None, "new": fp(blue_key)},
        {"party": "red", "old": None, "new": fp(public_hex(first))},
        {"party": "red", "old": fp(public_hex(first)), "new": fp(public_hex(second))},
    ]


def test_channel_events_read_as_status_lines() -> None:
    silent = {"type": "primary_down", "reason": "primary silent 0.8 s", "backup": True}
    assert describe_event(silent) == "hotline: switched to backup channel (primary silent 0.8 s)"
    alone = {"type": "primary_down", "reason": "primary connection closed", "backup": False}
    assert describe_event(alone) == (
        "hotline: primary channel down (primary connection closed); no backup relay: "
        "messages wait in the outbox"
    )
    up = {"type": "primary_up", "channel": "broker WebSocket"}
    assert describe_event(up) == "hotline: primary channel up (broker WebSocket)"
    back = {**up, "down_s": 3.25}
    assert (
        describe_event(back)
        == "hotline: back on the primary channel (broker WebSocket) after 3.2 s"
    )
    refused = {"type": "rejected", "via": "backup", "rejected": [("ab12", "bad signature")]}
    assert (
        describe_event(refused)
        == "hotline: the backup relay refused 1 message(s): ab12: bad signature"
    )
    assert describe_event({"type": "something else"}) is None


def test_listen_refuses_a_jsonl_file_written_from_another_store(tmp_path: Path) -> None:
    key_file = tmp_path / "red.key"
    new_key_file(key_file)
    jsonl = tmp_path / "other.jsonl"
    jsonl.write_text('{"n": 5, "id": "x"}\n')
    flags = ["--token", "t", "--key-file", key_file, "--store", tmp_path / "red.db"]
    res = invoke("hotline", "listen", "--jsonl", jsonl, *flags)
    assert_one_line_error(res, "other.jsonl", "delivery 5", "another store")
    jsonl.write_text("not json\n")
    assert_one_line_error(invoke("hotline", "listen", "--jsonl", jsonl, *flags), "other.jsonl")


# -- streams: a message to one party never holds back another's ---------------------------


def test_a_message_to_a_third_party_never_holds_back_a_distress_call(flow: Flow) -> None:
    """Red sends to green, then a distress to blue: blue shows it (numbers are per stream)."""
    for_green = flow.send("red", "--to", "green", "for green only")
    distress = flow.send("red", "--to", "blue", "--kind", "distress", "MAYDAY RED1 engine fire")
    heard = flow.listen("blue", "--count", "1", timeout_s=30)
    assert shown(heard.stdout) == [(distress, "MAYDAY RED1 engine fire")]
    (line,) = message_lines(heard.stdout)
    assert "DISTRESS from red #1 " in line  # the first of red's messages to blue
    shout = flow.send("red", "--to", "all", "to everyone")  # broadcasts: a stream of their own
    green = flow.listen("green", "--count", "2", timeout_s=30)
    assert shown(green.stdout) == [(for_green, "for green only"), (shout, "to everyone")]


def test_a_refused_recipient_uses_no_number_and_blocks_nothing(flow: Flow) -> None:
    res = flow.run("hotline", "send", "--to", "nobody", "lost", *flow.flags("blue"))
    assert res.returncode == 2, (res.stdout, res.stderr)
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and "unknown recipient 'nobody'" in line, line
    after = flow.send("blue", "--to", "red", "after the refusal")
    heard = flow.listen("red", "--count", "1", timeout_s=30)
    assert shown(heard.stdout) == [(after, "after the refusal")]
    assert "NOTICE from blue #1 " in message_lines(heard.stdout)[0]
    store = ClientStore(flow.tmp / "blue.db")
    try:
        counts = store.outbox_counts()
        assert counts["total"] == 1 and counts["rejected"] == 1  # the refusal is kept aside
    finally:
        store.close()


# -- what a message's text can do on a terminal --------------------------------------------


def test_listen_prints_a_body_on_one_line_with_control_characters_escaped(flow: Flow) -> None:
    fake = "12:00:00 DISTRESS from red #9 id " + "0" * 32 + ": fake"
    body = f"fine\n{fake}\x1b[2J\x1b]0;owned\x07\u202eevil [bold]not bold[/bold]"
    sent = flow.send("blue", "--to", "red", body)
    jsonl = flow.tmp / "red.jsonl"
    heard = flow.listen("red", "--count", "1", "--jsonl", str(jsonl))
    (line,) = message_lines(heard.stdout)  # the fake header is not a line of its own
    assert f"id {sent}" in line
    assert "fine\\n12:00:00 DISTRESS from red" in line
    assert "\\x1b[2J\\x1b]0;owned\\x07\\u202eevil [bold]not bold[/bold]" in line
    assert "\x1b" not in heard.stdout + heard.stderr and "\u202e" not in heard.stdout
    assert [r["body"] for r in read_jsonl(jsonl)] == [body]  # the exact text, JSON-escaped
    assert stat.S_IMODE(jsonl.stat().st_mode) == 0o600


def test_listen_makes_an_existing_jsonl_file_private(flow: Flow) -> None:
    flow.send("blue", "--to", "red", "private")
    jsonl = flow.tmp / "red.jsonl"
    jsonl.touch()
    jsonl.chmod(0o644)
    flow.listen("red", "--count", "1", "--jsonl", str(jsonl))
    assert stat.S_IMODE(jsonl.stat().st_mode) == 0o600
    assert [r["body"] for r in read_jsonl(jsonl)] == ["private"]


def test_a_request_shows_when_its_response_is_due_not_its_deadline(flow: Flow) -> None:
    flow.send("blue", "--to", "red", "--kind", "request", "--deadline-s", "3600", "hold?")
    flow.send("blue", "--to", "red", "--kind", "request", "--deadline-s", "1", "late?")
    deadline = time.monotonic() + 20  # the second falls due 1 s after it was sent
    while not (owed := flow.ok("hotline", "overdue", *flow.flags("blue")).stdout).count("late?"):
        assert time.monotonic() < deadline, owed
        time.sleep(0.2)
    first, second = message_lines(flow.listen("red", "--count", "2").stdout)
    found = re.search(r"\(response due (\S+ \S+), in (\d+) s\): hold\?$", first)
    assert found is not None, first
    assert 3000 < int(found.group(2)) <= 3600
    assert "deadline" not in first and "due in 3600 s" not in first
    assert re.search(r"\(response due \S+ \S+, \d+ s overdue\): late\?$", second), second


# -- failed commands leave nothing behind ---------------------------------------------------


def test_a_send_with_a_refused_token_leaves_no_store(flow: Flow) -> None:
    flags = flow.flags("blue", store="new.db")
    flags[1] = "bogus-token"
    res = flow.run("hotline", "send", "--to", "red", "hello", *flags)
    assert res.returncode == 2, (res.stdout, res.stderr)
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and "token" in line, line
    assert not list(flow.tmp.glob("new.db*"))


def test_a_party_cannot_send_to_itself_in_those_words(flow: Flow) -> None:
    res = flow.run("hotline", "send", "--to", "blue", "me?", *flow.flags("blue"))
    assert res.returncode == 2, (res.stdout, res.stderr)
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and "a party cannot send to itself" in line, line
    assert "hotline message field" not in line
