"""The :class:`~deconflict.store.repository.Repository` over SQL: SQLite or PostgreSQL.

One code path serves both backends through SQLAlchemy 2 Core; only the engine set-up
(:mod:`deconflict.store.engine`) and the bulk load of track states differ: an
``executemany`` on SQLite, a binary ``COPY`` on PostgreSQL.

Every write commits before it returns. Schema changes belong to
:func:`deconflict.store.migrate.upgrade`; :class:`SqlRepository` expects an
up-to-date schema (pass ``migrate=True`` to run the migrations itself).
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    delete,
    func,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from deconflict.datadir import prepare_for
from deconflict.errors import InputError
from deconflict.names import check_party_name
from deconflict.store.engine import database_url, make_engine
from deconflict.store.migrate import upgrade, upgrade_engine
from deconflict.store.models import Alert, Party, PlanOverlap, PlanVolume, TrackState
from deconflict.store.records import (
    BATCH_FIELDS,
    AlertRecord,
    OverlapRecord,
    PartyRecord,
    PlanVolumeRecord,
    TrackBatch,
    check_batch,
    clean_alert,
    empty_batch,
    sort_latest,
    unknown_party_error,
)

#: Rows per pruning transaction: a few milliseconds of SQLite's write lock each.
PRUNE_CHUNK_ROWS = 5_000

PARTIES = cast(Table, Party.__table__)
TRACKS = cast(Table, TrackState.__table__)
ALERTS = cast(Table, Alert.__table__)
PLAN_VOLUMES = cast(Table, PlanVolume.__table__)
PLAN_OVERLAPS = cast(Table, PlanOverlap.__table__)
_PLAN_FIELDS = tuple(f.name for f in dataclasses.fields(PlanVolumeRecord))
_OVERLAP_FIELDS = tuple(f.name for f in dataclasses.fields(OverlapRecord) if f.name != "id")

#: Track-state columns written per state, in TrackBatch order (``received_at`` last).
TRACK_COLUMNS = (
    "party_id",
    "aircraft_id",
    "time",
    "lat",
    "lon",
    "alt_ft",
    "gs_kt",
    "track_deg",
    "vs_fpm",
    "received_at",
)
_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(AlertRecord) if f.name != "id")

_PARTY_COLUMNS = (
    PARTIES.c.id,
    PARTIES.c.name,
    PARTIES.c.is_admin,
    PARTIES.c.revoked_at,
    PARTIES.c.acked_fingerprint,
    PARTIES.c.created_at,
)
_TRACK_SELECT = tuple(TRACKS.c[name] for name in TRACK_COLUMNS[:-1])
_ALERT_SELECT = (ALERTS.c.id, *(ALERTS.c[name] for name in _ALERT_FIELDS))


def batch_from_rows(rows: Sequence[Sequence[Any]], *, received: bool = False) -> TrackBatch:
    """A TrackBatch from rows of ``party_id, aircraft_id, time, lat, … vs_fpm``.

    ``received``: each row ends with ``received_at`` (Unix s), kept in the batch.
    """
    if not rows:
        return empty_batch(received=received)
    cols = list(zip(*rows, strict=True))

    def floats(i: int) -> np.ndarray:
        return np.array(cols[i], dtype=np.float64)

    return TrackBatch(
        party_id=np.array(cols[0], dtype=np.int64),
        id=np.array(cols[1], dtype=np.str_),
        time=floats(2),
        lat=floats(3),
        lon=floats(4),
        alt_ft=floats(5),
        gs_kt=floats(6),
        track_deg=floats(7),
        vs_fpm=floats(8),
        received_at=floats(9) if received else None,
    )


def batch_rows(batch: TrackBatch, received_at: float) -> list[tuple[Any, ...]]:
    """Plain tuples in :data:`TRACK_COLUMNS` order (fast to bind: no numpy scalars)."""
    n = len(batch)
    columns: list[Iterable[Any]] = [
        np.asarray(getattr(batch, name)).tolist() for name in BATCH_FIELDS
    ]
    columns[1] = [str(v) for v in columns[1]]  # ids may arrive as bytes or numbers
    columns.append([received_at] * n)
    return list(zip(*columns, strict=True))


def _party(row: Row[Any]) -> PartyRecord:
    return PartyRecord(
        id=int(row.id),
        name=row.name,
        is_admin=bool(row.is_admin),
        revoked=row.revoked_at is not None,
        acked_fingerprint=row.acked_fingerprint,
        created_at=float(row.created_at),
    )


def _alert(row: Row[Any]) -> AlertRecord:
    return AlertRecord(**row._asdict())


class SqlRepository:
    """The broker's storage in an SQL database (SQLite file or PostgreSQL).

    ``url``: ``sqlite:///PATH`` or ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB``
    (query parameters go to the driver, e.g. ``?options=-csearch_path%3Dmyschema``).
    ``migrate=True`` brings the schema up to date first.

    Thread-safe: every call checks a connection out of the engine's pool.
    """

    def __init__(self, url: str, *, migrate: bool = False) -> None:
        self._engine = make_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"
        if migrate:
            upgrade_engine(self._engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for migrations and tests)."""
        return self._engine

    def __repr__(self) -> str:
        return f"SqlRepository({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- parties ---------------------------------------------------------------------

    def add_party(self, name: str, token_hash: str, *, is_admin: bool = False) -> PartyRecord:
        """Create a party.

        :class:`~deconflict.errors.InputError` if the name exists or breaks the
        party-name rule (:func:`deconflict.names.check_party_name`).
        """
        check_party_name(name)
        now = _time.time()
        values = {
            "name": name,
            "is_admin": is_admin,
            "token_hash": token_hash,
            "created_at": now,
        }
        try:
            with self._engine.begin() as conn:
                party_id = conn.execute(
                    insert(PARTIES).values(values).returning(PARTIES.c.id)
                ).scalar_one()
        except IntegrityError:
            with self._engine.connect() as conn:
                taken = conn.execute(select(PARTIES.c.id).where(PARTIES.c.name == name)).first()
            if taken is not None:
                raise InputError(f"party {name!r} already exists") from None
            raise InputError("token hash is already in use by another party") from None
        return PartyRecord(
            id=int(party_id),
            name=name,
            is_admin=is_admin,
            revoked=False,
            acked_fingerprint=None,
            created_at=now,
        )

    def party_by_token_hash(self, token_hash: str) -> PartyRecord | None:
        """The party holding this (hashed) token, revoked or not; None if unknown."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(*_PARTY_COLUMNS).where(PARTIES.c.token_hash == token_hash)
            ).first()
        return None if row is None else _party(row)

    def list_parties(self) -> list[PartyRecord]:
        """All parties, in creation order."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(*_PARTY_COLUMNS).order_by(PARTIES.c.id)).all()
        return [_party(r) for r in rows]

    def party_names(self) -> dict[int, str]:
        """Every party's name by id (revoked ones too)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(PARTIES.c.id, PARTIES.c.name)).all()
        return {int(r.id): r.name for r in rows}

    def revoke_party(self, name: str) -> bool:
        """Revoke a party's token; False if there is no such party.

        Revoking twice keeps the first revocation time and returns True.
        """
        with self._engine.begin() as conn:
            conn.execute(
                update(PARTIES)
                .where(PARTIES.c.name == name, PARTIES.c.revoked_at.is_(None))
                .values(revoked_at=_time.time())
            )
            found = conn.execute(select(PARTIES.c.id).where(PARTIES.c.name == name)).first()
        return found is not None

    def ack_agreement(self, party_id: int, fingerprint: str) -> None:
        """Record that the party acknowledged the agreement with this fingerprint.

        Raises :class:`~deconflict.errors.InputError` for an unknown party id.
        """
        with self._engine.begin() as conn:
            result = conn.execute(
                update(PARTIES)
                .where(PARTIES.c.id == party_id)
                .values(acked_fingerprint=fingerprint)
            )
            if result.rowcount == 0:
                raise InputError(f"no party with id {party_id}")

    # -- track states ----------------------------------------------------------------

    def add_tracks(self, batch: TrackBatch) -> int:
        """Append states (committed before returning); returns how many.

        One transaction: a prepared ``executemany`` of plain tuples on SQLite, a binary
        ``COPY`` on PostgreSQL. Raises :class:`~deconflict.errors.InputError` (and
        stores nothing) when a ``party_id`` names no party or a value is not finite.
        """
        n = len(batch)
        if n == 0:
            return 0
        check_batch(batch)
        rows = batch_rows(batch, _time.time())
        dbapi_integrity = self._engine.dialect.loaded_dbapi.IntegrityError
        try:
            with self._engine.begin() as conn:
                if self._postgres:
                    _copy_tracks(conn, rows)
                else:
                    conn.exec_driver_sql(_INSERT_TRACKS_QMARK, rows)
        except (IntegrityError, dbapi_integrity):
            unknown = set(np.unique(batch.party_id).tolist()) - self._party_ids()
            if not unknown:
                raise
            raise unknown_party_error(unknown, "states") from None
        return n

    def latest_tracks(self, since_time: float, *, party_id: int | None = None) -> TrackBatch:
        """The latest state of every (party, aircraft) reported at or after ``since_time``.

        Among the states with ``time >= since_time`` (of ``party_id`` only, when given),
        each (party, aircraft)'s newest by ``time`` (ties: the one stored last, i.e.
        received last), with its ``received_at``. Ordered by party id, then aircraft
        id. The ``time`` index bounds the work to the states in the window, so pass a
        recent ``since_time`` (about 15 ms for a window of 5,000 states).
        """
        inner = select(
            *_TRACK_SELECT,
            TRACKS.c.received_at,
            func.row_number()
            .over(
                partition_by=(TRACKS.c.party_id, TRACKS.c.aircraft_id),
                order_by=(TRACKS.c.time.desc(), TRACKS.c.id.desc()),
            )
            .label("rank"),
        ).where(TRACKS.c.time >= float(since_time))
        if party_id is not None:
            inner = inner.where(TRACKS.c.party_id == party_id)
        window = inner.subquery()
        query = select(*(window.c[name] for name in TRACK_COLUMNS)).where(window.c.rank == 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return sort_latest(batch_from_rows(rows, received=True))

    def tracks_of_party(self, party_id: int, limit: int) -> TrackBatch:
        """A party's own most recent states (at most ``limit``), newest first.

        Newest means most recently stored.
        """
        if limit <= 0:
            return empty_batch()
        query = (
            select(*_TRACK_SELECT)
            .where(TRACKS.c.party_id == party_id)
            .order_by(TRACKS.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return batch_from_rows(rows)

    def prune_tracks(self, received_before: float) -> int:
        """Delete the states received before ``received_before`` (Unix s); returns how many.

        ``DELETE`` over the ``received_at`` index in chunks of :data:`PRUNE_CHUNK_ROWS`,
        each committed on its own so that no ingest waits long for the write lock.
        Alerts are never touched. SQLite reuses the freed pages, so the file stops growing once the
        retention is reached (it does not shrink); PostgreSQL's autovacuum does the same.
        """
        due = (
            select(TRACKS.c.id)
            .where(TRACKS.c.received_at < float(received_before))
            .limit(PRUNE_CHUNK_ROWS)
            .scalar_subquery()
        )
        gone = 0
        while True:  # in chunks, each its own short transaction: ingest commits interleave
            with self._engine.begin() as conn:
                n = int(conn.execute(delete(TRACKS).where(TRACKS.c.id.in_(due))).rowcount)
            gone += n
            if n < PRUNE_CHUNK_ROWS:
                return gone

    # -- alerts ----------------------------------------------------------------------

    def add_alerts(self, alerts: list[AlertRecord]) -> list[AlertRecord]:
        """Store alert events (committed); returns them with their ids.

        Raises :class:`~deconflict.errors.InputError` (and stores nothing) when a
        ``party_id`` names no party.
        """
        if not alerts:
            return []
        alerts = [clean_alert(a) for a in alerts]
        rows = [{name: getattr(a, name) for name in _ALERT_FIELDS} for a in alerts]
        try:
            with self._engine.begin() as conn:
                ids = (
                    conn.execute(
                        insert(ALERTS).returning(ALERTS.c.id, sort_by_parameter_order=True),
                        rows,
                    )
                    .scalars()
                    .all()
                )
        except IntegrityError:
            unknown = {a.party_id for a in alerts} - self._party_ids()
            if not unknown:
                raise
            raise unknown_party_error(unknown, "alerts") from None
        return [dataclasses.replace(a, id=int(i)) for a, i in zip(alerts, ids, strict=True)]

    def alerts(
        self, party_id: int | None, *, after_id: int = 0, limit: int = 1000
    ) -> list[AlertRecord]:
        """Alert events of a party (None: of every party), oldest first, ids > ``after_id``."""
        if limit <= 0:
            return []
        query = select(*_ALERT_SELECT).where(ALERTS.c.id > after_id)
        if party_id is not None:
            query = query.where(ALERTS.c.party_id == party_id)
        query = query.order_by(ALERTS.c.id).limit(limit)
        with self._engine.connect() as conn:
            return [_alert(r) for r in conn.execute(query)]

    def alerts_of_conflict(self, conflict_id: str, party_id: int | None) -> list[AlertRecord]:
        """One conflict's events as a party sees them (None: every party's), oldest first."""
        query = select(*_ALERT_SELECT).where(ALERTS.c.conflict_id == conflict_id)
        if party_id is not None:
            query = query.where(ALERTS.c.party_id == party_id)
        with self._engine.connect() as conn:
            return [_alert(r) for r in conn.execute(query.order_by(ALERTS.c.id))]

    def _party_ids(self) -> set[int]:
        with self._engine.connect() as conn:
            return set(conn.execute(select(PARTIES.c.id)).scalars())

    # -- planned operations ----------------------------------------------------------

    def add_plan_volumes(self, volumes: list[PlanVolumeRecord]) -> int:
        """Store planned volumes (committed); returns how many.

        Raises :class:`~deconflict.errors.InputError` (and stores nothing) when a
        ``party_id`` names no party.
        """
        if not volumes:
            return 0
        rows = [{name: getattr(v, name) for name in _PLAN_FIELDS} for v in volumes]
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(PLAN_VOLUMES), rows)
        except IntegrityError:
            unknown = {v.party_id for v in volumes} - self._party_ids()
            if not unknown:
                raise
            raise unknown_party_error(unknown, "plan volumes") from None
        return len(rows)

    def plan_volumes(self, exclude_party_id: int | None = None) -> list[PlanVolumeRecord]:
        """Every stored planned volume, but those of ``exclude_party_id``, oldest first."""
        query = select(*(PLAN_VOLUMES.c[n] for n in _PLAN_FIELDS))
        if exclude_party_id is not None:
            query = query.where(PLAN_VOLUMES.c.party_id != exclude_party_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(PLAN_VOLUMES.c.id)).all()
        return [PlanVolumeRecord(**r._asdict()) for r in rows]

    def add_overlaps(self, overlaps: list[OverlapRecord]) -> list[OverlapRecord]:
        """Store overlap halves (committed); returns them with their ids."""
        if not overlaps:
            return []
        rows = [{name: getattr(o, name) for name in _OVERLAP_FIELDS} for o in overlaps]
        try:
            with self._engine.begin() as conn:
                ids = (
                    conn.execute(
                        insert(PLAN_OVERLAPS).returning(
                            PLAN_OVERLAPS.c.id, sort_by_parameter_order=True
                        ),
                        rows,
                    )
                    .scalars()
                    .all()
                )
        except IntegrityError:
            unknown = {o.party_id for o in overlaps} - self._party_ids()
            if not unknown:
                raise
            raise unknown_party_error(unknown, "overlaps") from None
        return [dataclasses.replace(o, id=int(i)) for o, i in zip(overlaps, ids, strict=True)]

    def overlaps(self, party_id: int | None) -> list[OverlapRecord]:
        """A party's overlap halves (None: every party's), oldest first."""
        query = select(PLAN_OVERLAPS.c.id, *(PLAN_OVERLAPS.c[n] for n in _OVERLAP_FIELDS))
        if party_id is not None:
            query = query.where(PLAN_OVERLAPS.c.party_id == party_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(PLAN_OVERLAPS.c.id)).all()
        return [OverlapRecord(**r._asdict()) for r in rows]

    # -- housekeeping ----------------------------------------------------------------

    def health(self) -> bool:
        """True when the database answers."""
        try:
            with self._engine.connect() as conn:
                return conn.execute(select(1)).scalar_one() == 1
        except SQLAlchemyError:
            return False

    def close(self) -> None:
        """Release connections."""
        self._engine.dispose()


_INSERT_TRACKS_QMARK = (
    f"INSERT INTO {TRACKS.name} ({', '.join(TRACK_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(TRACK_COLUMNS))})"
)


def _copy_tracks(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-load rows into ``track_states`` with PostgreSQL ``COPY`` (binary)."""
    driver = conn.connection.driver_connection
    types = ["int4", "text", *(["float8"] * (len(TRACK_COLUMNS) - 2))]
    statement = f"COPY {TRACKS.name} ({', '.join(TRACK_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def shown(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_repository(
    url: str, *, create: bool, data_dir: Path | None = None, what: str = "--db"
) -> SqlRepository:
    """Migrate the database at ``url`` and open it; errors become one-line InputErrors.

    Without ``create``, a SQLite file that does not exist is an error rather than
    being created empty. With it, the data directory (``data_dir``, else the default)
    is created (0700) when the database file is to live in it. ``what`` names the
    setting in messages.
    """
    parsed = database_url(url)
    if not create and parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if parsed.database != ":memory:" and not path.exists():
            raise InputError(
                f"{what}: no database at {path}; create it by adding a party "
                "(deconflict party add NAME)"
            )
    if create:
        prepare_for(url, data_dir)
    try:
        upgrade(url)
        return SqlRepository(url)
    except OperationalError as err:
        reason = str(err.orig or err).strip().splitlines()[0]
        raise InputError(f"{what}: cannot open {shown(url)}: {reason}") from None
