"""``deconflict party``: the token line as a user's shell sees it (a real subprocess),
the rest in process through typer's runner (each subprocess costs ~1 s of imports)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconflict.cli import party_cmd
from deconflict.cli.party_cmd import party_app
from deconflict.datadir import default_db_url
from deconflict.store.sql import SqlRepository
from deconflict.store.tokens import hash_token
from tests.conftest import run_deconflict

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: The variables naming the broker's database (the new name, the older one).
DB_VARIABLES = ("DECONFLICT_BROKER_DB", "DECONFLICT_DB")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_deconflict("party", *args, cwd=cwd, drop=DB_VARIABLES)


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(party_app, list(args), env=env or dict.fromkeys(DB_VARIABLES))


def stored_party(url: str, token: str):
    repo = SqlRepository(url)
    try:
        return repo.party_by_token_hash(hash_token(token))
    finally:
        repo.close()


def test_add_prints_the_token_alone_on_the_last_line(tmp_path: Path, data_dir: Path):
    res = run("add", "blue", cwd=tmp_path)  # default database: DATA_DIR/deconflict.db
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) >= 2 and "blue" in lines[0]
    token = lines[-1]
    assert TOKEN.fullmatch(token), token
    assert list(tmp_path.iterdir()) == []  # nothing in the working directory
    party = stored_party(f"sqlite:///{data_dir / 'deconflict.db'}", token)
    assert party is not None and party.name == "blue" and not party.is_admin
    # only the hash is stored
    stored = b"".join(p.read_bytes() for p in data_dir.glob("deconflict.db*"))
    assert token.encode() not in stored and hash_token(token).encode() in stored
    # a second add of the same name: one line on stderr, exit 2, nothing on stdout
    res = run("add", "blue", cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == "error: party 'blue' already exists"


def test_add_admin_list_and_revoke(sqlite_url: str):
    res = invoke("add", "wg", "--admin", "--db", sqlite_url)
    assert res.exit_code == 0, res.output
    assert "created admin 'wg'" in res.stdout
    assert stored_party(sqlite_url, res.stdout.splitlines()[-1]).is_admin
    assert invoke("add", "blue", "--db", sqlite_url).exit_code == 0
    res = invoke("revoke", "blue", "--db", sqlite_url)
    assert res.exit_code == 0 and "revoked party 'blue'" in res.stdout
    res = invoke("list", "--db", sqlite_url)
    assert res.exit_code == 0, res.output
    rows = {line.split()[1]: line for line in res.stdout.splitlines() if line.startswith("│")}
    assert "yes" in rows["wg"] and "revoked" not in rows["wg"]
    assert "revoked" in rows["blue"]
    assert "2 party(ies), 1 revoked" in res.stdout


def test_list_shows_the_acknowledged_fingerprint_prefix(sqlite_url: str):
    token = invoke("add", "blue", "--db", sqlite_url).stdout.splitlines()[-1]
    repo = SqlRepository(sqlite_url)
    try:
        repo.ack_agreement(repo.party_by_token_hash(hash_token(token)).id, "0123456789ab" * 5)
    finally:
        repo.close()
    out = invoke("list", "--db", sqlite_url).stdout
    assert "0123456789ab" in out and "0123456789ab0" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "blue"), "error: party 'blue' already exists"),
        (("revoke", "nobody"), "error: no party named 'nobody'"),
        (("add", " "), "error: party name is empty"),
    ],
)
def test_errors_are_one_line(sqlite_url: str, args: tuple[str, ...], message: str):
    assert invoke("add", "blue", "--db", sqlite_url).exit_code == 0
    res = invoke(*args, "--db", sqlite_url)
    assert res.exit_code == 2
    assert res.stderr.startswith(message) and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("variable", DB_VARIABLES)
def test_database_from_the_environment_and_list_creates_no_file(tmp_path: Path, variable: str):
    db = tmp_path / "env.db"
    env = {**dict.fromkeys(DB_VARIABLES), variable: f"sqlite:///{db}"}
    res = invoke("list", env=env)
    assert res.exit_code == 2 and "no database at" in res.stderr
    assert not db.exists()
    assert invoke("add", "blue", env=env).exit_code == 0
    assert db.exists()
    assert "blue" in invoke("list", env=env).stdout


def test_default_database_is_the_brokers(monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    from deconflict.service.settings import Settings

    for name in DB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert party_cmd.database(None) == default_db_url() == Settings().db
    assert default_db_url() == f"sqlite:///{data_dir / 'deconflict.db'}"


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("postgresql://u:secret@127.0.0.1:1/x", "error: --db: cannot open"),
        ("nonsense", "error: database URL 'nonsense' is not valid"),
    ],
)
def test_bad_databases_are_one_line(db: str, message: str):
    res = invoke("list", "--db", db)
    assert res.exit_code == 2
    assert res.stderr.startswith(message), res.stderr
    assert "secret" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_postgresql_add_and_list(pg_url: str):
    res = invoke("add", "blue", "--db", pg_url)
    assert res.exit_code == 0, res.output
    assert stored_party(pg_url, res.stdout.splitlines()[-1]).name == "blue"
    assert "blue" in invoke("list", "--db", pg_url).stdout
