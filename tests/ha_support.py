"""Helpers of the HA tests (issue 16): a controller replica served from a thread of the test
process (`controller run --store URL --replica-id NAME`, built by the same `build(settings)`),
and `netpilot controller status` over a set of replicas."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

import uvicorn

from bench.controller_proc import free_port
from bench.ha_failover import Replica
from controller.runtime.assemble import build
from controller.runtime.settings import make_settings
from tests.cli_inprocess import run_cli


class InProcessReplica:
    """A replica in this process: it costs no interpreter start and no imports (a controller
    process costs seconds of CPU to start); it is never SIGKILLed, only stopped."""

    def __init__(
        self, store: str, name: str, token: str, topology: str = "bank-wan", ttl: int = 2,
        **extra: Any,
    ) -> None:  # fmt: skip
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.auth = {"Authorization": f"Bearer {token}"}
        settings = make_settings(
            topology=topology, store=store, lease_ttl_s=ttl, replica_id=name,
            listen=f"127.0.0.1:{port}", **extra,
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
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def status(replicas: Sequence[Replica], *flags: str) -> subprocess.CompletedProcess[str]:
    """`netpilot controller status --server URL,URL,... [flags]` with the cluster's token."""
    token = replicas[0].auth["Authorization"].removeprefix("Bearer ")
    urls = ",".join(r.url for r in replicas)
    return run_cli(
        "controller", "status", "--server", urls, *flags, env={"NETPILOT_API_TOKEN": token}
    )
