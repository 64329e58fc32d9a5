"""The leader's intent watch (issue 16) on a real etcd: it reports every version change made
through any replica and, when etcd compacted away the revision it was to resume from (a real
compaction while its stream was down), it lists the intents again, reports a resync, and goes on
watching."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.etcd_proc import EtcdServer
from controller.ha_watch import IntentWatch
from controller.intents import Intent
from controller.store_open import open_etcd


def _intent(name: str, mbps: int) -> Intent:
    return Intent.model_validate({"name": name, "src": "HQ", "dst": "DC1", "bandwidth": f"{mbps}M"})


def _until(check: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_compacted_watch_lists_again_and_resumes(tmp_path: Path) -> None:
    etcd = EtcdServer(tmp_path / "etcd" / "data")
    etcd.start()
    store = open_etcd(f"{etcd.url}/watch")
    heard: list[str] = []
    release = threading.Event()

    def notify(cause: str) -> None:
        heard.append(cause)
        if cause == "watch: a v1":
            release.wait(30)  # hold the watch here while its stream goes down

    watch = IntentWatch([f"http://{etcd.endpoint}"], store.keys.intents, notify)
    try:
        watch.start()
        store.put_intent(_intent("a", 1))
        assert _until(lambda: heard == ["watch: a v1"]), heard
        etcd.stop()  # the watch's stream is cut ...
        etcd.start()  # ... and, before it watches again, changes happen and are compacted
        store.put_intent(_intent("a", 2))
        store.put_intent(_intent("b", 1))
        store.delete_intent("a")
        head = store.client.prefix(store.keys.intents).revision
        compacted = httpx.post(
            f"http://{etcd.endpoint}/v3/kv/compaction", json={"revision": head, "physical": True}
        )
        assert compacted.status_code == 200, compacted.text
        release.set()
        assert _until(lambda: "watch: resync" in heard), heard
        assert "watch: b v1" not in heard  # those changes came only through the new listing
        assert watch.versions == {"a": 3, "b": 1}  # as listed after the compaction
        assert watch.revision >= head
        store.put_intent(_intent("b", 7))  # and it follows the writes after that
        assert _until(lambda: "watch: b v2" in heard), heard
    finally:
        release.set()
        watch.stop()
        store.close()
        etcd.stop()
