"""The record a report is made from: tracks, alerts, hotline traffic and audit logs.

:func:`load_record` reads either a broker's database (``--db URL``: the broker's tables
through :mod:`deconflict.store`, plus the audit logs, relay keys, backup relay database and
hotline client stores found beside an SQLite file, or in the data directory) or the demo's
output folder (``--record DIR``: ``tracks.parquet``, ``summary.json``, ``agreement.toml``,
``record.json`` and the runs ``on/`` and ``off/``, each a broker's folder as above).

Every time in a :class:`Record` is on one clock, ``t_s`` (s): for a broker the Unix time
(``start_unix_s`` 0); for the demo the scenario time, its ``t = 0`` at the scenario's
``start_utc`` (``start_unix_s``) and the hotline's timestamps shifted by the demo's message
epoch (``record.json``). UTC of a time is ``start_unix_s + t_s``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deconflict._util import parse_iso_utc
from deconflict.agreement import Agreement
from deconflict.errors import InputError

#: Columns of :attr:`RunRecord.tracks` (``t_s`` s, deg, ft, kt, deg, ft/min).
TRACK_COLUMNS = ("t_s", "id", "party", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")
#: Columns of :attr:`RunRecord.alerts`: one alert event as its party saw it.
ALERT_COLUMNS = (
    "t_s",
    "party",
    "conflict_id",
    "own_id",
    "event",
    "level",
    "manoeuvre",
    "target_vs_fpm",
    "target_track_deg",
    "t_in_s",
    "range_nm",
    "bearing_deg",
    "rel_alt_ft",
    "closure_kt",
    "zone",
    "reason",
)
#: Columns of :attr:`RunRecord.messages`: one signed hotline message; ``channel`` is the
#: relay(s) that stored it (``primary``, ``backup`` or ``both``), ``deadline_s`` NaN
#: unless a request.
MESSAGE_COLUMNS = (
    "t_s",
    "id",
    "kind",
    "sender",
    "to",
    "in_reply_to",
    "deadline_s",
    "body",
    "channel",
)
#: The demo's extra facts beside ``summary.json`` (written by ``deconflict demo``).
RECORD_FILE = "record.json"
#: Stem of a broker's files in its folder (``deconflict.db``, ``.audit.jsonl``, ``.relay.key``).
BROKER_STEM = "deconflict"


@dataclass(frozen=True)
class AuditCheck:
    """One relay's audit log, verified (:func:`deconflict.hotline.audit.verify_log`).

    ``relay``: ``primary`` or ``backup`` (with the run, e.g. ``primary (on)``);
    ``signer``: the key its genesis names; ``key_pinned``: the signer is the relay's key
    file; ``heads_checked``: party-held signed heads found consistent; ``types``: entries
    per type; ``party_keys``: (party, public key) registrations in the log.
    """

    relay: str
    path: str
    ok: bool
    entries: int
    head_hash: str
    problem: str | None
    signer: str
    key_pinned: bool
    heads_checked: int
    types: dict[str, int] = field(default_factory=dict)
    party_keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """One broker's record: tracks, alerts, hotline messages, audit logs (see the module).

    ``tracks`` (:data:`TRACK_COLUMNS`), ``alerts`` (:data:`ALERT_COLUMNS`), ``messages``
    (:data:`MESSAGE_COLUMNS`), sorted by time; ``audit`` one check per log found.
    """

    label: str
    tracks: pd.DataFrame
    alerts: pd.DataFrame
    messages: pd.DataFrame
    audit: tuple[AuditCheck, ...]


@dataclass(frozen=True)
class Record:
    """What a report is made of.

    ``runs``: ``on`` (and ``off``) for the demo, ``broker`` for a database; ``main`` the one
    whose incidents are reported (the others are compared in the summary). ``parties``:
    every party of the record, sorted. ``aircraft_types``: id → type where known.
    ``since_s``/``until_s``: the period (record clock), after any filter. ``notes``:
    what the reader should know of how the record was read (shown in the summary).
    """

    source: str
    agreement: Agreement
    start_unix_s: float
    runs: dict[str, RunRecord]
    main: str
    parties: tuple[str, ...]
    since_s: float
    until_s: float
    scenario: str | None = None
    aircraft_types: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def run(self) -> RunRecord:
        """The main run."""
        return self.runs[self.main]

    def utc(self, t_s: float) -> pd.Timestamp:
        """The UTC time of record time ``t_s``."""
        return pd.Timestamp(self.start_unix_s + float(t_s), unit="s", tz="UTC")


def parse_time(text: str, what: str) -> float:
    """A ``--since``/``--until`` value: ISO-8601 with a UTC offset, or epoch seconds.

    >>> parse_time("2015-11-24T05:00:00Z", "--since"), parse_time("60", "--until")
    (1448341200.0, 60.0)
    """
    try:
        value = float(text)
    except ValueError:
        try:
            return parse_iso_utc(text)
        except (ValueError, InputError):
            raise InputError(
                f"{what} {text!r}: not an ISO-8601 UTC time (e.g. 2015-11-24T05:30:00Z) "
                "or epoch seconds"
            ) from None
    if not math.isfinite(value):
        raise InputError(f"{what} {text!r}: not a finite number of seconds")
    return value


def load_record(
    *,
    db: str | None = None,
    record_dir: Path | None = None,
    since_unix_s: float | None = None,
    until_unix_s: float | None = None,
) -> Record:
    """The record of a broker (``db``) or of the demo's output folder (``record_dir``).

    Exactly one of ``db`` and ``record_dir``; ``since_unix_s``/``until_unix_s`` (Unix s,
    UTC) keep only what happened in that period. :class:`InputError` on bad input.
    """
    if (db is None) == (record_dir is None):
        raise InputError("give exactly one of --db URL and --record DIR")
    if since_unix_s is not None and until_unix_s is not None and since_unix_s >= until_unix_s:
        raise InputError("--since must be before --until")
    record = _from_dir(Path(record_dir)) if record_dir is not None else _from_db(str(db))
    return _clip(record, since_unix_s, until_unix_s)


# -- the demo's folder ---------------------------------------------------------------


def _from_dir(folder: Path) -> Record:
    if not folder.is_dir():
        raise InputError(f"--record {folder}: no such folder")
    tracks_path = folder / "tracks.parquet"
    if not tracks_path.is_file():
        raise InputError(f"--record {folder}: no tracks.parquet (not a demo's output folder?)")
    summary = _read_json(folder / "summary.json")
    extra = _read_json(folder / RECORD_FILE)
    agreement = _agreement_of(folder / "agreement.toml")
    start = _start_unix(extra.get("start_utc"))
    epoch = extra.get("hotline_epoch_s")
    try:
        tracks = pd.read_parquet(tracks_path)
    except Exception as err:  # pyarrow raises several kinds
        raise InputError(f"{tracks_path}: not a readable Parquet file ({err})") from None
    missing = {"run", "time", "id", "party", "lat", "lon", "alt_ft"} - set(tracks.columns)
    if missing:
        raise InputError(f"{tracks_path}: missing column(s) {sorted(missing)}")
    runs: dict[str, RunRecord] = {}
    for label in ("on", "off"):
        part = tracks[tracks["run"] == label]
        run_dir = folder / label
        if not len(part) and not run_dir.is_dir():
            continue
        db_file = run_dir / f"{BROKER_STEM}.db"
        if db_file.is_file():
            tables = _read_db(f"sqlite:///{db_file}", db_file.parent, epoch_unix_s=epoch)
        else:
            tables = _empty_tables()
        runs[label] = RunRecord(
            label=label,
            tracks=_tracks(part.rename(columns={"time": "t_s"})),
            alerts=tables["alerts"],
            messages=tables["messages"],
            audit=tuple(_audits(db_file.parent, f" ({label})")) if db_file.is_file() else (),
        )
    if not runs:
        raise InputError(f"--record {folder}: tracks.parquet has no 'on' or 'off' run")
    return _finish(
        str(folder),
        agreement,
        start,
        runs,
        "on" if "on" in runs else next(iter(runs)),
        scenario=summary.get("scenario"),
        types={str(k): str(v) for k, v in extra.get("aircraft_types", {}).items()},
    )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not JSON ({err})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: not a JSON object")
    return obj


def _agreement_of(path: Path) -> Agreement:
    if not path.is_file():
        return Agreement()
    from deconflict.io.agreement_file import load_agreement

    return load_agreement(path)


def _start_unix(start_utc: object) -> float:
    if not start_utc:
        return 0.0
    try:
        return parse_iso_utc(str(start_utc))
    except (ValueError, InputError):
        raise InputError(
            f"{RECORD_FILE}: start_utc {start_utc!r} is not an ISO-8601 time"
        ) from None


# -- a broker's database ---------------------------------------------------------------


def _from_db(url: str) -> Record:
    from deconflict.datadir import resolve_data_dir, sqlite_file

    folder: Path | None
    try:
        path = sqlite_file(url)
    except InputError:
        path = None
    if url.startswith("sqlite"):
        if path is None or not path.is_file():
            raise InputError(f"--db {url}: no such SQLite database file")
        folder = path.parent
    else:
        folder = resolve_data_dir(None)
    extra: dict[str, Any] = {}
    if path is not None:  # the demo's out/on/deconflict.db: record.json is in out/
        near = [folder / RECORD_FILE, folder.parent / RECORD_FILE]
        extra = next((_read_json(p) for p in near if p.is_file()), {})
    start = _start_unix(extra.get("start_utc"))
    tables = _read_db(url, folder, epoch_unix_s=extra.get("hotline_epoch_s"), with_tracks=True)
    agreement, notes = _broker_agreement(folder, path is not None, tables["acked"])
    run = RunRecord(
        label="broker",
        tracks=tables["tracks"],
        alerts=tables["alerts"],
        messages=tables["messages"],
        audit=tuple(_audits(folder, "", path.stem if path is not None else BROKER_STEM)),
    )
    types = {str(k): str(v) for k, v in extra.get("aircraft_types", {}).items()}
    record = _finish(
        url,
        agreement,
        start,
        {"broker": run},
        "broker",
        scenario=extra.get("scenario"),
        types=types,
    )
    return dataclasses.replace(record, notes=notes)


#: The variables the broker reads its agreement file from (the first set wins).
AGREEMENT_ENV = ("DECONFLICT_BROKER_AGREEMENT", "DECONFLICT_AGREEMENT")


def _broker_agreement(
    folder: Path, beside_db: bool, acked: pd.DataFrame
) -> tuple[Agreement, tuple[str, ...]]:
    """The broker's agreement, and a note when the parties acknowledged another.

    ``agreement.toml`` beside its SQLite file (or in the folder above), else the file the
    broker's own variables name, else the default rules.
    """
    candidates = [folder / "agreement.toml", folder.parent / "agreement.toml"] if beside_db else []
    candidates += [Path(os.environ[v]) for v in AGREEMENT_ENV if os.environ.get(v)][:1]
    found = next((p for p in candidates if p.is_file()), None)
    agreement = _agreement_of(found) if found is not None else Agreement()
    notes: list[str] = []
    acks = set(acked["fingerprint"])
    if acks and agreement.fingerprint not in acks:
        where = f"{found}" if found is not None else "no agreement file found: the default rules"
        notes.append(
            f"The agreement used here ({where}, fingerprint {agreement.fingerprint[:12]}) is not "
            f"the one the parties acknowledged ({', '.join(sorted(f[:12] for f in acks))}): "
            f"minima and protected areas may differ. Put its agreement.toml beside the "
            f"database, or name it in {AGREEMENT_ENV[0]}."
        )
    return agreement, tuple(notes)


def _empty_tables() -> dict[str, pd.DataFrame]:
    return {
        "acked": pd.DataFrame({"fingerprint": []}),
        "tracks": pd.DataFrame({c: [] for c in TRACK_COLUMNS}),
        "alerts": pd.DataFrame({c: [] for c in ALERT_COLUMNS}),
        "messages": pd.DataFrame({c: [] for c in MESSAGE_COLUMNS}),
    }


def _read_db(
    url: str, folder: Path, *, epoch_unix_s: float | None, with_tracks: bool = False
) -> dict[str, pd.DataFrame]:
    """Tracks (if asked), alerts and hotline messages of the broker at ``url``.

    Messages are merged with those of a backup relay database beside it (any other
    ``*.db`` in ``folder`` holding a ``hotline_messages`` table).
    """
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from deconflict.store import models as m
    from deconflict.store.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = dict(conn.execute(select(m.Party.id, m.Party.name)).all())
            acked = conn.execute(
                select(m.Party.acked_fingerprint).where(
                    m.Party.acked_fingerprint.is_not(None), m.Party.is_admin.is_(False)
                )
            ).all()
            out = _empty_tables()
            out["acked"] = pd.DataFrame({"fingerprint": sorted({r[0] for r in acked})})
            if with_tracks:
                t = m.TrackState
                cols = [t.party_id, t.aircraft_id, t.time, t.lat, t.lon, t.alt_ft, t.gs_kt]
                rows = conn.execute(select(*cols, t.track_deg, t.vs_fpm)).all()
                frame = pd.DataFrame(rows, columns=["party_id", "id", "t_s", *TRACK_COLUMNS[3:]])
                frame["party"] = frame["party_id"].map(names).astype(object)
                out["tracks"] = _tracks(frame)
            a = m.Alert
            rows = conn.execute(
                select(
                    a.time,
                    a.party_id,
                    a.conflict_id,
                    a.own_id,
                    a.event,
                    a.level,
                    a.manoeuvre,
                    a.target_vs_fpm,
                    a.target_track_deg,
                    a.t_in_s,
                    a.intruder_range_nm,
                    a.intruder_bearing_deg,
                    a.intruder_rel_alt_ft,
                    a.intruder_closure_kt,
                    a.zone,
                    a.reason,
                ).order_by(a.id)
            ).all()
            alerts = pd.DataFrame(rows, columns=["t_s", "party", *ALERT_COLUMNS[2:]])
            alerts["party"] = alerts["party"].map(names).astype(object)
            out["alerts"] = alerts[list(ALERT_COLUMNS)]
            primary = [r[0] for r in conn.execute(select(m.HotlineMessage.message)).all()]
    except SQLAlchemyError as err:
        from deconflict.store.sql import shown

        why = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise InputError(
            f"--db {shown(url)}: cannot read a broker's tables (not a broker's database?): {why}"
        ) from None
    finally:
        engine.dispose()
    from deconflict.datadir import sqlite_file

    backup: list[str] = []
    own = sqlite_file(url)
    for other in sorted(folder.glob("*.db")):
        same = own is not None and other.resolve() == own.resolve()
        if not same and other.with_suffix(".audit.jsonl").is_file():
            backup += _column(other, "SELECT message FROM hotline_messages")
    out["messages"] = _messages(primary, backup, epoch_unix_s)
    return out


def _column(path: Path, query: str) -> list[Any]:
    """The rows of ``query`` on the SQLite file ``path``, opened read-only ([] if it fails)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return [r[0] if len(r) == 1 else tuple(r) for r in db.execute(query)]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def _messages(primary: list[str], backup: list[str], epoch: float | None) -> pd.DataFrame:
    """Both relays' messages, one row per message id, on the record clock."""
    seen: dict[str, dict[str, Any]] = {}
    for channel, texts in (("primary", primary), ("backup", backup)):
        for text in texts:
            try:
                msg = json.loads(text)
            except ValueError:
                continue
            if not isinstance(msg, dict) or "id" not in msg:
                continue
            row = seen.get(msg["id"])
            if row is not None:
                if row["channel"] != channel:
                    row["channel"] = "both"
                continue
            deadline = msg.get("deadline_s")
            seen[msg["id"]] = {
                "t_s": float(msg.get("ts", 0.0)) - (float(epoch) if epoch is not None else 0.0),
                "id": str(msg["id"]),
                "kind": str(msg.get("kind", "")),
                "sender": str(msg.get("sender", "")),
                "to": str(msg.get("to", "")),
                "in_reply_to": msg.get("in_reply_to"),
                "deadline_s": float(deadline) if deadline is not None else np.nan,
                "body": str(msg.get("body", "")),
                "channel": channel,
            }
    frame = pd.DataFrame(list(seen.values()), columns=list(MESSAGE_COLUMNS))
    return frame.sort_values(["t_s", "id"], kind="stable").reset_index(drop=True)


def _tracks(frame: pd.DataFrame) -> pd.DataFrame:
    for col in ("gs_kt", "track_deg", "vs_fpm"):
        if col not in frame:
            frame = frame.assign(**{col: np.nan})
    out = frame[list(TRACK_COLUMNS)].copy()
    out["id"] = out["id"].astype(str).astype(object)
    out["party"] = out["party"].astype(str).astype(object)
    out = out.drop_duplicates(["id", "t_s"], keep="last")
    return out.sort_values(["t_s", "id"], kind="stable").reset_index(drop=True)


# -- audit logs ------------------------------------------------------------------------


def _audits(folder: Path, suffix: str, stem: str = BROKER_STEM) -> list[AuditCheck]:
    """Every relay log in ``folder``: the broker's (primary) first, then the others (backup)."""
    from deconflict.hotline.audit import entries, verify_log
    from deconflict.hotline.keys import load_key_file, public_hex

    # The signed heads each party's hotline store kept (read-only: a report changes nothing).
    heads: dict[str, list[dict[str, Any]]] = {}
    for store_path in sorted(folder.glob("hotline-*.db")):
        for relay, text in sorted(_column(store_path, "SELECT relay, head FROM heads")):
            try:
                head = json.loads(text)
            except ValueError:
                continue
            if isinstance(head, dict):
                heads.setdefault(str(relay), []).append(head)
    logs = sorted(folder.glob("*.audit.jsonl"), key=lambda p: (p.name != f"{stem}.audit.jsonl", p))
    checks = []
    for log in logs:
        relay = "primary" if log.name == f"{stem}.audit.jsonl" else "backup"
        key_file = log.with_name(log.name.replace(".audit.jsonl", ".relay.key"))
        pinned = public_hex(load_key_file(key_file)) if key_file.is_file() else None
        report = verify_log(log, public_key=pinned, heads=heads.get(relay, []))
        types: dict[str, int] = {}
        keys: list[tuple[str, str]] = []
        try:
            for entry in entries(log):
                kind = str(entry.get("type"))
                types[kind] = types.get(kind, 0) + 1
                data = entry.get("data")
                if kind == "key" and isinstance(data, dict):
                    keys.append((str(data.get("party")), str(data.get("new"))))
        except InputError:
            pass
        checks.append(
            AuditCheck(
                relay=relay + suffix,
                path=log.name,
                ok=report.ok and report.key_checked,
                entries=report.entries,
                head_hash=report.head_hash,
                problem=report.problem
                or (None if report.key_checked else "signer not pinned to a relay key file"),
                signer=report.public_key,
                key_pinned=report.key_checked,
                heads_checked=report.heads_checked,
                types=dict(sorted(types.items())),
                party_keys=tuple(keys),
            )
        )
    return checks


# -- the period ------------------------------------------------------------------------


def _finish(
    source: str,
    agreement: Agreement,
    start: float,
    runs: dict[str, RunRecord],
    main: str,
    *,
    scenario: str | None = None,
    types: dict[str, str] | None = None,
) -> Record:
    parties: set[str] = set()
    times: list[float] = []
    for run in runs.values():
        parties |= set(run.tracks["party"].unique())
        parties |= set(run.alerts["party"].dropna().unique())
        parties |= {p for p in run.messages["sender"].unique()}
        for frame in (run.tracks, run.alerts, run.messages):
            if len(frame):
                times += [float(frame["t_s"].min()), float(frame["t_s"].max())]
    return Record(
        source=source,
        agreement=agreement,
        start_unix_s=start,
        runs=runs,
        main=main,
        parties=tuple(sorted(p for p in parties if p)),
        since_s=min(times) if times else 0.0,
        until_s=max(times) if times else 0.0,
        scenario=scenario,
        aircraft_types=dict(sorted((types or {}).items())),
    )


def _clip(record: Record, since_unix: float | None, until_unix: float | None) -> Record:
    if since_unix is None and until_unix is None:
        return record
    lo = -math.inf if since_unix is None else since_unix - record.start_unix_s
    hi = math.inf if until_unix is None else until_unix - record.start_unix_s

    def keep(frame: pd.DataFrame, since: float = lo) -> pd.DataFrame:
        t = frame["t_s"].to_numpy(dtype=np.float64)
        return frame[(t >= since) & (t <= hi)].reset_index(drop=True)

    # Messages before the period stay: a request asked before it may be owed during it.
    runs = {
        k: RunRecord(r.label, keep(r.tracks), keep(r.alerts), keep(r.messages, -math.inf), r.audit)
        for k, r in record.runs.items()
    }
    return Record(
        source=record.source,
        agreement=record.agreement,
        start_unix_s=record.start_unix_s,
        runs=runs,
        main=record.main,
        parties=record.parties,
        since_s=max(lo, record.since_s),
        until_s=max(min(hi, record.until_s), lo),
        scenario=record.scenario,
        aircraft_types=record.aircraft_types,
        notes=record.notes,
    )
