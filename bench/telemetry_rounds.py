"""Benchmark: simulator steps per second on teal:Kdl with 10,000 flows, and one NETCONF telemetry
round over 120 simulated routers (SSH, <get> with a subtree filter, in parallel).

`--sharded-sizes N...` instead measures NETCONF telemetry rounds at fleet scale: the first N
routers of bank-wan:N (static state) over `--router-procs` processes, polled by a
ShardedSouthbound (`--shards` worker processes, controller/southbound/shard.py): connect, then
`--rounds` rounds of <get> device-state on every router; wall time and CPU of both sides.

    .venv/bin/python bench/telemetry_rounds.py [--json] [--routers 120] [--flows 10000]
        [--steps 100]
    .venv/bin/python bench/telemetry_rounds.py --sharded-sizes 1000 --shards 4 --router-procs 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.southbound.inventory import load_inventory
from controller.southbound.shard import ShardedSouthbound
from harness.build import peak_utilisation
from harness.fleet_procs import FleetProcesses
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.simdevices import SimDevices
from harness.simrun import SimRuntime
from harness.traffic import GravityTraffic
from telemetry.collectors import ProviderCollector
from topologies.loader import load


def bench_simulator(flows: int, steps: int) -> dict[str, float]:
    index = LinkIndex(load("teal:Kdl"))
    rng = np.random.default_rng(1)
    traffic = GravityTraffic(index, rng, total_bps=1e9, n_flows=flows)
    traffic.rescale(0.8 / peak_utilisation(index, traffic))
    sim = NetworkSimulator(index, traffic, rng=rng, step_s=10.0)
    t0 = time.perf_counter()
    sim.step()  # builds the routing table
    t1 = time.perf_counter()
    sim.run(steps * sim.step_s)
    t2 = time.perf_counter()
    return {
        "topology_nodes": index.n_nodes,
        "topology_links": index.n_links,
        "flows": len(sim.traffic.flows),
        "routing_entries": len(sim.routing().table.link),
        "routing_build_s": t1 - t0,
        "steps": steps,
        "steps_per_s": steps / (t2 - t1),
        "simulated_s_per_real_s": steps * sim.step_s / (t2 - t1),
    }


def bench_telemetry(routers: int, rounds: int) -> dict[str, float]:
    cols = 12
    index = LinkIndex(load(f"grid:{routers // cols},{cols}"))
    rng = np.random.default_rng(1)
    traffic = GravityTraffic(index, rng, total_bps=1e9, n_flows=2000)
    traffic.rescale(0.6 / peak_utilisation(index, traffic))
    sim = NetworkSimulator(index, traffic, rng=rng)
    sim.step()
    with tempfile.TemporaryDirectory() as tmp, SimDevices(sim, Path(tmp)) as devices:
        collector = devices.collector(max_workers=32)
        try:
            t0 = time.perf_counter()
            first = collector.collect()
            cold = time.perf_counter() - t0
            runtime = SimRuntime(sim, collector=collector)
            polls, processing = [], []
            for _ in range(rounds):
                sim.step()
                result = collector.collect()
                t1 = time.perf_counter()
                for state in result.states:
                    runtime.processor.ingest(state)
                processing.append(time.perf_counter() - t1)
                polls.append(result.duration_s)
                assert not result.errors, result.errors
            inproc = ProviderCollector(sim, sim.devices()).collect().duration_s
        finally:
            collector.close()
    return {
        "routers": index.n_nodes,
        "interfaces": index.n_links,
        "first_round_with_connect_s": cold,
        "first_round_errors": len(first.errors),
        "round_median_s": statistics.median(polls),
        "round_max_s": max(polls),
        "processing_median_s": statistics.median(processing),
        "in_process_collection_s": inproc,
        "rounds": rounds,
    }


def bench_sharded(n: int, shards: int, router_procs: int, rounds: int) -> dict[str, object]:
    """Telemetry rounds over n routers spread over processes, polled by a sharded southbound."""
    spec = f"bank-wan:{n}"
    names = sorted(load(spec).nodes)[:n]
    with tempfile.TemporaryDirectory() as tmp:
        routers = FleetProcesses(names, Path(tmp) / "keys", processes=router_procs, topology=spec)
        with routers:
            inventory = load_inventory(routers.write_inventory(Path(tmp) / "inventory.yaml"))
            sb = ShardedSouthbound(inventory, shards=shards)
            try:
                return _rounds(sb, routers.pids, rounds) | {
                    "routers": n,
                    "shards": shards,
                    "router_processes": router_procs,
                }
            finally:
                sb.close_sync()


def _rounds(sb: ShardedSouthbound, rpids: list[int], rounds: int) -> dict[str, object]:
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    errors = sum(e is not None for e in sb.connect_all().values())
    connect = time.perf_counter() - t0
    pids = [os.getpid(), *sb.pids]
    cpu0, rcpu0 = _cpu(pids), _cpu(rpids)
    walls, failed = [], 0
    for _ in range(rounds):
        t1 = time.perf_counter()
        states = sb.state_all()
        walls.append(time.perf_counter() - t1)
        failed += sum(isinstance(v, str) for v in states.values())
    return {
        "connect_s": round(connect, 2), "connect_failures": errors,
        "round_median_s": round(statistics.median(walls), 3), "round_max_s": round(max(walls), 3),
        "round_cpu_s_client": round((_cpu(pids) - cpu0) / rounds, 2),
        "round_cpu_s_routers": round((_cpu(rpids) - rcpu0) / rounds, 2),
        "failed_reads": failed, "rounds": rounds,
        "load_avg_1m": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }  # fmt: skip


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) these processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--routers", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--sharded-sizes", type=int, nargs="*", default=[])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--router-procs", type=int, default=4)
    args = ap.parse_args()
    if args.sharded_sizes:
        sizes = [bench_sharded(n, args.shards, args.router_procs, args.rounds)
                 for n in args.sharded_sizes]  # fmt: skip
        print(json.dumps({"bench": "telemetry_rounds_sharded", "results": sizes}, indent=2))
        return
    result = {
        "simulator": bench_simulator(args.flows, args.steps),
        "telemetry": bench_telemetry(args.routers, args.rounds),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    s, t = result["simulator"], result["telemetry"]
    print(
        f"simulator, teal:Kdl ({s['topology_nodes']} nodes, {s['flows']} flows): "
        f"routing build {s['routing_build_s']:.2f} s, {s['steps_per_s']:.1f} steps/s "
        f"({s['simulated_s_per_real_s']:.0f}x real time at 10 s steps)"
    )
    print(
        f"telemetry, {t['routers']} routers over NETCONF: first round with connect "
        f"{t['first_round_with_connect_s']:.2f} s, round median {t['round_median_s']:.3f} s "
        f"(max {t['round_max_s']:.3f} s), processing {t['processing_median_s']:.3f} s, "
        f"in-process collection {t['in_process_collection_s']:.3f} s"
    )


if __name__ == "__main__":
    main()
