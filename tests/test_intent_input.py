"""Hostile but fair input to intents (issue 13): every bad intent gets a 4xx over the API and one
line with exit 1/2 from the CLI, naming the field; unknown names are errors, never ignored.

The API runs on a real uvicorn server on loopback; the CLI runs as a real process (`python -m cli`)
so that what a user sees, stdout and stderr, is what is asserted."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.api import create_app
from controller.engine import Engine, EngineConfig
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.cli_inprocess import run_cli, run_process
from tests.intents_support import LiveServer, small_wan

ROOT = Path(__file__).parent.parent
TOKEN = "input-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KNOWN = "known nodes: BR1, BR2, DC1, DC2, HQ, ... (7 in all)"


# -- the API --------------------------------------------------------------------------------------
@pytest.fixture()
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    store = Store(tmp_path / "api.db")
    engine = Engine(small_wan(), store, MemorySouthbound(), time.time, config=EngineConfig())
    app = create_app(engine, TOKEN, run_engine=True)
    with LiveServer(app) as base, httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
        yield http
    store.close()


def office(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "src": "BR1", "dst": "DC1", "bandwidth": "1M"} | kw


def send(http: httpx.Client, route: str, intent: dict[str, Any]) -> httpx.Response:
    """`intent` through one of the routes that take an intent."""
    if route == "put":
        return http.put(f"/v1/intents/{intent['name']}", json=intent)
    if route == "post":
        return http.post("/v1/intents", json=intent)
    if route == "compute":
        return http.post("/v1/paths:compute", json=intent)
    return http.post(f"/v1/{route}", json={"intents": [intent]})  # apply, plan


ROUTES = ["put", "post", "compute", "apply", "plan"]


def test_plan_without_prune_keeps_stored_intents_left_out_of_the_body(api: httpx.Client) -> None:
    """Regression: a stored intent missing from the body was a KeyError (500) in engine.plan."""
    assert api.put("/v1/intents/kept", json=office("kept")).status_code == 200
    r = api.post("/v1/plan", json={"intents": [office("new", src="BR2")], "prune": False})
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == [{"name": "new", "action": "create"}]
    assert r.json()["unplaced"] == {}
    pruned = api.post("/v1/plan", json={"intents": [office("new", src="BR2")], "prune": True})
    assert pruned.status_code == 200, pruned.text
    assert {"name": "kept", "action": "delete"} in pruned.json()["changes"]
    assert [i["name"] for i in api.get("/v1/intents").json()] == ["kept"]  # plan touched nothing


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("waypoint", "message"),
    [
        ("", "String should have at least 1 character"),
        ("x" * 65, "String should have at most 64 characters"),
    ],
)
def test_a_waypoint_that_is_no_node_name_is_422_on_every_route(
    api: httpx.Client, route: str, waypoint: str, message: str
) -> None:
    """Regression: "" or 65 characters was an uncaught ValidationError in the planner (500)."""
    r = send(api, route, office("w", waypoints=[waypoint]))
    assert r.status_code == 422, r.text
    field = "waypoints.0" if route in ("put", "post", "compute") else "intents.0.waypoints.0"
    assert r.json()["detail"] == f"{field}: {message}"


@pytest.mark.parametrize("route", ["apply", "plan"])
def test_a_set_is_refused_with_every_problem_of_every_intent(api: httpx.Client, route: str) -> None:
    """A bulk body lists all that must be fixed at once, each problem under its intent's index,
    and nothing of the set is stored (not even its good intents)."""
    body = [
        office("good"),
        office("typo", dst="dc1", exclude_nodes=["NOPE"]),
        office("ghost-pair", disjoint_from=["ghost"]),
    ]
    r = api.post(f"/v1/{route}", json={"intents": body})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("2 of 3 intents: intents[1].dst: no node 'dc1'")
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == [
        "intents[1].dst",
        "intents[1].exclude_nodes[0]",
        "intents[2].disjoint_from[0]",
    ]
    assert api.get("/v1/intents").json() == []


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"exclude_nodes": ["P1", "NOPE"]}, f"exclude_nodes[1]: no node 'NOPE' in topology "
                                            f"'small-wan'; {KNOWN}"),
        ({"waypoints": ["hq"]}, "waypoints[0]: no node 'hq' in topology 'small-wan'; did you "
                                f"mean 'HQ'? {KNOWN}"),
        ({"dst": "dc1"}, f"dst: no node 'dc1' in topology 'small-wan'; did you mean 'DC1'? "
                         f"{KNOWN}"),
        ({"disjoint_from": ["ghost"]}, "disjoint_from[0]: no intent 'ghost' in the controller or "
                                       "in this request; name an existing intent"),
    ],
)  # fmt: skip
def test_unknown_names_are_refused_and_nothing_is_stored(
    api: httpx.Client, route: str, change: dict[str, Any], detail: str
) -> None:
    r = send(api, route, office("typo", **change))
    assert r.status_code == 422, r.text
    in_set = "intents[0]." if route in ("apply", "plan") else ""
    assert r.json()["detail"].startswith(f"intent 'typo': {in_set}{detail}"), r.json()["detail"]
    assert api.get("/v1/intents").json() == []


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"exclude_nodes": ["P1", "DC1"]},
         "exclude_nodes[1]: 'DC1' is an end of the intent; a path cannot avoid its own ends"),
        ({"waypoints": ["BR1"]}, "waypoints[0]: 'BR1' is an end of the intent"),
        ({"waypoints": ["HQ", "HQ"]}, "waypoints[1]: 'HQ' repeats the waypoint before it"),
        ({"waypoints": ["HQ"], "exclude_nodes": ["HQ"]},
         "waypoints[0]: 'HQ' is also in exclude_nodes; keep one"),
    ],
)  # fmt: skip
def test_an_intent_that_forbids_what_it_asks_for_is_refused(
    api: httpx.Client, change: dict[str, Any], detail: str
) -> None:
    """Before, these were stored and failed in the engine (exit 0, state failed)."""
    r = api.put("/v1/intents/self", json=office("self", **change))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"intent 'self': {detail}"), r.json()["detail"]
    assert api.get("/v1/intents").json() == []


def test_disjoint_from_may_name_a_stored_intent_or_one_of_the_same_body(api: httpx.Client) -> None:
    pair = [office("a", disjoint_from=["b"]), office("b", src="BR2", dst="DC2")]
    planned = api.post("/v1/plan", json={"intents": pair})
    assert planned.status_code == 200, planned.text
    assert planned.json()["unplaced"] == {}
    applied = api.post("/v1/apply", json={"intents": pair})
    assert applied.status_code == 200, applied.text
    assert {c["action"] for c in applied.json()["changes"]} == {"create"}
    r = api.put("/v1/intents/c", json=office("c", src="HQ", disjoint_from=["a", "b"]))
    assert r.status_code == 200, r.text
    assert api.post("/v1/paths:compute", json=office("what-if", disjoint_from=["c"])).json()[
        "placed"
    ]
    # a deleted intent can no longer be named
    assert api.delete("/v1/intents/b").status_code == 202
    r = api.put("/v1/intents/d", json=office("d", src="HQ", disjoint_from=["b"]))
    assert r.status_code == 422 and "disjoint_from[0]: no intent 'b'" in r.json()["detail"]


@pytest.mark.parametrize("latency", [0, "0ms", -1, "-5ms"])
def test_a_latency_bound_must_be_positive(api: httpx.Client, latency: object) -> None:
    r = api.put("/v1/intents/l", json=office("l", sla={"max_latency": latency}))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "sla.max_latency"
    assert f"must be positive, got {latency!r}; write e.g. 150ms" in r.json()["detail"]
    assert api.get("/v1/intents").json() == []


@pytest.mark.parametrize("bandwidth", ["-5M", -5])
def test_a_negative_bandwidth_says_so(api: httpx.Client, bandwidth: object) -> None:
    r = api.put("/v1/intents/n", json=office("n", bandwidth=bandwidth))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "bandwidth"
    assert f"must not be negative, got {bandwidth!r}; write e.g. 10M" in r.json()["detail"]


# -- the CLI on intents files ----------------------------------------------------------------------
def netpilot_process(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run_process(*args, cwd=cwd, env=None)


def netpilot(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """In-process (tests/cli_inprocess.py); `netpilot_process` is the real process."""
    return run_cli(*args, cwd=cwd, env=None)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a user error prints (stderr), with nothing on stdout and no traceback."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding bank-wan's 17 example intents."""
    path = tmp_path_factory.mktemp("db") / "np.db"
    example = str(ROOT / "topologies" / "bank-wan.intents.yaml")
    done = netpilot("intent", "apply", "-f", example, "--db", str(path), "--topology", "bank-wan")
    assert done.returncode == 0, done.stderr
    return path


def test_plan_with_a_database_and_stored_intents_outside_the_file(db: Path, tmp_path: Path) -> None:
    """Regression: `intent plan -f FILE --db DB` printed engine.plan's KeyError traceback."""
    small = tmp_path / "one.yaml"
    small.write_text("intents:\n  - {name: hq-dc2-extra, src: HQ, dst: DC2, bandwidth: 5M}\n")
    result = netpilot("intent", "plan", "-f", str(small), "--db", str(db), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    plan = json.loads(result.stdout)
    assert plan["changes"] == [{"name": "hq-dc2-extra", "action": "create"}]
    assert plan["unplaced"] == {}


BANK = "known nodes: BR1, BR2, BR3, BR4, BR5, ... (16 in all)"


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        (b"intents:\n  - {name: x\xff, src: HQ, dst: DC1}\n", 2,
         "not UTF-8 text at byte 21 (line 2); save the file as UTF-8"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1\n  - y: [\n", 2,
         "not valid YAML: line 3, column 6: did not find expected ',' or '}' (while parsing a "
         "flow mapping at line 2, column 5)"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1, src: HQ}\n", 2,
         "not valid YAML: line 2, column 34: duplicate key 'src': keep one of them"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1, bandwidth: -5M}\n", 1,
         "intents[0].bandwidth: must not be negative, got '-5M'; write e.g. 10M"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1, sla: {max_latency: 0}}\n", 1,
         "intents[0].sla.max_latency: must be positive, got 0; write e.g. 150ms"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1, waypoints: ['']}\n", 1,
         "intents[0].waypoints[0]: String should have at least 1 character"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1, exclude_nodes: [NOPE]}\n", 1,
         f"intent 'x': intents[0].exclude_nodes[0]: no node 'NOPE' in topology 'bank-wan'; {BANK}"),
        (b"intents:\n  - {name: x, src: HQ, dst: DC1, disjoint_from: [ghost]}\n", 1,
         "intent 'x': intents[0].disjoint_from[0]: no intent 'ghost' in the controller or in this "
         "request"),
    ],
)  # fmt: skip
def test_bad_intents_files_give_one_line_naming_the_field(
    db: Path, tmp_path: Path, text: bytes, code: int, line: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(text)
    result = netpilot("intent", "plan", "-f", str(bad), "--db", str(db))
    assert result.returncode == code, result.stderr
    assert line in one_line(result)


def test_apply_refuses_a_typo_and_stores_nothing(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("intents:\n  - {name: x, src: HQ, dst: DC1, exclude_nodes: [P-SH, P-BJ]}\n")
    result = netpilot("intent", "apply", "-f", str(bad), "--db", str(db))
    assert result.returncode == 1
    assert "exclude_nodes[1]: no node 'P-BJ' in topology 'bank-wan'" in one_line(result)
    listed = netpilot("intent", "list", "--db", str(db), "--json")
    assert "x" not in {r["name"] for r in json.loads(listed.stdout)}


def test_disjoint_from_may_name_an_intent_of_the_same_file(db: Path, tmp_path: Path) -> None:
    pair = tmp_path / "pair.yaml"
    pair.write_text(
        "intents:\n"
        "  - {name: pair-a, src: BR1, dst: DC2, disjoint_from: [pair-b]}\n"
        "  - {name: pair-b, src: BR2, dst: DC2, disjoint_from: [dc1-dc2-production]}\n"
    )
    result = netpilot("intent", "plan", "-f", str(pair), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    assert {c["action"] for c in json.loads(result.stdout)["changes"]} == {"create"}


def test_an_intents_file_over_the_limit_is_refused_before_it_is_read(
    db: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:  # sparse: 50 MiB that cost no disk; parsing it would take a minute
        f.truncate(50 * 1024 * 1024)
    result = netpilot_process("intent", "plan", "-f", str(huge), "--db", str(db))
    assert result.returncode == 2
    line = one_line(result)
    assert f"-f {huge}: 50 MiB is over the 16 MiB limit; 100,000 intents fit in it" in line
