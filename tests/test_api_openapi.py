"""The OpenAPI document tells the truth: every status each route answers, the real error
bodies (checked against real answers of a live server), limits as standard JSON Schema
keywords, the shorthands as `anyOf`, and every body the schema calls valid is one the intent
model accepts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from controller.api import create_app
from controller.api_openapi import status_table_markdown
from controller.api_work import Work
from controller.engine import Engine, EngineConfig
from controller.intents import Intent
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import LiveServer
from topologies.loader import load

TOKEN = "openapi-test-token-loopback-only"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _engine(store: Store) -> Engine:
    config = EngineConfig(tick_s=3600)
    return Engine(load("bank-wan"), store, MemorySouthbound(), time.time, config=config)


DOC = create_app(_engine(Store(":memory:")), TOKEN).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOC)


def validator(name: str) -> Any:
    """A JSON Schema 2020-12 validator for components.schemas[name] (OpenAPI 3.1's dialect)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": DOC["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


ANSWERS = {
    ("get", "/healthz"): {"200", "413"},
    ("get", "/readyz"): {"200", "413", "503"},
    ("get", "/v1/intents"): {"200", "401", "413"},
    ("post", "/v1/intents"): {"201", "401", "409", "413", "422"},
    ("get", "/v1/intents/{name}"): {"200", "401", "404", "413", "422"},
    ("put", "/v1/intents/{name}"): {"200", "401", "409", "413", "422"},
    ("delete", "/v1/intents/{name}"): {"202", "401", "404", "409", "413", "422"},
    ("get", "/v1/intents/{name}/status"): {"200", "401", "404", "413", "422"},
    ("post", "/v1/apply"): {"200", "401", "413", "422", "503"},
    ("post", "/v1/plan"): {"200", "401", "413", "422", "503"},
    ("post", "/v1/paths:compute"): {"200", "401", "413", "422", "503"},
    ("get", "/v1/topology"): {"200", "401", "413"},
    ("get", "/v1/revisions"): {"200", "401", "413", "422"},
    ("get", "/v1/revisions/{revision}"): {"200", "401", "404", "413", "422"},
    ("get", "/v1/events"): {"200", "401", "413", "422"},
    ("get", "/v1/audit"): {"200", "401", "413", "422"},
    ("get", "/v1/topology/diff"): {"200", "401", "413"},
    ("get", "/v1/telemetry"): {"200", "401", "413"},
    ("get", "/v1/incidents"): {"200", "401", "413", "422"},
}


def test_every_route_documents_every_status_it_answers() -> None:
    documented = {
        (method, path): set(operation["responses"])
        for path, item in DOC["paths"].items()
        for method, operation in item.items()
    }
    assert documented == ANSWERS
    for path, item in DOC["paths"].items():
        for operation in item.values():
            assert ("security" in operation) == path.startswith("/v1/"), path
            for code, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if code == "422":
                    assert schema == {"$ref": "#/components/schemas/InvalidBody"}, path
                elif code in ("401", "404", "409", "413") or (code == "503" and path != "/readyz"):
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, path
            if "401" in operation["responses"]:
                assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert "HTTPValidationError" not in DOC["components"]["schemas"]
    invalid = DOC["components"]["schemas"]["InvalidBody"]
    assert invalid["required"] == ["detail", "errors"]
    field_error = DOC["components"]["schemas"]["FieldError"]
    assert set(field_error["required"]) == {"field", "message"}


def test_docs_show_the_generated_status_table() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    assert status_table_markdown(DOC) in doc


def test_limits_are_standard_json_schema_keywords() -> None:
    for node in walk(DOC):
        assert not {"ge", "le", "gt", "lt"} & set(node), node
    intent = DOC["components"]["schemas"]["Intent"]["properties"]
    number, text = intent["bandwidth"]["anyOf"]
    assert number == {"type": "number", "minimum": 0, "maximum": 1e13}
    assert text["type"] == "string" and text["pattern"].startswith("^")
    assert intent["name"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
    assert intent["description"]["maxLength"] == 500
    assert intent["priority"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 7}
    latency = DOC["components"]["schemas"]["Sla"]["properties"]["max_latency"]["anyOf"][0]
    assert {"type", "maximum"} <= set(latency["anyOf"][0]) and latency["anyOf"][1]["pattern"]
    window = DOC["components"]["schemas"]["TimeWindow"]["properties"]
    assert window["start"]["pattern"] == window["end"]["pattern"]


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"name": "a", "src": "DC1", "dst": "BR1"}, True),
        (
            {
                "name": "a",
                "src": "10.1.0.0/16",
                "dst": {"node": "DC2", "prefixes": ["10.2.0.0/16"]},
            },
            True,
        ),
        ({"name": "a", "src": {"prefixes": ["2001:db8::/32"]}, "dst": "BR1"}, True),
        ({"name": "a", "src": "DC1", "dst": "BR1", "bandwidth": "2.5G"}, True),
        ({"name": "a", "src": "DC1", "dst": "BR1", "bandwidth": 1e9}, True),
        ({"name": "a", "src": "DC1", "dst": "BR1", "sla": {"max_latency": "150ms"}}, True),
        ({"name": "a", "src": {}, "dst": {}}, False),  # the issue's example: refused by both now
        ({"name": "a", "src": {"node": None}, "dst": "BR1"}, False),
        ({"name": "a", "src": {"prefixes": []}, "dst": "BR1"}, False),
        ({"name": "a", "src": "10.1.0.0/33", "dst": "BR1"}, False),
        ({"name": "a", "src": "DC1", "dst": "BR1", "bandwidth": "lots"}, False),
        ({"name": "a", "src": "DC1", "dst": "BR1", "bandwidth": 2e13}, False),
        ({"name": "a", "src": "DC1", "dst": "BR1", "sla": {"max_latency": 0}}, False),
        (
            {
                "name": "a",
                "src": "DC1",
                "dst": "BR1",
                "windows": [{"start": "25:00", "end": "01:00"}],
            },
            False,
        ),
        ({"name": "-a", "src": "DC1", "dst": "BR1"}, False),
        ({"name": "a", "src": "DC1", "dst": "BR1", "match": {"ports": [443]}}, True),
        ({"name": "a", "src": "DC1", "dst": "BR1", "match": {}}, False),  # would steer all
        ({"name": "a", "src": "DC1", "dst": "BR1", "match": {"protocols": []}}, False),
    ],
)
def test_shorthands_are_described_and_the_model_agrees(body: dict[str, Any], valid: bool) -> None:
    assert validator("Intent").is_valid(body) is valid
    try:
        Intent.model_validate(body)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is valid


@given(case=SCHEMA["/v1/intents"]["POST"].as_strategy())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_body_the_schema_calls_valid_the_model_accepts(case: Any) -> None:
    """Node names and intent names are checked against the topology and the store after the
    model (422 naming the unknown node); one cross-field rule JSON Schema cannot say: an
    intent is not disjoint from itself."""
    body = case.body
    if body.get("name") in body.get("disjoint_from", []):
        return
    Intent.model_validate(body)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Work]]:
    store = Store(tmp_path / "api.db")
    store.put_intent(Intent.model_validate({"name": "seed", "src": "HQ", "dst": "DC1"}))
    work = Work(planners=1, queue=0)
    app = create_app(_engine(store), TOKEN, run_engine=True, max_body_bytes=64 * 1024, work=work)
    with LiveServer(app) as base:
        yield base, work
    store.close()


def conforms(response: httpx.Response, name: str) -> None:
    errors = [e.message for e in validator(name).iter_errors(response.json())]
    assert not errors, (response.status_code, response.text, errors)


def test_real_error_answers_match_their_documented_bodies(server: tuple[str, Work]) -> None:
    base, work = server
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
        bad = http.post("/v1/intents", json={"name": "x", "src": {}, "dst": {}})
        assert bad.status_code == 422
        conforms(bad, "InvalidBody")
        assert {e["field"] for e in bad.json()["errors"]} == {"src", "dst"}
        unknown = http.post("/v1/intents", json={"name": "x", "src": "HQ", "dst": "NOWHERE"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "dst"
        conforms(unknown, "InvalidBody")
        query = http.get("/v1/events", params={"limit": 0})
        assert query.status_code == 422
        conforms(query, "InvalidBody")
        if_match = http.delete("/v1/intents/seed", headers={"If-Match": "soon"})
        assert if_match.status_code == 422 and if_match.json()["errors"][0]["field"] == "If-Match"
        conforms(if_match, "InvalidBody")
        for response, code in (
            (http.get("/v1/intents/ghost"), 404),
            (http.get("/v1/revisions/99"), 404),
            (http.post("/v1/intents", json={"name": "seed", "src": "HQ", "dst": "DC2"}), 409),
            (
                http.put(
                    "/v1/intents/seed",
                    json={"name": "seed", "src": "HQ", "dst": "DC2", "version": 7},
                ),
                409,
            ),
            (http.post("/v1/plan", content=b"[" + b" " * 70_000 + b"]"), 413),
            (http.get("/v1/intents", headers={"Authorization": "Bearer nope"}), 401),
        ):
            assert response.status_code == code, response.text
            conforms(response, "ErrorBody")
        with work.admit():  # the one planner slot taken: the next plan is told to come back
            busy = http.post("/v1/plan", json={"intents": []})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        conforms(busy, "ErrorBody")
        assert http.post("/v1/plan", json={"intents": []}).status_code == 200


def test_the_schema_is_served_behind_the_token_and_nothing_else_is_open(
    server: tuple[str, Work],
) -> None:
    base, _ = server
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/v1/openapi.json").status_code == 401
        served = http.get("/v1/openapi.json", headers=AUTH)
        assert served.status_code == 200
        assert "/v1/intents/{name}" in served.json()["paths"]
        for open_before in ("/openapi.json", "/docs", "/redoc"):
            assert http.get(open_before).status_code == 404, open_before
        assert http.get("/healthz").json() == {"status": "ok"}
