"""Strategic deconfliction through the broker: each side learns only the overlap."""

from __future__ import annotations

import json

from tests.service.conftest import Broker, clients


def square(
    vid: str, lon0: float, lat0: float, size: float, lo: float, hi: float, t0: str, t1: str
) -> dict:
    ring = [
        [lon0, lat0],
        [lon0 + size, lat0],
        [lon0 + size, lat0 + size],
        [lon0, lat0 + size],
        [lon0, lat0],
    ]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "id": vid,
            "alt_lower_ft": lo,
            "alt_upper_ft": hi,
            "time_start": t0,
            "time_end": t1,
        },
    }


def fc(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


BLUE = fc(
    square(
        "blue-strike-7",
        36.0,
        35.0,
        0.4,
        10000,
        20000,
        "2026-11-23T10:00:00Z",
        "2026-11-23T12:00:00Z",
    )
)
RED = fc(
    # 0.03° of longitude east of blue's edge (~1.5 NM at 35°N): within 5 NM.
    square(
        "red-sortie-A",
        36.43,
        35.1,
        0.3,
        15000,
        25000,
        "2026-11-23T11:00:00Z",
        "2026-11-23T13:00:00Z",
    ),
    # Far away and secret: no one may learn of it.
    square(
        "red-secret-B",
        40.123,
        33.321,
        0.2,
        5000,
        9000,
        "2026-11-23T10:00:00Z",
        "2026-11-23T11:00:00Z",
    ),
)


def test_each_party_gets_only_its_half_of_the_overlap(broker: Broker):
    a, b, admin = clients(broker)
    assert a.post("/operations", json=BLUE).status_code == 403  # agreement not acknowledged
    a.ack()
    b.ack()
    first = a.post("/operations", json=BLUE)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 1, "overlaps": []}  # nothing of red's yet
    second = b.post("/operations", json=RED).json()
    assert second["accepted"] == 2
    (red_half,) = second["overlaps"]
    assert red_half["own_volume_id"] == "red-sortie-A"
    assert (red_half["alt_lower_ft"], red_half["alt_upper_ft"]) == (14500.0, 20500.0)
    assert red_half["time_start"].startswith("2026-11-23T11:00")
    assert red_half["time_end"].startswith("2026-11-23T12:00")
    (blue_half,) = a.get("/operations/overlaps").json()
    assert blue_half["overlap_id"] == red_half["overlap_id"]
    assert blue_half["own_volume_id"] == "blue-strike-7"
    assert blue_half["region"] == red_half["region"]
    text = json.dumps(a.get("/operations/overlaps").json())
    for secret in ("red-sortie-A", "red-secret-B", "40.123", "33.321", "36.73", b.name):
        assert secret not in text
    assert "blue-strike-7" not in json.dumps(b.get("/operations/overlaps").json())
    assert {x["party"] for x in admin.get("/operations/overlaps").json()} >= {a.name, b.name}


def test_bad_plans_are_422_naming_the_feature(broker: Broker):
    a, _, _ = clients(broker)
    a.ack()
    bad = square("x", 0, 0, 1, 2000, 1000, "2026-11-23T10:00:00Z", "2026-11-23T12:00:00Z")
    r = a.post("/operations", json=fc(bad))
    assert r.status_code == 422 and "'x'" in r.json()["detail"] and "alt" in r.json()["detail"]
    r = a.post("/operations", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = a.post("/operations", json={"type": "Point"})
    assert r.status_code == 422
