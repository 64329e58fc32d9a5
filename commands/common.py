"""Helpers every command group shares: consoles, JSON output, error reporting."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from controller.errors import NetpilotError

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Machine output on stdout: plain JSON, no colour, one document."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def fail(error: NetpilotError) -> int:
    """Print one clear line for a user error and return its exit code."""
    err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    problems = getattr(error, "problems", [])
    for problem in problems[1:]:
        err_console.print(f"  - {escape(problem)}", highlight=False, soft_wrap=True)
    return error.exit_code
