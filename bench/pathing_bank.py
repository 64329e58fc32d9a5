"""Bank-scale pathing benchmarks on the generated `bank-wan:N` (issue 20).

    .venv/bin/python bench/pathing_bank.py place --branches 2000 [--json]
    .venv/bin/python bench/pathing_bank.py transit --branches 500 --intents 10000 [--json]

- `place`: placement of the six service classes from every branch (6 x N intents, built as
  intents and turned into path requests as the engine does) with `place()`; goal: 12,000
  intents for N = 2,000 under 30 s.
- `transit`: random intents (any two routers, branches included, random class) placed in
  rounds, each round on the network with 0-2 random backbone links and 1-3 random branch
  uplinks down; then the k shortest tunnels and the min-MLU LP on a sample of pairs. Counts the
  paths that cross a non-transit router; goal: 0 over 10,000 intents on bank-wan:500.

Figures go to docs/BENCHMARKS.md. Nothing here asserts: the goals are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.intents import SERVICE_CLASSES, Endpoint, Intent, to_path_request
from controller.pathing.optimizer import k_shortest_tunnels, min_mlu_lp
from controller.pathing.placement import place
from controller.pathing.types import Path as PathModel
from controller.pathing.types import PathRequest, PlacementResult
from controller.topology import LinkState, Topology
from topologies.loader import load

CLASS_MBPS = {"voice": 0.5, "production": 2, "video": 2, "office": 5, "bigdata": 10, "test": 0.5}


def _node(endpoint: Endpoint, _field: str) -> str:
    node = endpoint if isinstance(endpoint, str) else endpoint.node
    assert node is not None
    return node


def _request(name: str, src: str, dst: str, service_class: str) -> PathRequest:
    intent = Intent.model_validate(
        {
            "name": name,
            "src": src,
            "dst": dst,
            "service_class": service_class,
            "bandwidth": CLASS_MBPS[service_class] * 1e6,
            "protection": "path" if service_class == "production" else "none",
        }
    )
    return to_path_request(intent, _node)


def branch_requests(branches: int) -> list[PathRequest]:
    """Every class from every branch to its DC (odd branches DC1, even DC2)."""
    return [
        _request(f"br{i}-{cls}", f"BR{i}", "DC1" if i % 2 else "DC2", cls)
        for i in range(1, branches + 1)
        for cls in SERVICE_CLASSES
    ]


def crossings(topo: Topology, paths: Iterable[PathModel]) -> int:
    """Paths that cross a non-transit router (neither their first nor their last node)."""
    return sum(any(not topo.nodes[v].transit for v in p.nodes[1:-1]) for p in paths)


def placed_paths(result: PlacementResult) -> list[PathModel]:
    out: list[PathModel] = []
    for placement in result.placed.values():
        out += [placement.primary, *([placement.backup] if placement.backup else [])]
    return out


def bench_place(branches: int) -> dict[str, Any]:
    start = time.perf_counter()
    topo = load(f"bank-wan:{branches}")
    load_s = time.perf_counter() - start
    reqs = branch_requests(branches)
    start, cpu = time.perf_counter(), time.process_time()
    result = place(topo, reqs)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "topology": topo.name,
        "routers": len(topo.nodes),
        "links": len(topo.physical_links()),
        "load_seconds": round(load_s, 3),
        "intents": len(reqs),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "intents_per_s": round(len(reqs) / seconds, 1),
        "placed": len(result.placed),
        "unplaced": len(result.unplaced),
        "with_backup": sum(p.backup is not None for p in result.placed.values()),
        "paths_crossing_non_transit": crossings(topo, placed_paths(result)),
        "unplaced_example": next(iter(result.unplaced.values()), None),
    }


def _round_requests(
    rng: random.Random, names: list[str], count: int, first: int
) -> list[PathRequest]:
    out = []
    for k in range(first, first + count):
        src, dst = rng.sample(names, 2)
        out.append(_request(f"x{k}", src, dst, rng.choice(list(SERVICE_CLASSES))))
    return out


def bench_transit(
    branches: int, intents: int, rounds: int, pairs: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    topo = load(f"bank-wan:{branches}")
    names = sorted(topo.nodes)
    ids = sorted(topo.physical_links())
    backbone = [lid for lid in ids if not topo.physical_links()[lid][0].transport]
    uplinks = [lid for lid in ids if lid not in set(backbone)]
    per_round = max(1, intents // rounds)
    checked = crossed = placed = unplaced = failures = 0
    reasons: list[str] = []
    start, cpu = time.perf_counter(), time.process_time()
    for r in range(rounds):
        down = rng.sample(backbone, rng.randint(0, 2)) + rng.sample(uplinks, rng.randint(1, 3))
        failures += len(down)
        net = topo
        for lid in down:
            net = net.with_link_state(lid, LinkState.DOWN)
        result = place(net, _round_requests(rng, names, per_round, r * per_round))
        paths = placed_paths(result)
        checked += len(paths)
        crossed += crossings(topo, paths)
        placed += len(result.placed)
        unplaced += len(result.unplaced)
        reasons += list(result.unplaced.values())[: 3 - len(reasons)]
    place_s, place_cpu = time.perf_counter() - start, time.process_time() - cpu
    sample = [(a, b) for a, b in (rng.sample(names, 2) for _ in range(pairs))]
    start = time.perf_counter()
    ts = k_shortest_tunnels(topo, sample, k=4)
    lp = min_mlu_lp(ts, np.full(len(ts.pairs), 1e6))
    tunnel_s = time.perf_counter() - start
    return {
        "topology": topo.name,
        "intents": per_round * rounds,
        "rounds": rounds,
        "links_failed": failures,
        "placed": placed,
        "unplaced": unplaced,
        "paths_checked": checked,
        "paths_crossing_non_transit": crossed,
        "place_seconds": round(place_s, 2),
        "place_cpu_seconds": round(place_cpu, 2),
        "unplaced_examples": reasons,
        "tunnel_pairs": len(ts.pairs),
        "tunnels": ts.num_paths,
        "tunnels_crossing_non_transit": crossings(topo, ts.paths),
        "lp_mlu": round(lp.mlu, 6),
        "tunnel_and_lp_seconds": round(tunnel_s, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("mode", choices=["place", "transit"])
    parser.add_argument("--branches", type=int, default=None, help="N of bank-wan:N")
    parser.add_argument("--intents", type=int, default=10_000, help="transit: random intents")
    parser.add_argument("--rounds", type=int, default=100, help="transit: failure rounds")
    parser.add_argument("--pairs", type=int, default=200, help="transit: pairs for k shortest + LP")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.mode == "place":
        report = bench_place(args.branches or 2000)
    else:
        report = bench_transit(
            args.branches or 500, args.intents, args.rounds, args.pairs, args.seed
        )
    if args.json:
        print(json.dumps({args.mode: report}, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:30} {value}")


if __name__ == "__main__":
    main()
