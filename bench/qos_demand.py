"""Benchmark: QoS that follows demand on `bank-wan:N` (issue 20, item 6).

The six service classes from every branch (6 x N intents) are placed and compiled (revision 1:
paths, class queues and per-interface class shares). Then office demand grows: a forecast p90 of
`--grow` times the placed office bandwidth on every interface that carries office (revision 2).
Reported: compile time with the shares, the routers and shares that change, and with `--push`
the NETCONF push of both revisions to a fleet of simulated routers (netpilot flavour, validated
against the native YANG module), revision 2 being the QoS change push.

    .venv/bin/python bench/qos_demand.py --branches 20 120 [--push] [--json]
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pathing_bank import CLASS_MBPS
from controller.compiler import CompileItem, compile_network
from controller.configdiff import network_diff
from controller.desired import NetworkConfig
from controller.intents import SERVICE_CLASSES, Intent, to_path_request
from controller.pathing.placement import place
from controller.qos import LinkKey, placed_demand
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionOptions
from controller.topology import Topology
from harness.fleet_procs import FleetProcesses
from topologies.loader import load


def intents(branches: int) -> list[Intent]:
    return [
        Intent.model_validate(
            {
                "name": f"br{i}-{cls}",
                "src": f"BR{i}",
                "dst": "DC1" if i % 2 else "DC2",
                "service_class": cls,
                "bandwidth": CLASS_MBPS[cls] * 1e6,
            }
        )
        for i in range(1, branches + 1)
        for cls in SERVICE_CLASSES
    ]


def revisions(topo: Topology, wanted: list[Intent], grow: float) -> dict[str, Any]:
    result = place(topo, [to_path_request(i, lambda e, _: str(e.node)) for i in wanted])
    items = [
        CompileItem(i, result.placed[i.name], 1000 + k)
        for k, i in enumerate(wanted)
        if i.name in result.placed
    ]
    start, cpu = time.perf_counter(), time.process_time()
    first = compile_network(topo, items)
    compile_s, compile_cpu = time.perf_counter() - start, time.process_time() - cpu
    demand = placed_demand((i.placement, i.intent.bandwidth) for i in items)
    forecast: dict[LinkKey, dict[str, float]] = {
        key: {"office": per_class["office"] * grow}
        for key, per_class in demand.items()
        if per_class.get("office")
    }
    second = compile_network(topo, items, forecast)
    diff = network_diff(first, second)
    return {
        "first": first,
        "second": second,
        "placed": len(items),
        "compile_s": compile_s,
        "compile_cpu_s": compile_cpu,
        "shares": sum(len(c.shares) for c in first.values()),
        "routers_changed": len(diff),
        "shares_changed": sum(len(d.get("shares", {}).get("changed", [])) for d in diff.values()),
        "other_sections_changed": sorted({s for d in diff.values() for s in d} - {"shares"}),
    }


def push(
    topo: Topology, first: NetworkConfig, second: NetworkConfig, repeat: int
) -> dict[str, Any]:
    """Revision 1 to every router, then the QoS change (revision 2) and back, `repeat` times."""
    tmp = Path(tempfile.mkdtemp(prefix="np-qos-"))
    inventory = tmp / "inventory.yaml"
    with FleetProcesses(sorted(topo.nodes), tmp / "keys", processes=2) as routers:
        routers.write_inventory(inventory)
        sb = NetconfSouthbound(
            load_inventory(inventory), transaction_options=TransactionOptions(confirm_timeout_s=120)
        )
        try:
            sb.connect_all()
            start = time.perf_counter()
            done = sb.apply_sync(1, first, {})
            first_s = time.perf_counter() - start
            times, previous, committed = [], first, done.committed
            for k in range(repeat):
                desired = second if k % 2 == 0 else first
                start = time.perf_counter()
                done = sb.apply_sync(2 + k, desired, previous)
                times.append(time.perf_counter() - start)
                committed, previous = committed and done.committed, desired
        finally:
            sb.close_sync()
    return {
        "routers": len(topo.nodes),
        "first_push_s": round(first_s, 3),
        "qos_change_push_s_median": round(statistics.median(times), 3),
        "qos_change_push_s_max": round(max(times), 3),
        "committed": committed,
    }


def run(branches: int, args: argparse.Namespace) -> dict[str, Any]:
    topo = load(f"bank-wan:{branches}")
    r = revisions(topo, intents(branches), args.grow)
    out = {
        "topology": topo.name,
        "routers": len(topo.nodes),
        "intents_placed": r["placed"],
        "compile_s": round(r["compile_s"], 3),
        "compile_cpu_s": round(r["compile_cpu_s"], 3),
        "shares": r["shares"],
        "routers_changed_by_growth": r["routers_changed"],
        "shares_changed_by_growth": r["shares_changed"],
        "other_sections_changed": r["other_sections_changed"],
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if args.push:
        out["push"] = push(topo, r["first"], r["second"], args.repeat)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, nargs="+", default=[20, 120])
    parser.add_argument("--grow", type=float, default=1.5, help="office p90 / placed office")
    parser.add_argument("--push", action="store_true", help="push over NETCONF to a fleet")
    parser.add_argument("--repeat", type=int, default=3, help="QoS change pushes per size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [run(n, args) for n in args.branches]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        line = (
            f"{r['topology']}: {r['routers']} routers, {r['intents_placed']} intents, compile "
            f"{r['compile_s']:.2f} s ({r['shares']} shares); office p90 x{args.grow:g}: "
            f"{r['shares_changed_by_growth']} shares on {r['routers_changed_by_growth']} routers "
            f"change (other sections: {r['other_sections_changed'] or 'none'})"
        )
        if "push" in r:
            p = r["push"]
            line += (
                f"; push: first {p['first_push_s']:.2f} s, QoS change median "
                f"{p['qos_change_push_s_median']:.2f} s (max {p['qos_change_push_s_max']:.2f}), "
                f"committed {p['committed']}"
            )
        print(line + f"; load {r['load_avg_1m']}")


if __name__ == "__main__":
    main()
