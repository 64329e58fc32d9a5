"""`netpilot demo`: the main job, the closed loop on the bundled bank WAN.

An embedded controller (SQLite in a temp dir) installs the example intents over NETCONF into a
fleet of simulated routers; the simulator runs bank-wan under traffic at high speed while
telemetry (polled over NETCONF) feeds the engine. One after another: a DC-DC fibre degrades and
is evacuated before it fails, a branch's primary uplink is cut, a traffic surge is forecast and
absorbed. Ends with a timeline (detect, locate, rectify per event) and SLA compliance per class.
`netpilot demo --topology-only` shows the bank WAN itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commands.common import console, err_console, print_json
from commands.topo import load_with_status, print_warnings, stats_json, summary_table
from controller.errors import UsageError
from controller.topology import Link, Topology
from controller.units import format_bandwidth, format_duration, parse_duration

DEMO_TOPOLOGY = "bank-wan"
ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "harness" / "scenarios" / "bank-wan-demo.yaml"
if TYPE_CHECKING:
    from harness.loopsession import LoopSession
    from harness.surge import Surge
    from models.loop_models import LoopModels


def demo_surge() -> Surge:
    """The lockstep demo's surge: 17 Gbit/s of extra HQ -> DC2 traffic over ten minutes, both
    10G HQ-DC2 links near full (the live demo has it in bank-wan-demo-live.yaml)."""
    from harness.surge import Surge

    return Surge("HQ", "DC2", 17e9, at=40 * 60, ramp=600, until=55 * 60)


def demo(
    *,
    json_output: bool = typer.Option(False, "--json", help="Print the timeline as JSON."),
    speed: Annotated[
        float, typer.Option(help="Network seconds per wall second (the hour runs in 3600/speed s).")
    ] = 40.0,
    until: Annotated[
        str, typer.Option(help="Network time to run (the surge ends at 55m), e.g. 60m.")
    ] = "56m",
    report: Annotated[
        Path | None,
        typer.Option(help="--lockstep only: write the plots and an HTML page into DIR."),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            help="Leave the network and the controller (API, /metrics) running until Ctrl-C."
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="--lockstep --keep: port of /metrics.")] = 8181,
    lockstep: Annotated[
        bool,
        typer.Option(
            help="The deterministic in-process loop (the regression suite's) instead of "
            "two processes."
        ),
    ] = False,
    in_process: Annotated[
        bool, typer.Option(help="--lockstep only: southbound to the simulator in process.")
    ] = False,
    topology_only: Annotated[
        bool, typer.Option("--topology-only", help="Only show the bank WAN (no simulation).")
    ] = False,
    models: Annotated[
        Path | None,
        typer.Option(
            help="Trained loop models (`netpilot model train loop --out DIR`); "
            "default: train them now (about 15 s, from GEANT and generated telemetry)."
        ),
    ] = None,
) -> None:
    """Run the closed loop on the bank WAN: faults detected, located and repaired.

    Starts `netpilot network run` (bank-wan's simulated routers, traffic and faults, free-running
    at --speed) and `netpilot controller run --inventory` (telemetry, trained models, engine) as
    two processes that share only NETCONF, submits the bank's intents over the REST API, and
    prints the timeline measured from outside: fault times from the network's ground truth,
    actions from the controller's events API, all in wall seconds.

    Examples: netpilot demo; netpilot demo --json; netpilot demo --speed 20 --keep;
    netpilot model train loop --out loop-models && netpilot demo --models loop-models
    """
    if topology_only:
        _show_topology(json_output)
        return
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: give a TCP port between 1 and 65535")
    if lockstep:
        _lockstep(json_output, report, keep=keep, port=port, in_process=in_process, models=models,
                  until_s=parse_duration(until))  # fmt: skip
        return
    if report is not None or in_process:
        raise UsageError("--report and --in-process go with --lockstep; drop them or add it")
    if not 1 <= speed <= 200:
        raise UsageError(f"--speed {speed:g}: give 1 to 200 (40 runs the hour in 90 s)")
    _live(json_output, speed, parse_duration(until), keep, models)


def _live(json_output: bool, speed: float, until_s: float, keep: bool, models: Path | None) -> None:
    import tempfile

    from commands.livedemo import LiveDemo, LiveSpec
    from models import loop_models as lm

    wall0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="netpilot-demo-") as tmp:
        work = Path(tmp)
        if models is None:
            lm.save(work / "models", loop_models(None, quiet=json_output))
            models = work / "models"
        info = lm.load(models).info
        spec = LiveSpec(work=work, models=models, speed=speed, until_s=until_s)
        with LiveDemo(spec) as live:
            if not json_output:
                err_console.print(
                    f"  network and controller up (pids {live.procs['network'].pid}, "
                    f"{live.procs['controller'].pid}); controller API {live.base}; "
                    f"{len(live.intents)} intents applied; {speed:g}x real time"
                )
            _follow(live, quiet=json_output)
            data = live.result()
            data["models"] = info
            data["wall_s"] = time.perf_counter() - wall0
            if json_output:
                print_json(data)
            else:
                _render(data)
            if keep:
                _keep_running(live)


def _follow(live: Any, quiet: bool) -> None:
    from commands.demotimeline import _signal

    with Progress(
        TextColumn("[bold]closed loop"), BarColumn(), TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(), console=err_console, disable=quiet, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("loop", total=live.spec.until_s, clock="")

        def tick(sim_s: float, new: list[dict[str, Any]]) -> None:
            progress.update(task, completed=min(sim_s, live.spec.until_s),
                            clock=f"network {format_duration(sim_s)}")  # fmt: skip
            for e in new:
                if quiet or e["kind"] not in ("topology", "avoid", "telemetry"):
                    continue
                progress.console.print(
                    f"  network {format_duration(sim_s)}: {escape(_signal(e))} "
                    f"{escape(str(e['cause']))[:110]}", highlight=False,
                )  # fmt: skip

        live.follow(tick)


def _keep_running(live: Any) -> None:
    err_console.print(
        f"network and controller still running: API and /metrics on {live.base} (token in "
        f"{live.work / 'token'} is not used; the demo's token is in its environment); Ctrl-C"
    )
    try:
        while all(p.poll() is None for p in live.procs.values()):
            time.sleep(1.0)
    except KeyboardInterrupt:
        err_console.print("stopping")


def _lockstep(
    json_output: bool,
    report: Path | None,
    *,
    keep: bool,
    port: int,
    in_process: bool,
    models: Path | None,
    until_s: float = 3600.0,
) -> None:
    """The embedded, lockstep loop (the scenario suite's): deterministic, one process."""
    from prometheus_client import CollectorRegistry

    from harness.loopsession import LoopSession, LoopSpec
    from telemetry.exporter import NetpilotMetrics

    registry = CollectorRegistry()
    metrics = NetpilotMetrics(registry)
    wall0 = time.perf_counter()
    trained = loop_models(models, quiet=json_output)
    spec = LoopSpec(
        scenario=DEMO_SCENARIO,
        netconf=not in_process,
        surges=(demo_surge(),),
        models=trained,
        until_s=until_s,
    )
    with LoopSession(spec, metrics) as session:
        _run(session, quiet=json_output)
        data = _result(session, time.perf_counter() - wall0)
        data["models"] = trained.info
        if report is not None:
            data["report"] = str(_report(session, report, data))
        if json_output:
            print_json(data)
        else:
            _render(data)
        if keep:
            from commands.demokeep import serve_until_interrupted

            serve_until_interrupted(session, registry, port)


def loop_models(directory: Path | None, quiet: bool) -> LoopModels:
    """Load the loop's trained models from `directory`, or train them now."""
    from models import loop_models as lm

    if directory is not None:
        return lm.load(directory)
    from topologies.datasets import data_dir

    geant = data_dir() / "geant"
    with err_console.status("training the loop's models", spinner="dots") as status:
        trained = lm.train(
            geant, lm.LoopTraining(), lambda stage, done, total: status.update(stage)
        )
    if not quiet:
        err_console.print(
            f"  models trained in {trained.info['train_seconds']:.1f}s: forecaster on GEANT "
            f"link loads, fault model on {trained.info['faults']['generated_links']} "
            "generated links"
        )
    return trained


def _run(session: LoopSession, quiet: bool) -> None:
    sim = session.sim
    with Progress(
        TextColumn("[bold]closed loop"),
        BarColumn(),
        TextColumn("{task.fields[clock]} {task.fields[note]}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("loop", total=session.steps, clock="", note="")
        seen = 0
        for _ in range(session.steps):
            session.runner.tick()
            acting = session.runner.acting()
            note = ""
            if len(acting) > seen:
                s = acting[-1]
                note = f"{s.kind} {s.link}: moved {len(s.moved)}"
                if not quiet:
                    err_console.print(
                        f"  {format_duration(s.t)} {escape(s.kind)} on {escape(s.link)}: "
                        f"{len(s.moved)} intents moved, revisions {s.revisions}"
                    )
                seen = len(acting)
            progress.update(task, advance=1, clock=format_duration(sim.t), note=note)


def _result(session: LoopSession, wall_s: float) -> dict[str, Any]:
    from harness.loop import compliance_by_class

    runner = session.runner
    names = [i.name for i in session.intents]
    return {
        "events": session.timeline(),
        "intents": len(names),
        "intents_lost": len(runner.intents_lost(names)),
        "sla_compliance": compliance_by_class(runner.sla, session.classes()),
        "actions": [
            {"t": s.t, "signal": s.kind, "link": s.link, "moved": s.moved, "revisions": s.revisions}
            for s in runner.acting()
        ],
        "simulated_s": session.sim.t,
        "wall_s": wall_s,
        "southbound": "netconf" if session.spec.netconf else "in-process",
    }


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    return sign + (format_duration(abs(value)) if abs(value) >= 1 else f"{abs(value):.2f}s")


def _event_label(event: str) -> str:
    """The table's event column: the kind only (the link has its own column)."""
    kind, _, rest = event.partition(" ")
    if kind == "traffic":
        return "surge " + rest.removeprefix("surge ")
    return kind


def _render(data: dict[str, Any]) -> None:
    speed = data.get("speed")
    title = (
        f"Timeline (wall seconds after the failure, network at {speed:g}x real time; "
        "negative = ahead of it)"
        if speed
        else "Timeline (simulated time after the failure; negative = ahead of it)"
    )
    table = Table(
        "event", "link", "detect", "locate", "rectify", "own work", "moved", "SLA misses",
        title=title, title_justify="left",
    )  # fmt: skip
    for e in data["events"]:
        wall = e.get("rectify_wall_s")
        table.add_row(
            escape(_event_label(e["event"])),
            escape(e.get("link") or "-"),
            _secs(e["detect_s"]),
            _secs(e["locate_s"]),
            _secs(e["rectify_s"]),
            f"{wall:.3f}s" if wall is not None else "-",
            str(len(e["moved"])),
            str(e["sla_violations"]),
        )
    console.print(table)
    for e in data["events"]:
        peak, before = e.get("peak_utilisation"), e.get("utilisation_at_rectify")
        if peak and peak.get("link") and before:
            console.print(
                f"{escape(e['event'])}: moved with the busiest link at {before['utilisation']:.0%}"
                f"; {escape(peak['link'])} peaked at {peak['utilisation']:.0%} later (the "
                "network's own measure; the surge's test traffic is not an intent)"
            )
    sla = Table("class", "SLA met", title="SLA compliance per class", title_justify="left")
    for cls, ratio in data["sla_compliance"].items():
        sla.add_row(cls, f"{ratio:.1%}")
    console.print(sla)
    how = (
        "network and controller as two processes over NETCONF"
        if speed
        else f"{data['southbound']} southbound, lockstep"
    )
    console.print(
        f"{data['intents']} intents, {data['intents_lost']} lost; "
        f"{format_duration(data['simulated_s'])} of network time in {data['wall_s']:.1f}s wall "
        f"({how})"
    )
    models = data.get("models") or {}
    if models:
        console.print(
            f"signals: trained traffic forecaster (p90, {models['forecast']['series']}) and "
            f"fault model ({models['faults']['generated_links']} generated links, time scale "
            f"{models['time_scale']:g})"
        )
    if "report" in data:
        console.print(f"report: {data['report']}")


def _report(session: LoopSession, out: Path, data: dict[str, Any]) -> Path:
    from telemetry.report import write_report

    rows = [
        (e["event"], f"detect {_secs(e['detect_s'])}, rectify {_secs(e['rectify_s'])}")
        for e in data["events"]
    ]
    rows.append(("intents lost", str(data["intents_lost"])))
    bounds = {i.name: i.max_latency_s for i in session.intents}
    return write_report(session.runtime.history, out, "netpilot demo: bank-wan", rows, bounds)


def _show_topology(json_output: bool) -> None:
    topo = load_with_status(DEMO_TOPOLOGY, quiet=json_output)
    stats = topo.stats()
    media = by_medium(topo)
    if json_output:
        print_json(
            {
                "topology": stats_json(stats),
                "media": {m: _medium_figures(links) for m, links in media.items()},
                "branch_uplinks": {b: [_uplink(lk) for lk in ups] for b, ups in _uplinks(topo)},
            }
        )
        return
    console.print(summary_table(stats))
    print_warnings(stats.warnings)
    console.print(_media_table(media))
    console.print(_uplinks_table(topo))


def by_medium(topo: Topology) -> dict[str, list[Link]]:
    """Physical links (one direction each) grouped by medium."""
    groups: dict[str, list[Link]] = {}
    for directed in topo.physical_links().values():
        groups.setdefault(directed[0].medium or "-", []).append(directed[0])
    return dict(sorted(groups.items()))


def _medium_figures(links: list[Link]) -> dict[str, Any]:
    delays = [lk.delay_s for lk in links]
    return {
        "links": len(links),
        "capacity_bps": sum(lk.capacity_bps for lk in links),
        "delay_min_s": min(delays),
        "delay_max_s": max(delays),
    }


def _media_table(media: dict[str, list[Link]]) -> Table:
    table = Table(title="Links by medium", title_justify="left")
    for column in ("medium", "links", "capacity (one direction)", "delay"):
        table.add_column(column)
    for medium, links in media.items():
        fig = _medium_figures(links)
        table.add_row(
            escape(medium),
            str(fig["links"]),
            format_bandwidth(fig["capacity_bps"]),
            f"{format_duration(fig['delay_min_s'])} - {format_duration(fig['delay_max_s'])}",
        )
    return table


def _uplinks(topo: Topology) -> list[tuple[str, list[Link]]]:
    branches = [n.name for n in topo.nodes.values() if n.role == "branch"]
    return [(b, sorted(topo.out_links(b), key=lambda lk: lk.igp_metric)) for b in branches]


def _uplink(link: Link) -> dict[str, Any]:
    return {
        "to": link.dst,
        "medium": link.medium,
        "capacity_bps": link.capacity_bps,
        "delay_s": link.delay_s,
        "igp_metric": link.igp_metric,
    }


def _uplinks_table(topo: Topology) -> Table:
    table = Table(title="Branch uplinks (cheapest IGP cost first)", title_justify="left")
    table.add_column("branch")
    for rank in ("first", "second", "third"):
        table.add_column(rank)
    for branch, ups in _uplinks(topo):
        cells = [
            f"{escape(lk.medium)} -> {escape(lk.dst)}\n{format_bandwidth(lk.capacity_bps)}, "
            f"{format_duration(lk.delay_s)}, IGP {lk.igp_metric}"
            for lk in ups
        ]
        table.add_row(escape(branch), *cells)
    return table
