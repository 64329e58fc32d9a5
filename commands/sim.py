"""`netpilot sim`: run the flow-level network simulator."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry, start_http_server
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from commands.common import console, err_console, print_json
from controller.errors import UsageError
from controller.intentfile import load_intents
from controller.intents import Intent
from controller.southbound.base import Southbound
from controller.southbound.netconf import NetconfSouthbound
from controller.units import format_bandwidth, format_duration, parse_duration
from harness.build import SimSpec, build_simulation
from harness.closedloop import EmbeddedController
from harness.netsim import NetworkSimulator
from harness.probes import watch_intents
from harness.simdevices import SimDevices
from harness.simrun import SimRuntime
from harness.simsouthbound import SimSouthbound
from harness.summary import RunSummary
from telemetry.exporter import NetpilotMetrics
from telemetry.metered import MeteredSouthbound

app = typer.Typer(help="Run the flow-level network simulator.", no_args_is_help=True)

TopologyOpt = Annotated[
    str, typer.Option("--topology", "-t", help="geant, teal:Kdl, zoo:NAME, bank-wan or a file.")
]
TrafficOpt = Annotated[
    str, typer.Option(help="geant (measured matrices), gravity (generated) or a .hist file.")
]
ScenarioOpt = Annotated[
    Path | None, typer.Option(help="Fault scenario YAML (see harness/scenarios/).")
]
UntilOpt = Annotated[str, typer.Option(help="Simulated duration, e.g. 2h or 90m.")]
StepOpt = Annotated[str, typer.Option(help="Simulated clock step, e.g. 10s.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed: same seed, same run.")]
FlowsOpt = Annotated[int, typer.Option(help="Gravity traffic: number of (pair, class) flows.")]
LoadOpt = Annotated[float, typer.Option(help="Gravity traffic: busiest link's mean utilisation.")]


def spec_from(
    *,
    topology: str,
    traffic: str,
    scenario: Path | None,
    step: str,
    seed: int,
    flows: int,
    load: float,
) -> SimSpec:
    if flows < 1:
        raise UsageError("--flows must be at least 1")
    return SimSpec(topology, traffic, scenario, seed, parse_duration(step, "--step"), flows, load)


def run_with_progress(runtime: SimRuntime, until_s: float, speed: float, quiet: bool) -> RunSummary:
    """Step until `until_s` simulated seconds, paced at `speed` x real time (0: flat out)."""
    sim = runtime.sim
    summary = RunSummary(sim)
    steps = max(1, round(until_s / sim.step_s))
    start = time.monotonic()
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("sim", total=steps, clock="")
        for k in range(steps):
            step = runtime.tick()
            summary.add(step.events, runtime.last_sla)
            progress.update(task, advance=1, clock=format_duration(sim.t))
            if speed > 0:
                ahead = start + (k + 1) * sim.step_s / speed - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    return summary


def _execute(
    sim: NetworkSimulator,
    *,
    metrics: NetpilotMetrics | None,
    devices: Path | None,
    intents: list[Intent],
    until_s: float,
    speed: float,
    quiet: bool,
) -> tuple[RunSummary, dict[str, Any] | None]:
    """Run the simulation; with `devices`, routers are served over NETCONF (telemetry polled
    over NETCONF, committed configs steer the traffic); with `intents`, an embedded controller
    installs them (over NETCONF with `devices`, else in process) and hears topology events."""
    with contextlib.ExitStack() as stack:
        runtime = SimRuntime(sim, metrics)
        fleet = None
        if devices is not None:
            fleet = stack.enter_context(SimDevices(sim, devices))
            err_console.print(
                f"{len(sim.devices())} NETCONF routers up; inventory: {devices / 'inventory.yaml'}"
            )
            collector = fleet.collector()
            stack.callback(collector.close)
            runtime.collector = collector
            runtime.before_tick = fleet.sync_configs
        controller = None
        if intents:
            southbound: Southbound = SimSouthbound(sim)
            if fleet is not None:
                assert fleet.inventory is not None
                netconf = NetconfSouthbound(fleet.inventory)
                stack.callback(netconf.close_sync)
                southbound = netconf
            if metrics is not None:
                southbound = MeteredSouthbound(southbound, metrics)
            db = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "netpilot.db"
            controller = EmbeddedController(sim.index.topology, intents, southbound, db)
            stack.callback(controller.stop)
            controller.start()
            runtime.on_event = controller.sink()
        summary = run_with_progress(runtime, until_s, speed, quiet)
        if controller is None:
            return summary, None
        controller.settle()
        return summary, controller.summary()


def render_summary(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{data['topology']}[/]: {format_duration(data['simulated_s'])} simulated in "
        f"{data['steps']} steps, {data['flows']} flows, offered "
        f"{format_bandwidth(data['offered_bps'])}, dropped {format_bandwidth(data['dropped_bps'])}"
    )
    links = Table("link", "from", "to", "mean util", "max util", title="Busiest links")
    for row in data["busiest_links"]:
        links.add_row(
            row["link"],
            row["src"],
            row["dst"],
            f"{row['mean_utilisation']:.1%}",
            f"{row['max_utilisation']:.1%}",
        )
    console.print(links)
    drops = Table("class", "drop ratio", title="Drops by class")
    for name, ratio in data["drop_ratio_by_class"].items():
        drops.add_row(name, f"{ratio:.3%}")
    console.print(drops)
    if data["intents"]:
        intents = Table("intent", "SLA met", "worst latency", "worst loss", title="Watched intents")
        for it in data["intents"]:
            lat = it["worst_latency_s"]
            intents.add_row(
                it["name"],
                f"{it['sla_met_ratio']:.0%}",
                format_duration(lat) if lat is not None else "-",
                f"{it['worst_loss']:.3%}",
            )
        console.print(intents)
    if "controller" in data:
        c = data["controller"]
        states = ", ".join(f"{n} {s}" for s, n in sorted(c["states"].items()))
        console.print(f"controller: {c['intents']} intents ({states}), {c['events']} engine events")
    if data["events"]:
        events = Table("time", "event", "target", title="Events")
        for e in data["events"]:
            events.add_row(format_duration(e["t"]), e["kind"], e["target"])
        console.print(events)


@app.command("run")
def run(
    *,
    topology: TopologyOpt = "geant",
    traffic: TrafficOpt = "gravity",
    scenario: ScenarioOpt = None,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second; 0 = flat out.")
    ] = 0.0,
    until: UntilOpt = "1h",
    step: StepOpt = "10s",
    seed: SeedOpt = 1,
    flows: FlowsOpt = 2000,
    load: LoadOpt = 0.6,
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on 127.0.0.1:PORT while running (0: off).")
    ] = 0,
    devices: Annotated[
        Path | None,
        typer.Option(
            help="Also run every router as a simulated NETCONF device (SSH on loopback); write "
            "DIR/inventory.yaml for the controller and poll telemetry over NETCONF."
        ),
    ] = None,
    intents: Annotated[
        Path | None,
        typer.Option(
            help="Intents file: an embedded controller installs them (over NETCONF "
            "with --devices) and each is measured against its SLA."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate a network under traffic and faults, then summarise loads, drops and events.

    Examples: netpilot sim run --topology geant --traffic geant
    --scenario harness/scenarios/geant-fibre-cut.yaml --speed 60 --until 2h;
    netpilot sim run --topology bank-wan --intents topologies/bank-wan.intents.yaml
    --devices out/devices --until 30m
    """
    if speed < 0:
        raise UsageError("--speed must be 0 (flat out) or a positive factor, e.g. 60")
    spec = spec_from(
        topology=topology,
        traffic=traffic,
        scenario=scenario,
        step=step,
        seed=seed,
        flows=flows,
        load=load,
    )
    until_s = parse_duration(until, "--until")
    intent_list = load_intents(intents) if intents else []
    sim = build_simulation(spec, watch_intents(intent_list))
    metrics = None
    if metrics_port:
        registry = CollectorRegistry()
        metrics = NetpilotMetrics(registry)
        start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
        err_console.print(f"metrics on http://127.0.0.1:{metrics_port}/metrics")
    summary, control = _execute(
        sim,
        metrics=metrics,
        devices=devices,
        intents=intent_list,
        until_s=until_s,
        speed=speed,
        quiet=json_out,
    )
    data = summary.to_dict()
    if control is not None:
        data["controller"] = control
    if json_out:
        print_json(data)
    else:
        render_summary(data)
