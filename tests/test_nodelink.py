"""networkx node-link JSON: TEAL, GEANT and FIGRET's Facebook pods, with id-based names."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from controller.errors import NotFoundError, TopologyError, ValidationError
from topologies.common import DEFAULT_DELAY_S
from topologies.datasets import read_tunnels
from topologies.loader import load


def _raw(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("spec", "rel"),
    [
        ("teal:B4", "teal/B4.json"),
        ("teal:uscarrier", "teal/UsCarrier.json"),
        ("teal:Kdl", "teal/Kdl.json"),
        ("geant", "geant/topology.json"),
        ("facebook:pod_a", "facebook-dc/pod_a/topology.json"),
    ],
)
def test_datasets_load_with_ids_as_names(spec: str, rel: str, data: Path) -> None:
    raw = _raw(data / rel)
    topo = load(spec)
    assert len(topo.nodes) == len(raw["nodes"])
    assert len(topo.links) == len(raw["links"])
    for node in raw["nodes"]:
        assert topo.node(str(node["id"])).index == node["id"] + 1
    for entry in raw["links"]:
        (link,) = topo.links_between(str(entry["source"]), str(entry["target"]))
        assert link.capacity_bps == entry["capacity"]  # as given, no scaling
        assert link.delay_s == DEFAULT_DELAY_S
    paired = [lk for lk in topo.links if topo.reverse(lk) is not None]
    assert len(topo.physical_links()) == len(topo.links) - len(paired) // 2
    assert any("1 ms" in w for w in topo.loader_warnings)


def test_b4_keeps_its_small_capacities() -> None:
    topo = load("teal:B4")
    assert {lk.capacity_bps for lk in topo.links} == {5000.0}
    assert len(topo.physical_links()) == 19


def test_uscarrier_asymmetric_pairs_share_an_id() -> None:
    topo = load("teal:UsCarrier")
    ab = topo.link(("0", "85", "0-85"))
    ba = topo.reverse(ab)
    assert ba is not None and (ab.capacity_bps, ba.capacity_bps) == (200.0, 150.0)


def test_geant_tunnels_name_existing_nodes(data: Path) -> None:
    topo = load("geant")
    tunnels = read_tunnels(data / "geant" / "tunnels.txt")
    for paths in tunnels.values():
        for path in paths:
            for a, b in itertools.pairwise(path):
                assert topo.links_between(str(a), str(b)), f"no link {a}-{b}"


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "g.json"
    path.write_text(json.dumps(doc))
    return path


def test_unpaired_links_stay_one_way_and_fields_are_read(tmp_path: Path) -> None:
    doc = {
        "directed": True,
        "nodes": [
            {"id": "x", "lat": 0.0, "lon": 0.0},
            {"id": "y", "lat": 0.0, "lon": 1.0},
            {"id": "z"},
        ],
        "links": [
            {"source": "x", "target": "y", "capacity": 1e9},
            {"source": "y", "target": "x", "capacity": 1e9},
            {"source": "y", "target": "z", "capacity": 1e9, "delay": "3ms", "srlgs": ["s1"]},
        ],
    }
    topo = load(str(_write(tmp_path, doc)))
    assert [n.index for n in topo.nodes.values()] == [1, 2, 3]  # ids are not integers
    xy = topo.link(("x", "y", "x-y"))
    assert xy.delay_s == pytest.approx(111.19 * 5e-6, rel=1e-3)  # one degree at the equator
    yz = topo.link(("y", "z", "y-z"))
    assert topo.reverse(yz) is None and yz.delay_s == 3e-3 and yz.srlgs == {"s1"}
    assert any("no reverse" in w for w in topo.warnings)


def test_undirected_files_give_both_directions(tmp_path: Path) -> None:
    doc = {
        "directed": False,
        "nodes": [{"id": 0}, {"id": 1}],
        "links": [{"source": 0, "target": 1, "capacity": 5.0, "latency": 0.002}],
    }
    topo = load(str(_write(tmp_path, doc)))
    assert len(topo.links) == 2 and {lk.delay_s for lk in topo.links} == {0.002}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"nodes": 3}, "expected networkx node-link JSON"),
        ({"nodes": [{"id": 0}], "links": [{"source": 0, "target": 9}]}, "unknown node '9'"),
        (
            {
                "nodes": [{"id": 0}, {"id": 1}],
                "links": [{"source": 0, "target": 1, "capacity": "x"}],
            },
            "capacity must be a number",
        ),
        (
            {
                "nodes": [{"id": 0}, {"id": 1}],
                "links": [{"source": 0, "target": 1, "capacity": -1}],
            },
            "capacity must be a positive number",
        ),
    ],
)
def test_bad_node_link_files(tmp_path: Path, doc: object, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        load(str(_write(tmp_path, doc)))


def test_json_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"nodes": [\n  {"id": 0},\n  oops\n]}')
    with pytest.raises(ValidationError, match=r"bad.json:3:3: JSON syntax error"):
        load(str(path))


def test_unknown_teal_name() -> None:
    with pytest.raises(NotFoundError, match="did you mean teal:B4"):
        load("teal:B5")
