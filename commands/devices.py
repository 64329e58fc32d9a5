"""`netpilot devices`: start simulated routers and inspect devices over NETCONF."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Start simulated routers and inspect devices over NETCONF.", no_args_is_help=True
)
