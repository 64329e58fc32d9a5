"""`netpilot demo`: the closed loop over NETCONF on bank-wan, end to end, as `make demo` runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_topo_cli import netpilot


def test_demo_detects_locates_and_rectifies_every_event(tmp_path: Path) -> None:
    result = netpilot("demo", "--json", "--report", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["intents_lost"] == 0 and data["southbound"] == "netconf"
    events = {e["event"].split()[0]: e for e in data["events"]}
    assert set(events) == {"degradation", "cut", "traffic"}
    degradation = events["degradation"]
    # predicted: protected/high-priority intents left the fibre before it failed
    assert degradation["link"] == "DC1-DC2-a" and degradation["rectify_s"] < 0
    assert {"dc1-dc2-production", "dc2-dc1-production"} <= set(degradation["moved"])
    cut = events["cut"]
    assert cut["link"] == "BR1-P-SH" and "br1-dc1-voice" in cut["moved"]
    assert 0 <= cut["detect_s"] <= 30  # within one telemetry interval (30 s steps)
    surge = events["traffic"]
    assert surge["rectify_s"] < 0 and surge["moved"] == ["hq-dc2-office"]  # before the peak
    for e in data["events"]:
        assert e["committed"] and {"detect_s", "locate_s", "rectify_s", "sla_violations"} <= set(e)
    assert data["sla_compliance"]["voice"] == 1.0
    assert (tmp_path / "report" / "index.html").is_file()
    # the causes are recorded: the same timeline shows which signal moved what
    signals = {a["signal"] for a in data["actions"]}
    assert {"risk", "link_down", "forecast"} <= signals
