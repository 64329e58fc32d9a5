"""`netpilot topo`: load, validate, inspect and export topologies."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from commands import topodiff
from commands.common import console, err_console, print_json
from controller.errors import ValidationError
from controller.topology import Link, Topology, TopologyStats
from controller.units import format_bandwidth, format_duration
from topologies.export import FORMATS, export
from topologies.loader import SPEC_HELP, catalogue, load
from topologies.native import json_schema

app = typer.Typer(
    help=f"Load, validate, inspect and export topologies.\n\nTOPO is {SPEC_HELP}.",
    no_args_is_help=True,
)

app.command("diff")(topodiff.diff)  # routers' LLDP against the file (commands/topodiff.py)

TOPO_ARG = typer.Argument(
    ..., metavar="TOPO", help=f"The topology: {SPEC_HELP}.", show_default=False
)


def load_with_status(spec: str, quiet: bool = False) -> Topology:
    """Load `spec`, with a spinner on stderr for people (big topologies take seconds)."""
    if quiet:
        return load(spec)
    with err_console.status(f"loading {escape(spec)} ..."):
        return load(spec)


def stats_with_status(topo: Topology, quiet: bool = False) -> TopologyStats:
    if quiet:
        return topo.stats()
    with err_console.status(f"computing figures for {len(topo.nodes)} routers ..."):
        return topo.stats()


def stats_json(stats: TopologyStats) -> dict[str, Any]:
    """`nodes` and `links` are counts (routers, physical links); then the other figures."""
    data = asdict(stats)
    data["warnings"] = list(stats.warnings)
    return data


@app.command()
def show(
    topo_spec: str = TOPO_ARG,
    json_output: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    limit: int = typer.Option(40, "--limit", help="Rows per table (0 = all)."),
) -> None:
    """Show a topology: summary figures, then its routers and links.

    Examples:
      netpilot topo show bank-wan
      netpilot topo show zoo:Cogentco --json
      netpilot topo show leaf-spine:2,4 --limit 0
    """
    topo = load_with_status(topo_spec, quiet=json_output)
    stats = stats_with_status(topo, quiet=json_output)
    if json_output:
        print_json(stats_json(stats))
        return
    console.print(summary_table(stats))
    print_warnings(stats.warnings)
    console.print(nodes_table(topo, limit))
    console.print(links_table(topo, list(topo.physical_links().values()), "Links", limit))


@app.command("list")
def list_cmd(
    json_output: bool = typer.Option(False, "--json", help="Print the names as JSON."),
) -> None:
    """List the topologies TOPO can name: bundled, generators and the shared datasets.

    Examples:
      netpilot topo list
      netpilot topo list --json | jq '.zoo | length'
    """
    names = catalogue()
    if json_output:
        print_json(names)
        return
    table = Table(title="Topologies", title_justify="left")
    table.add_column("kind")
    table.add_column("count")
    table.add_column("names")
    for kind, entries in names.items():
        shown = ", ".join(entries[:8]) + (", ..." if len(entries) > 8 else "")
        table.add_row(kind, str(len(entries)), escape(shown))
    console.print(table)


@app.command()
def validate(
    file: str = typer.Argument(
        ..., metavar="FILE", help="A topology file (.yaml, .gml, .json) or any TOPO."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Check a topology file; exit 0 if valid, 1 if not (every problem listed), 2 if missing.

    Examples:
      netpilot topo validate topologies/bank-wan.yaml
      netpilot topo validate my-network.gml --json
    """
    try:
        topo = load(file)
    except ValidationError as error:
        _report_invalid(file, error, json_output)
        raise typer.Exit(1) from None
    if json_output:
        print_json(
            {
                "valid": True,
                "name": topo.name,
                "nodes": len(topo.nodes),
                "links": len(topo.physical_links()),
                "problems": [],
                "warnings": list(topo.warnings),
            }
        )
        return
    console.print(
        f"[green]valid[/]: {escape(file)}: {escape(repr(topo.name))}, {len(topo.nodes)} routers, "
        f"{len(topo.physical_links())} links",
        highlight=False,
    )
    print_warnings(topo.warnings)


def _report_invalid(file: str, error: ValidationError, json_output: bool) -> None:
    if json_output:
        print_json({"valid": False, "where": error.what, "problems": error.problems})
        return
    count = len(error.problems)
    err_console.print(
        f"[bold red]invalid[/]: {escape(error.what)}: {count} problem{'s' * (count != 1)}",
        highlight=False,
        soft_wrap=True,
    )
    for problem in error.problems:
        err_console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)


@app.command("export")
def export_cmd(
    topo_spec: str = TOPO_ARG,
    fmt: str = typer.Option("yaml", "--format", "-f", help=f"One of {', '.join(FORMATS)}."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file, not stdout."),
) -> None:
    """Export a topology as native YAML, node-link JSON, Graphviz DOT or GML.

    Examples:
      netpilot topo export zoo:Abilene --format yaml --out abilene.yaml
      netpilot topo export bank-wan --format dot | dot -Tsvg > bank-wan.svg
    """
    text = export(load_with_status(topo_spec, quiet=out is None), fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    err_console.print(f"wrote {escape(str(out))} ({fmt})", highlight=False, soft_wrap=True)


@app.command()
def schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file, not stdout."),
) -> None:
    """Print the JSON Schema of the native YAML topology format (generated from the model).

    Example: netpilot topo schema --out docs/topology.schema.json
    """
    text = schema_text()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


# -- rendering (shared with `netpilot demo`) ----------------------------------------------------
def summary_table(stats: TopologyStats) -> Table:
    title = f"Topology {escape(stats.name)}"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value")
    diameter_s = format_duration(stats.diameter_s) if stats.diameter_s is not None else "-"
    rows = [
        ("routers", str(stats.nodes)),
        ("links (physical / directed)", f"{stats.links} / {stats.directed_links}"),
        ("total capacity (all directions)", format_bandwidth(stats.total_capacity_bps)),
        ("connected", "yes" if stats.connected else "[red]no[/]"),
        (
            "diameter",
            f"{_hops(stats.diameter_hops)}, {diameter_s}",
        ),
        ("edge connectivity", str(stats.edge_connectivity)),
        (
            "degree min / mean / max",
            f"{stats.degree_min} / {stats.degree_mean:.2f} / {stats.degree_max}",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _hops(hops: int | None) -> str:
    return "-" if hops is None else f"{hops} hop{'s' * (hops != 1)}"


def print_warnings(warnings: tuple[str, ...] | list[str]) -> None:
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


def nodes_table(topo: Topology, limit: int) -> Table:
    table = Table(title="Routers", title_justify="left")
    for column in ("name", "index", "role", "transit", "site", "lat, lon", "degree", "node SID"):
        table.add_column(column)
    nodes = list(topo.nodes.values())
    for node in nodes[: limit or None]:
        where = (
            f"{node.lat:.2f}, {node.lon:.2f}"
            if node.lat is not None and node.lon is not None
            else "-"
        )
        transit = "yes" if node.transit else "no"
        cells = (node.name, str(node.index), node.role, transit, node.site, where)
        table.add_row(*map(escape, cells), str(len(topo.out_links(node.name))), node.node_sid)
    _more(table, len(nodes), limit)
    return table


def links_table(topo: Topology, groups: list[list[Link]], title: str, limit: int) -> Table:
    table = Table(title=title, title_justify="left")
    columns = ("id", "a", "b", "capacity", "delay", "igp", "te", "medium", "transport", "srlgs")
    for column in (*columns, "state"):
        table.add_column(column)
    for group in groups[: limit or None]:
        link = group[0]
        arrow = "" if len(group) == 2 else " (one-way)"
        cells = (
            link.id,
            link.src,
            link.dst + arrow,
            format_bandwidth(link.capacity_bps),
            format_duration(link.delay_s),
            str(link.igp_metric),
            str(link.te_metric),
            link.medium,
            link.transport + (" (metered)" if link.metered else ""),
            ", ".join(sorted(link.srlgs)),
            link.state.value,
        )
        table.add_row(*map(escape, cells))
    _more(table, len(groups), limit)
    return table


def _more(table: Table, total: int, limit: int) -> None:
    if limit and total > limit:
        table.caption = f"{total - limit} more; use --limit 0 to show all"
