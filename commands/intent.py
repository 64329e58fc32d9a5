"""`netpilot intent`: declare, plan, apply and inspect intents."""

from __future__ import annotations

import typer

app = typer.Typer(help="Declare, plan, apply and inspect intents.", no_args_is_help=True)
