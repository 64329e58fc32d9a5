"""Optimistic transactions over etcd: read what you need, decide, commit all writes at once only
if nothing you are about to overwrite changed since you read it.

`EtcdTx` records the `mod_revision` of every key it reads; on `commit()` each key it writes is
guarded by "still at the mod_revision I read" (or "still absent"), blind writes (append-only
history, installed configs) and extra guards (a whole prefix unchanged, a leader's lease) are
added, and everything goes to etcd as ONE transaction. If a guard fails nothing is written and
`run_tx` runs the whole function again on fresh reads, so a store method behaves as if it ran
alone, like a SQLite `BEGIN IMMEDIATE` transaction, without holding any lock in etcd.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from controller.store_api import StoreUnavailable
from controller.store_etcd_client import (
    JSON,
    EtcdClient,
    if_mod,
    op_delete,
    op_put,
)

T = TypeVar("T")


class Fenced(StoreUnavailable):
    """A guarded write refused because this replica lost its leadership (HTTP 503)."""


ATTEMPTS = 200


@dataclass(frozen=True)
class Keys:
    """Where each kind of record lives under the store's prefix."""

    root: str

    def intent(self, name: str) -> str:
        return f"{self.root}intents/{name}"

    @property
    def intents(self) -> str:
        return f"{self.root}intents/"

    def transitions(self, name: str) -> str:
        return f"{self.root}transitions/{name}/"

    @property
    def all_transitions(self) -> str:
        return f"{self.root}transitions/"

    @property
    def audit(self) -> str:
        return f"{self.root}audit/"

    def placement(self, name: str) -> str:
        return f"{self.root}placements/{name}"

    @property
    def placements(self) -> str:
        return f"{self.root}placements/"

    def revision(self, revision: int) -> str:
        return f"{self.root}revisions/{revision:012d}"

    @property
    def revisions(self) -> str:
        return f"{self.root}revisions/"

    def configs(self, revision: int) -> str:
        return f"{self.root}configs/{revision:012d}/"

    @property
    def all_configs(self) -> str:
        return f"{self.root}configs/"

    def installed(self, device: str) -> str:
        return f"{self.root}installed/{device}"

    @property
    def all_installed(self) -> str:
        return f"{self.root}installed/"

    def pending(self, revision: int) -> str:
        return f"{self.root}pending/{revision:012d}"

    @property
    def all_pending(self) -> str:
        return f"{self.root}pending/"

    def incident(self, state: str, number: int) -> str:
        return f"{self.root}incidents/{state}/{number:012d}"

    def incidents(self, state: str) -> str:
        return f"{self.root}incidents/{state}/"

    def seq(self, what: str) -> str:
        return f"{self.root}seq/{what}"

    def meta(self, key: str) -> str:
        return f"{self.root}meta/{key}"

    @property
    def leader(self) -> str:
        return f"{self.root}leader"


class EtcdTx:
    """One attempt: cached reads with their mod_revisions, pending writes, extra guards."""

    def __init__(self, client: EtcdClient, guards: list[JSON]) -> None:
        self.client = client
        self._mods: dict[str, int] = {}
        self._values: dict[str, str | None] = {}
        self._loaded: list[str] = []
        self._writes: dict[str, str | None] = {}  # None: delete
        self._guards = list(guards)
        self._txid = uuid.uuid4().hex[:12]
        self._appended = 0

    # -- reads -------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        if key in self._writes:
            return self._writes[key]
        if key not in self._values:
            if any(key.startswith(p) for p in self._loaded):
                self._values[key], self._mods[key] = None, 0  # read whole: the key is absent
                return None
            kv = self.client.get(key)
            self._values[key] = None if kv is None else kv.value
            self._mods[key] = 0 if kv is None else kv.mod_revision
        return self._values[key]

    def get_json(self, key: str) -> dict[str, Any] | None:
        raw = self.get(key)
        return None if raw is None else dict(json.loads(raw))

    def load(self, prefix: str) -> int:
        """Read every key under `prefix` into the cache; the store revision of that read."""
        result = self.client.prefix(prefix)
        for kv in result.kvs:
            self._values.setdefault(kv.key, kv.value)
            self._mods.setdefault(kv.key, kv.mod_revision)
        self._loaded.append(prefix)
        return result.revision

    def keys(self, prefix: str) -> list[str]:
        """The keys under a loaded `prefix`, with this attempt's own writes."""
        seen = {k for k, v in self._values.items() if v is not None and k.startswith(prefix)}
        for key, value in self._writes.items():
            if key.startswith(prefix):
                (seen.add if value is not None else seen.discard)(key)
        return sorted(seen)

    # -- writes ------------------------------------------------------------------------------
    def put(self, key: str, value: str) -> None:
        """Write `key`; guarded when it was read in this attempt."""
        self._writes[key] = value

    def put_json(self, key: str, value: dict[str, Any]) -> None:
        self.put(key, json.dumps(value, sort_keys=True))

    def delete(self, key: str) -> None:
        self._writes[key] = None

    def append(self, prefix: str, value: dict[str, Any]) -> None:
        """A new key under `prefix`, unique and in order within this transaction."""
        self._writes[f"{prefix}{self._txid}-{self._appended:06d}"] = json.dumps(value)
        self._appended += 1

    def guard(self, compare: JSON) -> None:
        self._guards.append(compare)

    def commit(self) -> bool:
        if not self._writes:
            return True
        compares = [if_mod(k, self._mods[k]) for k in self._writes if k in self._mods]
        ops = [op_delete(k) if v is None else op_put(k, v) for k, v in self._writes.items()]
        return self.client.txn(compares + self._guards, ops).succeeded


def run_tx(client: EtcdClient, body: Callable[[EtcdTx], T], guards: Callable[[], list[JSON]]) -> T:
    """Run `body` in optimistic transactions until one commits (see the module docstring).
    `guards()` gives the extra guards of each attempt (the leader's fence)."""
    rng = random.Random()
    for attempt in range(ATTEMPTS):
        tx = EtcdTx(client, guards())
        result = body(tx)
        if tx.commit():
            return result
        fence = guards()
        if fence and not client.txn(fence, []).succeeded:
            raise Fenced(
                f"etcd at {client.where()}: this replica is no longer the leader; nothing was "
                "written (retry on the leader, see /readyz)"
            )
        time.sleep(rng.uniform(0, min(0.002 * 2**attempt, 0.05)))
    raise StoreUnavailable(
        f"etcd at {client.where()}: a write lost {ATTEMPTS} compare-and-set races in a row; retry"
    )
