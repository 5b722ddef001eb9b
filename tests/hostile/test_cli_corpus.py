"""The hostile-input corpus against every CLI command that reads a file.

Each file a command reads (states, zones, volumes, agreements, private-mode states and
messages, audit logs and heads, key files, hotline configs and stores) gets every
hostile content in turn, the others being valid. A command must refuse with one line
on stderr and exit 2 (``audit verify`` may say TAMPERED and exit 1; a content that is
in fact valid may exit 0), and never show a traceback. All cases run in-process
(typer's runner, which catches the same faults: an unhandled exception is a finding);
one deep-nesting case per command also runs as a real ``python -m deconflict`` process,
whose stderr must hold no traceback.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.cli.test_detect_cli import CONFLICTING
from tests.conftest import run_deconflict
from tests.hostile.cases import DEEP
from typer.testing import CliRunner

from deconflict import Agreement
from deconflict.cli.main import app
from deconflict.hotline.audit import AuditLog
from deconflict.hotline.keys import new_key_file

DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = "time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm,party\n"

#: Hostile file contents, by the kind of file they attack ("any": every file).
CONTENTS: dict[str, tuple[str, bytes]] = {
    "deep JSON array": ("any", b"[" * DEEP),
    "empty": ("any", b""),
    "invalid UTF-8": ("any", b"\xff\xfe\xc3(\x00garbage\n"),
    "NUL bytes": ("any", b"\x00" * 64),
    "binary": ("any", bytes(range(256)) * 4),
    "deep JSON object": ("json", b'{"a":' * DEEP),
    "truncated JSON": ("json", b'{"type": "FeatureCollection", "features": [{"type": "Fea'),
    "JSON of wrong types": (
        "json",
        b'{"type": 1, "features": {"a": null}, "format": [], "version": "x", "n": "1"}',
    ),
    "JSON with huge numbers and NaN": (
        "json",
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
        b'{"type": "Point", "coordinates": [1e999, NaN]}, "properties": {"id": "V1", '
        b'"radius_m": 1e999, "alt_lower_ft": -Infinity, "alt_upper_ft": 1e308, '
        b'"time_start": "2030-01-01T10:00:00Z", "time_end": "2030-01-01T11:00:00Z"}}]}',
    ),
    "JSON with a 5000-digit integer": ("json", b"[" + b"9" * 5000 + b"]"),
    "deep TOML array": ("toml", b"a = " + b"[" * DEEP),
    "deep TOML inline table": ("toml", b"a = " + b"{b = " * 5000),
    "deep TOML, closed": ("toml", b"a = " + b"[" * 3000 + b"]" * 3000 + b"\n"),
    "TOML of wrong types": ("toml", b'horizontal_nm = "five"\ntoken = 1\nbroker_url = []\n'),
    "CSV with text for numbers": (
        "csv",
        (HEADER + "noon,B1,north,2,FL300,450,90,0,blue\n").encode(),
    ),
    "CSV with NaN and Infinity": ("csv", (HEADER + "0,B1,nan,inf,-inf,1e999,90,0,blue\n").encode()),
    "CSV truncated": ("csv", (HEADER + "0,B1,48.0,2.").encode()),
}
#: Cases whose finding another engineer's issue-11 item fixes: (case label, item).
OWNED_ELSEWHERE: dict[str, int] = {}


#: Stands for the hostile file in a slot's arguments.
HOSTILE = "<hostile file>"


@dataclass
class Slot:
    """One file a command reads: ``argv`` with :data:`HOSTILE` where that file goes."""

    name: str
    argv: list[str]
    #: What the file holds: json, toml, csv, or "any" (binary, keys, stores).
    kind: str
    exits: frozenset[int] = frozenset({0, 2})
    #: A missing file there is created (a store), so it may exit 0.
    creates: bool = False

    def args(self, path: Path) -> list[str]:
        return [str(path) if a == HOSTILE else a for a in self.argv]


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A valid file of each kind, so that only the file under test is hostile."""
    d = tmp_path_factory.mktemp("valid")
    files = {
        "states": d / "states.csv",
        "zones": DATA / "zones" / "zones.geojson",
        "a": DATA / "volumes" / "a.geojson",
        "b": DATA / "volumes" / "b.geojson",
        "agreement": d / "agreement.toml",
        "key": d / "signing.key",
        "log": d / "audit.jsonl",
        "a_state": d / "a.json",
        "b_state": d / "b.json",
        "offer": d / "1.bin",
        "answer": d / "2.bin",
        "config": d / "hotline.toml",
        "store": d / "hotline.db",
    }
    files["states"].write_text(CONFLICTING)
    files["agreement"].write_text(Agreement().to_toml())
    key = new_key_file(files["key"])
    with AuditLog.open(files["log"], key) as log:
        log.append_many([("message", {"i": 1})])
    runner = CliRunner()
    ans = files["answer"]
    for args in (
        ["private", "offer", files["a"], "-s", files["a_state"], "-o", files["offer"]],
        ["private", "answer", files["b"], files["offer"], "-s", files["b_state"], "-o", ans],
    ):
        res = runner.invoke(app, [str(a) for a in args])
        assert res.exit_code == 0, res.output
    files["config"].write_text(
        f'token = "t"\nkey_file = "{files["key"]}"\nstore = "{files["store"]}"\n'
        'broker_url = "http://127.0.0.1:9"\n'
    )
    return files


def slots(v: dict[str, Path], out: Path) -> list[Slot]:
    """Every (command, file) pair of the CLI that reads a file (see ``deconflict --help``)."""
    f = {k: str(p) for k, p in v.items()}
    h, s, ag = HOSTILE, f["states"], ["--agreement", f["agreement"]]
    state, msg = ["-s", str(out / "s.json")], ["-o", str(out / "o.bin")]
    offline = ["--broker-url", "http://127.0.0.1:9", "--token", "t", "--timeout-s", "1"]
    send = ["hotline", "send", "hi", "--to", "red", "--store", str(out / "st.db")]
    verify = frozenset({0, 1, 2})  # 1: TAMPERED, one line
    return [
        Slot("detect STATES", ["detect", h], "csv"),
        Slot("detect --agreement", ["detect", s, "--agreement", h], "toml"),
        Slot("advise STATES", ["advise", h], "csv"),
        Slot("advise --agreement", ["advise", s, "--agreement", h], "toml"),
        Slot("zones STATES", ["zones", h, "--zones", f["zones"]], "csv"),
        Slot("zones --zones", ["zones", s, "--zones", h], "json"),
        Slot("zones --agreement", ["zones", s, "--zones", f["zones"], "--agreement", h], "toml"),
        Slot("plan check A", ["plan", "check", h, f["b"]], "json"),
        Slot("plan check B", ["plan", "check", f["a"], h, *ag], "json"),
        Slot("plan check --agreement", ["plan", "check", f["a"], f["b"], "--agreement", h], "toml"),
        Slot("private offer PLAN", ["private", "offer", h, *state, *msg], "json"),
        Slot(
            "private offer --agreement",
            ["private", "offer", f["a"], *state, *msg, "--agreement", h],
            "toml",
        ),
        Slot("private answer PLAN", ["private", "answer", h, f["offer"], *state, *msg], "json"),
        Slot("private answer OFFER", ["private", "answer", f["b"], h, *state, *msg], "any"),
        Slot("private refine MESSAGE", ["private", "refine", h, "-s", f["a_state"], *msg], "any"),
        Slot("private refine --state", ["private", "refine", f["answer"], "-s", h, *msg], "json"),
        Slot("private finish MESSAGE", ["private", "finish", h, "-s", f["a_state"]], "any"),
        Slot("private finish --state", ["private", "finish", f["answer"], "-s", h], "json"),
        Slot("audit verify LOG", ["audit", "verify", h], "json", verify),
        Slot("audit verify --head", ["audit", "verify", f["log"], "--head", h], "json", verify),
        Slot(
            "audit verify --key-file", ["audit", "verify", f["log"], "--key-file", h], "any", verify
        ),
        Slot("audit head LOG", ["audit", "head", h, "--key-file", f["key"], *msg], "json"),
        Slot("audit head --key-file", ["audit", "head", f["log"], "--key-file", h, *msg], "any"),
        Slot("hotline send --config", [*send, "--config", h, *offline[:2]], "toml"),
        Slot("hotline send --key-file", [*send, "--key-file", h, *offline], "any"),
        Slot(
            "hotline listen --config", ["hotline", "listen", "--count", "1", "--config", h], "toml"
        ),
        Slot("hotline overdue --config", ["hotline", "overdue", "--config", h], "toml"),
        Slot(
            "hotline overdue --store",
            ["hotline", "overdue", "--store", h, "--config", f["config"]],
            "any",
            creates=True,
        ),
        Slot(
            "hotline heads --store",
            ["hotline", "heads", "--store", h, "-o", str(out)],
            "any",
            creates=True,
        ),
    ]


def hostile_file(d: Path, label: str) -> Path:
    p = d / ("".join(c if c.isalnum() else "_" for c in label) + ".in")
    p.write_bytes(CONTENTS[label][1])
    return p


def check(res_exit: int, stderr: str, allowed: frozenset[int]) -> str | None:
    """What is wrong with a run's outcome, if anything."""
    if "Traceback" in stderr:
        return f"traceback: {stderr[-300:]}"
    if res_exit not in allowed:
        return f"exit {res_exit}: {stderr[-300:]}"
    if res_exit != 0 and len(stderr.strip().splitlines()) != 1:
        return f"exit {res_exit} with {len(stderr.strip().splitlines())} lines: {stderr[:300]}"
    return None


def test_every_file_reading_command_refuses_hostile_files_in_one_line(
    valid: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # anything a command writes by default lands here
    monkeypatch.setenv("HOME", str(tmp_path))  # no user config file is read
    runner = CliRunner()
    findings: list[str] = []
    for slot in slots(valid, tmp_path):
        for label, (kind, _) in CONTENTS.items():
            if kind not in ("any", slot.kind):
                continue
            path = hostile_file(tmp_path, label)
            res = runner.invoke(app, slot.args(path))
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                findings.append(f"{slot.name} [{label}]: {type(res.exception).__name__}")
                continue
            problem = check(res.exit_code, res.stderr, slot.exits)
            if problem:
                findings.append(f"{slot.name} [{label}]: {problem}")
        for special, path in (("a directory", tmp_path), ("a missing file", tmp_path / "none")):
            res = runner.invoke(app, slot.args(path))
            allowed = (
                slot.exits if slot.creates and special == "a missing file" else slot.exits - {0}
            )
            problem = check(res.exit_code, res.stderr, allowed)
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                problem = type(res.exception).__name__
            if problem:
                findings.append(f"{slot.name} [{special}]: {problem}")
    assert not findings, "\n".join(findings)


def test_deep_nesting_is_one_line_from_real_processes(valid: dict[str, Path], tmp_path: Path):
    """One real process per command: stderr one line, exit 2 (1: TAMPERED), no traceback."""
    deep_json = hostile_file(tmp_path, "deep JSON array")
    deep_toml = hostile_file(tmp_path, "deep TOML array")
    chosen: dict[str, Slot] = {}  # one per command: its first JSON or TOML file
    for slot in slots(valid, tmp_path):
        command = slot.name.rsplit(" ", 1)[0]
        if command not in chosen or chosen[command].kind not in ("json", "toml"):
            chosen[command] = slot
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    serve = ["serve", "--db", db, "--port", "9", "--agreement", str(deep_toml)]

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return run_deconflict(*args, cwd=tmp_path, env={"HOME": str(tmp_path)}, timeout_s=120)

    jobs = [
        (s.name, s.args(deep_toml if s.kind == "toml" else deep_json), s.exits)
        for s in chosen.values()
    ]
    jobs.append(("serve --agreement", serve, frozenset({2})))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: run(job[1]), jobs))
    findings = []
    for (name, _, allowed), res in zip(jobs, results, strict=True):
        problem = check(res.returncode, res.stderr, allowed - {0})
        if problem:
            findings.append(f"{name}: {problem}")
    assert not findings, "\n".join(findings)
