"""The hostile-input corpus against every HTTP operation of a real broker process.

Operations come from the broker's own OpenAPI document, so a new endpoint is covered
without touching this file. Every answer must be < 500 and carry no traceback.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from tests.hostile.cases import (
    MESSAGE,
    TRACK,
    Case,
    hostile_path_segments,
    hostile_query_values,
    mutations,
    whole_inputs,
)
from tests.hostile.conftest import CORPUS_LIMIT_MIB, Deployment

#: A valid body per operation path: the corpus mutates it node by node.
EXAMPLES: dict[str, Any] = {
    "/agreement/ack": {"fingerprint": "0" * 64},
    "/tracks": [TRACK],
    "/operations": {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[2.0, 48.0], [2.1, 48.0], [2.1, 48.1], [2.0, 48.0]]],
                },
                "properties": {
                    "id": "V1",
                    "alt_lower_ft": 0,
                    "alt_upper_ft": 400,
                    "time_start": "2030-01-01T10:00:00Z",
                    "time_end": "2030-01-01T11:00:00Z",
                },
            }
        ],
    },
    "/hotline/key": {"public_key": "ab" * 32},
    "/hotline/messages": {"messages": [MESSAGE]},
    "/hotline/inbox/ack": {"ids": [1, 2]},
}
#: For an operation added later: still a JSON object to mutate.
GENERIC_EXAMPLE: dict[str, Any] = {"a": [1, "b", {"c": None}]}
#: Mutations per operation (spread over its example's nodes and the hostile values).
MUTATIONS_PER_OPERATION = 60
#: Query values that keep a long poll short while another parameter is under test.
QUIET_QUERY = {"wait_s": "0", "name": "red"}


def operations(client: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every HTTP operation in the broker's OpenAPI."""
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def body_cases(path: str) -> list[Case]:
    oversize = CORPUS_LIMIT_MIB * 1024 * 1024 + 1
    example = EXAMPLES.get(path, GENERIC_EXAMPLE)
    extra = []
    if path == "/tracks":  # the columnar form, whole
        extra.append(Case("columns", json.dumps({"time": [1], "id": ["B1"]}).encode()))
    return whole_inputs(oversize) + mutations(example, MUTATIONS_PER_OPERATION) + extra


def query_cases(op: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, raw query string or path suffix) for each parameter and hostile value."""
    out = []
    for param in op.get("parameters", []):
        if param["in"] != "query":
            continue
        for label, value in hostile_query_values().items():
            query = {**QUIET_QUERY, param["name"]: value}
            out.append((f"{param['name']}={label}", "&".join(f"{k}={v}" for k, v in query.items())))
    return out


def fill_path(path: str, segment: str) -> str:
    """``path`` with every ``{param}`` replaced by ``segment``."""
    while "{" in path:
        a, b = path.index("{"), path.index("}")
        path = path[:a] + segment + path[b + 1 :]
    return path


def test_no_http_answer_is_a_server_error(deployment: Deployment):
    findings: list[str] = []
    checked = 0
    with httpx.Client(base_url=deployment.broker.url, timeout=15.0) as client:
        ops = operations(client)
        assert {"/tracks", "/operations", "/hotline/messages"} <= {p for _, p, _ in ops}
        for method, path, op in ops:
            for party in (deployment.blue, deployment.admin):
                headers = party.headers
                requests: list[tuple[str, str, dict[str, str], bytes | None]] = []
                if "{" in path:
                    for label, seg in hostile_path_segments().items():
                        requests.append((label, fill_path(path, seg), {}, None))
                    concrete = fill_path(path, "x")
                else:
                    concrete = path
                for label, query in query_cases(op):
                    requests.append((label, f"{concrete}?{query}", {}, None))
                if method in {"POST", "PUT", "PATCH"} and party is deployment.blue:
                    for case in body_cases(path):
                        requests.append(
                            (case.label, concrete, {"content-type": case.content_type}, case.data)
                        )
                for label, url, extra, body in requests:
                    checked += 1
                    try:
                        r = client.request(method, url, headers={**headers, **extra}, content=body)
                    except httpx.HTTPError as err:
                        findings.append(f"{method} {path} [{label}]: no answer ({err!r})")
                        continue
                    if r.status_code >= 500 or "Traceback" in r.text:
                        findings.append(
                            f"{method} {path} [{label}]: {r.status_code} {r.text[:160]}"
                        )
    assert checked > 300
    assert not findings, "\n".join(findings)
    log = deployment.broker.log_text()
    assert "Traceback" not in log, log[-3000:]
