"""Export then import gives back the same topology (hypothesis), for every re-loadable format."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.errors import UsageError
from controller.topology import Link, LinkState, Node, Topology
from topologies.export import export
from topologies.generators import fat_tree, grid, leaf_spine, ring
from topologies.loader import load, load_file

SUFFIX = {"yaml": ".yaml", "json": ".json", "gml": ".gml"}

_text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp", "Co", "Cn")),
    min_size=1,
    max_size=8,
)
_names = st.frozensets(st.sampled_from(["red", "blue", "gold", "duct-1", "conduit 2"]), max_size=3)
_capacity = st.floats(min_value=1e-3, max_value=1e13, allow_nan=False, allow_infinity=False)
_delay = st.floats(min_value=0.0, max_value=0.5, allow_nan=False, allow_infinity=False)
_metric = st.integers(min_value=0, max_value=100_000)


def _same(a: Topology, b: Topology) -> None:
    assert a.name == b.name
    assert list(a.nodes.values()) == list(b.nodes.values())
    assert set(a.links) == set(b.links)
    assert len(a.links) == len(b.links)


def _round_trip(topo: Topology, fmt: str, folder: Path) -> Topology:
    path = folder / f"rt{SUFFIX[fmt]}"
    path.write_text(export(topo, fmt), encoding="utf-8")
    return load_file(path)


@st.composite
def _link_attrs(draw: st.DrawFn) -> dict[str, object]:
    return {
        "capacity_bps": draw(_capacity),
        "delay_s": draw(_delay),
        "igp_metric": draw(_metric),
        "te_metric": draw(_metric),
        "srlgs": draw(_names),
        "affinities": draw(_names),
        "medium": draw(st.sampled_from(["", "fiber", "mpls-vpn", "internet"])),
        "state": draw(st.sampled_from(list(LinkState))),
    }


@st.composite
def _coords(draw: st.DrawFn) -> tuple[float | None, float | None]:
    if not draw(st.booleans()):
        return None, None
    lat = draw(st.floats(min_value=-90, max_value=90, allow_nan=False))
    return lat, draw(st.floats(min_value=-180, max_value=180, allow_nan=False))


@st.composite
def random_topologies(draw: st.DrawFn) -> Topology:
    """Arbitrary names, parallel, one-way and asymmetric links, any attribute values."""
    names = draw(st.lists(_text, min_size=2, max_size=7, unique=True))
    indices = draw(
        st.lists(st.integers(1, 0xFFFF), min_size=len(names), max_size=len(names), unique=True)
    )
    nodes = []
    for name, index in zip(names, indices, strict=True):
        lat, lon = draw(_coords())
        role = draw(st.sampled_from(["router", "dc", "branch", "core"]))
        nodes.append(
            Node(name, index, role, draw(_text | st.just("")), lat, lon, draw(st.integers(1, 16)))
        )
    links: list[Link] = []
    pairs = st.tuples(st.sampled_from(names), st.sampled_from(names)).filter(lambda p: p[0] != p[1])
    for k, (a, b) in enumerate(draw(st.lists(pairs, max_size=10))):
        lid = f"{draw(_text)}#{k}"
        forward = Link(lid, a, b, **draw(_link_attrs()))  # type: ignore[arg-type]
        kind = draw(st.sampled_from(["both", "one-way", "asymmetric"]))
        links.append(forward)
        if kind == "both":
            links.append(replace(forward, src=b, dst=a))
        elif kind == "asymmetric":
            links.append(Link(lid, b, a, **draw(_link_attrs())))  # type: ignore[arg-type]
    return Topology(draw(_text), nodes, links)


@st.composite
def generated_topologies(draw: st.DrawFn) -> Topology:
    """Generator output with every node and (symmetric) link attribute perturbed."""
    base = draw(
        st.sampled_from(
            [leaf_spine(2, 3), fat_tree(2), ring(4), grid(2, 3), leaf_spine(1, 2), ring(3)]
        )
    )
    nodes = []
    for node in base.nodes.values():
        lat, lon = draw(_coords())
        site = draw(st.sampled_from(["", "hall-A", "Shanghai"]))
        nodes.append(
            replace(node, lat=lat, lon=lon, site=site, max_sid_depth=draw(st.integers(1, 16)))
        )
    links = []
    for group in base.physical_links().values():
        attrs = draw(_link_attrs())
        links += [replace(lk, **attrs) for lk in group]  # type: ignore[arg-type]
    return Topology(base.name, nodes, links)


_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@_SETTINGS
@given(topo=random_topologies())
def test_yaml_and_json_round_trip_anything(fmt: str, topo: Topology, tmp_path: Path) -> None:
    _same(topo, _round_trip(topo, fmt, tmp_path))


@pytest.mark.parametrize("fmt", ["yaml", "json", "gml"])
@_SETTINGS
@given(topo=generated_topologies())
def test_generated_topologies_round_trip(fmt: str, topo: Topology, tmp_path: Path) -> None:
    _same(topo, _round_trip(topo, fmt, tmp_path))


@pytest.mark.parametrize(
    "spec", ["bank-wan", "dc-fabric", "geant", "teal:UsCarrier", "zoo:Abilene"]
)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_real_topologies_round_trip(spec: str, fmt: str, tmp_path: Path) -> None:
    topo = load(spec)
    _same(topo, _round_trip(topo, fmt, tmp_path))


def test_yaml_export_is_human_friendly() -> None:
    text = export(load("dc-fabric"), "yaml")
    assert "capacity: 100G" in text and "delay: 2us" in text
    assert "srlgs: [power-spine1]" in text


def test_dot_export_draws_every_physical_link() -> None:
    topo = load("bank-wan")
    dot = export(topo, "dot")
    assert dot.startswith('graph "bank-wan" {') and dot.rstrip().endswith("}")
    assert dot.count(" -- ") == len(topo.physical_links())
    assert '"DC1" -- "DC2" [id="DC1-DC2-a", label="100 Gbps' in dot


def test_dot_escapes_quotes() -> None:
    topo = Topology('a"b', [Node('x"y', 1), Node("z", 2)], [Link("l", 'x"y', "z", 1e9, 0.0)])
    assert 'graph "a\\"b"' in export(topo, "dot")


def test_loader_warnings_survive_changes() -> None:
    topo = load("teal:B4")
    assert topo.loader_warnings
    down = topo.with_link_state(topo.links[0].id, LinkState.DOWN)
    assert down.loader_warnings == topo.loader_warnings
    plain = Topology("p", [Node("a", 1), Node("b", 2)], [])
    assert plain.loader_warnings == ()


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="unknown export format 'png'"):
        export(load("ring:3"), "png")
