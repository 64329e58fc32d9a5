"""`netpilot intent`: declare, plan, apply and inspect intents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commands.common import console, err_console, print_json
from commands.intentclient import IntentClient, connect, wait_settled
from controller.intentfile import load_intents
from controller.units import format_bandwidth

app = typer.Typer(help="Declare, plan, apply and inspect intents.", no_args_is_help=True)

Server = Annotated[
    str | None,
    typer.Option("--server", help="Controller URL (env NETPILOT_SERVER; default 127.0.0.1:8080)."),
]
Db = Annotated[
    Path | None,
    typer.Option("--db", help="Work directly on this database (embedded engine, no server)."),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Work directly on the intents in this etcd store, etcd://HOST:PORT (comma-separated "
        "members, optionally /PREFIX after them) "
        "(env NETPILOT_STORE when no --server or --db); the cluster's leader installs them.",
    ),
]
Topo = Annotated[
    str | None,
    typer.Option("--topology", help="With --db or --store: the topology (default: the stored)."),
]
TokenFile = Annotated[
    Path | None,
    typer.Option("--token-file", help="Token file (default ~/.config/netpilot/api-token)."),
]
CaFile = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        help="For an https --server: the certificate (or CA) to trust; verification is always on.",
        envvar="NETPILOT_CA_FILE",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
File = Annotated[Path, typer.Option("-f", "--file", help="Intents file (YAML).")]


@contextmanager
def _client(
    server: str | None,
    db: Path | None,
    topo: str | None,
    tf: Path | None,
    ca: Path | None,
    *,
    store: str | None = None,
) -> Iterator[IntentClient]:
    """The controller at `server`, an embedded one on `db`, or the etcd `store`; closed on
    exit."""
    client = connect(server, db, topo, tf, ca, store=store)
    try:
        yield client
    finally:
        client.close()


@app.command("apply")
def apply(
    file: File,
    *,
    prune: Annotated[bool, typer.Option("--prune", help="Delete intents not in the file.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for states.")] = 30.0,
    server: Server = None,
    db: Db = None,
    store: StoreOpt = None,
    topology: Topo = None,
    token_file: TokenFile = None,
    ca_file: CaFile = None,
    json: Json = False,
) -> None:
    """Make the controller match FILE (idempotent).

    Example: netpilot intent apply -f topologies/bank-wan.intents.yaml --prune
    """
    intents = load_intents(file)
    waiting = err_console.status(f"applying {len(intents)} intents, waiting for their states")
    with _client(server, db, topology, token_file, ca_file, store=store) as client, waiting:
        changes = client.apply(intents, prune)
        rows = wait_settled(client, {c["name"] for c in changes}, wait)
    states = {r["name"]: r for r in rows}
    out = [
        {
            **c,
            "state": states.get(c["name"], {}).get("state", "withdrawn"),
            "reason": states.get(c["name"], {}).get("reason", ""),
        }
        for c in changes
    ]
    if json:
        print_json(out)
        return
    table = Table(title=f"apply {file}")
    table.add_column("intent", no_wrap=True)
    for column in ("change", "state", "reason"):
        table.add_column(column)
    for row in out:
        table.add_row(row["name"], row["action"], _state(row["state"]), row["reason"])
    console.print(table)


@app.command("plan")
def plan(
    file: File,
    *,
    prune: Annotated[bool, typer.Option("--prune", help="Plan deletions too.")] = False,
    server: Server = None,
    db: Db = None,
    store: StoreOpt = None,
    topology: Topo = None,
    token_file: TokenFile = None,
    ca_file: CaFile = None,
    json: Json = False,
) -> None:
    """Show what applying FILE would change (intents and per-device config); touches nothing.

    Example: netpilot intent plan -f topologies/bank-wan.intents.yaml
    """
    intents = load_intents(file)
    with _client(server, db, topology, token_file, ca_file, store=store) as client:
        result = client.plan(intents, prune)
    if json:
        print_json(result)
        return
    table = Table("intent", "change", title=f"plan {file}")
    for change in result["changes"]:
        table.add_row(change["name"], change["action"])
    console.print(table)
    for name, reason in sorted(result["unplaced"].items()):
        console.print(f"[red]would fail[/] {name}: {reason}")
    for name in result.get("waiting", []):
        console.print(f"[cyan]outside its time window now[/] {name}")
    devices = Table("device", "section", "added", "removed", "changed", title="config diff")
    for device, diff in result["devices"].items():
        for section, part in diff.items():
            if isinstance(part, dict):
                devices.add_row(
                    device,
                    section,
                    *(", ".join(part.get(k, [])) for k in ("added", "removed", "changed")),
                )
    console.print(devices)


@app.command("list")
def list_(
    *,
    server: Server = None,
    db: Db = None,
    store: StoreOpt = None,
    topology: Topo = None,
    token_file: TokenFile = None,
    ca_file: CaFile = None,
    json: Json = False,
) -> None:
    """List intents with their state.

    Example: netpilot intent list --json
    """
    with _client(server, db, topology, token_file, ca_file, store=store) as client:
        rows = client.list()
    if json:
        print_json(rows)
        return
    table = Table(title="intents")
    table.add_column("name", no_wrap=True)
    for column in ("class", "src", "dst", "bandwidth", "state", "reason", "ver"):
        table.add_column(column)
    for r in rows:
        spec = r["spec"]
        table.add_row(
            r["name"],
            r["service_class"],
            _end(spec.get("src")),
            _end(spec.get("dst")),
            format_bandwidth(float(spec.get("bandwidth", 0.0))),
            _state(r["state"]),
            r["reason"],
            str(r["version"]),
        )
    console.print(table)


@app.command("show")
def show(
    name: str,
    *,
    server: Server = None,
    db: Db = None,
    store: StoreOpt = None,
    topology: Topo = None,
    token_file: TokenFile = None,
    ca_file: CaFile = None,
    json: Json = False,
) -> None:
    """Show one intent's spec, version and state.

    Example: netpilot intent show dc1-dc2-production
    """
    with _client(server, db, topology, token_file, ca_file, store=store) as client:
        record = client.get(name)
    if json:
        print_json(record)
        return
    console.print(
        f"[bold]{name}[/] v{record['version']} {_state(record['state'])} {record['reason']}"
    )
    for key, value in record["spec"].items():
        console.print(f"  {key}: {value}")


@app.command("status")
def status(
    name: str,
    *,
    server: Server = None,
    db: Db = None,
    store: StoreOpt = None,
    topology: Topo = None,
    token_file: TokenFile = None,
    ca_file: CaFile = None,
    json: Json = False,
) -> None:
    """Path, SID list, SLA asked vs measured, and state history of one intent.

    Example: netpilot intent status br1-dc1-voice
    """
    with _client(server, db, topology, token_file, ca_file, store=store) as client:
        st = client.status(name)
    if json:
        print_json(st)
        return
    _print_status(st)


def _print_status(st: dict[str, Any]) -> None:
    console.print(f"[bold]{st['name']}[/] {_state(st['state'])} {st['reason']}")
    console.print(f"  class {st['service_class']}  priority {st['priority']}  DSCP {st['dscp']}")
    for label in ("primary", "backup"):
        path = st.get(label)
        if path:
            console.print(f"  {label}: {' -> '.join(path['nodes'])} ({path['latency_ms']} ms)")
            console.print(f"    SIDs: {', '.join(path['sids'])}")
    sla = st["sla"]
    asked, planned, measured = sla["asked"], sla.get("planned"), sla["measured"]
    console.print(
        f"  SLA asked: latency <= {asked['max_latency_ms']} ms, loss <= {asked['max_loss']}"
    )
    if planned:
        console.print(f"  planned:   latency {planned['latency_ms']} ms (from the path's links)")
    if measured:
        console.print(
            f"  measured:  latency {measured['latency_ms']} ms, loss {measured['loss']:.4%} "
            f"(telemetry, {measured['age_s']} s old)"
        )
    else:
        console.print("  measured:  - (no telemetry: the controller runs without --inventory)")
    table = Table("at (UTC)", "state", "reason", title="history")
    for h in st["history"]:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(h["at"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, h["state"], h["reason"])
    console.print(table)


@app.command("delete")
def delete(
    name: str,
    *,
    server: Server = None,
    db: Db = None,
    store: StoreOpt = None,
    topology: Topo = None,
    token_file: TokenFile = None,
    ca_file: CaFile = None,
    json: Json = False,
) -> None:
    """Withdraw an intent (its config is removed from the devices).

    Example: netpilot intent delete br1-dc1-test
    """
    with _client(server, db, topology, token_file, ca_file, store=store) as client:
        record = client.delete(name)
    if json:
        print_json(record)
        return
    console.print(f"{name}: {_state(record['state'])}")


def _end(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("node") or ",".join(value.get("prefixes", [])))
    return str(value)


_COLOURS = {
    "verified": "green",
    "installed": "green",
    "degraded": "yellow",
    "failed": "red",
    "withdrawn": "dim",
}


def _state(state: str) -> str:
    colour = _COLOURS.get(state, "cyan")
    return f"[{colour}]{state}[/]"
