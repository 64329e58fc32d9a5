"""The `netpilot` command line: a thin typer app over the controller.

Each command group lives in `commands/`; this module only composes them and turns
`NetpilotError` into one clear line and an exit code (tracebacks are for bugs only).
"""

from __future__ import annotations

import sys

import typer

from commands import (
    ctl,
    demo,
    devices,
    intent,
    model,
    network,
    path,
    report,
    sim,
    telemetry,
    topo,
    verify,
)
from commands.common import fail
from controller.errors import NetpilotError

app = typer.Typer(
    name="netpilot",
    help="Intent-driven SDN controller for bank-grade WAN and data-center networks.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.add_typer(topo.app, name="topo")
app.add_typer(path.app, name="path")
app.add_typer(intent.app, name="intent")
app.add_typer(ctl.app, name="controller")
app.add_typer(devices.app, name="devices")
app.add_typer(network.app, name="network")
app.add_typer(sim.app, name="sim")
app.add_typer(telemetry.app, name="telemetry")
app.add_typer(model.app, name="model")
app.command("demo")(demo.demo)
app.command("verify")(verify.verify)
app.command("report")(report.report)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv if argv is not None else sys.argv[1:], prog_name="netpilot")
    except NetpilotError as error:
        raise SystemExit(fail(error)) from None


if __name__ == "__main__":
    main()
