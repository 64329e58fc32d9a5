"""Every Topology Zoo file loads (or is refused with one line); speeds and delays are parsed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.errors import NotFoundError, TopologyError
from controller.topology import FIBRE_DELAY_S_PER_KM, great_circle_km
from topologies.common import DEFAULT_DELAY_S
from topologies.datasets import data_dir
from topologies.linkspeed import speed_from_label, zoo_speed_bps
from topologies.loader import load
from topologies.zoo import load_gml

ZOO = data_dir() / "topology-zoo"
ZOO_FILES = sorted(ZOO.glob("*.gml"))
HALF_EARTH_DELAY_S = 20_100 * FIBRE_DELAY_S_PER_KM


def _counted(path: Path) -> tuple[int, list[tuple[str, str]]]:
    """An independent count from the text: nodes, and edges as (source, target) ids."""
    text = path.read_text(encoding="utf-8", errors="replace")
    nodes = len(re.findall(r"node \[\s*id -?\d+", text))
    edges = re.findall(r"edge \[\s*source (\d+)\s*target (\d+)", text)
    return nodes, edges


def test_the_zoo_has_276_files() -> None:
    assert len(ZOO_FILES) == 276


@pytest.mark.parametrize("path", ZOO_FILES, ids=[p.stem for p in ZOO_FILES])
def test_every_zoo_file_loads(path: Path) -> None:
    topo = load(f"zoo:{path.stem}")
    nodes, edges = _counted(path)
    assert len(topo.nodes) == nodes
    assert len(topo.physical_links()) == sum(1 for a, b in edges if a != b)
    assert sorted(n.index for n in topo.nodes.values()) == list(range(1, nodes + 1))
    for link in topo.links:
        assert link.capacity_bps > 0
        assert 0 <= link.delay_s <= HALF_EARTH_DELAY_S
        assert topo.reverse(link) is not None


def test_names_are_case_insensitive_and_speeds_come_from_the_file() -> None:
    topo = load("zoo:abilene")
    assert "New York" in topo.nodes and len(topo.nodes) == 11
    assert topo.loader_warnings == ()
    # Abilene gives only LinkLabel "OC-192c": 192 x 51.84 Mbit/s
    assert all(lk.capacity_bps == pytest.approx(9.95328e9) for lk in topo.links)
    ny, chicago = topo.node("New York"), topo.node("Chicago")
    assert ny.lat is not None and ny.lon is not None
    assert chicago.lat is not None and chicago.lon is not None
    km = great_circle_km(ny.lat, ny.lon, chicago.lat, chicago.lon)
    (link,) = topo.links_between("New York", "Chicago")
    assert link.delay_s == pytest.approx(km * 5e-6)


def test_cogentco_duplicate_labels_and_missing_coordinates_are_warned() -> None:
    topo = load("zoo:Cogentco")
    assert len(topo.nodes) == 197
    text = " ".join(topo.loader_warnings)
    assert "no coordinates" in text and "give no speed" in text
    no_coords = [n for n in topo.nodes.values() if not n.has_coordinates]
    assert no_coords
    touching = [lk for lk in topo.links if lk.src == no_coords[0].name]
    assert touching and all(lk.delay_s == DEFAULT_DELAY_S for lk in touching)


def test_duplicate_labels_get_the_gml_id() -> None:
    topo = load("zoo:Switch")
    text = " ".join(topo.loader_warnings)
    assert "duplicate node label" in text
    renamed = re.search(r"'([^']+)' -> '([^']+)'", text)
    assert renamed is not None
    original, unique = renamed.groups()
    assert original in topo.nodes and unique in topo.nodes and unique.startswith(original + "-")


def test_duplicated_edges_become_parallel_links() -> None:
    _, edges = _counted(ZOO / "Nordu.gml")
    pairs = [tuple(sorted(e)) for e in edges]
    dup = next(p for p in pairs if pairs.count(p) > 1)
    topo = load("zoo:Nordu")
    gml_names = [n.name for n in topo.nodes.values()]  # index order = GML order
    a, b = gml_names[int(dup[0])], gml_names[int(dup[1])]
    between = topo.links_between(a, b)
    assert len(between) == pairs.count(dup) and len({lk.id for lk in between}) == len(between)


def test_self_loops_are_dropped_with_a_warning() -> None:
    topo = load("zoo:Interoute")
    assert any("self-loop" in w for w in topo.loader_warnings)
    assert all(lk.src != lk.dst for lk in topo.links)


@pytest.mark.parametrize(
    ("label", "bps"),
    [
        ("10 Gbps", 10e9),
        ("2.5 Gbit/s", 2.5e9),
        ("155M", 155e6),
        ("1Gb/s", 1e9),
        ("2x10Gb/s", 20e9),
        ("1-2.5 Gb/s", 1e9),
        ("45 Mbps DS-3", 45e6),
        ("OC-192", 9.95328e9),
        ("OC48/STM16", 2.48832e9),
        ("STM-16", 2.48832e9),
        ("STM-64x2", 2 * 9.95328e9),
        ("GigE", 1e9),
        ("1GE", 1e9),
        ("10GE", 10e9),
        ("T3", 44.736e6),
        ("DS3", 44.736e6),
        ("E1", 2.048e6),
        ("Fast Ethernet", 100e6),
        ("SeaMeWe-3", None),
        ("Completion 2007-2008", None),
        ("Dark Blue", None),
    ],
)
def test_speed_labels(label: str, bps: float | None) -> None:
    got = speed_from_label(label)
    assert got == (pytest.approx(bps) if bps is not None else None)


def test_speed_fields_win_over_labels() -> None:
    assert zoo_speed_bps({"LinkSpeedRaw": 1e9, "LinkLabel": "10 Gbps"}) == 1e9
    assert zoo_speed_bps({"LinkSpeed": "2.5", "LinkSpeedUnits": "G"}) == 2.5e9
    assert zoo_speed_bps({"LinkType": "OC-3"}) == pytest.approx(155.52e6)
    assert zoo_speed_bps({"LinkLabel": "Green"}) is None


def test_links_without_speed_get_the_median_of_the_others(tmp_path: Path) -> None:
    gml = tmp_path / "mixed.gml"
    gml.write_text(
        "graph [\n"
        + "".join(f'  node [ id {i} label "n{i}" ]\n' for i in range(4))
        + '  edge [ source 0 target 1 LinkLabel "1 Gbps" ]\n'
        + '  edge [ source 1 target 2 LinkLabel "OC-48" ]\n'
        + '  edge [ source 2 target 3 LinkLabel "10 Gbps" ]\n'
        + '  edge [ source 3 target 0 LinkLabel "Blue" ]\n'
        + "]\n"
    )
    topo = load_gml(gml)
    (blue,) = topo.links_between("n3", "n0")
    assert blue.capacity_bps == pytest.approx(2.48832e9)
    assert any("1 of 4 link(s) give no speed" in w for w in topo.loader_warnings)
    assert all(lk.delay_s == DEFAULT_DELAY_S for lk in topo.links)


def test_a_broken_gml_is_refused_with_one_line(tmp_path: Path) -> None:
    gml = tmp_path / "broken.gml"
    gml.write_text('graph [\n  node [ id 0 label "a" \n')
    with pytest.raises(TopologyError) as info:
        load(str(gml))
    assert "\n" not in str(info.value) and "GML" in str(info.value)


def test_an_empty_gml_is_refused(tmp_path: Path) -> None:
    gml = tmp_path / "empty.gml"
    gml.write_text("graph [\n  directed 0\n]\n")
    with pytest.raises(TopologyError, match="no nodes"):
        load(str(gml))


def test_unknown_zoo_name_suggests_close_matches() -> None:
    with pytest.raises(NotFoundError, match=r"did you mean zoo:Abilene"):
        load("zoo:Abilen")
