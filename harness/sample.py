"""Sample desired configs for tests and benchmarks (the real ones come from the compiler).

`sample_network(topology, revision)` gives every router SR policies towards a few other routers
along shortest paths (node SIDs of the hops), a DSCP steering rule per policy and the six bank
service classes as QoS queues; `revision` changes bandwidths, preferences and one rate limit so
that consecutive revisions differ on every device.
"""

from __future__ import annotations

import networkx as nx

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    NetworkConfig,
    QosQueue,
    SegmentList,
    SrPolicy,
    SteeringRule,
)
from controller.topology import Topology

CLASSES = (
    ("voice", 5, (46,), True, 1),
    ("production", 4, (34, 36), False, 40),
    ("video", 3, (26,), False, 20),
    ("bigdata", 2, (10, 12), False, 15),
    ("office", 1, (18,), False, 15),
    ("test", 0, (0,), False, 10),
)


def sample_qos(revision: int) -> tuple[QosQueue, ...]:
    return tuple(
        QosQueue(
            name,
            queue,
            dscp,
            priority=prio,
            weight=weight if not prio else 1,
            rate_limit_bps=float(1_000_000_000 + 1_000_000 * revision)
            if name == "bigdata"
            else None,
        )
        for name, queue, dscp, prio, weight in CLASSES
    )


def sample_config(
    topo: Topology, node: str, revision: int, policies: int = 3, graph: nx.Graph | None = None
) -> DeviceConfig:
    graph = graph if graph is not None else nx.Graph(topo.up_graph())
    paths = nx.single_source_shortest_path(graph, node)
    others = sorted(n for n in paths if n != node)
    shift = revision % max(1, len(others))
    targets = others[shift:] + others[:shift]
    srs, rules = [], []
    for k, dst in enumerate(targets[:policies]):
        hops = paths[dst][1:]
        sids = tuple(topo.nodes[h].node_sid for h in hops[-8:])
        endpoint = topo.nodes[dst].loopback.split("/")[0]
        color = 100 + k
        srs.append(
            SrPolicy(
                color=color,
                endpoint=endpoint,
                name=f"{node}-{dst}-{color}",
                candidate_paths=(
                    CandidatePath(f"r{revision}", 100 + revision % 50, (SegmentList("sl1", sids),)),
                ),
                bandwidth_bps=float(10_000_000 * (revision + k + 1)),
                binding_sid=f"fcbb:bb00:{topo.nodes[node].index:x}:b{k:x}::",
            )
        )
        rules.append(SteeringRule(f"steer-{color}-{dst}", color, endpoint, dscp=CLASSES[k][2][0]))
    return DeviceConfig(node, tuple(srs), tuple(rules), sample_qos(revision))


def sample_network(topo: Topology, revision: int, policies: int = 3) -> NetworkConfig:
    graph = nx.Graph(topo.up_graph())
    return {n: sample_config(topo, n, revision, policies, graph) for n in sorted(topo.nodes)}


def ring(n: int) -> Topology:
    """A generated ring of n routers r1..rn (for tests that need no data files)."""
    from topologies.generators import ring as make_ring

    return make_ring(n)
