"""Property tests of the REST API from its own OpenAPI schema: no 500 on any generated input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from controller.api import create_app
from controller.engine import Engine, EngineConfig
from controller.intents import Intent
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import LiveServer, small_wan

TOKEN = "property-test-token"


def _engine(store: Store) -> Engine:
    return Engine(
        small_wan(),
        store,
        MemorySouthbound(),
        time.time,
        config=EngineConfig(tick_s=3600),
    )


# The schema comes from the app itself (an engine over a throwaway in-memory database).
schema = schemathesis.openapi.from_dict(create_app(_engine(Store(":memory:")), TOKEN).openapi())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = Store(Path(tmp_path_factory.mktemp("props")) / "props.db")
    engine = _engine(store)
    store.put_intent(Intent.model_validate({"name": "seed", "src": "HQ", "dst": "DC1"}))
    app = create_app(engine, TOKEN, run_engine=True, max_body_bytes=256 * 1024)
    with LiveServer(app) as base:
        yield base
    store.close()


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error_on_generated_input(case: Any, base_url: str) -> None:
    response = case.call(
        base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
    )
    assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:300]}"
    case.validate_response(response, checks=[not_a_server_error])
