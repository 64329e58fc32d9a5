"""`netpilot demo`: the main job. Grows into the full closed loop (issue 8)."""

from __future__ import annotations

import typer

from commands.common import console


def demo(
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Show netpilot at work.

    Example: netpilot demo
    """
    console.print("netpilot demo: the bundled bank WAN is loaded here once the loaders land.")
