"""Transit policy as users meet it: the issue's bank-wan examples, the YAML override, the
`topo validate` warning, refused tunnels and stored placements that crossed a branch."""

from __future__ import annotations

import itertools
import json
import shlex
from pathlib import Path

import pytest

import cli
from controller.errors import ValidationError
from controller.pathing.optimizer import build_tunnel_set
from controller.pathing.placement import place
from controller.pathing.types import Path as PathModel
from controller.pathing.types import PathRequest, Placement
from topologies.export import to_yaml
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
BRANCHES = {f"BR{i}" for i in range(1, 7)}

SMALL = """\
name: spur
nodes:
  - {name: DC, role: dc}
  - {name: P1, role: core}
  - {name: BR1, role: branch}
  - {name: BR2, role: branch}
links:
  - {a: DC, b: P1, capacity: 10G, delay: 1ms}
  - {a: BR1, b: P1, capacity: 100M, delay: 2ms, transport: private-line}
  - {a: BR2, b: BR1, capacity: 100M, delay: 2ms, transport: 5g, metered: true}
"""


def run(capsys: pytest.CaptureFixture[str], line: str) -> tuple[int, str, str]:
    """`line` as a user types it (starting with `netpilot`), in process."""
    words = shlex.split(line)
    assert words[0] == "netpilot"
    try:
        cli.main(words[1:])
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def doc_command(doc: str, starts: str) -> str:
    lines = [x for x in (ROOT / "docs" / doc).read_text().splitlines() if x.startswith(starts)]
    assert len(lines) == 1, lines
    return lines[0]


def test_issue_examples_on_bank_wan_never_cross_a_branch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    documented = doc_command("pathing.md", "netpilot path compute bank-wan BR3 DC1")
    code, out, err = run(capsys, documented + " --json")
    assert code == 0, err
    nodes = json.loads(out)["primary"]["nodes"]
    assert nodes[0] == "BR3" and nodes[-1] == "DC1" and not set(nodes[1:-1]) & BRANCHES
    assert {"P-GZ", "INET-GW", "DC2"}.isdisjoint(nodes)
    code, out, err = run(capsys, "netpilot path compute bank-wan BR3 P-SH --exclude-node P-GZ")
    assert code == 0, err
    assert "BR1" not in out and "BR6" not in out and "BR3-" in out


def test_only_a_branch_between_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "spur.yaml"
    file.write_text(SMALL)
    code, out, err = run(capsys, f"netpilot path compute {file} BR2 DC")
    assert code == 1 and "Traceback" not in err
    assert "no path from BR2 to DC: every remaining path crosses a non-transit router" in err
    assert "BR1" in err and len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, f"netpilot topo validate {file} --json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert any("transit policy: 2 router pair(s)" in w and "BR1" in w for w in warnings)


def test_transit_true_lets_a_branch_carry_traffic_and_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "spur.yaml"
    file.write_text(
        SMALL.replace("{name: BR1, role: branch}", "{name: BR1, role: branch, transit: true}")
    )
    code, out, err = run(capsys, f"netpilot path compute {file} BR2 DC --json")
    assert code == 0, err
    assert json.loads(out)["primary"]["nodes"] == ["BR2", "BR1", "P1", "DC"]
    topo = load(str(file))
    assert not any("transit policy" in w for w in topo.warnings)
    assert topo.node("BR1").transit and not topo.node("BR2").transit and topo.node("DC").transit
    uplink = topo.links_between("BR2", "BR1")[0]
    assert uplink.transport == "5g" and uplink.metered
    again = tmp_path / "again.yaml"
    again.write_text(to_yaml(topo))
    reloaded = load(str(again))
    assert reloaded.nodes == topo.nodes and reloaded.links == topo.links


def test_explicit_tunnels_through_a_branch_are_refused() -> None:
    topo = load("bank-wan")
    with pytest.raises(ValidationError, match="crosses non-transit router 'BR6'"):
        build_tunnel_set(topo, {("BR3", "DC1"): [["BR3", "VPN-PE", "BR6", "P-BJ2", "DC1"]]})


def test_a_stored_placement_through_a_branch_is_not_kept() -> None:
    topo = load("bank-wan")
    req = PathRequest("old", "BR3", "DC1", bandwidth_bps=1e6)
    nodes = ("BR3", "VPN-PE", "BR6", "P-BJ2", "DC1")
    links = tuple(topo.links_between(a, b)[0].key for a, b in itertools.pairwise(nodes))
    stored = Placement(req, PathModel(nodes, links, 0.02, 31.0))
    result = place(topo, [req], existing={"old": stored})
    placed = result.placed["old"]
    assert placed is not stored and not set(placed.primary.nodes[1:-1]) & BRANCHES
