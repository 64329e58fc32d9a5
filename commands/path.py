"""`netpilot path`: compute constrained SR-TE paths and optimise traffic placement."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Compute constrained SR-TE paths and optimise traffic placement.", no_args_is_help=True
)
