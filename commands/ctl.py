"""`netpilot controller`: run the controller (REST API, reconcile engine)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the controller (REST API, reconcile engine).", no_args_is_help=True)
