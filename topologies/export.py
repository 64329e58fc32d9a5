"""Export a Topology as native YAML, node-link JSON, Graphviz DOT or GML.

- yaml: the native format, re-loadable without loss (a link whose two directions differ is written
  as two `one_way` halves sharing an id).
- json: networkx node-link, one entry per directed link with its id; re-loadable without loss.
- gml: Topology-Zoo-like (label, Latitude, Longitude, LinkSpeedRaw) plus netpilot's fields;
  one edge per physical link, so only the first direction's attributes survive.
- dot: for drawing (`dot -Tsvg`); not re-loadable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import networkx as nx
import yaml

from controller.errors import UsageError
from controller.topology import (
    Link,
    LinkState,
    Node,
    Topology,
    default_igp_metric,
    default_te_metric,
    default_transit,
)
from controller.units import format_bandwidth, format_duration, parse_bandwidth, parse_duration

FORMATS = ("yaml", "json", "dot", "gml")
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: faster


def export(topo: Topology, fmt: str) -> str:
    """The topology as text in `fmt` (yaml, json, dot or gml)."""
    writers: dict[str, Callable[[Topology], str]] = {
        "yaml": to_yaml,
        "json": to_json,
        "dot": to_dot,
        "gml": to_gml,
    }
    if fmt not in writers:
        raise UsageError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    return writers[fmt](topo)


# -- yaml ------------------------------------------------------------------------------------
def to_yaml(topo: Topology) -> str:
    doc: dict[str, Any] = {
        "name": topo.name,
        "nodes": [_yaml_node(n) for n in topo.nodes.values()],
        "links": [entry for group in _groups(topo) for entry in _yaml_links(group)],
    }
    return yaml.dump(
        doc,
        Dumper=_DUMPER,
        sort_keys=False,
        allow_unicode=True,
        width=120,
        default_flow_style=None,
    )


def _yaml_node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"name": node.name, "index": node.index}
    if node.role != "router":
        out["role"] = node.role
    if node.site:
        out["site"] = node.site
    if node.lat is not None and node.lon is not None:
        out["lat"], out["lon"] = node.lat, node.lon
    if node.max_sid_depth != 10:
        out["max_sid_depth"] = node.max_sid_depth
    if node.transit != default_transit(node.role):
        out["transit"] = node.transit
    if node.uplinks:
        out["uplinks"] = {c: p.to_dict() for c, p in node.uplinks}
    return out


def _groups(topo: Topology) -> list[list[Link]]:
    return list(topo.physical_links().values())


def _yaml_links(group: list[Link]) -> list[dict[str, Any]]:
    first = group[0]
    symmetric = len(group) == 2 and _same_but_direction(group[0], group[1])
    if symmetric:
        return [_yaml_link(first, one_way=False)]
    return [_yaml_link(link, one_way=True) for link in group]


def _same_but_direction(x: Link, y: Link) -> bool:
    return (x.src, x.dst) == (y.dst, y.src) and _attrs(x) == _attrs(y)


def _attrs(link: Link) -> tuple[Any, ...]:
    return (
        link.capacity_bps,
        link.delay_s,
        link.igp_metric,
        link.te_metric,
        link.affinities,
        link.srlgs,
        link.state,
        link.medium,
        link.transport,
        link.metered,
    )


def _yaml_link(link: Link, *, one_way: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"a": link.src, "b": link.dst}
    if link.id != f"{link.src}-{link.dst}" or one_way:
        out["id"] = link.id
    out["capacity"] = _exact(link.capacity_bps, _bandwidth_text, parse_bandwidth)
    out["delay"] = _exact(link.delay_s, _duration_text, parse_duration)
    if link.igp_metric != default_igp_metric(link.capacity_bps):
        out["igp_metric"] = link.igp_metric
    if link.te_metric != default_te_metric(link.delay_s):
        out["te_metric"] = link.te_metric
    if link.srlgs:
        out["srlgs"] = sorted(link.srlgs)
    if link.affinities:
        out["affinities"] = sorted(link.affinities)
    if link.medium:
        out["medium"] = link.medium
    if link.transport:
        out["transport"] = link.transport
    if link.metered:
        out["metered"] = True
    if one_way:
        out["one_way"] = True
    if link.state is not LinkState.UP:
        out["state"] = link.state.value
    return out


def _bandwidth_text(value: float) -> list[str]:
    units = (("G", 1e9), ("M", 1e6), ("K", 1e3))
    return [f"{value / scale:.6g}{unit}" for unit, scale in units if value >= scale]


def _duration_text(value: float) -> list[str]:
    units = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6))
    return [f"{value / scale:.6g}{unit}" for unit, scale in units if value >= scale]


def _exact(
    value: float, texts: Callable[[float], list[str]], parse: Callable[[str], float]
) -> str | float:
    """A human form ('10G', '2ms') when it parses back to exactly `value`, else the number."""
    for text in texts(value):
        if "e" not in text and parse(text) == value:
            return text
    return value


# -- json ------------------------------------------------------------------------------------
def to_json(topo: Topology) -> str:
    doc = {
        "directed": True,
        "multigraph": True,
        "graph": {"name": topo.name},
        "nodes": [_json_node(n) for n in topo.nodes.values()],
        "links": [_json_link(lk) for lk in topo.links],
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def _json_node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.name, "index": node.index, "role": node.role}
    if node.site:
        out["site"] = node.site
    if node.lat is not None and node.lon is not None:
        out["lat"], out["lon"] = node.lat, node.lon
    out["max_sid_depth"] = node.max_sid_depth
    out["transit"] = node.transit
    return out


def _json_link(link: Link) -> dict[str, Any]:
    return {
        "source": link.src,
        "target": link.dst,
        "id": link.id,
        "capacity": link.capacity_bps,
        "delay_s": link.delay_s,
        "igp_metric": link.igp_metric,
        "te_metric": link.te_metric,
        "srlgs": sorted(link.srlgs),
        "affinities": sorted(link.affinities),
        "medium": link.medium,
        "transport": link.transport,
        "metered": link.metered,
        "state": link.state.value,
    }


# -- gml -------------------------------------------------------------------------------------
def to_gml(topo: Topology) -> str:
    graph = nx.MultiGraph(name=topo.name)
    for node in topo.nodes.values():
        attrs: dict[str, Any] = {"index": node.index, "role": node.role, "site": node.site}
        if node.lat is not None and node.lon is not None:
            attrs["Latitude"], attrs["Longitude"] = node.lat, node.lon
        attrs["max_sid_depth"] = node.max_sid_depth
        attrs["transit"] = int(bool(node.transit))
        graph.add_node(node.name, **attrs)
    for lid, group in topo.physical_links().items():
        link = group[0]
        graph.add_edge(
            link.src,
            link.dst,
            key=lid,
            LinkSpeedRaw=link.capacity_bps,
            delay_s=link.delay_s,
            igp_metric=link.igp_metric,
            te_metric=link.te_metric,
            srlgs=json.dumps(sorted(link.srlgs)),
            affinities=json.dumps(sorted(link.affinities)),
            medium=link.medium,
            transport=link.transport,
            metered=int(link.metered),
            state=link.state.value,
        )
    return "\n".join(nx.generate_gml(graph)) + "\n"


# -- dot -------------------------------------------------------------------------------------
def to_dot(topo: Topology) -> str:
    lines = [f"graph {_q(topo.name)} {{", "  node [shape=box, fontsize=10];"]
    for node in topo.nodes.values():
        lines.append(f"  {_q(node.name)} [label={_q(node.name + chr(10) + node.role)}];")
    for lid, group in topo.physical_links().items():
        link = group[0]
        label = f"{format_bandwidth(link.capacity_bps)}\n{format_duration(link.delay_s)}"
        extra = "" if len(group) == 2 else ", dir=forward"
        style = ", style=dashed" if not link.is_up else ""
        lines.append(
            f"  {_q(link.src)} -- {_q(link.dst)} [id={_q(lid)}, label={_q(label)}{extra}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
