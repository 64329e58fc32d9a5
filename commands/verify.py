"""`netpilot verify`: walk an SRv6 packet through the forwarding state and check its path."""

from __future__ import annotations

import itertools
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commands.common import console, print_json
from commands.intentclient import connect
from controller.errors import UsageError
from controller.intents import Intent
from controller.topology import LinkKey, Topology
from harness.dataplane_verify import Target
from harness.verify import Verification, verify_path
from topologies.loader import load as load_topology


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def intended_links(topology: Topology, nodes: list[str]) -> list[LinkKey]:
    """Consecutive nodes -> the directed links between them (the cheapest of parallel links)."""
    out = []
    for a, b in itertools.pairwise(nodes):
        links = sorted(topology.links_between(a, b), key=lambda lk: (lk.igp_metric, lk.id))
        if not links:
            raise UsageError(f"--expect: no link from {a!r} to {b!r} in {topology.name!r}")
        out.append(links[0].key)
    return out


def _installed(
    name: str,
    server: str | None,
    db: Path | None,
    topology: str,
    auth: tuple[Path | None, Path | None],
) -> tuple[str, str, list[str], list[LinkKey]]:
    """An intent's installed primary path from the controller: endpoints, SIDs, link keys.
    `auth`: the token file and, for an https server, the CA file."""
    token_file, ca_file = auth
    client = connect(server, db, topology if db else None, token_file, ca_file)
    try:
        status = client.status(name)
    finally:
        client.close()
    primary = status.get("primary")
    if not primary or not primary.get("nodes"):
        raise UsageError(f"intent {name!r} has no installed path (state {status.get('state')})")
    nodes, ids = primary["nodes"], primary["links"]
    keys = [(a, b, i) for a, b, i in zip(nodes, nodes[1:], ids, strict=False)]
    return nodes[0], nodes[-1], list(primary.get("sids") or []), keys


def render(v: Verification) -> None:
    console.print(f"packet: {v.packet}")
    for k, trace in enumerate(v.traces, start=1):
        table = Table(
            "node", "action", "destination", "SL", "link", title=f"branch {k}: {trace.reason}"
        )
        for h in trace.hops:
            table.add_row(
                h.node,
                h.action,
                h.dst,
                "" if h.segments_left is None else str(h.segments_left),
                "" if h.link is None else f"{h.link[0]}>{h.link[1]}",
            )
        console.print(table)
    verdict = "[green]stays on the intended path" if v.ok else "[red]does NOT stay on the path"
    console.print(f"{v.src} -> {v.dst} via {', '.join(v.sids) or 'IGP'}: {verdict}")


def verify(
    intent: Annotated[
        str | None,
        typer.Argument(help="Intent name: verify its installed path (from --server or --db)."),
    ] = None,
    *,
    topology: Annotated[str, typer.Option("--topology", "-t", help="Topology spec.")] = "geant",
    server: Annotated[
        str | None, typer.Option(help="Controller URL for INTENT (default 127.0.0.1:8080).")
    ] = None,
    db: Annotated[Path | None, typer.Option(help="For INTENT: the controller's database.")] = None,
    token_file: Annotated[Path | None, typer.Option(help="API token file for --server.")] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="For an https --server: the certificate (or CA) to trust.",
            envvar="NETPILOT_CA_FILE",
        ),
    ] = None,
    src: Annotated[str | None, typer.Option("--from", help="Head-end router.")] = None,
    dst: Annotated[str | None, typer.Option("--to", help="Destination router.")] = None,
    sids: Annotated[str | None, typer.Option(help="Segment list: comma-separated SIDs.")] = None,
    via: Annotated[
        str | None, typer.Option(help="Segment list as router names (node SIDs).")
    ] = None,
    expect: Annotated[
        str | None, typer.Option(help="Intended path as comma-separated router names.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the traces as JSON.")] = False,
    dataplane: Annotated[
        str, typer.Option(help="model (walk the forwarding state) or linux (real probes).")
    ] = "model",
    run: Annotated[
        str | None, typer.Option(help="--dataplane linux: which running data plane (its id).")
    ] = None,
) -> None:
    """Build the head end's SRv6 packet (scapy) and walk it hop by hop; exit 1 if it strays.

    Examples: netpilot verify br1-dc1-voice --db netpilot.db --topology bank-wan;
    netpilot verify --topology geant --from 0 --to 9 --via 4 --expect 0,4,0,9;
    netpilot verify hq-dc1-video --server http://127.0.0.1:8080 --dataplane linux
    """
    if dataplane == "linux":
        if intent is None:
            raise UsageError("--dataplane linux verifies an INTENT: give its name")
        _verify_linux(intent, (server, db), run, (token_file, ca_file), json_out)
        return
    if dataplane != "model":
        raise UsageError(f"--dataplane {dataplane!r}: give model or linux")
    topo = load_topology(topology)
    intended: list[tuple[str, str, str]] | None
    if intent is not None:
        src, dst, segs, intended = _installed(intent, server, db, topology, (token_file, ca_file))
    else:
        if not src or not dst:
            raise UsageError("give INTENT, or --from ROUTER and --to ROUTER (and --sids or --via)")
        segs = _split(sids) + [topo.node(n).node_sid for n in _split(via)]
        intended = intended_links(topo, _split(expect)) if expect else None
    result = verify_path(topo, src, dst, segs, intended=intended)
    if json_out:
        print_json({**asdict(result), "ok": result.ok})
    else:
        render(result)
    if not result.ok:
        raise typer.Exit(1)


def _target(name: str, server: str | None, db: Path | None, topology: str,
            auth: tuple[Path | None, Path | None]) -> Target:  # fmt: skip
    """The intent (DSCP, prefixes) and its installed primary path, from the controller."""
    client = connect(server, db, topology if db else None, auth[0], auth[1])
    try:
        status = client.status(name)
        body = client.get(name)
    finally:
        client.close()
    primary = status.get("primary")
    if not primary or not primary.get("nodes"):
        raise UsageError(f"intent {name!r} has no installed path (state {status.get('state')})")
    intent = Intent.model_validate(body.get("spec", body))
    return Target(name, primary["nodes"][0], primary["nodes"][-1], intent.effective_dscp,
                  tuple(intent.dst.prefixes), tuple(primary["nodes"]),
                  tuple(primary["links"]))  # fmt: skip


def _verify_linux(
    name: str,
    where: tuple[str | None, Path | None],
    run: str | None,
    auth: tuple[Path | None, Path | None],
    json_out: bool,
) -> None:
    """Probe INTENT's path on the running Linux data plane (`where`: --server, --db)."""
    from harness.dataplane_probe import find_run
    from harness.dataplane_verify import verify_intent

    state = find_run(run)
    topo = load_topology(state["topology"])
    result = verify_intent(state, topo, _target(name, *where, state["topology"], auth))
    if json_out:
        print_json(result)
    else:
        render_linux(result)
    if not result["matches"]:
        raise typer.Exit(1)


def render_linux(result: dict[str, Any]) -> None:
    table = Table("hop", "intended", "observed", "link", "destination", "SL",
                  title=f"{result['intent']}: DSCP {result['dscp']}, probe "
                  f"{result['probe']['src']} -> {result['probe']['dst']}")  # fmt: skip
    intended, observed = result["intended"], result["observed"]
    for k in range(max(len(intended), len(observed))):
        want = intended[k] if k < len(intended) else {}
        got = observed[k] if k < len(observed) else {}
        sl = got.get("segments_left")
        same = want.get("node") == got.get("node") and want.get("link") == got.get("link")
        style = "" if same else "[red]"
        table.add_row(str(k), want.get("node", ""), f"{style}{got.get('node', '')}",
                      f"{style}{got.get('link') or ''}", got.get("dst") or "",
                      "" if sl is None else str(sl))  # fmt: skip
    console.print(table)
    verdict = "[green]matches the intended path" if result["matches"] else (
        f"[red]does NOT match ({result['reason']})")  # fmt: skip
    console.print(f"{result['src']} -> {result['dst']}: {verdict}")
