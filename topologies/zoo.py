"""Topology Zoo GML (and netpilot's own GML export) -> Topology.

- Nodes are named by their `label`; a label used twice gets the GML id appended ('London-12');
  a node without a label is `node<id>`. Node index = position in the file + 1.
- Files that list the same edge twice keep both as parallel links ('A-B' and 'A-B#2').
- Capacity from `LinkSpeedRaw`, `LinkSpeed`+`LinkSpeedUnits` or labels ("OC-192", "10 Gbps",
  see `linkspeed`); links without one get the median of the file's known speeds, else 10 Gbps.
- Delay from the great-circle distance at 5 us/km; links touching a node without coordinates
  get 1 ms. Self-loops are dropped. Every assumption is a loader warning on the Topology.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from controller.errors import NotFoundError, TopologyError
from controller.topology import Link, LinkState, Node, Topology, fibre_delay_s
from controller.units import format_bandwidth, format_duration
from topologies.common import DEFAULT_DELAY_S, LinkIds, fallback_capacity
from topologies.linkspeed import zoo_speed_bps

_MULTIGRAPH_LINE = re.compile(r"^\s*multigraph\s+\S+\s*$", re.MULTILINE)
_GRAPH_OPEN = re.compile(r"^(\s*graph\s*\[)", re.MULTILINE)


def load_gml(path: Path, name: str | None = None) -> Topology:
    """Load a Zoo (or exported) GML file; refuse it with a one-line reason if it cannot be."""
    graph = _read(path)
    if graph.number_of_nodes() == 0:
        raise TopologyError(str(path), ["the GML file defines no nodes"])
    title = name or str(graph.graph.get("Network") or graph.graph.get("name") or path.stem).strip()
    builder = _Builder(graph)
    try:
        return Topology(title, builder.nodes(), builder.links(), loader_warnings=builder.warnings)
    except TopologyError as error:
        raise TopologyError(str(path), error.problems) from None


def _read(path: Path) -> nx.MultiGraph:
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = _GRAPH_OPEN.sub(r"\1\n  multigraph 1", _MULTIGRAPH_LINE.sub("", text), count=1)
    try:
        graph = nx.parse_gml(text, label="id")
    except (nx.NetworkXError, ValueError, KeyError, StopIteration) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TopologyError(str(path), [f"not a readable GML graph: {reason}"]) from None
    if graph.is_directed():
        graph = nx.MultiGraph(graph)
    return graph


@dataclass
class _Builder:
    graph: nx.MultiGraph
    warnings: list[str] = field(default_factory=list)
    names: dict[Any, str] = field(default_factory=dict)
    by_name: dict[str, Node] = field(default_factory=dict)

    def nodes(self) -> list[Node]:
        self.names = _unique_names(self.graph, self.warnings)
        for position, (gid, attrs) in enumerate(self.graph.nodes(data=True)):
            node = _node(self.names[gid], position + 1, attrs)
            self.by_name[node.name] = node
        return list(self.by_name.values())

    def links(self) -> list[Link]:
        edges = [(u, v, k, d) for u, v, k, d in self.graph.edges(keys=True, data=True) if u != v]
        loops = self.graph.number_of_edges() - len(edges)
        if loops:
            self.warnings.append(f"{loops} self-loop edge(s) dropped")
        speeds = [zoo_speed_bps(d) for _, _, _, d in edges]
        known = [s for s in speeds if s is not None]
        default = fallback_capacity(known)
        if len(known) < len(edges):
            basis = "the median of the given speeds" if known else "no link gives a speed"
            self.warnings.append(
                f"{len(edges) - len(known)} of {len(edges)} link(s) give no speed: "
                f"assumed {format_bandwidth(default)} ({basis})"
            )
        ids = LinkIds()
        ids.reserve(k for _, _, k, _ in edges if isinstance(k, str))
        result: list[Link] = []
        defaulted = 0
        for (u, v, key, attrs), speed in zip(edges, speeds, strict=True):
            a, b = self.names[u], self.names[v]
            lid = key if isinstance(key, str) else ids.claim(f"{a}-{b}")
            delay = self._delay(a, b, attrs)
            if delay is None:
                defaulted, delay = defaulted + 1, DEFAULT_DELAY_S
            result += _pair(lid, a, b, capacity=speed or default, delay=delay, attrs=attrs)
        if defaulted:
            self._warn_no_coordinates(defaulted)
        return result

    def _delay(self, a: str, b: str, attrs: dict[str, Any]) -> float | None:
        given = attrs.get("delay_s")
        if isinstance(given, int | float) and not isinstance(given, bool):
            return float(given)
        return fibre_delay_s(self.by_name[a], self.by_name[b])

    def _warn_no_coordinates(self, links: int) -> None:
        missing = [n.name for n in self.by_name.values() if not n.has_coordinates]
        self.warnings.append(
            f"{len(missing)} node(s) have no coordinates (e.g. {missing[0]!r}): {links} link(s) "
            f"touching them get a default delay of {format_duration(DEFAULT_DELAY_S)}"
        )


def _unique_names(graph: nx.MultiGraph, warnings: list[str]) -> dict[Any, str]:
    labels = {gid: _label(gid, attrs) for gid, attrs in graph.nodes(data=True)}
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label] = seen.get(label, 0) + 1
    taken = set(labels.values())
    names: dict[Any, str] = {}
    renamed: list[tuple[str, str]] = []
    first: set[str] = set()
    for gid, label in labels.items():
        if seen[label] == 1 or label not in first:
            first.add(label)
            names[gid] = label
            continue
        unique, n = f"{label}-{gid}", 1
        while unique in taken:
            n += 1
            unique = f"{label}-{gid}-{n}"
        taken.add(unique)
        names[gid] = unique
        renamed.append((label, unique))
    if renamed:
        warnings.append(
            f"{len(renamed)} duplicate node label(s) made unique with the GML id, "
            f"e.g. {renamed[0][0]!r} -> {renamed[0][1]!r}"
        )
    return names


def _label(gid: Any, attrs: dict[str, Any]) -> str:
    label = attrs.get("label")
    text = str(label).strip() if label is not None else ""
    return text if text and text != "None" else f"node{gid}"


def _node(name: str, position: int, attrs: dict[str, Any]) -> Node:
    lat, lon = _float(attrs.get("Latitude")), _float(attrs.get("Longitude"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    internal = attrs.get("Internal")
    default_role = "external" if internal == 0 else "router"
    index = attrs.get("index")
    return Node(
        name=name,
        index=index if isinstance(index, int) and index > 0 else position,
        role=str(attrs.get("role", default_role)),
        site=str(attrs.get("site", attrs.get("Country", ""))),
        lat=lat,
        lon=lon,
        max_sid_depth=_int(attrs.get("max_sid_depth"), 10),
        transit=bool(attrs["transit"]) if attrs.get("transit") in (0, 1) else None,
    )


def _pair(
    lid: str, a: str, b: str, *, capacity: float, delay: float, attrs: dict[str, Any]
) -> list[Link]:
    common: dict[str, Any] = {
        "capacity_bps": capacity,
        "delay_s": delay,
        "igp_metric": _int(attrs.get("igp_metric"), 0),
        "te_metric": _int(attrs.get("te_metric"), 0),
        "srlgs": _names(attrs.get("srlgs")),
        "affinities": _names(attrs.get("affinities")),
        "medium": str(attrs.get("medium", attrs.get("LinkType", ""))),
        "state": LinkState.DOWN if attrs.get("state") == "down" else LinkState.UP,
        "transport": str(attrs.get("transport", "")),
        "metered": attrs.get("metered") == 1,
    }
    return [Link(lid, a, b, **common), Link(lid, b, a, **common)]


def _names(value: Any) -> frozenset[str]:
    """Exported GML stores name sets as a JSON list in a string."""
    if not isinstance(value, str) or not value:
        return frozenset()
    try:
        parsed = json.loads(value)
    except ValueError:
        return frozenset({value})
    return frozenset(str(x) for x in parsed) if isinstance(parsed, list) else frozenset({value})


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _int(value: Any, default: int) -> int:
    """GML keeps ints to 32 bits; networkx writes bigger ones as strings."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else default
