"""`netpilot telemetry`: watch live telemetry."""

from __future__ import annotations

import typer

app = typer.Typer(help="Watch live telemetry.", no_args_is_help=True)
