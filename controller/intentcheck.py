"""The checks an intent's model cannot make alone: do the names it uses exist?

An intent names nodes (`src`, `dst`, `waypoints`, `exclude_nodes`) and other intents
(`disjoint_from`). A typo there is not harmless: an unknown excluded node is silently ignored and an
unknown `disjoint_from` protects nothing, so both are refused at the door (API 422, CLI exit 1) with
the field, the unknown name, and what was meant or what exists. Pure: the caller says which intents
exist (the store, plus the other intents of the same request or file).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection

from controller.errors import NetpilotError
from controller.intents import Endpoint, Intent, IntentState, PrefixMap, resolve_node
from controller.pathing.uplinks import policy_problems, site_policy, site_transports
from controller.topology import Topology

SHOWN = 5
"""How many known names an error lists."""
GONE = frozenset({IntentState.WITHDRAWING, IntentState.WITHDRAWN})
"""States of a stored intent that another intent can no longer refer to."""


def intent_problems(
    intent: Intent,
    topology: Topology,
    prefixes: PrefixMap,
    intent_exists: Callable[[str], bool],
) -> list[str]:
    """Every name `intent` uses that does not exist, one line each naming the field."""
    problems: list[str] = []
    ends = [_endpoint(intent.src, "src", topology, prefixes, problems)]
    ends.append(_endpoint(intent.dst, "dst", topology, prefixes, problems))
    if ends[0] is not None and ends[0] == ends[1]:
        problems.append(f"dst: {ends[1]!r} is also the source; an intent joins two nodes")
    for field in ("waypoints", "exclude_nodes"):
        for i, node in enumerate(getattr(intent, field)):
            if node not in topology.nodes:
                problems.append(unknown_node(f"{field}[{i}]", node, topology))
    problems += _contradictions(intent, {e for e in ends if e is not None})
    problems += _transit_waypoints(intent, topology)
    problems += _uplink_problems(intent, topology, [e for e in ends if e is not None])
    for i, other in enumerate(intent.disjoint_from):
        if not intent_exists(other):
            problems.append(
                f"disjoint_from[{i}]: no intent {other!r} in the controller or in this request; "
                "name an existing intent (netpilot intent list) or add it to the same file"
            )
    return problems


def _transit_waypoints(intent: Intent, topology: Topology) -> list[str]:
    """A waypoint the transit policy forbids crossing (a branch): no legal path passes it."""
    return [
        f"waypoints[{i}]: {node!r} is non-transit (role {topology.nodes[node].role}) and carries "
        "no other router's traffic; remove the waypoint or set transit: true on it"
        for i, node in enumerate(intent.waypoints)
        if node in topology.nodes and not topology.nodes[node].transit
    ]


def _uplink_problems(intent: Intent, topology: Topology, ends: list[str]) -> list[str]:
    """The uplink policy that applies at each end with uplinks must name known transports and
    leave the class one (one line naming the policy, the site and the fix)."""
    problems: list[str] = []
    for end in [e for e in ends if site_transports(topology, e)] or ends[:1]:
        site = site_policy(topology, end, intent.service_class)
        policy = intent.uplink_policy if intent.uplinks is not None or site is None else site
        if policy is None:
            continue
        what = f"uplinks: the intent's {intent.service_class} policy"
        if intent.uplinks is None:
            owner = f"{end}'s site" if site is not None else "class table's"
            what = f"uplinks: the {owner} {intent.service_class} policy"
        for line in policy_problems(topology, policy, [end], what):
            if line not in problems:
                problems.append(line)
    return problems


def _contradictions(intent: Intent, ends: set[str]) -> list[str]:
    """Nodes an intent both asks for and forbids: no path could ever satisfy it."""
    problems = [
        f"exclude_nodes[{i}]: {node!r} is an end of the intent; a path cannot avoid its own ends"
        for i, node in enumerate(intent.exclude_nodes)
        if node in ends
    ]
    excluded = set(intent.exclude_nodes)
    for i, node in enumerate(intent.waypoints):
        if node in ends:
            problems.append(
                f"waypoints[{i}]: {node!r} is an end of the intent; list only the "
                "nodes to pass through between them"
            )
        elif node in excluded:
            problems.append(f"waypoints[{i}]: {node!r} is also in exclude_nodes; keep one")
        elif i and node == intent.waypoints[i - 1]:
            problems.append(f"waypoints[{i}]: {node!r} repeats the waypoint before it")
    return problems


def unknown_node(where: str, node: str, topology: Topology) -> str:
    """`where: no node 'X' in topology 'T'; did you mean 'Y'? known nodes: A, B, ... (N in all)`."""
    names = sorted(topology.nodes)
    meant = _closest(node, names)
    hint = f"did you mean {meant!r}? " if meant else ""
    shown = ", ".join(names[:SHOWN])
    more = f", ... ({len(names)} in all)" if len(names) > SHOWN else ""
    known = f"known nodes: {shown}{more}"
    return f"{where}: no node {node!r} in topology {topology.name!r}; {hint}{known}"


def _closest(name: str, names: list[str]) -> str | None:
    """A likely meant name: the same but for case, else a near spelling."""
    by_case = {n.casefold(): n for n in names}
    if name.casefold() in by_case:
        return by_case[name.casefold()]
    close = difflib.get_close_matches(name.casefold(), list(by_case), n=1, cutoff=0.65)
    return by_case[close[0]] if close else None


def in_batch(names: Collection[str], stored: Callable[[str], bool]) -> Callable[[str], bool]:
    """An `intent_exists` for a request: its own intents, then the store."""
    return lambda name: name in names or stored(name)


def _endpoint(
    endpoint: Endpoint, where: str, topology: Topology, prefixes: PrefixMap, problems: list[str]
) -> str | None:
    try:
        node = resolve_node(endpoint, prefixes, where)
    except NetpilotError as error:
        problems.append(str(error))
        return None
    if node not in topology.nodes:
        problems.append(unknown_node(where, node, topology))
        return None
    return node
