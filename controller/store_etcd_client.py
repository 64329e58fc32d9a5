"""A small synchronous etcd v3 client over etcd's JSON gateway (`/v3/kv/range`, `/v3/kv/txn`,
`/v3/lease/*`), on one `httpx.Client`.

Why not a gRPC client: the store is synchronous and called from many threads (the API's worker
threads, the engine's `asyncio.to_thread`); `httpx.Client` is thread-safe with a connection pool,
so every call is a plain blocking request with no event loop to bridge to, and no gRPC/protobuf
version coupling (the `etcd3` package breaks on protobuf 7). docs/ha.md has the full reasoning.

Endpoints: the first that answers is used until it fails to connect, then the next ones are
tried in turn. Only a connection failure (nothing was sent) moves to another endpoint; a request
that was sent and got no answer raises `StoreUnavailable` saying the outcome is unknown (the
store's compare-and-set writes make a retry by the caller safe: it re-reads first).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from controller.errors import NetpilotError, UsageError
from controller.store_api import StoreUnavailable

JSON = dict[str, Any]
NO_LEADER = "etcdserver: no leader"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def prefix_end(prefix: str) -> str:
    """The smallest key after every key that starts with `prefix` (etcd's range_end)."""
    raw = prefix.encode()
    return (raw[:-1] + bytes([raw[-1] + 1])).decode()


class WatchLost(NetpilotError):
    """etcd canceled a watch (its start revision was compacted away): list again, then watch."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    create_revision: int
    mod_revision: int
    lease: int


@dataclass(frozen=True)
class RangeResult:
    kvs: list[KeyValue]
    revision: int
    """The store revision the read saw."""


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    responses: list[JSON]


def parse_endpoints(spec: str) -> list[str]:
    """`etcd://HOST:PORT[,HOST:PORT...][/PREFIX]` -> base URLs (the prefix is the caller's)."""
    hosts = spec.removeprefix("etcd://").split("/", 1)[0]
    out = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(
                f"--store {spec!r}: write etcd://HOST:PORT[,HOST:PORT...], "
                "e.g. etcd://127.0.0.1:2379"
            )
        out.append(f"http://{host}:{port}")
    return out


class EtcdClient:
    """Blocking etcd v3 calls; thread-safe."""

    def __init__(self, endpoints: Sequence[str], timeout_s: float = 5.0) -> None:
        if not endpoints:
            raise UsageError("--store: no etcd endpoint given, e.g. etcd://127.0.0.1:2379")
        self.endpoints = list(endpoints)
        self.settle_s = 3.0
        """How long a call keeps trying members while the cluster has no leader."""
        self._current = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)))

    def close(self) -> None:
        self._http.close()

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._current]

    def where(self) -> str:
        return ",".join(e.removeprefix("http://") for e in self.endpoints)

    # -- transport ---------------------------------------------------------------------------
    def call(self, path: str, body: JSON) -> JSON:
        """POST `body` to `path` on the current endpoint, moving on to the next ones when it
        cannot connect or its member has no raft leader (nothing was done in either case; for
        reads and lease refreshes, which can be repeated, also when the raft leader changed
        under the request), for up to `settle_s` while a cluster elects a leader."""
        repeatable = path not in ("/v3/kv/txn", "/v3/kv/put")
        with self._lock:
            index = self._current
        causes: dict[str, str] = {}
        deadline = time.monotonic() + self.settle_s
        tried = 0
        while True:
            url = self.endpoints[index]
            where = url.removeprefix("http://")
            try:
                response = self._http.post(url + path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                causes[where] = _short(error)
            except httpx.HTTPError as error:
                if not repeatable:
                    raise StoreUnavailable(
                        f"etcd at {where}: {_short(error)} (the outcome of this write is "
                        "unknown: re-read before retrying)"
                    ) from None
                causes[where] = _short(error)  # a read or a refresh: ask the next member
            else:
                leaderless = _no_leader(response, repeatable)
                if not leaderless:
                    with self._lock:
                        self._current = index
                    return _answer(url, path, response)
                causes[where] = leaderless
            tried += 1
            index = (index + 1) % len(self.endpoints)
            if tried % len(self.endpoints) == 0:  # a full pass over the members failed
                electing = any(c == NO_LEADER for c in causes.values())
                if not electing or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        listed = "; ".join(f"{w}: {c}" for w, c in causes.items())
        raise StoreUnavailable(f"etcd unreachable: {listed}")

    # -- kv ----------------------------------------------------------------------------------
    def range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        limit: int = 0,
        newest_first: bool = False,
        keys_only: bool = False,
    ) -> RangeResult:
        body: JSON = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if limit:
            body["limit"] = limit
        if newest_first:
            body["sort_target"] = "CREATE"
            body["sort_order"] = "DESCEND"
        if keys_only:
            body["keys_only"] = True
        out = self.call("/v3/kv/range", body)
        return RangeResult([_kv(kv) for kv in out.get("kvs", [])], _revision(out))

    def get(self, key: str) -> KeyValue | None:
        kvs = self.range(key).kvs
        return kvs[0] if kvs else None

    def prefix(self, prefix: str, **options: Any) -> RangeResult:
        return self.range(prefix, prefix_end(prefix), **options)

    def txn(self, compare: Sequence[JSON], success: Sequence[JSON]) -> TxnResult:
        out = self.call("/v3/kv/txn", {"compare": list(compare), "success": list(success)})
        return TxnResult(bool(out.get("succeeded")), _revision(out), out.get("responses", []))

    def put(self, key: str, value: str, lease: int = 0) -> int:
        body: JSON = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = lease
        return _revision(self.call("/v3/kv/put", body))

    # -- leases ------------------------------------------------------------------------------
    def lease_grant(self, ttl_s: int) -> int:
        return int(self.call("/v3/lease/grant", {"TTL": ttl_s})["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """The lease's remaining TTL after the refresh (0: it had expired)."""
        out = self.call("/v3/lease/keepalive", {"ID": lease})
        return int(out.get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        with contextlib.suppress(NetpilotError):  # already gone: expired, or revoked
            self.call("/v3/lease/revoke", {"ID": lease})

    def status(self) -> JSON:
        return self.call("/v3/maintenance/status", {})

    def watch(self, prefix: str, start_revision: int, stop: threading.Event) -> Iterator[KeyValue]:
        """Yield each key put under `prefix` from `start_revision` on (deletes are skipped): a
        streaming request on the current endpoint, ended by the connection or by `stop` (checked
        at each message; etcd sends a progress message at least every few minutes... so the
        caller also closes the client to end it promptly)."""
        body = {
            "create_request": {
                "key": b64(prefix),
                "range_end": b64(prefix_end(prefix)),
                "start_revision": start_revision,
            }
        }
        url = self.endpoint + "/v3/watch"
        timeout = httpx.Timeout(5.0, read=None)
        with self._http.stream("POST", url, json=body, timeout=timeout) as response:
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line.strip():
                    continue
                result = json.loads(line).get("result", {})
                if result.get("canceled") or int(result.get("compact_revision", 0)):
                    raise WatchLost(
                        f"etcd at {url}: watch canceled ({result.get('cancel_reason') or ''}"
                        f"compacted up to {result.get('compact_revision', '?')})"
                    )
                for event in result.get("events", []):
                    if event.get("type", "PUT") == "PUT":
                        yield _kv(event["kv"])


# -- operations and comparisons for `txn` ----------------------------------------------------
def op_put(key: str, value: str, lease: int = 0) -> JSON:
    put: JSON = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = lease
    return {"request_put": put}


def op_delete(key: str) -> JSON:
    return {"request_delete_range": {"key": b64(key)}}


def if_mod(key: str, mod_revision: int) -> JSON:
    """The key was last changed at `mod_revision` (0: the key does not exist)."""
    if mod_revision == 0:
        return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": 0}
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": mod_revision}


def if_prefix_unchanged(prefix: str, revision: int) -> JSON:
    """No key under `prefix` was created or changed after store revision `revision`."""
    return {
        "key": b64(prefix),
        "range_end": b64(prefix_end(prefix)),
        "target": "MOD",
        "result": "LESS",
        "mod_revision": revision + 1,
    }


def if_lease(key: str, lease: int) -> JSON:
    """The key exists and is held by `lease` (a leader's fencing check)."""
    return {"key": b64(key), "target": "LEASE", "result": "EQUAL", "lease": lease}


def _kv(raw: JSON) -> KeyValue:
    return KeyValue(
        key=unb64(raw["key"]),
        value=unb64(raw.get("value", "")),
        create_revision=int(raw.get("create_revision", 0)),
        mod_revision=int(raw.get("mod_revision", 0)),
        lease=int(raw.get("lease", 0)),
    )


def _revision(out: JSON) -> int:
    return int(out.get("header", {}).get("revision", 0))


def _no_leader(response: httpx.Response, repeatable: bool) -> str:
    """The member answered that it has no raft leader (the request was not proposed), or, for
    a request that can be repeated, that the leader changed under it."""
    if response.status_code == 200:
        return ""
    text = response.text[:300]
    if "no leader" in text or (repeatable and "leader changed" in text):
        return NO_LEADER
    return ""


def _answer(url: str, path: str, response: httpx.Response) -> JSON:
    try:
        out: JSON = response.json()
    except ValueError:
        out = {}
    if response.status_code == 200:
        return out
    where = url.removeprefix("http://")
    message = str(out.get("error") or out.get("message") or response.text[:200])
    hint = ""
    if "too many operations" in message or "request is too large" in message:
        hint = "; start etcd with a larger --max-txn-ops / --max-request-bytes (docs/ha.md)"
    if response.status_code == 503 or any(w in message for w in ("leader", "timed out")):
        raise StoreUnavailable(
            f"etcd at {where}: {message} (the outcome of this write is unknown: re-read "
            "before retrying)"
        )
    raise NetpilotError(f"etcd at {where}: {path} failed: {message}{hint}")


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if "Connection refused" in text:
        return "connection refused"
    return text.splitlines()[0][:160]
