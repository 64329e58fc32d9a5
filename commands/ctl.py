"""`netpilot controller`: run the controller (REST API, reconcile engine)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from commands.common import err_console
from controller.errors import UsageError
from controller.southbound.base import Southbound
from controller.topology import Topology

app = typer.Typer(help="Run the controller (REST API, reconcile engine).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Run the controller (REST API, reconcile engine)."""


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"--listen {listen!r}: write HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


@app.command("run")
def run(
    *,
    topology: Annotated[str, typer.Option("--topology", help="bank-wan, zoo:NAME, ring:6, FILE")],
    db: Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).")],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on.")] = (
        "127.0.0.1:8080"
    ),
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Bearer token file (0600), created on first start."),
    ] = None,
    prefixes: Annotated[
        Path | None, typer.Option("--prefixes", help="YAML `NODE: [prefix, ...]` map.")
    ] = None,
    hold_time: Annotated[
        float, typer.Option("--hold-time", help="Seconds a healthy intent keeps its path.")
    ] = 300.0,
    improvement: Annotated[
        float, typer.Option("--improvement", help="Cost gain (0-1) needed to move an intent.")
    ] = 0.10,
    inventory: Annotated[
        Path | None,
        typer.Option("--inventory", help="NETCONF devices (YAML); without it: in-memory devices."),
    ] = None,
    secrets: Annotated[
        Path | None, typer.Option("--secrets", help="Credentials file for --inventory.")
    ] = None,
) -> None:
    """Serve the REST API and run the reconcile engine.

    With --inventory the engine installs over NETCONF (one network-wide transaction per
    revision); without it, into in-memory devices.

    Example: netpilot controller run --topology bank-wan --db netpilot.db --listen 127.0.0.1:8080
    """
    import uvicorn

    from controller.api import create_app
    from controller.auth import TOKEN_ENV, default_token_file, load_or_create_token
    from controller.engine import Engine, EngineConfig
    from controller.intentfile import load_prefixes
    from controller.southbound.memory import MemorySouthbound
    from controller.store import Store
    from topologies.loader import load

    host, port = parse_listen(listen)
    if not 0 <= improvement < 1:
        raise UsageError(f"--improvement {improvement}: give a fraction between 0 and 1, e.g. 0.1")
    topo = load(topology)
    store = Store(db)
    store.set_meta("topology", topology)
    engine = Engine(
        topo,
        store,
        _southbound(topo, inventory, secrets) if inventory else MemorySouthbound(),
        time.time,
        config=EngineConfig(hold_time_s=hold_time, improvement=improvement),
        prefixes=load_prefixes(prefixes) if prefixes else None,
    )
    path = token_file or default_token_file()
    token = load_or_create_token(os.environ, path)
    source = TOKEN_ENV if os.environ.get(TOKEN_ENV) else str(path)
    err_console.print(f"netpilot controller on http://{host}:{port} (token from {source})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ncclient").setLevel(logging.WARNING)  # one line per SSH session otherwise
    app_ = create_app(engine, token, run_engine=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


def _southbound(topo: Topology, inventory: Path, secrets: Path | None) -> Southbound:
    """The NETCONF southbound for `inventory`; every router of the topology must be in it."""
    from controller.southbound.netconf import NetconfSouthbound

    south = NetconfSouthbound.from_inventory(inventory, secrets=secrets)
    missing = sorted(set(topo.nodes) - set(south.inventory.names))
    if missing:
        raise UsageError(
            f"--inventory {inventory}: no entry for {len(missing)} router(s) of the topology, "
            f"e.g. {', '.join(missing[:5])}; add them (netpilot devices start writes one)"
        )
    return south
