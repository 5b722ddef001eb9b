"""``deconflict keys new`` and ``deconflict hotline``: key files, settings, one-line errors."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner, Result

from deconflict.cli.main import app
from deconflict.errors import InputError
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.config import FIELDS, load_config
from deconflict.hotline.keys import load_key_file, new_key_file, public_hex
from deconflict.hotline.messages import new_message

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DECONFLICT_* settings and a HOME without a config file."""
    for name in [*FIELDS, "config"]:
        monkeypatch.delenv(f"DECONFLICT_{name.upper()}", raising=False)
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
                lambda seq: new_message(
                    key,
                    kind="request",
                    sender="blue",
                    to="red",
                    seq=seq,
                    body="please hold at FL310",
                    ts=now - 120,
                    deadline_s=30.0,
                )
            ]
        )
        store.enqueue(
            lambda seq: new_message(
                key,
                kind="request",
                sender="blue",
                to="green",
                seq=seq,
                body="not yet due",
                ts=now,
                deadline_s=3600.0,
            )
        )
    finally:
        store.close()

    res = invoke(
        "hotline", "overdue", "--token", "x", "--key-file", key_file, "--store", store_path
    )
    assert res.exit_code == 0, res.stderr
    (row,) = [line for line in res.stdout.splitlines() if req.id[:12] in line]
    assert re.search(r"\bred\W+blue\b", row), row  # red owes blue
    assert "please hold at FL310" in row
    assert "not yet due" not in res.stdout


def test_overdue_with_nothing_overdue(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    new_key_file(key_file)
    res = invoke(
        "hotline", "overdue", "--token", "x", "--key-file", key_file, "--store", tmp_path / "s.db"
    )
    assert res.exit_code == 0, res.stderr
    assert "no overdue requests" in res.stdout


def test_public_hex_is_the_verify_key() -> None:
    key = SigningKey(bytes(32))
    assert HEX64.match(public_hex(key))
    assert bytes.fromhex(public_hex(key)) == key.verify_key.encode()
