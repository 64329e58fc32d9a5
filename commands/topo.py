"""`netpilot topo`: load, validate, inspect and export topologies."""

from __future__ import annotations

import typer

app = typer.Typer(help="Load, validate, inspect and export topologies.", no_args_is_help=True)
