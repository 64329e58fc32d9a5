"""`bank-wan:N`: the national bank WAN generator, and the bank-scale pathing bench, tiny."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import networkx as nx
import pytest

import cli
from controller.errors import UsageError
from controller.topology import TRANSPORTS
from topologies.loader import catalogue, load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import pathing_bank  # noqa: E402


@pytest.mark.parametrize("branches", [1, 6, 130])
def test_every_branch_has_the_four_transports_and_is_non_transit(branches: int) -> None:
    topo = load(f"bank-wan:{branches}")
    names = [f"BR{i}" for i in range(1, branches + 1)]
    assert topo.name == f"bank-wan-{branches}" and topo.warnings == ()
    assert {"DC1", "DC2", "HQ"} <= set(topo.nodes)
    for name in names:
        node = topo.node(name)
        assert node.role == "branch" and node.transit is False and node.max_sid_depth == 5
        uplinks = topo.out_links(name)
        assert sorted(lk.transport for lk in uplinks) == sorted(TRANSPORTS)
        assert all(lk.affinities == {lk.transport} == {lk.medium} for lk in uplinks)
        assert {lk.transport for lk in uplinks if lk.metered} == {"5g"}
        assert all(topo.nodes[lk.dst].transit for lk in uplinks)  # hubs carry traffic
        assert all(lk.capacity_bps <= 200e6 for lk in uplinks)
    regions = {topo.node(n).site for n in names}
    aggregation = [n for n in topo.nodes.values() if n.role == "agg"]
    assert len(aggregation) == len(regions) == -(-branches // 64)
    graph = nx.Graph([(lk.src, lk.dst) for lk in topo.links])
    assert nx.is_connected(graph) and nx.edge_connectivity(graph) >= 2
    assert load(f"bank-wan:{branches}").links == topo.links  # deterministic


def test_bundled_bank_wan_and_generator_names_resolve() -> None:
    assert load("bank-wan").name == "bank-wan"
    assert "bank-wan:BRANCHES" in catalogue()["generators"]


@pytest.mark.parametrize("spec", ["bank-wan:0", "bank-wan:x", "bank-wan:1,2", "bank-wan:10001"])
def test_bad_sizes_say_what_to_write(spec: str) -> None:
    with pytest.raises(UsageError, match="bank-wan"):
        load(spec)


def test_topo_show_takes_the_generator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(shlex.split("topo show bank-wan:20 --json"))
    assert done.value.code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["nodes"] == 20 + 12 and shown["links"] == 4 * 20 + 25 and shown["connected"]


def test_documented_show_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    line = "netpilot topo show bank-wan:20"  # as docs/topology-format.md shows it
    assert line in (ROOT / "docs" / "topology-format.md").read_text()
    with pytest.raises(SystemExit) as done:
        cli.main(shlex.split(line)[1:])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "BR20" in out and "5G-GW" in out


def test_place_bench_on_a_tiny_bank(capsys: pytest.CaptureFixture[str]) -> None:
    pathing_bank.main(["place", "--branches", "12", "--json"])
    report = json.loads(capsys.readouterr().out)["place"]
    assert report["intents"] == 72 and report["placed"] + report["unplaced"] == 72
    assert report["placed"] == 72 and report["with_backup"] == 12
    assert report["paths_crossing_non_transit"] == 0


def test_transit_bench_on_a_tiny_bank(capsys: pytest.CaptureFixture[str]) -> None:
    args = "transit --branches 12 --intents 60 --rounds 6 --pairs 8 --json"
    pathing_bank.main(args.split())
    report = json.loads(capsys.readouterr().out)["transit"]
    assert report["intents"] == 60 and report["links_failed"] >= 6
    assert report["placed"] + report["unplaced"] == 60 and report["paths_checked"] >= 1
    assert report["paths_crossing_non_transit"] == report["tunnels_crossing_non_transit"] == 0
    assert report["tunnel_pairs"] == 8 and report["tunnels"] >= 8
