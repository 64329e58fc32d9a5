"""`netpilot controller status`: what each replica of a cluster says about itself (issue 16).

Each --server URL is asked for `/readyz` (role, leader, store, readiness and its cause; no token
needed) and, with the API token, `/v1/revisions` (the last committed revision). A replica that
cannot be reached, or answers something else, is a row saying why, never a traceback."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from controller.api_tls import client_context
from controller.errors import UsageError


@dataclass
class ReplicaStatus:
    server: str
    reachable: bool = False
    id: str | None = None
    role: str | None = None
    leader: str | None = None
    store: str | None = None
    revision: int | None = None
    """The last committed revision (None: none yet, or no token to ask with)."""
    ready: bool = False
    cause: str = ""

    def view(self) -> dict[str, Any]:
        return asdict(self)


def server_urls(spec: str) -> list[str]:
    """`URL[,URL...]` -> base URLs (http:// assumed when no scheme is given)."""
    urls = [u.strip().rstrip("/") for u in spec.split(",") if u.strip()]
    if not urls:
        raise UsageError("--server: give URL[,URL...], e.g. http://127.0.0.1:8080")
    return [u if "://" in u else f"http://{u}" for u in urls]


def cluster_status(
    urls: list[str], token: str | None, ca_file: Path | None = None, timeout_s: float = 3.0
) -> list[ReplicaStatus]:
    tls = ca_file is not None or any(u.startswith("https:") for u in urls)
    verify = client_context(ca_file) if tls else True
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(timeout=timeout_s, verify=verify, headers=headers) as http:
        return [_one(http, url, token is not None) for url in urls]


def _one(http: httpx.Client, url: str, with_token: bool) -> ReplicaStatus:
    row = ReplicaStatus(url)
    try:
        answer = http.get(f"{url}/readyz")
    except httpx.HTTPError as error:
        row.cause = f"unreachable: {_short(error)}"
        return row
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "ready" not in body:
        row.cause = f"not a netpilot controller: /readyz answered {answer.status_code}"
        return row
    row.reachable = True
    row.ready = bool(body.get("ready")) and answer.status_code == 200
    row.cause = str(body.get("cause") or "")
    row.id, row.leader = body.get("id"), body.get("leader")
    row.role = body.get("role") or "single"  # a controller on SQLite: no election
    row.store = body.get("store") or ("sqlite" if "role" not in body else None)
    if row.role == "single":
        row.leader = row.id
    if with_token:
        row.revision, problem = _last_committed(http, url)
        if problem and not row.cause:
            row.cause = problem
    return row


def _last_committed(http: httpx.Client, url: str) -> tuple[int | None, str]:
    try:
        answer = http.get(f"{url}/v1/revisions", params={"limit": 50})
    except httpx.HTTPError as error:
        return None, f"revisions: {_short(error)}"
    if answer.status_code == 401:
        return None, "the token was refused (set NETPILOT_API_TOKEN or --token-file)"
    if answer.status_code != 200:
        return None, f"revisions: answered {answer.status_code}"
    committed = [int(r["id"]) for r in answer.json() if r.get("status") == "committed"]
    return (max(committed) if committed else None), ""


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:120]
