"""Links the simulated network has and its topology file lacks (`network run --add-link A:B`).

A real network drifts from its records: someone patches a new link in. `add_links(topology,
["BR1:DC2"])` returns the topology with one more physical link per pair, so the simulated
routers carry it (traffic, interfaces, counters, LLDP neighbours over gNMI) while the
controller, which loads the file, learns of it only from the routers (controller/discovery.py).
The link's id is `A-B` (`A-B-2`, ... when taken), its capacity the median of the file's links,
its delay from the routers' coordinates (else 1 ms).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from controller.errors import UsageError
from controller.topology import Link, Topology, fibre_delay_s


def parse_pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(":")
    if not sep or not a or not b or a == b:
        raise UsageError(f"--add-link {text!r}: give two routers as A:B, e.g. BR1:DC2")
    return a, b


def add_links(topology: Topology, pairs: Iterable[str]) -> Topology:
    links = list(topology.links)
    taken = {lk.id for lk in links}
    capacity = statistics.median(lk.capacity_bps for lk in links) if links else 10e9
    for text in pairs:
        a, b = parse_pair(text)
        for name in (a, b):
            if name not in topology.nodes:
                known = ", ".join(sorted(topology.nodes)[:5])
                raise UsageError(
                    f"--add-link {text!r}: no router {name!r} in {topology.name}; e.g. {known}"
                )
        lid, n = f"{a}-{b}", 1
        while lid in taken:
            n += 1
            lid = f"{a}-{b}-{n}"
        taken.add(lid)
        delay = fibre_delay_s(topology.nodes[a], topology.nodes[b]) or 1e-3
        links += [Link(lid, a, b, capacity, delay), Link(lid, b, a, capacity, delay)]
    return Topology(topology.name, topology.nodes.values(), links,
                    loader_warnings=topology.loader_warnings)  # fmt: skip
