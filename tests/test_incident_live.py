"""End to end: `network run` and `controller run` as two processes (gNMI on); one dig cuts the
conduit between the data centres (SRLG conduit-dc1-dc2): the controller shows exactly one
incident naming the SRLG, with both member links in its evidence, over GET /v1/incidents and
`netpilot incidents`; the SLA misses of the intents over the links are in it too."""

from __future__ import annotations

import json
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
CUT_S = 120.0
"""Network seconds to the cut: after the controller is up (at --speed 10, 12 s of wall time);
a slower start still sees it, at its first telemetry round."""


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
    spec = LiveSpec(work=tmp_path, speed=10, sample_s=30, network_step_s=10, scenario=plan,
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
        assert any(e["kind"] == "sla_miss" for e in inc["evidence"]), inc["evidence"]
        assert inc["first_seen"] >= cut["wall"] - 0.5  # the controller's and network's clocks
        assert inc["located_at"] >= inc["identified_at"] >= inc["first_seen"]
        _cli_shows_it(live, inc)
        no_token = httpx.get(f"{live.base}/v1/incidents", timeout=5)
        assert no_token.status_code == 401
        metrics = httpx.get(f"{live.base}/metrics", timeout=5).text
        assert 'netpilot_incidents_open{kind="srlg"} 1.0' in metrics


def _dc_intents(path: Path) -> Path:
    """The bank's two replication intents (over the conduit): fewer to push than all 17."""
    doc = yaml.safe_load(BANK_INTENTS.read_text())
    wanted = ("dc1-dc2-production", "dc2-dc1-production")
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
