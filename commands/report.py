"""`netpilot report`: run a simulation and render PNG plots into an HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.common import console, print_json
from commands.sim import (
    FlowsOpt,
    LoadOpt,
    ScenarioOpt,
    SeedOpt,
    StepOpt,
    TopologyOpt,
    TrafficOpt,
    UntilOpt,
    run_with_progress,
    spec_from,
)
from controller.units import format_bandwidth, format_duration, parse_duration
from harness.build import build_simulation
from harness.simrun import SimRuntime


def report(
    *,
    out: Annotated[Path, typer.Option("--out", help="Directory for index.html and the PNGs.")],
    topology: TopologyOpt = "geant",
    traffic: TrafficOpt = "geant",
    scenario: ScenarioOpt = None,
    until: UntilOpt = "6h",
    step: StepOpt = "60s",
    seed: SeedOpt = 1,
    flows: FlowsOpt = 2000,
    load: LoadOpt = 0.6,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the written files as JSON.")
    ] = False,
) -> None:
    """Simulate, then draw link utilisation, per-intent SLA and forecast vs actual (PNG + HTML).

    Example: netpilot report --out out/report --topology geant --traffic geant
    --scenario harness/scenarios/geant-fibre-cut.yaml --until 3h
    """
    spec = spec_from(
        topology=topology,
        traffic=traffic,
        scenario=scenario,
        step=step,
        seed=seed,
        flows=flows,
        load=load,
    )
    sim = build_simulation(spec)
    runtime = SimRuntime(sim)
    summary = run_with_progress(runtime, parse_duration(until, "--until"), 0.0, quiet=json_out)
    data = summary.to_dict()
    rows = [
        (
            "topology",
            f"{data['topology']} ({sim.index.n_nodes} routers, {sim.index.n_links} links)",
        ),
        ("traffic", traffic),
        ("scenario", str(scenario) if scenario else "none"),
        ("simulated", f"{format_duration(data['simulated_s'])} in {data['steps']} steps"),
        ("offered", format_bandwidth(data["offered_bps"])),
        ("dropped", format_bandwidth(data["dropped_bps"])),
        ("events", ", ".join(f"{e['kind']} {e['target']}" for e in data["events"]) or "none"),
    ]
    bounds = {i.name: i.max_latency for i in sim.scenario.intents}
    from telemetry.report import write_report  # matplotlib: only when a report is written

    index = write_report(runtime.history, out, f"netpilot report: {data['topology']}", rows, bounds)
    files = sorted(str(p) for p in out.iterdir())
    if json_out:
        print_json({"index": str(index), "files": files})
    else:
        console.print(f"wrote {index} ({len(files)} files)", soft_wrap=True)
