"""`netpilot controller`: run the controller (REST API, reconcile engine)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from commands.common import err_console
from controller.runtime.settings import ENV

app = typer.Typer(help="Run the controller (REST API, reconcile engine).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Run the controller (REST API, reconcile engine)."""


def _env(field: str) -> str:
    return ENV[field]


@app.command("run")
def run(
    *,
    topology: Annotated[
        str,
        typer.Option(
            "--topology", help="bank-wan, zoo:NAME, ring:6, FILE", envvar=_env("topology")
        ),
    ],
    db: Annotated[
        Path | None,
        typer.Option("--db", help="SQLite database file (created if missing).", envvar=_env("db")),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Keep intents in etcd instead of --db: etcd://HOST:PORT, several members "
            "comma-separated, optionally /PREFIX after them (docs/ha.md).",
            envvar=_env("store"),
        ),
    ] = None,
    lease_ttl: Annotated[
        int,
        typer.Option(
            "--lease-ttl",
            help="With --store: seconds before a dead leader is replaced.",
            envvar=_env("lease_ttl_s"),
        ),
    ] = 3,
    replica_id: Annotated[
        str | None,
        typer.Option(
            "--replica-id",
            help="With --store: this replica's name (default HOSTNAME:PORT).",
            envvar=_env("replica_id"),
        ),
    ] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve on.", envvar=_env("listen"))
    ] = "127.0.0.1:8080",
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Bearer token file (0600), created on first start."),
    ] = None,
    prefixes: Annotated[
        Path | None, typer.Option("--prefixes", help="YAML `NODE: [prefix, ...]` map.")
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            help="NETCONF devices (YAML; `netpilot network run` writes one). Enables telemetry, "
            "verification and drift repair; without it: in-memory devices.",
            envvar=_env("inventory"),
        ),
    ] = None,
    secrets: Annotated[
        Path | None,
        typer.Option("--secrets", help="Credentials file for --inventory.", envvar=_env("secrets")),
    ] = None,
    southbound_shards: Annotated[
        int,
        typer.Option(
            "--southbound-shards",
            help="Hold the NETCONF sessions in N worker processes (all-or-nothing kept across "
            "them; docs/southbound.md). 0: in the controller's process.",
            envvar=_env("southbound_shards"),
        ),
    ] = 0,
    inventory_watch: Annotated[
        float,
        typer.Option(
            "--inventory-watch",
            help="Seconds between looks at --inventory: routers added to it are configured "
            "without a restart; a bad edit is logged and the old inventory kept.",
            envvar=_env("inventory_watch_s"),
        ),
    ] = 5.0,
    models: Annotated[
        Path | None,
        typer.Option(
            "--models",
            help="Trained forecaster and fault model (`netpilot model train loop --out DIR`); "
            "without it the baseline stand-ins (said at start).",
            envvar=_env("models"),
        ),
    ] = None,
    interval: Annotated[
        float,
        typer.Option(
            "--interval", help="Seconds between telemetry rounds.", envvar=_env("interval_s")
        ),
    ] = 10.0,
    stale_after: Annotated[
        float | None,
        typer.Option(
            "--stale-after",
            help="Seconds a device may take to answer a round before "
            "it is marked stale (default: 80% of --interval).",
        ),
    ] = None,
    drift: Annotated[
        str,
        typer.Option(
            "--drift",
            help="repair | report | off: what to do with config drift found at "
            "start and every --drift-interval.",
            envvar=_env("drift"),
        ),
    ] = "repair",
    drift_interval: Annotated[
        float,
        typer.Option(
            "--drift-interval",
            help="Seconds between drift checks.",
            envvar=_env("drift_interval_s"),
        ),
    ] = 300.0,
    hold_time: Annotated[
        float,
        typer.Option(
            "--hold-time",
            help="Seconds a healthy intent keeps its path.",
            envvar=_env("hold_time_s"),
        ),
    ] = 300.0,
    improvement: Annotated[
        float,
        typer.Option(
            "--improvement",
            help="Cost gain (0-1) needed to move an intent.",
            envvar=_env("improvement"),
        ),
    ] = 0.10,
    tick: Annotated[
        float, typer.Option("--tick", help="Seconds between timer rounds (retry, re-optimise).")
    ] = 60.0,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.",
            envvar=_env("tls_cert"),
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key",
            help="The certificate's private key (unencrypted PEM, keep it 0600).",
            envvar=_env("tls_key"),
        ),
    ] = None,
    premove_periods: Annotated[
        bool,
        typer.Option(
            "--premove-periods",
            help="Learn each class's daily traffic profile per link and move bigdata and office"
            " off a link before a predictable busy period (docs/ML.md). Off by default.",
            envvar=_env("premove_periods"),
        ),
    ] = False,
    robust_forecast: Annotated[
        bool,
        typer.Option(
            "--robust-forecast",
            help="Hand the engine, per link, the worst of a set of plausible futures (the"
            " forecaster's p90, the latest round, the same time a day earlier, the peak of the"
            " last 18 rounds) instead of the p90 alone (docs/ML.md). Off by default.",
            envvar=_env("robust_forecast"),
        ),
    ] = False,
) -> None:
    """Run the controller: REST API, reconcile engine and, with --inventory, the closed loop.

    With --inventory the controller reads every router's state and counters over NETCONF every
    --interval, forecasts load and fault risk, moves intents off failing or hot links, pushes
    one network-wide transaction per revision, reads back what it pushed (intents end
    `verified`) and repairs drift. Flags fall back to NETPILOT_* environment variables
    (NETPILOT_TOPOLOGY, NETPILOT_DB, NETPILOT_STORE, NETPILOT_INVENTORY, NETPILOT_MODELS,
    NETPILOT_TELEMETRY_INTERVAL, NETPILOT_DRIFT, NETPILOT_TLS_CERT, ...), then to the defaults
    shown. With --tls-cert and --tls-key the API is served over HTTPS only. With
    --southbound-shards N the NETCONF sessions live in N worker processes (Ctrl-C ends them).
    The inventory file is re-read when it changes (every --inventory-watch seconds): routers
    added to it are configured without a restart.

    Example: netpilot controller run --topology bank-wan --db netpilot.db --inventory inv.yaml

    Example (sessions in 2 worker processes): netpilot controller run --topology bank-wan
    --db netpilot.db --inventory inv.yaml --southbound-shards 2

    Example (robust forecasts in the loop): netpilot controller run --topology bank-wan
    --db netpilot.db --inventory inv.yaml --robust-forecast
    """
    import uvicorn

    from controller.api_tls import check_server_files
    from controller.runtime.assemble import build
    from controller.runtime.settings import make_settings

    settings = make_settings(
        topology=topology, db=db, store=store, lease_ttl_s=lease_ttl, replica_id=replica_id,
        listen=listen, token_file=token_file,
        prefixes=prefixes, inventory=inventory, secrets=secrets, models=models, interval_s=interval,
        southbound_shards=southbound_shards, inventory_watch_s=inventory_watch,
        stale_after_s=stale_after, drift=drift, drift_interval_s=drift_interval,
        hold_time_s=hold_time, improvement=improvement, tick_s=tick,
        tls_cert=tls_cert, tls_key=tls_key, premove_periods=premove_periods,
        robust_forecast=robust_forecast,
    )  # fmt: skip
    cert, key = settings.tls_cert, settings.tls_key
    if cert is not None and key is not None:
        check_server_files(cert, key)
    runtime = build(settings)
    for line in runtime.startup_lines():  # one line each, whole (logs are read by tools)
        err_console.print(line, highlight=False, soft_wrap=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ncclient").setLevel(logging.WARNING)  # one line per SSH session otherwise
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per etcd request otherwise
    host, port = settings.host_port
    uvicorn.run(
        runtime.app(), host=host, port=port, log_level="warning", access_log=False,
        ssl_certfile=None if cert is None else str(cert),
        ssl_keyfile=None if key is None else str(key),
        # open streams (the console's SSE) are closed after 3 s instead of holding up the stop
        timeout_graceful_shutdown=3,
    )  # fmt: skip


@app.command("status")
def status(
    *,
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="The replicas' URLs, comma-separated (env NETPILOT_SERVER).",
            envvar="NETPILOT_SERVER",
        ),
    ] = "http://127.0.0.1:8080",
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Token file (default ~/.config/netpilot/api-token; env NETPILOT_API_TOKEN); "
            "without a token the last committed revision is not shown.",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="For https replicas: the certificate (or CA) to trust.",
            envvar="NETPILOT_CA_FILE",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """Show each replica of a cluster: its role, the leader it sees, its store, the last
    committed revision and whether it is ready (or why not). Exit 0 when every replica answered
    ready, 1 otherwise.

    Example: netpilot controller status --server http://10.0.0.11:8080,http://10.0.0.12:8080
    """
    from rich.markup import escape
    from rich.table import Table

    from commands.common import console, print_json
    from commands.ctlstatus import cluster_status, server_urls
    from controller.auth import client_token

    rows = cluster_status(server_urls(server), client_token(os.environ, token_file), ca_file)
    if json:
        print_json([r.view() for r in rows])
    else:
        table = Table(title="controller replicas")
        for column in ("server", "id", "role", "leader", "store", "revision", "ready"):
            table.add_column(column, no_wrap=column not in ("leader", "store"), overflow="fold")
        for r in rows:
            role = {"leader": "[bold green]leader[/]"}.get(r.role or "", r.role or "-")
            table.add_row(
                r.server, r.id or "-", role, r.leader or "-", r.store or "-",
                "-" if r.revision is None else str(r.revision),
                "[green]yes[/]" if r.ready else "[red]no[/]",
            )  # fmt: skip
        console.print(table)
        for r in rows:  # causes below the table: whole at any terminal width
            if r.cause:
                console.print(f"{r.server}: {escape(r.cause)}", highlight=False, soft_wrap=True)
    if not all(r.ready for r in rows):
        raise typer.Exit(1)
