"""networkx node-link JSON (TEAL, GEANT, FIGRET, netpilot's own export) -> Topology.

- Node name = `str(id)`; index = the node's `index` field if given, else id + 1 when every id is
  a non-negative integer (GEANT tunnels name routers by these ids), else position + 1.
- `capacity` is taken in bit/s exactly as given: TEAL's B4 gives 5000.0, so its links carry
  5 kbit/s in netpilot's units; scale demands alike (the traffic matrices use the same units).
- A directed link and its reverse become one physical link (same id, 'a-b'); a link without a
  reverse stays one-way. An undirected file (`"directed": false`) gives both directions.
- Delay from `delay_s`, `delay` or `latency` (seconds, or a string like "2ms"), else from node
  coordinates (lat/lon) at 5 us/km, else 1 ms with a loader warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.errors import NetpilotError, NotFoundError, TopologyError, ValidationError
from controller.textfile import TOPOLOGY_LIMIT, read_text
from controller.topology import Link, LinkState, Node, Topology, fibre_delay_s
from controller.units import format_bandwidth, format_duration, parse_duration
from topologies.common import DEFAULT_DELAY_S, LinkIds, fallback_capacity

_LAT_KEYS = ("lat", "latitude", "Latitude")
_LON_KEYS = ("lon", "longitude", "Longitude")
_DELAY_KEYS = ("delay_s", "delay", "latency")


def load_json(path: Path, name: str | None = None) -> Topology:
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    try:
        raw = json.loads(read_text(path, "topology", TOPOLOGY_LIMIT))  # size-checked, UTF-8
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"{path}:{error.lineno}:{error.colno}", [f"JSON syntax error: {error.msg}"]
        ) from None
    title = name or path.stem
    return from_node_link(raw, title, str(path))


def from_node_link(raw: Any, title: str, where: str) -> Topology:
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list):
        raise TopologyError(where, ["expected networkx node-link JSON with 'nodes' and 'links'"])
    links_raw = raw.get("links", raw.get("edges", []))
    if not isinstance(links_raw, list):
        raise TopologyError(where, ["'links' must be a list of {source, target, ...} objects"])
    graph = raw.get("graph")
    name = str((graph.get("name") if isinstance(graph, dict) else None) or title)
    builder = _Builder(directed=bool(raw.get("directed", False)))
    try:
        nodes = builder.nodes(raw["nodes"])
        links = builder.links(links_raw)
    except NetpilotError as error:
        raise TopologyError(where, [str(error)]) from None
    if builder.problems:
        raise TopologyError(where, builder.problems)
    try:
        return Topology(name, nodes, links, loader_warnings=builder.warnings)
    except TopologyError as error:
        raise TopologyError(where, error.problems) from None


@dataclass
class _Builder:
    directed: bool
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    by_name: dict[str, Node] = field(default_factory=dict)

    def nodes(self, entries: list[Any]) -> list[Node]:
        ids = [e.get("id") if isinstance(e, dict) else None for e in entries]
        by_id = all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids)
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict) or "id" not in entry:
                self.problems.append(f"nodes[{position}]: a node needs an 'id'")
                continue
            default_index = entry["id"] + 1 if by_id else position + 1
            node = _node(entry, default_index)
            self.by_name[node.name] = node
        return list(self.by_name.values())

    def links(self, entries: list[Any]) -> list[Link]:
        specs = list(self._specs(entries))
        known = [s.capacity for s in specs if s.capacity is not None]
        default = fallback_capacity(known)
        if len(known) < len(specs):
            self.warnings.append(
                f"{len(specs) - len(known)} of {len(specs)} link(s) give no capacity: "
                f"assumed {format_bandwidth(default)}"
            )
        guessed = [s for s in specs if s.delay is None]
        links: list[Link] = []
        defaulted = 0
        for spec, lid in zip(specs, self._ids(specs), strict=True):
            delay = spec.delay
            if delay is None:
                delay = fibre_delay_s(self.by_name[spec.src], self.by_name[spec.dst])
            if delay is None:
                defaulted += 1
                delay = DEFAULT_DELAY_S
            links.append(spec.link(lid, capacity=spec.capacity or default, delay=delay))
            if not self.directed:
                links.append(
                    spec.link(lid, capacity=spec.capacity or default, delay=delay, rev=True)
                )
        if defaulted:
            self.warnings.append(
                f"{defaulted} of {len(guessed)} link(s) without a delay join nodes without "
                f"coordinates: assumed {format_duration(DEFAULT_DELAY_S)}"
            )
        return links

    def _specs(self, entries: list[Any]) -> Iterator[_LinkSpec]:
        for i, entry in enumerate(entries):
            try:
                spec = _LinkSpec.parse(entry, i)
            except ValueError as error:
                self.problems.append(str(error))
                continue
            missing = [end for end in (spec.src, spec.dst) if end not in self.by_name]
            if missing:
                self.problems.append(
                    f"links[{i}] ({spec.src} -> {spec.dst}): unknown node {missing[0]!r}; "
                    "add it to nodes or fix the link"
                )
                continue
            yield spec

    def _ids(self, specs: list[_LinkSpec]) -> list[str]:
        """Explicit ids kept; a link and its reverse share 'a-b'; parallels get 'a-b#2'."""
        ids = LinkIds()
        ids.reserve(s.id for s in specs if s.id is not None)
        pending: dict[tuple[str, str], list[str]] = {}
        result: list[str] = []
        for spec in specs:
            if spec.id is not None:
                result.append(spec.id)
                continue
            waiting = pending.get((spec.dst, spec.src)) if self.directed else None
            if waiting:
                result.append(waiting.pop(0))
                continue
            lid = ids.claim(f"{spec.src}-{spec.dst}")
            pending.setdefault((spec.src, spec.dst), []).append(lid)
            result.append(lid)
        return result


@dataclass(frozen=True)
class _LinkSpec:
    src: str
    dst: str
    id: str | None
    capacity: float | None
    delay: float | None
    attrs: dict[str, Any]

    @classmethod
    def parse(cls, entry: Any, i: int) -> _LinkSpec:
        if not isinstance(entry, dict) or "source" not in entry or "target" not in entry:
            raise ValueError(f"links[{i}]: a link needs 'source' and 'target'")
        where = f"links[{i}] ({entry['source']} -> {entry['target']})"
        capacity = entry.get("capacity")
        if capacity is not None and (
            isinstance(capacity, bool) or not isinstance(capacity, int | float)
        ):
            raise ValueError(f"{where}: capacity must be a number of bit/s, got {capacity!r}")
        lid = entry.get("id")
        return cls(
            src=str(entry["source"]),
            dst=str(entry["target"]),
            id=str(lid) if lid is not None else None,
            capacity=float(capacity) if capacity is not None else None,
            delay=_delay(entry, where),
            attrs=entry,
        )

    def link(self, lid: str, capacity: float, delay: float, rev: bool = False) -> Link:
        a = self.attrs
        return Link(
            id=lid,
            src=self.dst if rev else self.src,
            dst=self.src if rev else self.dst,
            capacity_bps=capacity,
            delay_s=delay,
            igp_metric=_int(a.get("igp_metric")),
            te_metric=_int(a.get("te_metric")),
            affinities=_names(a.get("affinities")),
            srlgs=_names(a.get("srlgs")),
            state=LinkState.DOWN if a.get("state") == "down" else LinkState.UP,
            medium=str(a.get("medium", "")),
            transport=str(a.get("transport", "")),
            metered=a.get("metered") is True,
        )


def _delay(entry: dict[str, Any], where: str) -> float | None:
    for key in _DELAY_KEYS:
        value = entry.get(key)
        if value is None:
            continue
        try:
            return parse_duration(value, f"{where}: {key}")
        except NetpilotError as error:
            raise ValueError(str(error)) from None
    return None


def _node(entry: dict[str, Any], default_index: int) -> Node:
    index = entry.get("index")
    return Node(
        name=str(entry["id"]),
        index=index if isinstance(index, int) and not isinstance(index, bool) else default_index,
        role=str(entry.get("role", "router")),
        site=str(entry.get("site", "")),
        lat=_first_float(entry, _LAT_KEYS),
        lon=_first_float(entry, _LON_KEYS),
        max_sid_depth=_int(entry.get("max_sid_depth")) or 10,
        transit=entry["transit"] if isinstance(entry.get("transit"), bool) else None,
    )


def _first_float(entry: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _names(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(str(x) for x in value)
    return frozenset()
