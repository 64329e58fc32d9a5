"""schemathesis against the REST API on a real uvicorn server over bank-wan: every generated
request (valid and invalid) gets a documented status with a body that matches the OpenAPI
document, never a 5xx.

The document the server serves is rewritten for the generator only (`knows_the_network`): node
names become `enum`s of bank-wan's routers (and prefixes their locators), intent names in paths
and `disjoint_from` the intents stored before the run, so generated bodies reach the success
paths (201, 200, 202) instead of stopping at "unknown node" (422). A hook makes a PUT's body
name the name in its URL. Bounded: a few examples per operation, no shrinking deadline."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from controller.api import create_app
from controller.engine import Engine, EngineConfig
from controller.intents import Intent
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import LiveServer
from topologies.loader import load

TOKEN = "schemathesis-token-loopback-only"
TOPOLOGY = load("bank-wan")
NODES = sorted(TOPOLOGY.nodes)
SEEDS = {
    "seed-dc": {"name": "seed-dc", "src": "DC1", "dst": "DC2", "bandwidth": "1G"},
    "seed-br": {"name": "seed-br", "src": "BR1", "dst": "HQ", "service_class": "voice"},
    "seed-gone": {"name": "seed-gone", "src": "BR2", "dst": "DC1"},
}
SEED_NAMES = {"type": "string", "enum": sorted(SEEDS)}
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
SEEN = Counter[str]()
SUCCESS = Counter[str]()
"""Requests and 2xx answers per operation, to show the success paths were reached."""
SUCCESS_PATHS = [
    "POST /v1/intents",
    "PUT /v1/intents/{name}",
    "DELETE /v1/intents/{name}",
    "GET /v1/intents/{name}",
    "GET /v1/intents/{name}/status",
    "POST /v1/apply",
    "POST /v1/plan",
    "POST /v1/paths:compute",
]


def _engine(store: Store) -> Engine:
    return Engine(TOPOLOGY, store, MemorySouthbound(), time.time, config=EngineConfig(tick_s=3600))


REF = "#/components/schemas/"


def knows_the_network(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` for the generator (request bodies only; responses are checked against the real
    schemas): bank-wan's node names, and their locators as prefixes, are the only endpoint
    values, sources from one half of the routers and destinations from the other (so they
    differ); the seeded intents are the intent names in paths and `disjoint_from`."""
    doc = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    for side, nodes in (("Src", NODES[::2]), ("Dst", NODES[1::2])):
        endpoint = copy.deepcopy(schemas["Endpoint"])
        node = {"type": "string", "enum": nodes}
        prefix = {"type": "string", "enum": [TOPOLOGY.node(n).locator for n in nodes]}
        endpoint["anyOf"][0], endpoint["anyOf"][1] = node, prefix
        props = endpoint["anyOf"][2]["properties"]
        props["node"] = {"anyOf": [node, {"type": "null"}]}
        props["prefixes"]["items"] = prefix
        schemas[f"GenEndpoint{side}"] = endpoint
    any_node = {"type": "string", "enum": NODES}
    for name in ("Intent", "IntentPut", "PathQuery"):
        body = copy.deepcopy(schemas[name])
        props = body["properties"]
        props["src"] = {"$ref": f"{REF}GenEndpointSrc"}
        props["dst"] = {"$ref": f"{REF}GenEndpointDst"}
        for field in ("waypoints", "exclude_nodes"):
            props[field] = {**props[field], "items": any_node, "maxItems": 2}
        props["disjoint_from"] = {**props["disjoint_from"], "items": SEED_NAMES}
        schemas[f"Gen{name}"] = body
    intent_set = copy.deepcopy(schemas["IntentSet"])
    intent_set["properties"]["intents"]["items"] = {"$ref": f"{REF}GenIntent"}
    schemas["GenIntentSet"] = intent_set
    for item in doc["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                media["schema"] = {"$ref": media["schema"]["$ref"].replace(REF, f"{REF}Gen")}
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "name":
                    parameter["schema"] = {"type": "string", "enum": [*sorted(SEEDS), "fresh"]}
    return doc


schema = schemathesis.openapi.from_dict(
    knows_the_network(create_app(_engine(Store(":memory:")), TOKEN).openapi())
)


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    """A PUT names its intent twice (URL and body): make them agree, as a client would."""
    if case.method == "PUT" and isinstance(case.body, dict) and "name" in case.path_parameters:
        case.body["name"] = case.path_parameters["name"]
    return case


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, requests.Session]]:
    """A live server on a database holding SEEDS; after the run, the success paths of the
    write and planning operations must have been reached (a 2xx each)."""
    store = Store(Path(tmp_path_factory.mktemp("schemathesis")) / "api.db")
    for spec in SEEDS.values():
        store.put_intent(Intent.model_validate(spec))
    app = create_app(_engine(store), TOKEN, run_engine=True, max_body_bytes=512 * 1024)
    with LiveServer(app) as base, requests.Session() as session:
        yield base, session
    store.close()
    missed = [op for op in SUCCESS_PATHS if SEEN[op] and not SUCCESS[op]]
    assert not missed, f"generated requests never succeeded on {missed}: {dict(SEEN)}"


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_as_documented(case: Any, server: tuple[str, requests.Session]) -> None:
    base, session = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = case.call(base_url=base, session=session, headers=auth, timeout=60)
    case.validate_response(response, checks=CHECKS)
    if 200 <= response.status_code < 300:
        SUCCESS[f"{case.method} {case.path}"] += 1
    SEEN[f"{case.method} {case.path}"] += 1
