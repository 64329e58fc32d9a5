"""`netpilot model`: train, evaluate and inspect forecasting and fault-prediction models."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Train, evaluate and inspect forecasting and fault-prediction models.",
    no_args_is_help=True,
)
