"""The `netpilot` command line: a thin typer app over the controller.

Each command group lives in `commands/`; this module only composes them and turns
`NetpilotError` into one clear line and an exit code (tracebacks are for bugs only).

Groups are imported only when used: `netpilot controller run` loads `commands.ctl` and what it
needs, not the simulator, the data plane or the models (each process saves seconds of CPU).
`netpilot --help`, or a name that is not a command, loads them all so the answer lists them all.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from commands.common import fail
from controller.errors import NetpilotError

GROUPS: dict[str, str] = {
    "topo": "commands.topo",
    "path": "commands.path",
    "intent": "commands.intent",
    "controller": "commands.ctl",
    "devices": "commands.devices",
    "network": "commands.network",
    "sim": "commands.sim",
    "telemetry": "commands.telemetry",
    "model": "commands.model",
}
"""Command groups: name -> module whose `app` is the group's typer app."""

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("commands.demo", "demo"),
    "verify": ("commands.verify", "verify"),
    "report": ("commands.report", "report"),
    "incidents": ("commands.incidents", "incidents"),
}
"""Single commands: name -> (module, function)."""


def build_app(only: str | None = None) -> typer.Typer:
    """The typer app with every group and command, or only the one named `only`."""
    app = typer.Typer(
        name="netpilot",
        help="Intent-driven SDN controller for bank-grade WAN and data-center networks.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )
    app.callback()(_root)
    for name, module in GROUPS.items():
        if only in (None, name):
            app.add_typer(importlib.import_module(module).app, name=name)
    for name, (module, function) in COMMANDS.items():
        if only in (None, name):
            app.command(name)(getattr(importlib.import_module(module), function))
    return app


def _root() -> None:
    """Intent-driven SDN controller for bank-grade WAN and data-center networks."""


def _command_named(argv: list[str]) -> str | None:
    """The command the arguments name, when it is a known one (else None: load everything)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    if first is None or argv[0] != first:
        return None
    return first if first in GROUPS or first in COMMANDS else None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = argv if argv is not None else sys.argv[1:]
    try:
        build_app(_command_named(args))(args=args, prog_name="netpilot")
    except NetpilotError as error:
        raise SystemExit(fail(error)) from None


def __getattr__(name: str) -> Any:
    """`cli.app`: the whole app, built on first use (tests drive it with typer's CliRunner)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
