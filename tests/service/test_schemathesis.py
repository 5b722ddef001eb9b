"""Schemathesis against the live broker's OpenAPI schema: no input makes it answer 5xx."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service.conftest import Broker, clients

EXAMPLES_PER_OPERATION = 40


def test_no_input_gives_a_server_error(broker: Broker):
    a, _, _ = clients(broker)
    a.ack()
    raw = httpx.get(broker.url + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    failures: list[str] = []
    for op in operations:
        for headers in (a.headers, {"Authorization": "Bearer forged"}):
            exercise(op, broker.url, headers, failures)
    assert not failures


def exercise(op, base_url: str, headers: dict[str, str], failures: list[str]) -> None:
    """Up to EXAMPLES_PER_OPERATION generated requests to one operation."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=op.as_strategy())
    def run(case) -> None:
        if op.path == "/hotline/inbox":  # a long poll: waiting up to wait_s is its job
            case.query = {**(case.query or {}), "wait_s": 0}
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{op.label}: {response.status_code} {response.text[:200]}")
            pytest.fail(failures[-1])

    run()
