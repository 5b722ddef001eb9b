"""One validation for ids and values, the same 422 on SQLite and PostgreSQL (issue 11, 8 and 12).

A real broker on 127.0.0.1 per database, started in its own temporary directory.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pandas as pd
import pytest
from websockets.sync.client import connect

from deconflict.errors import InputError
from deconflict.service.batches import decode
from deconflict.store.migrate import upgrade
from tests.service.conftest import Broker, Client, clients, start_broker
from tests.service.test_broker import A1
from tests.service.test_operations import fc, square

NUL_DETAIL = "row 1, column 'id': control character U+0000 not allowed"
RLO_DETAIL = "row 1, column 'id': format character U+202E not allowed"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    """A broker on SQLite, then one on PostgreSQL (skips, saying why, without a server)."""
    tmp = tmp_path_factory.mktemp(f"broker-{request.param}")
    sqlite = f"sqlite:///{tmp / 'broker.db'}"
    db = sqlite if request.param == "sqlite" else _pg_schema_url(request)
    upgrade(db)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # whatever the broker writes next to itself lands in tmp
        broker = start_broker(db, tmp)
    yield broker
    broker.stop()


def _pg_schema_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL schema for the module (dropped at the end)."""
    import uuid

    import psycopg

    from tests.conftest import libpq_url

    server = request.getfixturevalue("pg_server")
    schema = f"deconflict_test_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(server)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    request.addfinalizer(drop)
    url = server.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def blue(db_broker: Broker) -> Client:
    a, _, _ = clients(db_broker)
    a.ack()
    return a


def two(first_id: str, second_id: str, **extra: object) -> list[dict[str, object]]:
    return [
        {**A1, "id": first_id, "lat": -40.0},
        {**A1, "id": second_id, "lat": -41.0, **extra},
    ]


def parquet(rows: list[dict[str, object]]) -> bytes:
    buf = io.BytesIO()
    pd.DataFrame(rows).to_parquet(buf)
    return buf.getvalue()


def post_all_forms(client: Client, rows: list[dict[str, object]]) -> list[tuple[int, str]]:
    """The batch as a JSON array, as columnar JSON and as Parquet: (status, detail) each."""
    columns = pd.DataFrame(rows).to_dict(orient="list")
    answers = [
        client.post("/tracks", json=rows),
        client.post("/tracks", json=columns),
        client.post(
            "/tracks",
            content=parquet(rows),
            headers={"content-type": "application/vnd.apache.parquet"},
        ),
    ]
    return [(r.status_code, r.json().get("detail", "")) for r in answers]


def test_a_nul_in_an_id_is_the_same_422_on_every_database_and_form(blue: Client):
    for bad in ("V\x00", "\x00", "V\x00W"):
        got = post_all_forms(blue, two("OK-1", bad))
        assert got == [(422, NUL_DETAIL)] * 3, (bad, got)
    got = post_all_forms(blue, two("OK-1", "x\u202egnp.exe"))
    assert got == [(422, RLO_DETAIL)] * 3
    # Nothing of a refused batch was stored; a clean one still is.
    assert blue.get("/tracks").json() == []
    assert blue.post("/tracks", json=two("OK-1", "红-2 [red]x")).json() == {"accepted": 2}
    stored = {t["id"] for t in blue.get("/tracks").json()}
    assert stored == {"OK-1", "红-2 [red]x"}


def test_a_nul_id_over_the_websocket_is_an_error_frame(db_broker: Broker, blue: Client):
    url = db_broker.url.replace("http", "ws") + f"/stream?token={blue.token}"
    with connect(url) as ws:
        ws.send(json.dumps(two("WS-1", "WS\x00")))
        err = json.loads(ws.recv(timeout=10))
        assert err == {"type": "error", "status": 422, "detail": NUL_DETAIL}
        ws.send(json.dumps(two("WS-1", "WS-2")))
        assert json.loads(ws.recv(timeout=10)) == {"type": "accepted", "accepted": 2}


def test_a_nul_in_a_volume_id_is_422(blue: Client):
    feature = square(
        "op\x00", 40.0, -30.0, 0.2, 0, 5000, "2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"
    )
    r = blue.post("/operations", json=fc(feature))
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "body: feature 0 ('op\\x00'): field 'id': control character U+0000 not allowed"
    )
    r = blue.post("/operations", json=[{"id": "v\u2066", "volume": {}}])
    assert r.status_code == 422 and "format character U+2066 not allowed" in r.json()["detail"]


def test_a_nul_in_a_conflict_id_is_not_a_server_error(blue: Client):
    r = blue.get("/alerts/C%00x")
    assert r.status_code in (404, 422), r.text


def test_out_of_range_values_are_refused_and_tracks_normalised(blue: Client):
    for form, (code, detail) in zip(
        ("array", "columns", "parquet"),
        post_all_forms(blue, two("R-1", "R-2", lon=200.0)),
        strict=True,
    ):
        assert code == 422 and "lon" in detail and "180" in detail, (form, detail)
    rows = [
        {**A1, "id": f"T-{k}", "lat": -50.0 - k, "track_deg": t}
        for k, t in enumerate((720.0, -10.0, 360.0))
    ]
    assert blue.post("/tracks", json=rows).json() == {"accepted": 3}
    tracks = {t["id"]: t["track_deg"] for t in blue.get("/tracks").json()}
    assert tracks == {"T-0": 0.0, "T-1": 350.0, "T-2": 0.0}


@pytest.mark.parametrize(
    "body",
    [
        [{**A1, "lat": True}],
        [{**A1, "alt_ft": False}],
        [{**A1, "lon": "20"}],
        [{**A1, "id": 12}],
        {k: [v] for k, v in {**A1, "lat": True}.items()},
        {k: [v] for k, v in {**A1, "gs_kt": "450"}.items()},
    ],
)
def test_wrong_types_are_refused_not_coerced(body: object):
    with pytest.raises(InputError):
        decode(json.dumps(body).encode(), "application/json", 1)


@pytest.mark.parametrize("bad", ["A\t", "\nA", "\x1fA", "\x85A", "A\xa0", "\u3000A", "A\u2029"])
def test_control_and_odd_spaces_at_either_end_of_an_id_are_refused_not_stripped(bad: str):
    with pytest.raises(InputError, match="column 'id'"):
        decode(json.dumps([{**A1, "id": bad}]).encode(), "application/json", 1)
