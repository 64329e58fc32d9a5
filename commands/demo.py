"""`netpilot demo`: the main job. Grows into the full closed loop (issue 8).

For now it loads the bundled bank WAN and shows it: the summary figures, its links by medium, and
the three uplinks of every branch.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from commands.common import console, print_json
from commands.topo import load_with_status, print_warnings, stats_json, summary_table
from controller.topology import Link, Topology
from controller.units import format_bandwidth, format_duration

DEMO_TOPOLOGY = "bank-wan"


def demo(
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Show netpilot at work on the bundled bank WAN.

    Example: netpilot demo
    """
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
