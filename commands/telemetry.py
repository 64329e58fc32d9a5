"""`netpilot telemetry`: watch live telemetry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

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
    spec_from,
)
from controller.errors import UsageError
from controller.units import format_bandwidth, format_duration, parse_duration
from harness.build import build_simulation
from harness.simrun import SimRuntime

app = typer.Typer(help="Watch live telemetry.", no_args_is_help=True)


def top_rows(runtime: SimRuntime, n: int) -> dict[str, Any]:
    """The busiest links and the worst intents, from the telemetry processor's latest view."""
    links = [lt for lt in runtime.processor.snapshot() if lt.utilisation is not None]
    links.sort(key=lambda lt: -(lt.utilisation or 0.0))
    slas = sorted(runtime.last_sla, key=lambda s: (s.met, -(s.latency_s or 0.0)))
    return {
        "t": runtime.sim.t,
        "links": [
            {
                "link": lt.link,
                "src": lt.src,
                "dst": lt.dst,
                "utilisation": lt.utilisation,
                "out_bps": lt.out_bps,
                "loss": lt.loss,
                "delay_s": lt.delay_s,
                "up": lt.oper_up,
            }
            for lt in links[:n]
        ],
        "intents": [
            {
                "name": s.name,
                "sla_met": s.met,
                "latency_s": s.latency_s,
                "max_latency_s": s.max_latency_s,
                "loss": s.loss,
            }
            for s in slas[:n]
        ],
    }


def top_table(data: dict[str, Any]) -> Table:
    table = Table(
        "link",
        "from",
        "to",
        "util",
        "rate",
        "loss",
        "delay",
        "up",
        title=f"Busiest links at t={format_duration(data['t'])}",
    )
    for r in data["links"]:
        table.add_row(
            r["link"],
            r["src"],
            r["dst"],
            f"{r['utilisation']:.1%}",
            format_bandwidth(r["out_bps"] or 0),
            f"{(r['loss'] or 0):.3%}",
            format_duration(r["delay_s"] or 0),
            "yes" if r["up"] else "[red]no",
        )
    for r in data["intents"]:
        table.add_row(
            f"[bold]intent {r['name']}",
            "",
            "",
            "",
            "",
            f"{(r['loss'] or 0):.3%}",
            format_duration(r["latency_s"]) if r["latency_s"] is not None else "-",
            "SLA ok" if r["sla_met"] else "[red]SLA violated",
        )
    return table


@app.command("top")
def top(
    *,
    topology: TopologyOpt = "geant",
    traffic: TrafficOpt = "gravity",
    scenario: ScenarioOpt = None,
    until: UntilOpt = "10m",
    step: StepOpt = "10s",
    seed: SeedOpt = 1,
    flows: FlowsOpt = 2000,
    load: LoadOpt = 0.6,
    rows: Annotated[int, typer.Option(help="How many links and intents to show.")] = 10,
    once: Annotated[
        bool, typer.Option("--once", help="Print one table at the end, no live view.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the final view as JSON.")] = False,
) -> None:
    """Live table of the busiest links and worst intents of a running simulation.

    Example: netpilot telemetry top --topology geant --scenario harness/scenarios/router-reboot.yaml
    """
    if rows < 1:
        raise UsageError("--rows must be at least 1")
    sim = build_simulation(
        spec_from(
            topology=topology,
            traffic=traffic,
            scenario=scenario,
            step=step,
            seed=seed,
            flows=flows,
            load=load,
        )
    )
    runtime = SimRuntime(sim)
    steps = max(2, round(parse_duration(until, "--until") / sim.step_s))
    if once or json_out:
        for _ in range(steps):
            runtime.tick()
    else:
        with Live(console=console, refresh_per_second=8) as live:
            for _ in range(steps):
                runtime.tick()
                live.update(top_table(top_rows(runtime, rows)))
        return
    data = top_rows(runtime, rows)
    if json_out:
        print_json(data)
    else:
        console.print(top_table(data))


__all__ = ["Path", "app"]
