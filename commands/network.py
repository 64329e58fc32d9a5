"""`netpilot network`: the simulated network as its own process (harness/netrun.py)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from commands.common import err_console, print_json
from controller.errors import UsageError
from controller.units import parse_bandwidth, parse_duration

app = typer.Typer(help="Run the simulated network as its own process.", no_args_is_help=True)

QUIET_KINDS = {"probes", "started", "stopped"}


def _clock(sim_s: float) -> str:
    whole = int(sim_s)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _show(line: dict[str, Any]) -> None:
    """Each ground-truth event on stderr: `sim 0:05:10  link_down  BR1-P-SH`."""
    if line["kind"] in QUIET_KINDS:
        return
    what = line.get("link") or line.get("node") or f"{line.get('src')}->{line.get('dst')}"
    err_console.print(
        f"sim {_clock(line['sim_s'])}  [bold]{line['kind']}[/]  {escape(str(what))}",
        highlight=False,
        soft_wrap=True,
    )


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop; the previous handlers come back afterwards."""
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda num, _frame: stop(signal.Signals(num).name))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command("run")
def run(
    *,
    topology: Annotated[str, typer.Option("--topology", "-t", help="bank-wan, geant, a file...")],
    inventory: Annotated[
        Path, typer.Option(help="Inventory YAML to write once every router listens.")
    ],
    scenario: Annotated[Path | None, typer.Option(help="Scenario YAML: faults, surges.")] = None,
    intents: Annotated[
        Path | None, typer.Option(help="Intents YAML whose traffic is probed each step.")
    ] = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 1.0,
    step: Annotated[str, typer.Option(help="Simulated clock step, e.g. 10s.")] = "10s",
    events: Annotated[
        Path | None, typer.Option(help="Append ground-truth events here, one JSON per line.")
    ] = None,
    traffic: Annotated[str, typer.Option(help="gravity, geant or a .hist file.")] = "gravity",
    load: Annotated[float, typer.Option(help="Gravity: busiest link's mean utilisation.")] = 0.6,
    flows: Annotated[int, typer.Option(help="Gravity: number of (pair, class) flows.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same network.")] = 1,
    until: Annotated[
        str | None, typer.Option(help="Stop at this simulated time (default: at a signal).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Final summary as JSON.")] = False,
    dataplane: Annotated[
        str, typer.Option(help="sim (flow-level) or linux (namespaces, kernel SRv6; root).")
    ] = "sim",
    gnmi: Annotated[
        bool, typer.Option(help="Also serve gNMI (TLS, one port, routers by target).")
    ] = True,
    traffic_rate: Annotated[
        str | None,
        typer.Option(help="--dataplane linux: send real packets, this bit/s per flow (200k)."),
    ] = None,
    add_link: Annotated[
        list[str] | None,
        typer.Option(help="A link A:B the routers have and the topology file lacks (repeat)."),
    ] = None,
) -> None:
    """Run simulated NETCONF routers, traffic and faults free-running until Ctrl-C or SIGTERM.

    Example: netpilot network run --topology bank-wan --inventory /tmp/netpilot-net/inv.yaml
    --scenario harness/scenarios/bank-wan-link-cut.yaml --speed 120 --until 6m
    --events /tmp/netpilot-net/events.jsonl --json
    """
    from harness.netrun import NetworkRun, NetworkSpec

    spec = NetworkSpec(
        topology=topology, inventory=inventory, scenario=scenario, intents=intents, events=events,
        speed=speed, step_s=parse_duration(step, "--step"), traffic=traffic, load=load,
        flows=flows, seed=seed, until_s=parse_duration(until, "--until") if until else None,
        gnmi=gnmi, extra_links=tuple(add_link or ()),
        traffic_rate=parse_bandwidth(traffic_rate, "--traffic-rate") if traffic_rate else None,
    )  # fmt: skip
    if dataplane not in ("sim", "linux"):
        raise UsageError(f"--dataplane {dataplane!r}: give sim or linux")
    if traffic_rate and dataplane != "linux":
        raise UsageError("--traffic-rate sends real packets: give it with --dataplane linux")
    if dataplane == "linux":  # docs/dataplane.md
        from harness.dataplane_run import LinuxNetworkRun

        net: Any = LinuxNetworkRun(spec, listener=_show)
    else:
        net = NetworkRun(spec, listener=_show)
    with _stop_on_signals(net.request_stop):
        try:
            inv = net.start()
            err_console.print(
                f"{topology}: {len(inv.devices)} routers on 127.0.0.1, inventory {inventory}, "
                f"speed {speed:g}x, step {spec.step_s:g}s"
                + (f", gNMI on port {net.gnmi.server.port}" if net.gnmi and net.gnmi.server else "")
                + "; Ctrl-C stops",
                highlight=False,
                soft_wrap=True,
            )
            net.run_until_stopped()
        finally:
            stats = net.stop()
    summary = {"topology": topology, "inventory": str(inventory), "speed": speed,
               "step_s": spec.step_s, "reason": net.reason, **stats.as_dict()}  # fmt: skip
    if getattr(net, "traffic", None) is not None:  # --dataplane linux's real packets
        summary["traffic"] = net.traffic.stats()
    if json_out:
        print_json(summary)
    err_console.print(
        f"stopped ({net.reason}): {stats.steps} steps, {stats.sim_s:g} s simulated in "
        f"{stats.wall_s:.1f} s, max lag {stats.max_lag_s:.3f} s, {stats.events} events",
        highlight=False,
        soft_wrap=True,
    )
