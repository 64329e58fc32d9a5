"""How the intent CLI reaches the intents: a controller over HTTP (`--server`), an embedded one
(`--db FILE`), or an etcd store directly (`--store etcd://...`, where a cluster's leader
installs what is written)."""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from controller.api_tls import CA_ENV, client_context
from controller.auth import TOKEN_ENV, client_token
from controller.engine import WAITING, Engine
from controller.errors import ConflictError, NetpilotError, NotFoundError, UsageError
from controller.intents import Intent
from controller.service import intent_status
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from controller.store_api import IntentStore

DEFAULT_SERVER = "http://127.0.0.1:8080"
STORE_ENV = "NETPILOT_STORE"
SETTLING = {"accepted", "compiled", "installing", "withdrawing"}


class IntentClient(Protocol):
    def list(self) -> list[dict[str, Any]]: ...
    def get(self, name: str) -> dict[str, Any]: ...
    def status(self, name: str) -> dict[str, Any]: ...
    def apply(self, intents: Sequence[Intent], prune: bool) -> builtins.list[dict[str, str]]: ...
    def plan(self, intents: Sequence[Intent], prune: bool) -> dict[str, Any]: ...
    def delete(self, name: str) -> dict[str, Any]: ...
    def close(self) -> None: ...


class HttpClient:
    def __init__(
        self, server: str, token: str | None, timeout: float = 30.0, ca_file: Path | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server = server.rstrip("/")
        tls = server.startswith("https:") or ca_file is not None  # verification always on
        verify = client_context(ca_file) if tls else True
        self._http = httpx.Client(
            base_url=self.server, headers=headers, timeout=timeout, verify=verify
        )

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                raise UsageError(
                    f"--server {self.server}: the controller's certificate is not trusted "
                    f"({error}); pass --ca-file with its certificate or CA (or set {CA_ENV})"
                ) from None
            raise NetpilotError(
                f"--server {self.server}: cannot reach the controller ({error}); start it with "
                "`netpilot controller run` or use --db FILE"
            ) from None
        if response.status_code < 300:
            return response.json()
        detail = _detail(response)
        if response.status_code == 401:
            raise UsageError(
                f"--server {self.server}: the controller refused the token; set {TOKEN_ENV} "
                "or --token-file to the controller's token file"
            )
        if response.status_code == 404:
            raise NotFoundError(detail)
        if response.status_code == 409:
            raise ConflictError(detail)
        if response.status_code in (413, 422):
            raise UsageError(detail)
        raise NetpilotError(f"controller answered {response.status_code}: {detail}")

    def list(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/v1/intents")
        return result

    def get(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v1/intents/{name}")
        return result

    def status(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v1/intents/{name}/status")
        return result

    def apply(self, intents: Sequence[Intent], prune: bool) -> builtins.list[dict[str, str]]:
        body = {"intents": [i.spec() for i in intents], "prune": prune}
        changes: list[dict[str, str]] = self._call("POST", "/v1/apply", body)["changes"]
        return changes

    def plan(self, intents: Sequence[Intent], prune: bool) -> dict[str, Any]:
        body = {"intents": [i.spec() for i in intents], "prune": prune}
        result: dict[str, Any] = self._call("POST", "/v1/plan", body)
        return result

    def delete(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", f"/v1/intents/{name}")
        return result

    def close(self) -> None:
        self._http.close()


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


class _LocalClient:
    """What both local clients share: an engine on a store opened in this process."""

    store: IntentStore
    engine: Engine

    def list(self) -> list[dict[str, Any]]:
        return [r.summary() for r in self.store.list_intents()]

    def get(self, name: str) -> dict[str, Any]:
        return self.store.get_intent(name).summary()

    def status(self, name: str) -> dict[str, Any]:
        return intent_status(self.engine, name)

    def _write(self, intents: Sequence[Intent], prune: bool) -> builtins.list[dict[str, str]]:
        # every problem of every intent at once; disjoint_from may name one of the same file
        self.engine.check_set(intents, self.engine.live_intent)
        changes = self.store.apply_intents(intents, prune=prune, actor=_actor())
        return [{"name": c.name, "action": c.action} for c in changes]

    def plan(self, intents: Sequence[Intent], prune: bool) -> dict[str, Any]:
        return self.engine.plan(intents, prune)

    def close(self) -> None:
        self.store.close()


class EmbeddedClient(_LocalClient):
    """An engine in this process on the database file, with the in-memory southbound."""

    def __init__(self, db: Path, topology_spec: str | None) -> None:
        from topologies.loader import load

        self.store = Store(db)
        spec = topology_spec or self.store.meta("topology")
        if spec is None:
            self.store.close()
            raise UsageError(f"--db {db}: the database names no topology; pass --topology TOPO")
        try:
            topology = load(spec)
        except BaseException:
            self.store.close()
            raise
        self.store.set_meta("topology", spec)  # only once it loads: a typo is not remembered
        self.engine = Engine(topology, self.store, MemorySouthbound(), time.time)
        asyncio.run(self.engine.start())

    def apply(self, intents: Sequence[Intent], prune: bool) -> builtins.list[dict[str, str]]:
        changes = self._write(intents, prune)
        asyncio.run(self.engine.reconcile("cli: apply"))
        return changes

    def delete(self, name: str) -> dict[str, Any]:
        self.store.delete_intent(name, actor=_actor())
        asyncio.run(self.engine.reconcile(f"cli: delete {name}"))
        return self.store.find_intent(name).summary()  # type: ignore[union-attr]


class StoreClient(_LocalClient):
    """The intents of an etcd store (`--store etcd://...`), read and written directly as a
    follower replica does: writes go into etcd and the cluster's leader installs them (its
    watch hears of them); `status` and `plan` use an engine loaded from the store that never
    pushes and never aborts the leader's revisions in flight."""

    def __init__(self, store: str, topology_spec: str | None) -> None:
        from controller.store_open import open_store
        from topologies.loader import load

        self.store = open_store(store, None)
        try:
            spec = topology_spec or self.store.meta("topology")
            if spec is None:
                raise UsageError(
                    f"--store {store}: the store names no topology (no controller ran on it "
                    "yet); pass --topology TOPO"
                )
            self.engine = Engine(load(spec), self.store, MemorySouthbound(), time.time)
            self.engine.load(recover=False)
        except BaseException:
            self.store.close()
            raise

    def apply(self, intents: Sequence[Intent], prune: bool) -> builtins.list[dict[str, str]]:
        return self._write(intents, prune)  # the leader installs them

    def delete(self, name: str) -> dict[str, Any]:
        return self.store.delete_intent(name, actor=_actor()).summary()


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"


def connect(
    server: str | None,
    db: Path | None,
    topology: str | None,
    token_file: Path | None,
    ca_file: Path | None = None,
    *,
    store: str | None = None,
) -> IntentClient:
    """`ca_file` (else NETPILOT_CA_FILE): what an https server's certificate must chain to.
    `store` (else NETPILOT_STORE, unless --server or --db is given): an etcd store, directly."""
    if sum(x is not None for x in (server, db, store)) > 1:
        raise UsageError("give one of --server URL, --db FILE or --store etcd://..., not several")
    if db is not None:
        return EmbeddedClient(db, topology)
    store = store or (None if server else os.environ.get(STORE_ENV) or None)
    if store is not None:
        return StoreClient(store, topology)
    url = server or os.environ.get("NETPILOT_SERVER") or DEFAULT_SERVER
    ca = ca_file or (Path(os.environ[CA_ENV]) if os.environ.get(CA_ENV) else None)
    return HttpClient(url, client_token(os.environ, token_file), ca_file=ca)


def _settled(row: dict[str, Any]) -> bool:
    return row["state"] not in SETTLING or row.get("reason") == WAITING


def wait_settled(client: IntentClient, names: set[str], timeout_s: float) -> list[dict[str, Any]]:
    """Poll until the named intents leave the transient states (or the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = [r for r in client.list() if r["name"] in names]
        if all(_settled(r) for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)
