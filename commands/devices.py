"""`netpilot devices`: start simulated routers and inspect devices over NETCONF."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from commands.common import console, print_json
from controller.desired import DeviceConfig
from controller.errors import NotFoundError, UsageError
from controller.southbound.flavors import FLAVOR_CHOICES
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound, journal_path
from controller.southbound.recovery import Recovery
from controller.southbound.render import to_string
from controller.southbound.serialize import config_to_dict, read_revision, write_revision
from controller.southbound.transaction import result_summary
from controller.topology import Topology

if TYPE_CHECKING:
    from harness.fleet_procs import FleetProcesses

app = typer.Typer(
    help="Start simulated routers and inspect devices over NETCONF.", no_args_is_help=True
)

INVENTORY = typer.Option(Path("inventory.yaml"), "--inventory", "-i", help="Inventory YAML.")
SECRETS = typer.Option(None, "--secrets", help="Secrets YAML overriding credentials.")
JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


def load_topology(spec: str) -> Topology:
    """A topology name, file or generator spec (see `netpilot topo`), e.g. bank-wan, ring:8."""
    from topologies.loader import load

    return load(spec)


def _loopback(host: str) -> str:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise UsageError(f"--host {host!r}: simulated routers listen on loopback only (127.0.0.1, ::1)")


@app.command("start")
def start(  # noqa: PLR0917 (typer options)
    topo: str = typer.Argument(
        ..., help="Topology: name, file or generator (bank-wan, geant, ring:8, ...)."
    ),
    inventory: Path = INVENTORY,
    base_port: int = typer.Option(0, "--base-port", help="First port (0: any free ports)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to listen on."),
    keys: Path = typer.Option(None, "--keys", help="Key directory (default: beside inventory)."),
    host_keys: str = typer.Option(
        "ed25519", "--host-keys", help="Routers' host key type: ed25519, rsa, ecdsa or mixed."
    ),
    flavor: str = typer.Option(
        "netpilot",
        "--flavor",
        help="YANG models the routers speak: netpilot, iosxr, openconfig or mixed (round-robin).",
    ),
    processes: int = typer.Option(
        1, "--processes", help="Spread the routers over this many processes (large fleets)."
    ),
    json_out: bool = JSON,
) -> None:
    """Start one simulated NETCONF router per node and write an inventory; Ctrl-C stops them.

    Example: netpilot devices start ring:8 --inventory /tmp/inv.yaml --flavor mixed
    """
    from harness.fleet import HOST_KEY_CHOICES

    if host_keys not in HOST_KEY_CHOICES:
        raise UsageError(f"--host-keys {host_keys!r}: use one of {', '.join(HOST_KEY_CHOICES)}")
    if flavor not in FLAVOR_CHOICES:
        raise UsageError(f"--flavor {flavor!r}: use one of {', '.join(FLAVOR_CHOICES)}")
    if processes < 1:
        raise UsageError(f"--processes {processes}: give 1 or more")
    topology = load_topology(topo)
    key_dir = keys or inventory.parent / f"{inventory.stem}-keys"
    if processes > 1:
        from harness.fleet_procs import FleetProcesses

        fleet = FleetProcesses(
            sorted(topology.nodes), key_dir, processes=processes, flavors=flavor,
            host_keys=host_keys, host=_loopback(host), base_port=base_port, topology=topo,
        )  # fmt: skip
        _serve_processes(fleet, topology.name, inventory, json_out)
        return
    asyncio.run(
        _serve(
            topology, inventory, base_port=base_port, host=_loopback(host), keys=key_dir,
            host_keys=host_keys, flavor=flavor, json_out=json_out,
        )
    )  # fmt: skip


async def _serve(
    topology: Topology,
    inventory: Path,
    *,
    base_port: int,
    host: str,
    keys: Path,
    host_keys: str,
    flavor: str,
    json_out: bool,
) -> None:
    from harness.fleet import Fleet
    from harness.state import StaticStateProvider

    with console.status(f"starting {len(topology.nodes)} routers..."):
        fleet = Fleet(
            sorted(topology.nodes), keys, base_port=base_port, host=host,
            provider=StaticStateProvider(topology), host_keys=host_keys, flavors=flavor,
        )  # fmt: skip
        try:
            await fleet.start()
        except OSError as error:
            raise UsageError(f"cannot listen ({error}); pick another --base-port") from None
        except NotFoundError as error:  # a vendor flavour whose modules are not fetched
            raise UsageError(str(error)) from None
    fleet.write_inventory(inventory)
    if json_out:
        print_json({"inventory": str(inventory), **fleet.inventory()})
    else:
        table = Table(
            "router", "host", "port", "flavor",
            title=f"{topology.name}: {len(fleet.routers)} routers",
        )  # fmt: skip
        for r in fleet.routers.values():
            table.add_row(r.name, r.host, str(r.port), r.options.flavor)
        console.print(table)
        console.print(f"inventory written to {inventory}; Ctrl-C to stop")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fleet.stop()


def _serve_processes(fleet: FleetProcesses, name: str, inventory: Path, json_out: bool) -> None:
    """Routers over several processes (harness/fleet_procs.py) until SIGINT or SIGTERM."""
    signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # children inherit: Ctrl-C stops us only
    with console.status(f"starting {len(fleet.names)} routers in {fleet.count} processes..."):
        try:
            fleet.start()
        except RuntimeError as error:
            raise UsageError(f"{error}; pick another --base-port") from None
    try:
        fleet.write_inventory(inventory)
        devices = fleet.inventory()["devices"]
        if json_out:
            print_json({"inventory": str(inventory), "devices": devices})
        else:
            table = Table(
                "router", "host", "port", "flavor", title=f"{name}: {len(devices)} routers"
            )
            for d in devices:
                table.add_row(d["name"], d["host"], str(d["port"]), d["flavor"])
            console.print(table)
            console.print(f"inventory written to {inventory}; Ctrl-C to stop")
        signal.sigwait(signals)
    finally:
        fleet.stop()


def quiet_transport_logs() -> None:
    """paramiko logs each refused or reset connection with a traceback on stderr (Python's
    last-resort handler); the CLI reports those failures per device instead."""
    for name in ("paramiko", "ncclient"):  # ncclient routes paramiko's log to its own logger
        logging.getLogger(name).addHandler(logging.NullHandler())


def _southbound(inventory: Path, secrets: Path | None) -> NetconfSouthbound:
    quiet_transport_logs()
    return NetconfSouthbound(
        load_inventory(inventory, secrets), max_workers=64, journal=journal_path(inventory)
    )


@app.command("list")
def list_devices(
    inventory: Path = INVENTORY,
    secrets: Path = SECRETS,
    connect: bool = typer.Option(True, "--connect/--no-connect", help="Open sessions to check."),
    json_out: bool = JSON,
) -> None:
    """List the inventory's devices, and whether each answers NETCONF with what capabilities.

    Example: netpilot devices list --inventory /tmp/inv.yaml
    """
    sb = _southbound(inventory, secrets)
    try:
        with console.status(f"connecting to {len(sb.sessions)} devices..."):
            errors = sb.connect_all() if connect else {}
        rows = []
        for name, s in sb.sessions.items():
            caps = s.capabilities
            rows.append({
                "name": name, "host": s.entry.host, "port": s.entry.port, "flavor": s.flavor.name,
                "reachable": None if not connect else errors.get(name) is None,
                "error": errors.get(name),
                "candidate": caps.candidate, "confirmed_commit": caps.confirmed_commit,
                "writable_running": caps.writable_running, "netconf_1_1": caps.base11,
                "host_key_algorithm": s.host_key_algorithm,
            })  # fmt: skip
    finally:
        sb.close_sync()
    if json_out:
        print_json(rows)
        return
    table = Table(
        "device", "address", "flavor", "reachable", "candidate", "confirmed-commit", "1.1"
    )
    for r in rows:
        ok = "-" if r["reachable"] is None else ("yes" if r["reachable"] else f"no: {r['error']}")
        ok = escape(ok)  # device errors hold [...] (addresses, paths): not rich markup
        flags = [
            ("yes" if r[k] else "no") for k in ("candidate", "confirmed_commit", "netconf_1_1")
        ]
        table.add_row(str(r["name"]), f"{r['host']}:{r['port']}", str(r["flavor"]), ok, *flags)
    console.print(table)


@app.command("get-config")
def get_config(
    name: str = typer.Argument(..., help="Device name from the inventory."),
    inventory: Path = INVENTORY,
    secrets: Path = SECRETS,
    xml: bool = typer.Option(False, "--xml", help="Print the XML in the device's flavour."),
    json_out: bool = JSON,
) -> None:
    """Show the running config netpilot manages on one device.

    Example: netpilot devices get-config r1 --inventory /tmp/inv.yaml --json
    """
    sb = _southbound(inventory, secrets)
    try:
        session = sb._session(name)
        cfg = session.get_config("running")
    finally:
        sb.close_sync()
    if json_out:
        print_json(config_to_dict(cfg))
    elif xml:
        console.print(to_string(session.flavor.render(cfg)), highlight=False, soft_wrap=True)
    else:
        _print_config(cfg)


def _print_config(cfg: DeviceConfig) -> None:
    pol = Table("color", "endpoint", "name", "bandwidth", "candidate paths (pref: SIDs)",
                title=f"{cfg.device}: SR policies")  # fmt: skip
    for p in cfg.sr_policies:
        paths = "; ".join(
            f"{cp.preference}: " + " | ".join(",".join(sl.sids) for sl in cp.segment_lists)
            for cp in p.candidate_paths
        )
        pol.add_row(str(p.color), p.endpoint, p.name, f"{p.bandwidth_bps / 1e6:g} Mbps", paths)
    console.print(pol)
    steer = Table("rule", "policy", "dscp", "prefix", title="steering")
    for r in cfg.steering:
        steer.add_row(r.name, f"{r.color}/{r.endpoint}", str(r.dscp or "-"), r.prefix or "-")
    console.print(steer)
    qos = Table("class", "queue", "dscp", "scheduling", "rate limit", title="QoS")
    for c in cfg.qos:
        rate = "-" if c.rate_limit_bps is None else f"{c.rate_limit_bps / 1e6:g} Mbps"
        sched = "priority" if c.priority else f"weight {c.weight}"
        qos.add_row(c.service_class, str(c.queue), ",".join(map(str, c.dscp)), sched, rate)
    console.print(qos)


def committed_record(inventory: Path) -> Path:
    """Where `devices push` records the last committed revision for `drift`."""
    return inventory.with_name(f"{inventory.stem}.committed.json")


@app.command("push")
def push(  # noqa: PLR0917 (typer options)
    revision_file: Path = typer.Argument(None, help="Revision JSON {revision, devices}."),
    inventory: Path = INVENTORY,
    secrets: Path = SECRETS,
    sample: int = typer.Option(None, "--sample", help="Push generated sample revision N."),
    topo: str = typer.Option(None, "--topo", help="Topology for --sample (as for start)."),
    confirm_timeout: int = typer.Option(60, "--confirm-timeout", help="Seconds."),
    json_out: bool = JSON,
) -> None:
    """Install a revision on every device as one transaction (all or nothing).

    Example: netpilot devices push --sample 1 --topo ring:8 --inventory /tmp/inv.yaml
    """
    record = committed_record(inventory)
    previous = read_revision(record)[1] if record.is_file() else {}
    if sample is not None:
        if topo is None:
            raise UsageError("--sample needs --topo (the topology the fleet was started from)")
        from harness.sample import sample_network

        revision, desired = sample, sample_network(load_topology(topo), sample)
    elif revision_file is not None:
        revision, desired = read_revision(revision_file)
    else:
        raise UsageError("give a revision file or --sample N --topo TOPO")
    quiet_transport_logs()
    sb = NetconfSouthbound.from_inventory(
        inventory, secrets=secrets, confirm_timeout_s=confirm_timeout
    )
    try:
        with console.status(f"pushing revision {revision} to {len(desired)} devices..."):
            result = sb.apply_sync(revision, desired, previous)
    finally:
        sb.close_sync()
    if result.committed:
        write_revision(record, revision, desired)
    _report({**result_summary(result), "recovery": _recovery(sb.recovery)}, json_out)


def _recovery(found: Recovery | None) -> dict[str, object] | None:
    """The journal replay before the push (a controller died mid-transaction), if any."""
    if found is None:
        return None
    return {
        "revision": found.revision, "phase": found.phase, "outcome": found.outcome,
        "problems": found.problems,
    }  # fmt: skip


def _report(summary: dict[str, object], json_out: bool) -> None:
    if json_out:
        print_json(summary)
    else:
        recovery = summary.get("recovery")
        if isinstance(recovery, dict):
            console.print(
                f"interrupted revision {recovery['revision']} (journal phase "
                f"{recovery['phase']}): {recovery['outcome']}", highlight=False,
            )  # fmt: skip
        unrestored = summary.get("unrestored")
        state = "committed" if summary["committed"] else "NOT committed (nothing changed)"
        if isinstance(unrestored, list) and unrestored:
            names = ", ".join(map(str, unrestored))
            state = f"NOT committed, and NOT back on the old config: {names}"
        console.print(f"revision {summary['revision']}: {state} in {summary['seconds']} s")
        devices = summary["devices"]
        assert isinstance(devices, dict)
        for name, r in devices.items():
            if r["failed"]:
                text = escape(f"  {name}: failed in {r['phase']}: {r['error']}")
                console.print(text, highlight=False, soft_wrap=True)
    if not summary["committed"]:
        raise typer.Exit(1)


@app.command("drift")
def drift(
    inventory: Path = INVENTORY,
    secrets: Path = SECRETS,
    expected: Path = typer.Option(None, "--expected", help="Revision file (default: last push)."),
    repair: bool = typer.Option(False, "--repair", help="Re-push the expected config."),
    json_out: bool = JSON,
) -> None:
    """Compare each device's running config with the last committed revision; --repair fixes it.

    Example: netpilot devices drift --inventory /tmp/inv.yaml --repair
    """
    revision, want = read_revision(expected or committed_record(inventory))
    sb = _southbound(inventory, secrets)
    try:
        with console.status(f"reading running config of {len(want)} devices..."):
            drifts = sb.drift(want)
        bad = {d.device: d for d in drifts if d.drifted}
        summary = None
        if repair and bad:
            reachable = {n: d for n, d in bad.items() if d.actual is not None}
            actual = {n: d.actual for n, d in reachable.items() if d.actual is not None}
            with console.status(f"repairing {len(reachable)} devices..."):
                result = sb.apply_sync(revision, {n: want[n] for n in reachable}, actual)
            summary = result_summary(result)
    finally:
        sb.close_sync()
    rows = [{"device": d.device, "drifted": d.drifted, "changes": d.changes()} for d in drifts]
    if json_out:
        print_json({"revision": revision, "devices": rows, "repair": summary})
    else:
        table = Table("device", "state", "differences", title=f"drift against revision {revision}")
        for d in drifts:
            state = "DRIFTED" if d.drifted else "in sync"
            table.add_row(d.device, state, escape("\n".join(d.changes())) or "-")
        console.print(table)
        if summary is not None:
            _report(summary, False)
    if summary is not None and not summary["committed"]:
        raise typer.Exit(1)
