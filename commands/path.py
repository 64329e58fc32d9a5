"""`netpilot path`: compute constrained SR-TE paths and optimise traffic placement."""

from __future__ import annotations

import time
from pathlib import Path as FilePath
from typing import Any

import numpy as np
import typer
from rich.progress import Progress
from rich.table import Table

from commands.common import console, print_json
from controller.errors import PathError, UsageError
from controller.intentcheck import unknown_node
from controller.intents import SERVICE_CLASSES
from controller.pathing.fast import fast_min_mlu
from controller.pathing.optimizer import (
    TunnelSet,
    build_tunnel_set,
    demand_vector,
    k_shortest_tunnels,
    min_mlu_lp,
    mlu_of_split,
    shortest_split,
)
from controller.pathing.placement import place
from controller.pathing.rounding import round_split_for_mlu
from controller.pathing.traffic import gravity_demand, sample_pairs, scale_to_shortest_path_mlu
from controller.pathing.types import Path, PathRequest, Placement
from controller.topology import LinkState, Topology
from controller.units import format_duration, parse_bandwidth, parse_duration
from topologies.datasets import read_tm_hist, read_tunnels

app = typer.Typer(
    help="Compute constrained SR-TE paths and optimise traffic placement.", no_args_is_help=True
)

OBJECTIVES = ("igp", "te", "latency", "hops")
DISJOINT = ("link", "node", "srlg")


def load_topology(spec: str) -> Topology:
    """Resolve a topology name or file through the foundation loaders."""
    from topologies.loader import load

    return load(spec)


def _path_json(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    return {
        "nodes": list(path.nodes),
        "links": [list(k) for k in path.links],
        "latency_s": path.latency_s,
        "hops": path.hops,
        "cost": path.cost,
        "sids": list(path.sids),
    }


@app.command("compute")
def compute(
    topo: str = typer.Argument(..., help="Topology: a file, bundled name, zoo:NAME, teal:NAME"),
    src: str = typer.Argument(..., help="Head-end node name"),
    dst: str = typer.Argument(..., help="Tail-end node name"),
    *,
    bw: str = typer.Option("0", "--bw", help="Bandwidth to admit, e.g. 1G or 250M"),
    max_latency: str | None = typer.Option(None, "--max-latency", help="e.g. 20ms"),
    max_hops: int | None = typer.Option(None, "--max-hops", min=1),
    disjoint: str | None = typer.Option(None, "--disjoint", help="link, node or srlg"),
    priority: int = typer.Option(7, "--priority", min=0, max=7, help="0 highest .. 7 lowest"),
    objective: str = typer.Option("igp", "--objective", help="igp, te, latency or hops"),
    exclude_node: list[str] = typer.Option([], "--exclude-node", help="Node to avoid (repeat)"),
    service_class: str | None = typer.Option(
        None, "--class", help="Apply this service class's uplink policy (voice, office, ...)"
    ),
    down: list[str] = typer.Option([], "--down", help="Take this link id down first (repeat)"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Best path (and a disjoint backup) for one request, with latency, hops and SID list.

    With --class, the class's uplink policy picks the branch uplink (the site's policy in the
    topology wins over the class table's), and the answer names the tier used.

    Example: netpilot path compute zoo:Cogentco Paris Madrid --max-latency 20ms --disjoint node
    """
    if objective not in OBJECTIVES:
        raise UsageError(f"--objective: {objective!r} is not one of {', '.join(OBJECTIVES)}")
    if disjoint is not None and disjoint not in DISJOINT:
        raise UsageError(f"--disjoint: {disjoint!r} is not one of {', '.join(DISJOINT)}")
    topology = _what_if(topo, down, service_class, exclude_node)
    req = PathRequest(
        name=f"{src}->{dst}",
        src=src,
        dst=dst,
        bandwidth_bps=parse_bandwidth(bw, "--bw"),
        max_latency_s=None
        if max_latency is None
        else parse_duration(max_latency, "--max-latency", positive=True),
        max_hops=max_hops,
        exclude_nodes=frozenset(exclude_node),
        objective=objective,  # type: ignore[arg-type]
        setup_priority=priority,
        hold_priority=priority,
        disjoint=disjoint,  # type: ignore[arg-type]
        service_class=service_class or "",
        uplinks=SERVICE_CLASSES[service_class].uplinks if service_class else None,
    )
    result = place(topology, [req])
    if req.name in result.unplaced:
        raise PathError(result.unplaced[req.name])
    _show(result.placed[req.name], src, dst, topology.name, as_json=as_json)


def _what_if(
    topo: str, down: list[str], service_class: str | None, exclude_node: list[str]
) -> Topology:
    """The topology with `down` links down, after checking the class and excluded nodes."""
    topology = load_topology(topo)
    for link_id in down:
        topology = topology.with_link_state(link_id, LinkState.DOWN)
    if service_class is not None and service_class not in SERVICE_CLASSES:
        raise UsageError(
            f"--class: {service_class!r} is not a service class; use one of "
            f"{', '.join(SERVICE_CLASSES)}"
        )
    unknown = [
        unknown_node(f"--exclude-node {n}", n, topology)
        for n in exclude_node
        if n not in topology.nodes
    ]
    if unknown:
        raise UsageError(unknown[0])
    return topology


def _show(placement: Placement, src: str, dst: str, name: str, *, as_json: bool) -> None:
    primary, backup, risks = placement.primary, placement.backup, placement.shared_risks
    if as_json:
        print_json(
            {
                "primary": _path_json(primary),
                "backup": _path_json(backup),
                "shared_risks": list(risks),
                "tier": placement.tier or None,
                "shares": [{"weight": w, "path": _path_json(p)} for p, w in placement.shares],
            }
        )
        return
    table = Table(title=f"{src} -> {dst} on {name}")
    for column in ("role", "path", "latency", "hops", "SID list"):
        table.add_column(column)
    rows = [("primary", primary), ("backup", backup)]
    if placement.shares:
        rows = [(f"share {i + 1} (weight {w})", p) for i, (p, w) in enumerate(placement.shares)]
    for role, path in rows:
        if path is not None:
            table.add_row(
                role,
                "-".join(path.nodes),
                format_duration(path.latency_s),
                str(path.hops),
                "\n".join(path.sids),
            )
    console.print(table)
    if placement.tier:
        console.print(f"uplink tier: {placement.tier}")
    if risks and backup is None:
        console.print(f"[yellow]{'; '.join(risks)}[/]")
    elif risks:
        console.print(f"[yellow]not fully disjoint; shared:[/] {', '.join(risks)}")


def _node_index(topology: Topology) -> dict[str, int]:
    """Matrix row/column of each node: its router index - 1 (node-link ids are index - 1)."""
    return {name: node.index - 1 for name, node in topology.nodes.items()}


def _tunnel_set(
    topology: Topology, tunnels: FilePath | None, paths: int, pairs: list[tuple[str, str]]
) -> TunnelSet:
    if tunnels is not None:
        by_index = {node.index - 1: name for name, node in topology.nodes.items()}
        raw = read_tunnels(tunnels)
        try:
            named = {
                (by_index[s], by_index[d]): [[by_index[n] for n in p] for p in plist]
                for (s, d), plist in raw.items()
            }
        except KeyError as missing:
            raise UsageError(f"--tunnels: node id {missing} is not in {topology.name}") from None
        return build_tunnel_set(topology, named)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{paths} shortest paths for {len(pairs)} pairs", total=len(pairs))
        return k_shortest_tunnels(topology, pairs, k=paths, on_pair=lambda: progress.advance(task))


def _demand(
    topology: Topology, tm: str, index: int, pairs_limit: int
) -> tuple[list[tuple[str, str]], np.ndarray | None]:
    """Pairs to route and, for a matrix file, the matrix (None for gravity)."""
    if tm == "gravity":
        return sample_pairs(topology, pairs_limit), None
    matrices = read_tm_hist(FilePath(tm))
    if not 0 <= index < len(matrices):
        raise UsageError(f"--index: {index} is out of range; {tm} holds {len(matrices)} matrices")
    matrix = matrices[index]
    node_index = _node_index(topology)
    if max(node_index.values()) >= matrix.shape[0]:
        raise UsageError(
            f"--tm: {matrix.shape[0]}x{matrix.shape[0]} matrix is too small for "
            f"{topology.name} ({len(node_index)} nodes)"
        )
    pairs = [
        (s, d)
        for s in node_index
        for d in node_index
        if s != d and matrix[node_index[s], node_index[d]] > 0
    ]
    return pairs, matrix


@app.command("optimize")
def optimize(
    topo: str = typer.Argument(..., help="Topology: a file, bundled name, zoo:NAME, teal:NAME"),
    *,
    tm: str = typer.Option(..., "--tm", help="A .hist traffic-matrix file, or 'gravity'"),
    index: int = typer.Option(0, "--index", help="Which matrix of the .hist file"),
    paths: int = typer.Option(4, "--paths", min=1, help="Candidate paths per pair (k shortest)"),
    tunnels: FilePath | None = typer.Option(None, "--tunnels", help="tunnels.txt of candidates"),
    method: str = typer.Option("lp", "--method", help="lp (exact, HiGHS) or fast"),
    time_budget: str = typer.Option("5s", "--time-budget", help="Time budget of --method fast"),
    granularity: int = typer.Option(0, "--granularity", min=0, help="Round splits to 1/N"),
    max_pairs: int = typer.Option(2000, "--max-pairs", min=1, help="Gravity: sample this many"),
    robust: int = typer.Option(
        0, "--robust", min=0, help="Robust split: over the last N matrices and the day-ago one"
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Split traffic over candidate paths to minimise max link utilisation (MLU).

    Example: netpilot path optimize geant --tm ../shared/data/geant/tm-5min.hist --index 3

    Example: netpilot path optimize teal:Kdl --tm gravity --max-pairs 500 --method fast

    Example: netpilot path optimize geant --tm ../shared/data/geant/tm-5min.hist --index 300
    --robust 3
    """
    if method not in ("lp", "fast"):
        raise UsageError(f"--method: {method!r} is not lp or fast")
    if robust and (method != "lp" or tm == "gravity"):
        raise UsageError("--robust needs --method lp and a .hist --tm (it uses recent matrices)")
    budget = parse_duration(time_budget, "--time-budget")
    topology = load_topology(topo)
    pairs, matrix = _demand(topology, tm, index, max_pairs)
    ts = _tunnel_set(topology, tunnels, paths, pairs)
    if matrix is None:
        demand = scale_to_shortest_path_mlu(ts, gravity_demand(topology, list(ts.pairs)))
    else:
        demand = demand_vector(ts, matrix, _node_index(topology))
    start = time.perf_counter()
    if method == "lp":
        sol = min_mlu_lp(ts, demand)
        mlu, split, bound = sol.mlu, sol.split, sol.mlu
        if robust:  # models/robust_te.py (issue 18): min worst MLU/optimum over the set
            from models.robust_te import robust_over_history

            matrices = read_tm_hist(FilePath(tm))
            rob, used = robust_over_history(
                ts, matrices, index, _node_index(topology), window=robust
            )
            split, mlu = rob.split, mlu_of_split(ts, demand, rob.split)
    else:
        fast = fast_min_mlu(ts, demand, time_budget_s=budget)
        mlu, split, bound = fast.mlu, fast.split, fast.lower_bound
    seconds = time.perf_counter() - start
    report: dict[str, Any] = {
        "mlu": mlu,
        "shortest_path_mlu": mlu_of_split(ts, demand, shortest_split(ts)),
        "seconds": seconds,
        "method": method,
        "lower_bound": bound,
        "pairs": len(ts.pairs),
        "paths": ts.num_paths,
    }
    if robust:
        report["robust_matrices"] = used
        report["robust_worst_ratio"] = rob.worst_ratio
    if granularity:
        report["granularity"] = granularity
        report["rounded_mlu"] = mlu_of_split(
            ts, demand, round_split_for_mlu(ts, demand, split, granularity)
        )
    if as_json:
        print_json(report)
        return
    table = Table(title=f"min-MLU on {topology.name} ({len(ts.pairs)} pairs, {ts.num_paths} paths)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in report.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    console.print(table)
