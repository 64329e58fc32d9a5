"""End to end: `network run` and `controller run` as two processes (gNMI on); one dig cuts the
conduit between the data centres (SRLG conduit-dc1-dc2): the controller shows exactly one
incident naming the SRLG, with both member links in its evidence, over GET /v1/incidents and
`netpilot incidents`; the SLA miss measured on the installed paths is in it too (the unprotected
test intent: unreachable, its path cut; the protected ones ride their backups). Then the
controller restarts on the same SQLite file and still lists the incident, as it was."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from commands.livedemo import BANK_INTENTS, LiveDemo, LiveSpec
from tests.cli_inprocess import ROOT, run_cli

DOC = (ROOT / "docs" / "incidents.md").read_text()
DOC_URL = "http://127.0.0.1:8080"

MEMBERS = ["DC1-DC2-a", "DC1-DC2-b"]
SPEED = 5.0
CUT_S = 300.0
"""Network seconds to the cut: after the controller is up and has placed the intents (at
--speed 5, 60 s of wall time; from the network's start to the first push took 21 s at load 20
and over 35 s at load 100): a cut seen before the intents are placed cuts no installed path,
so there is no SLA miss to show. The network at half the usual speed costs half the CPU."""


def wait_for(check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout_s}s: {check}")


def test_srlg_cut_is_one_incident_naming_the_srlg(tmp_path: Path) -> None:
    plan = tmp_path / "srlg.yaml"
    events = [{"kind": "link_down", "link": link, "at": f"{CUT_S:g}s"} for link in MEMBERS]
    plan.write_text(yaml.safe_dump({"name": "srlg-cut", "events": events}))
    spec = LiveSpec(work=tmp_path, speed=SPEED, sample_s=30, network_step_s=10, scenario=plan,
                    intents=_dc_intents(tmp_path / "dc.intents.yaml"), until_s=3600,
                    controller_args=("--drift", "off"))  # fmt: skip
    with LiveDemo(spec) as live:
        cut = wait_for(lambda: _truth(live, "link_down"), timeout_s=120)
        located = wait_for(lambda: _located(live, "conduit-dc1-dc2"), timeout_s=30)
        time.sleep(1.0)  # late reports of the same cut must join it, not open another
        incidents = live.get("/v1/incidents")
        assert len(incidents) == 1, incidents
        (inc,) = incidents
        assert inc["id"] == located["id"] and inc["state"] == "open"
        root = inc["root_cause"]
        assert (root["kind"], root["name"]) == ("srlg", "conduit-dc1-dc2")
        assert root["members"] == MEMBERS and inc["links"] == MEMBERS
        downs = {e["subject"] for e in inc["evidence"] if e["kind"] == "link_down"}
        assert downs == set(MEMBERS)
        misses = [e for e in inc["evidence"] if e["kind"] == "sla_miss"]
        placed = [e for e in live.controller_events() if e["kind"] == "reconcile"][:1]
        assert {e["subject"] for e in misses} == {"dc1-dc2-test"}, (inc["evidence"], placed)
        assert all(e["reason"] == "unreachable" and e["source"] == "link-state" for e in misses)
        assert all(e["measured"]["loss"] == 1.0 and "sla" in e for e in misses)
        assert inc["first_seen"] >= cut["wall"] - 0.5  # the controller's and network's clocks
        assert inc["located_at"] >= inc["identified_at"] >= inc["first_seen"]
        _cli_shows_it(live, inc)
        no_token = httpx.get(f"{live.base}/v1/incidents", timeout=5)
        assert no_token.status_code == 401
        metrics = httpx.get(f"{live.base}/metrics", timeout=5).text
        assert 'netpilot_incidents_open{kind="srlg"} 1.0' in metrics
        _restart_keeps_it(live, inc)


def _restart_keeps_it(live: LiveDemo, inc: dict[str, Any]) -> None:
    """A restart of `controller run` on the same SQLite file lists the incident as it was (the
    routers then re-report the cut: it joins the same incident, none opens)."""
    time.sleep(0.5)  # the service writes what changed every 0.2 s
    code = live.stop("controller")
    assert code in (0, -signal.SIGTERM), f"exit {code}; {live.tail('controller', 20)}"
    live.start_controller()
    incidents = live.get("/v1/incidents")
    assert [i["id"] for i in incidents] == [inc["id"]], incidents
    (after,) = incidents
    same = ("state", "root_cause", "first_seen", "identified_at", "located_at", "links")
    assert {k: after[k] for k in same} == {k: inc[k] for k in same}
    assert after["evidence"][: len(inc["evidence"])] == inc["evidence"]
    env = {"NETPILOT_API_TOKEN": live.token}
    (as_json,) = [line.split() for line in DOC.splitlines() if line.endswith("--json")]
    shown = run_cli(*[live.base if a == DOC_URL else a for a in as_json[1:]], env=env)
    assert shown.returncode == 0, shown.stderr
    assert [i["id"] for i in json.loads(shown.stdout)] == [inc["id"]]
    time.sleep(1.0)
    assert [i["id"] for i in live.get("/v1/incidents")] == [inc["id"]]


def _dc_intents(path: Path) -> Path:
    """The bank's two replication intents (protected) and its test traffic (not) over the
    conduit: fewer to push than all 17."""
    doc = yaml.safe_load(BANK_INTENTS.read_text())
    wanted = ("dc1-dc2-production", "dc2-dc1-production", "dc1-dc2-test")
    path.write_text(yaml.safe_dump({"intents": [i for i in doc["intents"] if i["name"] in wanted]}))
    return path


def _cli_shows_it(live: LiveDemo, inc: dict[str, Any]) -> None:
    """The commands docs/incidents.md shows, as written but for the controller's address."""
    env = {"NETPILOT_API_TOKEN": live.token}
    shown = [line.split() for line in DOC.splitlines() if line.startswith("netpilot incidents")]
    assert len(shown) == 2
    table, as_json = (run_cli(*[live.base if a == DOC_URL else a for a in cmd[1:]], env=env)
                      for cmd in shown)  # fmt: skip
    # the table's width is the terminal's (rich may wrap the cause): the id and kind must show
    words = table.stdout.split()
    assert table.returncode == 0 and inc["id"] in words and "srlg" in words, table.stdout
    assert as_json.returncode == 0, as_json.stderr
    assert [i["id"] for i in json.loads(as_json.stdout)] == [inc["id"]]
    refused = run_cli("incidents", "--server", live.base, env={"NETPILOT_API_TOKEN": "wrong"})
    assert refused.returncode == 2 and "refused the token" in refused.stderr
    assert "Traceback" not in refused.stderr


def _truth(live: LiveDemo, kind: str) -> dict[str, Any] | None:
    return next((e for e in live.truth() if e["kind"] == kind), None)


def _located(live: LiveDemo, cause: str) -> dict[str, Any] | None:
    """The incident whose root cause is `cause`, once located."""
    incidents: list[dict[str, Any]] = live.get("/v1/incidents")
    for inc in incidents:
        root = inc["root_cause"] or {}
        if inc["located_at"] is not None and root.get("name") == cause:
            return inc
    return None
