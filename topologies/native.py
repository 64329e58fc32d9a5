"""The native YAML topology format: pydantic models that validate it, and the builder.

The models are the single source of truth: `docs/topology.schema.json` is generated from
`TopologyFile` (`netpilot topo schema`) and `docs/topology-format.md` documents the same fields.
Values are human-friendly at the edge ("10G", "2ms") and bit/s and seconds inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from controller.errors import TopologyError, UsageError
from controller.intents import ServiceClass
from controller.pathing.uplinks import UplinkSpec, topology_policy_problems
from controller.topology import Link, LinkState, Node, Topology, fibre_delay_s
from controller.units import parse_bandwidth, parse_duration
from topologies.yamlio import read_yaml


def _bandwidth(value: Any) -> float:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        if str(value).strip().startswith("-") or value == 0:
            raise ValueError(f"must be more than zero, got {value!r}; e.g. 10G or 250Mbps")
        try:
            return parse_bandwidth(value, "capacity")
        except UsageError as error:
            raise ValueError(str(error).removeprefix("capacity: ")) from None
    raise ValueError(f"expected a bandwidth like 10G or 250Mbps, got {value!r}")


def _duration(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        if str(value).strip().startswith("-"):
            raise ValueError(f"must be zero or more, got {value!r}; e.g. 2ms")
        try:
            return parse_duration(value, "delay")
        except UsageError as error:
            raise ValueError(str(error).removeprefix("delay: ")) from None
    raise ValueError(f"expected a duration like 2ms, got {value!r}")


def _name_list(value: Any) -> Any:
    """Accept `srlgs: conduit-1` as well as `srlgs: [conduit-1]`."""
    return [value] if isinstance(value, str) else value


Bandwidth = Annotated[
    float,
    BeforeValidator(_bandwidth),
    WithJsonSchema({"type": ["string", "number"], "examples": ["10G", "250Mbps", 1e9]}),
]
Duration = Annotated[
    float | None,
    BeforeValidator(_duration),
    WithJsonSchema({"type": ["string", "number", "null"], "examples": ["2ms", "500us", 0.002]}),
]
Names = Annotated[
    list[str],
    BeforeValidator(_name_list),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class NodeSpec(BaseModel):
    """A router."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique router name, e.g. DC1.")
    index: int | None = Field(
        default=None,
        ge=1,
        le=0xFFFF,
        description="Router index 1..65535 for SRv6 addressing; default: next free in order.",
    )
    role: str = Field(default="router", description="Free text: dc, hq, branch, core, pe...")
    site: str = Field(default="", description="Where the router is (city, building).")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")
    max_sid_depth: int = Field(default=10, ge=1, description="Most SIDs the router can push.")
    transit: bool | None = Field(
        default=None,
        description="May paths cross this router (when it is neither their source nor their "
        "destination)? Default from the role: branch, cpe, stub and host are non-transit, "
        "every other role transit.",
    )
    uplinks: dict[ServiceClass, UplinkSpec] = Field(
        default_factory=dict,
        description="This site's uplink policies per service class, overriding the class "
        "table's defaults, e.g. {office: {prefer: [internet, 5g]}}.",
    )


class LinkSpec(BaseModel):
    """A physical link between routers `a` and `b` (two directed links unless one_way)."""

    model_config = ConfigDict(extra="forbid")

    a: str = Field(min_length=1, description="One end (the source if one_way).")
    b: str = Field(min_length=1, description="Other end (the destination if one_way).")
    id: str | None = Field(
        default=None, min_length=1, description="Link id; default 'a-b'. Parallel links need ids."
    )
    capacity: Bandwidth = Field(description="Per direction: '10G', '250Mbps' or bit/s.")
    delay: Duration = Field(
        default=None,
        description="Propagation delay per direction: '2ms' or seconds; "
        "default: great-circle distance at 5 us/km when both ends have lat/lon.",
    )
    igp_metric: int = Field(default=0, ge=0, description="0 = 100G reference / capacity.")
    te_metric: int = Field(default=0, ge=0, description="0 = delay in microseconds.")
    srlgs: Names = Field(default_factory=list, description="Shared-risk groups (conduits...).")
    affinities: Names = Field(default_factory=list, description="Admin groups (colours).")
    medium: str = Field(default="", description="Free text: fiber, private-line, mpls-vpn...")
    transport: str = Field(
        default="",
        description="The uplink's transport: private-line, mpls-vpn, internet, 5g, or a custom "
        "name; empty for links that are not uplinks.",
    )
    metered: bool = Field(default=False, description="Billed by volume (e.g. 5G).")
    one_way: bool = Field(default=False, description="Only the a -> b direction exists.")
    state: LinkState = Field(default=LinkState.UP, description="up or down.")


class TopologyFile(BaseModel):
    """A netpilot topology file."""

    model_config = ConfigDict(extra="forbid", title="netpilot topology")

    name: str = Field(min_length=1, description="Topology name.")
    description: str = Field(default="", description="Free text for people.")
    nodes: list[NodeSpec] = Field(min_length=1, description="The routers.")
    links: list[LinkSpec] = Field(default_factory=list, description="The physical links.")


def json_schema() -> dict[str, Any]:
    """JSON Schema of the native format, generated from the pydantic models."""
    schema = TopologyFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def load_yaml(path: Path) -> Topology:
    """Load and validate a native YAML topology file."""
    raw = read_yaml(path)
    return from_dict(raw, str(path))


def from_dict(raw: Any, where: str) -> Topology:
    """Validate a parsed document (dict) and build the Topology; errors list every problem."""
    if not isinstance(raw, dict):
        raise TopologyError(where, ["expected a mapping with name, nodes and links at the top"])
    try:
        spec = TopologyFile.model_validate(raw)
    except PydanticValidationError as error:
        raise TopologyError(where, list(_explain(error, raw))) from None
    return build(spec, where)


def build(spec: TopologyFile, where: str) -> Topology:
    nodes = _nodes(spec.nodes)
    by_name = {n.name: n for n in nodes}
    problems = _id_problems(spec.links)
    links: list[Link] = []
    for i, link in enumerate(spec.links):
        unknown = [end for end in (link.a, link.b) if end not in by_name]
        if unknown:
            problems.append(
                f"link {_link_label(link)} (links[{i}]): unknown node {unknown[0]!r}; "
                "define it under nodes or fix the name"
            )
            continue
        delay = _delay(link, by_name)
        if delay is None:
            problems.append(
                f"link {_link_label(link)} (links[{i}]): no delay and an end without lat/lon; "
                "add delay (e.g. 2ms) or coordinates to both nodes"
            )
            continue
        links += _directed(link, delay)
    try:
        topo = Topology(spec.name, nodes, links)
    except TopologyError as error:
        problems += error.problems
    else:
        problems += topology_policy_problems(topo)
    if problems:
        raise TopologyError(where, problems)
    return topo


def _nodes(specs: list[NodeSpec]) -> list[Node]:
    taken = {s.index for s in specs if s.index is not None}
    free = (i for i in range(1, 0x10000) if i not in taken)
    return [
        Node(
            name=s.name,
            index=s.index if s.index is not None else next(free),
            role=s.role,
            site=s.site,
            lat=s.lat,
            lon=s.lon,
            max_sid_depth=s.max_sid_depth,
            transit=s.transit,
            uplinks=tuple((c, p.policy()) for c, p in s.uplinks.items()),
        )
        for s in specs
    ]


def link_id(link: LinkSpec) -> str:
    return link.id if link.id is not None else f"{link.a}-{link.b}"


def _link_label(link: LinkSpec) -> str:
    return f"{link_id(link)!r} ({link.a} - {link.b})"


def _id_problems(links: list[LinkSpec]) -> list[str]:
    """Ids are unique, except a pair of one_way links in opposite directions (asymmetric link)."""
    by_id: dict[str, list[LinkSpec]] = {}
    for link in links:
        by_id.setdefault(link_id(link), []).append(link)
    problems = []
    for lid, group in by_id.items():
        if len(group) == 1 or _is_asymmetric_pair(group):
            continue
        ends = ", ".join(f"{g.a}-{g.b}" for g in group)
        problems.append(
            f"link id {lid!r} is used by {len(group)} links ({ends}): "
            "give parallel links their own id"
        )
    return problems


def _is_asymmetric_pair(group: list[LinkSpec]) -> bool:
    if len(group) != 2 or not all(g.one_way for g in group):
        return False
    first, second = group
    return (first.a, first.b) == (second.b, second.a)


def _delay(link: LinkSpec, by_name: dict[str, Node]) -> float | None:
    if link.delay is not None:
        return link.delay
    return fibre_delay_s(by_name[link.a], by_name[link.b])


def _directed(link: LinkSpec, delay: float) -> list[Link]:
    ends = [(link.a, link.b)] if link.one_way else [(link.a, link.b), (link.b, link.a)]
    return [
        Link(
            id=link_id(link),
            src=src,
            dst=dst,
            capacity_bps=link.capacity,
            delay_s=delay,
            igp_metric=link.igp_metric,
            te_metric=link.te_metric,
            affinities=frozenset(link.affinities),
            srlgs=frozenset(link.srlgs),
            state=link.state,
            medium=link.medium,
            transport=link.transport,
            metered=link.metered,
        )
        for src, dst in ends
    ]


def _explain(error: PydanticValidationError, raw: dict[str, Any]) -> Iterator[str]:
    """Pydantic errors -> 'node 'DC1'.lat: ...' lines naming the element and the fix."""
    for item in error.errors(include_url=False):
        loc = item["loc"]
        yield f"{_element(loc, raw)}: {_fix(item)}"


def _element(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] in ("nodes", "links") and isinstance(loc[1], int):
        section, i = str(loc[0]), loc[1]
        entries = raw.get(section)
        entry = entries[i] if isinstance(entries, list) and i < len(entries) else None
        label = _entry_label(section, entry)
        rest = ".".join(str(p) for p in loc[2:])
        head = f"{section[:-1]} {label}({section}[{i}])" if label else f"{section}[{i}]"
        return f"{head}.{rest}" if rest else head
    return ".".join(str(p) for p in loc) or "file"


def _entry_label(section: str, entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    if section == "nodes" and "name" in entry:
        return f"{entry['name']!r} "
    if "a" in entry and "b" in entry:
        return f"{entry.get('id', str(entry['a']) + '-' + str(entry['b']))!r} "
    return ""


_EXAMPLES = {
    "nodes": "{name: R1, role: core}",
    "links": "{a: R1, b: R2, capacity: 10G, delay: 2ms}",
}


def _fix(item: Any) -> str:
    kind, msg, loc = item["type"], str(item["msg"]), item["loc"]
    got = f", got {item.get('input')!r}"
    ctx = item.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling (see docs/topology-format.md)"
    if kind == "missing":
        return "required field is missing; add it"
    if kind in ("model_type", "dict_type"):
        example = _EXAMPLES.get(str(loc[0]), "a mapping") if loc else "a mapping"
        return f"expected a mapping like {example}{got}"
    if kind == "list_type":
        return f"expected a list (- item per line, or [a, b]){got}"
    bounds = {"greater_than_equal": "at least", "less_than_equal": "at most"}
    if kind in bounds:
        limit = ctx.get("ge", ctx.get("le"))
        return f"must be {bounds[kind]} {limit}{got}"
    if kind in ("string_type", "string_too_short"):
        return f"expected non-empty text{got}"
    if kind.startswith(("int_", "float_", "bool_")):
        return f"{msg[0].lower()}{msg[1:]}{got}"
    return msg.removeprefix("Value error, ")
