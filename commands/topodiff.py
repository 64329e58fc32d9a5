"""`netpilot topo diff --server URL`: where the routers and the topology file disagree.

The running controller compares the routers' LLDP neighbour tables (gNMI; interfaces only for
NETCONF-polled devices) with its topology file on every LLDP change (controller/discovery.py);
this asks it (`GET /v1/topology/diff`, token required) and shows one line per mismatch:
`routers-only` (a link the routers have, the file not: learned and routed over),
`file-only` (a file link no router reports: taken down when no router even has the interface),
`router-only` (a router the file does not have). Exit 1 when there is any, like `diff`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from commands.common import console, print_json
from commands.intentclient import DEFAULT_SERVER, HttpClient
from controller.api_tls import CA_ENV
from controller.auth import client_token


class DiffClient(HttpClient):
    def diff(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/v1/topology/diff")
        return result


def diff(
    server: Annotated[
        str | None,
        typer.Option("--server", help="The controller's URL (env NETPILOT_SERVER)."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Token file (default ~/.config/netpilot/api-token)."),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="For an https --server: the CA to trust.", envvar=CA_ENV),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Links and routers the routers' neighbour tables and the topology file disagree on.

    Example: netpilot topo diff --server http://127.0.0.1:8080
    """
    url = server or os.environ.get("NETPILOT_SERVER") or DEFAULT_SERVER
    client = DiffClient(url, client_token(os.environ, token_file), ca_file=ca_file)
    try:
        view = client.diff()
    finally:
        client.close()
    if json_output:
        print_json(view)
    else:
        show(view)
    if view.get("enabled", True) is False or view.get("mismatches"):
        raise typer.Exit(1)


def show(view: dict[str, Any]) -> None:
    if view.get("enabled") is False:
        console.print(escape(str(view.get("reason", "discovery is off"))))
        return
    table = Table(title=f"topology {escape(str(view['topology']))}: routers against the file")
    for col in ("kind", "link", "ends", "what"):
        table.add_column(col)
    for m in view["mismatches"]:
        ends = f"{m['a']}-{m['b']}" if m["b"] else m["a"]
        table.add_row(m["kind"], m["link"] or "-", escape(ends), escape(m["detail"]))
    console.print(table)
    console.print(
        f"{len(view['mismatches'])} mismatches; file links confirmed by LLDP "
        f"{view['confirmed']}, up on NETCONF-only ends {view['seen']}, down {view['down']}, "
        f"not reported yet {len(view['unverified'])}; "
        f"{view['reporting']} routers reporting",
        highlight=False,
    )
