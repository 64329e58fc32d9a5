"""`netpilot sim`: run the flow-level network simulator."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the flow-level network simulator.", no_args_is_help=True)
