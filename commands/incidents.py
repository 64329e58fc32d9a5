"""`netpilot incidents`: a running controller's incidents (GET /v1/incidents), one row each with
its probable root cause, confidence, links, the intents with a measured SLA miss, and when it was
first seen, identified and located (docs/incidents.md)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from controller.errors import NetpilotError, UsageError

STATES = ("open", "resolved", "all")


def incidents(
    *,
    server: Annotated[
        str,
        typer.Option(
            "--server", help="The controller's URL (env NETPILOT_SERVER).", envvar="NETPILOT_SERVER"
        ),
    ] = "http://127.0.0.1:8080",
    state: Annotated[str, typer.Option(help="open, resolved or all.")] = "all",
    limit: Annotated[int, typer.Option(help="At most this many incidents (1-1000).")] = 100,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Token file (default ~/.config/netpilot/api-token; env NETPILOT_API_TOKEN).",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="For an https controller: the certificate (or CA) to trust.",
            envvar="NETPILOT_CA_FILE",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """List the controller's incidents: many symptoms of one cause (link downs, loss alarms,
    SLA misses, unreachable routers) grouped, with the probable root cause (an SRLG, a line
    card, a router or a link), the evidence and the times it was identified and located.

    Example: netpilot incidents --server http://127.0.0.1:8080 --state open
    """
    from commands.common import print_json
    from controller.auth import client_token

    if state not in STATES:
        raise UsageError(f"--state: {state!r} is not one of {', '.join(STATES)}")
    if not 1 <= limit <= 1000:
        raise UsageError(f"--limit: {limit} is out of range; give 1 to 1000")
    token = client_token(os.environ, token_file)
    rows = fetch(server, token, ca_file, {"state": state, "limit": limit})
    if json:
        print_json(rows)
        return
    render(rows)


def fetch(
    server: str, token: str | None, ca_file: Path | None, params: dict[str, Any]
) -> list[dict[str, Any]]:
    from controller.api_tls import client_context

    base = server.rstrip("/")
    base = base if "://" in base else f"http://{base}"
    tls = base.startswith("https:") or ca_file is not None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(
            timeout=10, headers=headers, verify=client_context(ca_file) if tls else True
        ) as http:
            answer = http.get(f"{base}/v1/incidents", params=params)
    except httpx.HTTPError as error:
        raise NetpilotError(
            f"--server {base}: cannot reach the controller ({error}); is `netpilot controller "
            "run` listening there?"
        ) from None
    if answer.status_code == 401:
        raise UsageError(
            f"--server {base}: the controller refused the token; set NETPILOT_API_TOKEN or "
            "--token-file to the controller's token file"
        )
    if answer.status_code != 200:
        raise NetpilotError(f"--server {base}: GET /v1/incidents answered {answer.status_code}")
    rows: list[dict[str, Any]] = answer.json()
    return rows


def render(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from commands.common import console

    if not rows:
        console.print("no incidents")
        return
    table = Table(title="incidents")
    for column in ("id", "state", "root cause", "conf.", "links", "evidence", "SLA misses",
                   "first seen", "identified", "located", "resolved"):  # fmt: skip
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "state", "conf."))
    for inc in rows:
        root = inc["root_cause"]
        cause = f"{root['kind']} {root['name']}" if root else "-"
        first = inc["first_seen"]
        state = "[red]open[/]" if inc["state"] == "open" else "[green]resolved[/]"
        table.add_row(
            inc["id"], state, cause, f"{root['confidence']:.2f}" if root else "-",
            ", ".join(inc["links"]) or "-", str(len(inc["evidence"])), _misses(inc), _clock(first),
            _after(inc["identified_at"], first), _after(inc["located_at"], first),
            _after(inc["resolved_at"], first),
        )  # fmt: skip
    console.print(table)


def _misses(inc: dict[str, Any]) -> str:
    """The intents with a measured SLA miss in the evidence, e.g. `2 (1 unreachable)`."""
    misses = {e["subject"]: e.get("reason") for e in inc["evidence"] if e["kind"] == "sla_miss"}
    cut = sum(1 for reason in misses.values() if reason == "unreachable")
    return f"{len(misses)} ({cut} unreachable)" if cut else str(len(misses))


def _clock(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%H:%M:%S.%f")[:-3]


def _after(at: float | None, first: float) -> str:
    return "-" if at is None else f"+{at - first:.2f}s"
