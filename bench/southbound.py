"""Benchmark: one network-wide NETCONF transaction to N simulated routers (default 120 and 500).

The routers run in a separate process (one asyncio loop, one SSH port each); the controller side
is NetconfSouthbound in this process. Topology: the first N routers (breadth-first) of TEAL's Kdl
network (754 nodes, ../shared/data/teal/Kdl.json); each router gets 3 SR policies, 3 steering
rules and 6 QoS classes (harness.sample). Reports connect time, a first full push, change pushes
(repeated; median, min, max: the figure the issue's 2 s goal is about), ncclient's per-RPC
latency with and without the per-session fast-send fix, file descriptors, threads, the routers'
memory, and the machine's load average (other work on the machine skews the figures).

    python bench/southbound.py --json            # 120 and 500 routers
    python bench/southbound.py --sizes 120 --json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import networkx as nx

from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import DeviceSession, SessionOptions
from controller.southbound.transaction import TransactionOptions
from controller.topology import Topology
from harness.sample import sample_network
from topologies.loader import load


def kdl_subset(n: int) -> Topology:
    """The first n routers of TEAL's Kdl network, breadth-first from its first node."""
    kdl = load("teal:Kdl")
    first = next(iter(kdl.nodes))
    keep = set(list(nx.bfs_tree(kdl.graph.to_undirected(as_view=True), first))[:n])
    nodes = [node for name, node in kdl.nodes.items() if name in keep]
    links = [lk for lk in kdl.links if lk.src in keep and lk.dst in keep]
    return Topology(f"kdl-{n}", nodes, links)


def serve(names_file: Path, inventory: Path) -> None:
    """Router process: start the fleet, write the inventory, serve until stdin closes."""
    import asyncio

    from harness.fleet import Fleet

    async def main() -> None:
        names = names_file.read_text().split()
        fleet = Fleet(names, inventory.parent / "keys")
        await fleet.start()
        fleet.write_inventory(inventory)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await fleet.stop()

    asyncio.run(main())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rpc_latency(inventory: Path, fast: bool, count: int = 40) -> float:
    entry = load_inventory(inventory).devices[0]
    session = DeviceSession(entry, options=SessionOptions(fast_send=fast))
    try:
        session.manager()
        start = time.perf_counter()
        for _ in range(count // 2):
            session.rpc("lock", lambda m: m.lock("candidate"))
            session.rpc("unlock", lambda m: m.unlock("candidate"))
        return (time.perf_counter() - start) / count
    finally:
        session.close()


def run(n: int, workers: int, repeat: int) -> dict[str, object]:
    topo = kdl_subset(n)
    tmp = Path(tempfile.mkdtemp(prefix="np-bench-"))
    (tmp / "names").write_text("\n".join(sorted(topo.nodes)))
    inventory = tmp / "inventory.yaml"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(tmp / "names"), str(inventory)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        out: dict[str, object] = {"routers": n, "topology": topo.name, "workers": workers}
        out["load_avg_1m_before"] = round(os.getloadavg()[0], 2)
        out["rpc_s_default_tick"] = round(rpc_latency(inventory, fast=False), 4)
        out["rpc_s_fast_send"] = round(rpc_latency(inventory, fast=True), 4)
        sb = NetconfSouthbound(
            load_inventory(inventory),
            transaction_options=TransactionOptions(confirm_timeout_s=120),
            max_workers=workers,
        )
        r1 = sample_network(topo, 1)
        start = time.perf_counter()
        errors = sb.connect_all()
        out["connect_s"] = round(time.perf_counter() - start, 3)
        out["connect_failures"] = sum(e is not None for e in errors.values())
        out["client_fds"] = len(os.listdir("/proc/self/fd"))
        out["client_threads"] = threading.active_count()
        start = time.perf_counter()
        first = sb.apply_sync(1, r1, {})
        out["first_push_s"] = round(time.perf_counter() - start, 3)
        times, committed, failed = [], first.committed, list(first.failed_devices)
        previous = r1
        for revision in range(2, 2 + repeat):
            desired = sample_network(topo, revision)
            start = time.perf_counter()
            result = sb.apply_sync(revision, desired, previous)
            times.append(time.perf_counter() - start)
            committed, previous = committed and result.committed, desired
            failed += result.failed_devices
        out["change_push_s_median"] = round(statistics.median(times), 3)
        out["change_push_s_min"] = round(min(times), 3)
        out["change_push_s_max"] = round(max(times), 3)
        out["committed"] = committed
        out["failed_devices"] = failed
        out["router_process_rss_mb"] = round(rss_mb(proc.pid), 1)
        out["client_rss_mb"] = round(rss_mb(os.getpid()), 1)
        sb.close_sync()
        return out
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[120, 500])
    parser.add_argument("--workers", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5, help="change pushes per size")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ("paramiko", "ncclient"):  # refused connections are counted, not printed
        logging.getLogger(name).addHandler(logging.NullHandler())
    if args.serve:
        serve(*args.serve)
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = [run(n, args.workers, args.repeat) for n in args.sizes]
    if args.json:
        print(json.dumps({"bench": "southbound", "results": results}, indent=2))
    else:
        for r in results:
            print(", ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
