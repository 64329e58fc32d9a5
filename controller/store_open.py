"""Which intent store `controller run` uses: `--store etcd://...` (or NETPILOT_STORE), else the
SQLite file of `--db`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from controller.errors import UsageError
from controller.store import Store
from controller.store_api import IntentStore
from controller.store_etcd import DEFAULT_PREFIX, EtcdStore
from controller.store_etcd_client import EtcdClient, parse_endpoints


def store_prefix(spec: str) -> str:
    """The key prefix of `etcd://HOSTS/PREFIX` (default /netpilot/)."""
    _, sep, path = spec.removeprefix("etcd://").partition("/")
    return f"/{path.strip('/')}/" if sep and path.strip("/") else DEFAULT_PREFIX


def open_etcd(spec: str, clock: Callable[[], float] = time.time) -> EtcdStore:
    """The etcd store of `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`; an unreachable cluster is a
    usage error naming the endpoints (exit 2)."""
    return EtcdStore(EtcdClient(parse_endpoints(spec)), store_prefix(spec), clock=clock)


def open_store(
    store: str | None, db: Path | None, clock: Callable[[], float] = time.time
) -> IntentStore:
    if store:
        if not store.startswith("etcd://"):
            raise UsageError(
                f"--store {store!r}: only etcd://HOST:PORT[,HOST:PORT...] is known; "
                "leave it out to use the SQLite file of --db"
            )
        return open_etcd(store, clock)
    if db is None:
        raise UsageError("--db (or NETPILOT_DB): missing; give a SQLite file, or --store etcd://")
    return Store(db, clock=clock)
