"""The incidents of the etcd store (`EtcdStore.save_incidents`, `EtcdStore.load_incidents`).

One JSON value per incident under `incidents/open/N` or `incidents/resolved/N` (N of `inc-N`,
zero-padded: key order is incident order), so the resolved ones beyond `keep_resolved` are
found from the keys alone. An incident that resolves (or reopens) moves key in the same
transaction; every write carries the leader's fence like any other store write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from controller.incident_model import incident_number
from controller.store_etcd_client import EtcdClient
from controller.store_etcd_tx import EtcdTx, Keys

STATES = ("open", "resolved")
MAX_PRUNE = 24
"""Resolved incidents dropped per save: an etcd transaction holds at most 128 operations, so a
save also takes at most `MAX_SAVE` incidents (two operations each)."""
MAX_SAVE = 24


def save(
    tx: EtcdTx,
    keys: Keys,
    incidents: Sequence[Mapping[str, Any]],
    gone: Sequence[str],
    *,
    resolved: Sequence[str],
    keep_resolved: int,
) -> None:
    """`resolved`: the keys under `incidents/resolved/` before this save, in order."""
    for incident_id in gone:
        for state in STATES:
            tx.delete(keys.incident(state, incident_number(incident_id)))
    kept = list(resolved)
    for inc in incidents:
        number = incident_number(inc["id"])
        for state in STATES:
            if state != inc["state"]:
                tx.delete(keys.incident(state, number))
        tx.put(keys.incident(inc["state"], number), json.dumps(inc, sort_keys=True))
        key = keys.incident("resolved", number)
        if inc["state"] == "resolved" and key not in kept:
            kept.append(key)
        elif inc["state"] != "resolved" and key in kept:
            kept.remove(key)
    kept.sort()
    for key in kept[: max(len(kept) - max(keep_resolved, 0), 0)][:MAX_PRUNE]:
        tx.delete(key)


def resolved_keys(client: EtcdClient, keys: Keys) -> list[str]:
    return [kv.key for kv in client.prefix(keys.incidents("resolved"), keys_only=True).kvs]


def load(client: EtcdClient, keys: Keys) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for state in STATES:
        kvs = client.prefix(keys.incidents(state)).kvs
        out += [json.loads(kv.value) for kv in sorted(kvs, key=lambda kv: kv.key)]
    return out
