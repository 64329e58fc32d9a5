"""Benchmark: one network-wide NETCONF transaction to N simulated routers (default 120 and 500).

The routers run in `--router-procs` separate processes (harness/fleet_procs.py: one asyncio
loop each, one SSH port per router); the controller side is NetconfSouthbound in this process,
or with `--shards K` a ShardedSouthbound whose K worker processes hold the sessions
(controller/southbound/shard.py). Topology: the first N routers (breadth-first) of TEAL's Kdl
network (754 nodes, ../shared/data/teal/Kdl.json), or of `--topology` (bank-wan:2000 for more).
Routers speak `--flavor` (default mixed:
netpilot, iosxr and openconfig round-robin). Each router gets 3 SR policies, 3 steering rules and
6 QoS classes (harness.sample), or `--policies N` policies (and as many steering rules) for big
configs. Reports connect time, a first full push, change pushes (repeated; median, min, max: the
figure the issue's 2 s goal is about), ncclient's per-RPC latency with and without the
per-session fast-send fix, file descriptors, threads, the routers' memory, and the machine's
load average (other work on the machine skews the figures), and the CPU seconds both sides
spend per push (client: this process and its shard workers). ncclient's reader tick is set to
the controller's (`IDLE_TICK_S`, 1 s) after
the per-RPC latency is measured, as `controller/runtime/assemble.py` does. `--baseline` also
times a plain sequential ncclient loop (connect, edit candidate, commit, close; one device
after another) pushing the same change, for the ratio.

    python bench/southbound.py --json            # 120 and 500 routers, mixed flavours
    python bench/southbound.py --sizes 120 --baseline --json
    python bench/southbound.py --sizes 120 --policies 84 --repeat 1 --json   # 10,080 policies
    python bench/southbound.py --sizes 2 --policies 5000 --repeat 1 --json   # 5,000 per router
    python bench/southbound.py --sizes 1000 --topology bank-wan:1000 --shards 4 --router-procs 4
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import networkx as nx

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    SegmentList,
    SrPolicy,
    SteeringRule,
)
from controller.southbound.flavors import FLAVORS
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import (
    IDLE_TICK_S,
    DeviceSession,
    SessionOptions,
    set_reader_tick,
)
from controller.southbound.shard import ShardedSouthbound
from controller.southbound.transaction import TransactionOptions
from controller.topology import Topology
from harness.fleet_procs import FleetProcesses
from harness.sample import sample_network, sample_qos
from topologies.loader import load

Southbound = NetconfSouthbound | ShardedSouthbound
NCCLIENT_TICK_S = 0.1
"""ncclient's own `TICK` (ncclient.transport.session), for the plain sequential loop."""


def kdl_subset(n: int, spec: str = "teal:Kdl") -> Topology:
    """The first n routers of a topology (TEAL's Kdl unless `spec` names another, e.g.
    bank-wan:2000 for more than Kdl's 754), breadth-first from its first node."""
    full = load(spec)
    first = next(iter(full.nodes))
    keep = set(list(nx.bfs_tree(full.graph.to_undirected(as_view=True), first))[:n])
    nodes = [node for name, node in full.nodes.items() if name in keep]
    links = [lk for lk in full.links if lk.src in keep and lk.dst in keep]
    name = (
        spec.rsplit(":", maxsplit=1)[-1]
        if spec.startswith("teal:")
        else spec.split(":", maxsplit=1)[0]
    )
    return Topology(f"{name.lower()}-{n}", nodes, links)


def big_config(topo: Topology, node: str, revision: int, policies: int) -> DeviceConfig:
    """`policies` SR policies (and one steering rule each) from `node` to the others in turn,
    plus the 6 QoS classes; binding SIDs on the first 64 only (the iosxr label mapping's
    limit, controller/southbound/flavors/iosxr_sids.py)."""
    graph = nx.Graph(topo.up_graph())
    paths = nx.single_source_shortest_path(graph, node)
    others = sorted(n for n in paths if n != node)
    index = topo.nodes[node].index
    srs, rules = [], []
    for k in range(policies):
        dst = others[k % len(others)]
        sids = tuple(topo.nodes[h].node_sid for h in paths[dst][1:][-8:])
        endpoint = topo.nodes[dst].loopback.split("/")[0]
        color = 1000 + k
        lists = (SegmentList("sl1", sids),)
        srs.append(
            SrPolicy(color, endpoint, f"{node}-{color}",
                     (CandidatePath(f"r{revision}", 100 + revision % 50, lists),),
                     float(1_000_000 * (revision + k + 1)),
                     f"fcbb:bb00:{index:x}:b{k:x}::" if k < 64 else None)
        )  # fmt: skip
        rules.append(SteeringRule(f"steer-{color}", color, endpoint, dscp=k % 64))
    return DeviceConfig(node, tuple(srs), tuple(rules), sample_qos(revision))


def network(topo: Topology, revision: int, policies: int) -> dict[str, DeviceConfig]:
    if policies == 3:
        return sample_network(topo, revision)
    return {n: big_config(topo, n, revision, policies) for n in sorted(topo.nodes)}


def sequential_push(
    inventory: Path, desired: dict[str, DeviceConfig], previous: dict[str, DeviceConfig]
) -> float:
    """A plain sequential ncclient loop: per device connect, edit candidate, commit, close,
    with ncclient as shipped (its 0.1 s reader tick, no fast send)."""
    set_reader_tick(NCCLIENT_TICK_S)
    start = time.perf_counter()
    for entry in load_inventory(inventory).devices:
        session = DeviceSession(entry, options=SessionOptions(fast_send=False))
        try:
            edit = session.flavor.edit(previous[entry.name], desired[entry.name], full=False)
            if edit is not None:
                _edit_commit(session, edit)
        finally:
            session.close()
    seconds = time.perf_counter() - start
    set_reader_tick(IDLE_TICK_S)
    return seconds


def _edit_commit(session: DeviceSession, edit: object) -> None:
    session.rpc("edit", lambda m: m.edit_config(edit, target="candidate"))
    session.rpc("commit", lambda m: m.commit())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def make_southbound(inventory: Path, args: argparse.Namespace) -> Southbound:
    """The controller side: NetconfSouthbound in this process, or sharded over worker processes."""
    options = TransactionOptions(confirm_timeout_s=120)
    if args.shards > 0:
        return ShardedSouthbound(  # as many RPCs in flight in all as without shards
            load_inventory(inventory), shards=args.shards, transaction_options=options,
            max_workers=max(8, args.workers // args.shards),
        )  # fmt: skip
    return NetconfSouthbound(
        load_inventory(inventory), transaction_options=options, max_workers=args.workers
    )


def client_pids(sb: Southbound) -> list[int]:
    """This process and the southbound's worker processes."""
    return [os.getpid(), *(sb.pids if isinstance(sb, ShardedSouthbound) else [])]


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def cpu_all(pids: list[int]) -> float:
    return sum(cpu_s(pid) for pid in pids)


def run(n: int, args: argparse.Namespace) -> dict[str, object]:
    topo = kdl_subset(n, args.topology)
    tmp = Path(tempfile.mkdtemp(prefix="np-bench-"))
    inventory = tmp / "inventory.yaml"
    routers = FleetProcesses(
        sorted(topo.nodes), tmp / "keys", processes=args.router_procs, flavors=args.flavor
    )
    with routers:
        routers.write_inventory(inventory)
        return measure(n, topo, inventory, routers.pids, args)


def measure(
    n: int, topo: Topology, inventory: Path, rpids: list[int], args: argparse.Namespace
) -> dict[str, object]:
    repeat, policies = args.repeat, args.policies
    out: dict[str, object] = {
        "routers": n, "topology": topo.name, "workers": args.workers, "flavor": args.flavor,
        "shards": args.shards, "router_processes": len(rpids), "policies_per_router": policies,
        "policies_total": policies * n if policies != 3 else 3 * n,
    }  # fmt: skip
    out["load_avg_1m_before"] = round(os.getloadavg()[0], 2)
    out["rpc_s_default_tick"] = round(rpc_latency(inventory, fast=False), 4)
    out["rpc_s_fast_send"] = round(rpc_latency(inventory, fast=True), 4)
    set_reader_tick(IDLE_TICK_S)  # as the controller ships (controller/runtime/assemble.py)
    out["reader_tick_s"] = IDLE_TICK_S
    sb = make_southbound(inventory, args)
    pids = client_pids(sb)
    r1 = network(topo, 1, policies)
    start = time.perf_counter()
    errors = sb.connect_all()
    out["connect_s"] = round(time.perf_counter() - start, 3)
    out["connect_failures"] = sum(e is not None for e in errors.values())
    out["client_fds"] = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)
    out["client_threads"] = sum(threads(pid) for pid in pids)
    start, cpu0, rcpu0 = time.perf_counter(), cpu_all(pids), cpu_all(rpids)
    first = sb.apply_sync(1, r1, {})
    out["first_push_s"] = round(time.perf_counter() - start, 3)
    out["first_push_cpu_s_client"] = round(cpu_all(pids) - cpu0, 2)
    out["first_push_cpu_s_routers"] = round(cpu_all(rpids) - rcpu0, 2)
    revisions = {rev: network(topo, rev, policies) for rev in range(2, 2 + repeat)}
    cpu0, rcpu0 = cpu_all(pids), cpu_all(rpids)  # the pushes only, not making their configs
    times, committed, failed = [], first.committed, list(first.failed_devices)
    previous = r1
    for revision, desired in revisions.items():
        start = time.perf_counter()
        result = sb.apply_sync(revision, desired, previous)
        times.append(time.perf_counter() - start)
        committed, previous = committed and result.committed, desired
        failed += result.failed_devices
    out["change_push_cpu_s_client_mean"] = round((cpu_all(pids) - cpu0) / repeat, 2)
    out["change_push_cpu_s_routers_mean"] = round((cpu_all(rpids) - rcpu0) / repeat, 2)
    out["change_push_s_median"] = round(statistics.median(times), 3)
    out["change_push_s_min"] = round(min(times), 3)
    out["change_push_s_max"] = round(max(times), 3)
    out["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    out["committed"] = committed
    out["failed_devices"] = failed
    if args.baseline:
        last = 2 + repeat
        seq = sequential_push(inventory, network(topo, last, policies), previous)
        out["sequential_ncclient_loop_s"] = round(seq, 3)
        out["speedup_vs_sequential"] = round(seq / statistics.median(times), 1)
    out["router_processes_rss_mb"] = round(sum(rss_mb(pid) for pid in rpids), 1)
    out["client_rss_mb"] = round(sum(rss_mb(pid) for pid in pids), 1)
    sb.close_sync()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[120, 500])
    parser.add_argument(
        "--workers", type=int, default=128, help="RPCs in flight (split over the shards)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="change pushes per size")
    parser.add_argument("--flavor", default="mixed", choices=[*FLAVORS, "mixed"])
    parser.add_argument("--policies", type=int, default=3, help="SR policies per router")
    parser.add_argument("--baseline", action="store_true", help="time a sequential ncclient loop")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--shards", type=int, default=0,
        help="controller-side worker processes holding the sessions (0: all in this process)",
    )  # fmt: skip
    parser.add_argument("--topology", default="teal:Kdl", help="routers: the first N of this")
    parser.add_argument(
        "--router-procs", type=int, default=1, help="processes the simulated routers run in"
    )
    args = parser.parse_args()
    for name in ("paramiko", "ncclient"):  # refused connections are counted, not printed
        logging.getLogger(name).addHandler(logging.NullHandler())
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = [run(n, args) for n in args.sizes]
    if args.json:
        print(json.dumps({"bench": "southbound", "results": results}, indent=2))
    else:
        for r in results:
            print(", ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
