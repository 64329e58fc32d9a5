"""`netpilot network run`: the simulated network as its own process, read over real NETCONF.

The network runs free in wall time x speed, so the checks key on what the routers stamp (the
simulated clock) and on the process's own ground-truth event log, never on how long things took.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli import main
from controller.devicestate import DeviceState
from controller.errors import ValidationError
from controller.southbound.inventory import load_inventory
from controller.southbound.session import SessionOptions
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.scenario import check_against, parse_scenario, surges
from harness.surge import Surge
from harness.traffic import Flows, StaticTraffic
from telemetry.netconf_collector import NetconfCollector
from topologies.loader import load as load_topology

ROOT = Path(__file__).resolve().parent.parent
NETPILOT = [sys.executable, "-m", "cli"]
CUT_S, UP_S = 60.0, 180.0  # BR1-P-SH down from 1m to 3m
GONE_S, BACK_S = 120.0, 480.0  # BR3 does not answer NETCONF from 2m to 8m
SCENARIO = """\
events:
  - {kind: link_down, link: BR1-P-SH, at: 1m, until: 3m}
  - {kind: device_unreachable, node: BR3, at: 2m, until: 8m}
"""


def _wait(ready: Callable[[], bool], deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    text = path.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def _seen(path: Path, kind: str, where: str) -> bool:
    return any(e["kind"] == kind and where in (e.get("link"), e.get("node")) for e in _events(path))


def _by_name(states: list[DeviceState]) -> dict[str, DeviceState]:
    return {s.device: s for s in states}


def _uplink_up(state: DeviceState) -> bool:
    return next(i.oper_up for i in state.interfaces if i.name == "BR1-P-SH")


def _read_through_the_cut(collector: NetconfCollector, events: Path) -> list[tuple[float, bool]]:
    """(simulated time, BR1's uplink up) per read until the link is back."""
    reads: list[tuple[float, bool]] = []
    while not reads or not _seen(events, "link_up", "BR1-P-SH"):
        br1 = _by_name(collector.collect().states)["BR1"]
        reads.append((br1.timestamp, _uplink_up(br1)))
        assert len(reads) < 2000, "the cut link never came back"
    return reads


def _unreachable_then_back(collector: NetconfCollector, events: Path) -> None:
    _wait(lambda: _seen(events, "unreachable", "BR3"), 30, "BR3 to become unreachable")
    during = collector.collect()
    assert not _seen(events, "reachable", "BR3"), "the read fell after the window: widen it"
    assert "BR3" in during.errors and "BR3" not in _by_name(during.states)
    assert "BR1" in _by_name(during.states)  # the others still answer
    _wait(lambda: _seen(events, "reachable", "BR3"), 30, "BR3 to answer again")
    after = collector.collect()
    assert "BR3" in _by_name(after.states), after.errors


def _check_event_log(lines: list[dict[str, Any]]) -> None:
    kinds = [e["kind"] for e in lines]
    assert kinds[0] == "started" and kinds[-1] == "stopped" and kinds.count("stopped") == 1
    assert lines[0]["topology"] == "bank-wan" and lines[0]["speed"] == 60
    assert lines[-1]["reason"] == "SIGTERM"
    found = {(e["kind"], e.get("link") or e.get("node")): e["sim_s"] for e in lines[1:-1]}
    assert found == {
        ("link_down", "BR1-P-SH"): CUT_S,
        ("unreachable", "BR3"): GONE_S,
        ("link_up", "BR1-P-SH"): UP_S,
        ("reachable", "BR3"): BACK_S,
    }
    sim = [e["sim_s"] for e in lines]
    wall = [e["wall"] for e in lines]
    assert sim == sorted(sim) and wall == sorted(wall)


@pytest.mark.serial  # judged in real time: run alone, not beside other tests
def test_network_run_serves_the_simulated_network_over_netconf(tmp_path: Path) -> None:
    scenario, inv, events = tmp_path / "s.yaml", tmp_path / "inv.yaml", tmp_path / "ev.jsonl"
    scenario.write_text(SCENARIO)
    argv = [
        "network",
        "run",
        "--topology",
        "bank-wan",
        "--inventory",
        str(inv),
        "--scenario",
        str(scenario),
        "--speed",
        "60",
        "--step",
        "10s",
        "--events",
        str(events),
        "--json",
    ]
    with (tmp_path / "stderr.txt").open("w") as err:
        proc = subprocess.Popen([*NETPILOT, *argv], stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        _wait(lambda: inv.is_file() or proc.poll() is not None, 90, "the inventory")
        assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
        options = SessionOptions(rpc_timeout_s=5, connect_timeout_s=3, connect_attempts=1)
        collector = NetconfCollector(load_inventory(inv), options=options)
        try:
            reads = _read_through_the_cut(collector, events)
            _unreachable_then_back(collector, events)
        finally:
            collector.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()
    stamps = [t for t, _ in reads]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]  # the simulated clock runs
    assert all(up == (not CUT_S <= t < UP_S) for t, up in reads)  # down exactly while cut
    assert any(not up for _, up in reads)
    lines = _events(events)
    _check_event_log(lines)
    summary = json.loads(out)
    assert summary["events"] == len(lines) and summary["sim_s"] == lines[-1]["sim_s"] >= BACK_S
    assert inv.is_file()  # the inventory stays for whoever reads it


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "scenario", "needle"),
    [
        (
            [],
            "events: [{kind: link_down, link: BR1-P-XX, at: 1m}]",
            "unknown link 'BR1-P-XX' in topology 'bank-wan'; did you mean 'BR1-P-SH'?",
        ),
        (
            [],
            "events: [{kind: device_unreachable, node: BR9, at: 1m}]",
            "events[0].node: unknown node 'BR9' in topology 'bank-wan'",
        ),
        ([], None, "scenario file not found"),
        (["--speed", "0"], "events: []", "--speed 0: give a factor of real time in (0, 3600]"),
        (["--speed", "1e9"], "events: []", "--speed 1e+09: give a factor of real time"),
        (["--step", "0s"], "events: []", "--step 0s: give a positive simulated step"),
        (["--intents", "nowhere.yaml"], "events: []", "--intents nowhere.yaml: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    scenario: str | None,
    needle: str,
) -> None:
    path = tmp_path / "s.yaml"
    if scenario is not None:
        path.write_text(scenario + "\n")
    inv = tmp_path / "inv.yaml"
    code, err = _cli(
        capsys,
        "network",
        "run",
        "--topology",
        "bank-wan",
        "--inventory",
        str(inv),
        "--scenario",
        str(path),
        *extra,
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not inv.exists()


def test_surge_events_parse_validate_and_load_the_network() -> None:
    doc = {
        "events": [
            {
                "kind": "surge",
                "src": "HQ",
                "dst": "DC2",
                "peak": "17G",
                "at": "40m",
                "ramp": "10m",
                "until": "55m",
                "class": "test",
            }
        ]
    }
    scenario = parse_scenario(doc)
    assert surges(scenario) == [Surge("HQ", "DC2", 17e9, 2400, 600, 3300, "test")]
    index = LinkIndex(load_topology("bank-wan"))
    check_against(scenario, index)
    hq, dc1 = index.node_idx["HQ"], index.node_idx["DC1"]
    base = StaticTraffic(Flows(np.array([hq]), np.array([dc1]), np.array([0])), np.array([1e9]))
    sim = NetworkSimulator(index, base, rng=np.random.default_rng(1), scenario=scenario)
    assert len(sim.traffic.flows) == 2 and sim.traffic.flows.dst[-1] == index.node_idx["DC2"]
    rates = {t: sim.traffic.rates(t)[-1] for t in (2399, 2400, 2700, 3000, 3299, 3300)}
    assert rates == {2399: 0, 2400: 0, 2700: 8.5e9, 3000: 17e9, 3299: 17e9, 3300: 0}
    surge = doc["events"][0]
    for change, problem in (
        ({"until": "30m"}, "events[0]: until (1800s) must come after at (2400s)"),
        ({"dst": "HQ"}, "events[0]: src and dst are both 'HQ'"),
        ({"peak": "lots"}, "events[0].peak: cannot read 'lots'"),
        ({"class": "gold"}, "events[0].class: Input should be 'voice'"),
        ({"cls": "test"}, "events[0].cls: Extra inputs are not permitted"),
    ):
        with pytest.raises(ValidationError) as info:
            parse_scenario({"events": [{**surge, **change}]}, "s.yaml")
        assert info.value.problems[0].startswith(problem), info.value.problems
    with pytest.raises(ValidationError, match=r"events\[0\]\.dst: unknown node 'DC9'"):
        check_against(parse_scenario({"events": [{**surge, "dst": "DC9"}]}), index)


def _doc_commands() -> list[str]:
    text = (ROOT / "docs" / "network-run.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [block.replace("\\\n", " ") for block in blocks]


@pytest.mark.serial  # judged in real time: run alone, not beside other tests
def test_the_docs_examples_run_as_written() -> None:
    """Every ```sh block of docs/network-run.md, run from the repository root as written."""
    commands = _doc_commands()
    assert commands, "docs/network-run.md shows no sh example"
    subprocess.run(["rm", "-rf", "/tmp/netpilot-net"], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for block in commands:
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, (block, out.stderr)
        assert "Traceback" not in out.stderr
    lines = _events(Path("/tmp/netpilot-net/events.jsonl"))
    assert [e["kind"] for e in lines] == ["started", "link_down", "stopped"]
    assert lines[1]["link"] == "BR1-P-SH" and lines[1]["sim_s"] == 310
