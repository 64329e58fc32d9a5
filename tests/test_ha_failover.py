"""Failover of controller replicas on etcd (issue 16): three replicas, the leader a real
`netpilot controller run --store etcd://...` process that is SIGKILLed, the two followers full
runtimes (`build(settings)` behind uvicorn) in this process, to keep the suite's time (a
controller process costs about 5 s of CPU to start; bench/ha_failover.py runs three processes
and restarts each killed one). A follower takes over, every write acknowledged by any replica is
still there (also those of writers updating intents through every replica across the kill: no
fork, no gap in their acknowledged versions) and the new leader commits new ones. How long the
takeover takes is a figure of the bench (docs/BENCHMARKS.md), not an assertion here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from bench.controller_proc import ControllerProcess, free_port
from bench.etcd_proc import EtcdServer
from bench.ha_failover import Replica, Writers, check, put, role, wait_leader, wait_settled
from bench.ha_writes import measure
from controller.runtime.assemble import build
from controller.runtime.settings import make_settings

TTL = 2


class InProcessReplica:
    """`controller run --store URL --replica-id NAME` as a runtime served from a thread."""

    def __init__(self, store: str, name: str, token: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.auth = {"Authorization": f"Bearer {token}"}
        settings = make_settings(
            topology="bank-wan", store=store, lease_ttl_s=TTL, replica_id=name,
            listen=f"127.0.0.1:{port}",
        )  # fmt: skip
        self.runtime = build(settings, env={"NETPILOT_API_TOKEN": token})
        self.runtime.exit_when_deposed = False  # never signal the test process
        config = uvicorn.Config(
            self.runtime.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def cluster(tmp_path: Path) -> Iterator[tuple[ControllerProcess, list[Replica]]]:
    etcd = EtcdServer(tmp_path / "etcd" / "data")
    etcd.start()
    store = f"{etcd.url}/failover"
    first = ControllerProcess(
        tmp_path, "bank-wan", "--store", store, "--lease-ttl", str(TTL), "--replica-id", "r0"
    )
    others: list[InProcessReplica] = []
    try:
        first.start()
        assert wait_leader([first]) == 0  # alone on the store: it leads
        others = [InProcessReplica(store, f"r{i}", first.token) for i in (1, 2)]
        for replica in others:
            replica.start()
        yield first, [first, *others]
    finally:
        first.kill()
        for replica in others:
            replica.stop()
        etcd.stop()


def test_leader_sigkill_a_follower_takes_over_and_nothing_is_lost(tmp_path: Path) -> None:
    with cluster(tmp_path) as (process, replicas):
        views = [role(r) for r in replicas]
        assert all(v is not None and v["leader"] == "r0" for v in views), views
        assert [v["role"] for v in views if v] == ["leader", "follower", "follower"]
        assert all(v is not None and v["status"] == 200 for v in views), views
        written = {"via-follower": 3}
        assert put(replicas[1], "via-follower", 3) == 1
        wait_settled(replicas[2], "via-follower")  # the leader heard of it and installed it

        writers = Writers(replicas, 2)  # writing through every replica across the kill
        writers.start()
        process.kill()
        new = wait_leader(replicas, exclude=0)
        other = 2 if new == 1 else 1
        written["via-new-leader"] = 5
        put(replicas[new], "via-new-leader", 5)
        wait_settled(replicas[other], "via-new-leader")
        view = role(replicas[other])
        assert view is not None and view["leader"] == f"r{new}" and view["role"] == "follower"
        revisions = httpx.get(f"{replicas[new].url}/v1/revisions", headers=replicas[new].auth)
        assert revisions.json()[0]["status"] == "committed"  # the new leader commits
        writers.stop()
        result = check(replicas, written, alive=[1, 2])
        assert result["lost"] == [] and result["wrong"] == []
        assert writers.outcomes.get("200", 0) > 0 and writers.check(replicas[new]) == []
        follower = measure(replicas[other], writers=2, writes=2)  # bench/ha_writes.py, tiny
        assert follower["writes"] == 4 and follower["p50_ms"] > 0
