"""`netpilot network run --dataplane linux`: NETCONF routers over a real Linux data plane.

    run = LinuxNetworkRun(spec)     # spec: harness.netrun.NetworkSpec (topology, inventory...)
    run.start()                     # root + SRv6 checked, leftovers cleaned, namespaces built,
                                    # routers listen, inventory written, `started` logged
    run.run_until_stopped()         # polls the veths: a link set down (both ends) or up again
                                    # is logged and the static IGP reconverges
    run.stop()                      # routers closed, every namespace removed, `stopped` logged

The same surface as harness/netrun.NetworkRun, so `commands/network.py` drives either. There is
no simulated clock: the events' `sim_s` is wall seconds since start, and `--speed`, `--step`,
traffic and scenarios do not apply (the command refuses them).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from controller.errors import UsageError
from controller.southbound.inventory import Inventory, load_inventory
from harness.dataplane import LinuxDataPlane
from harness.dataplane_router import kernel_fleet
from harness.fleet import FleetThread
from harness.linuxnet import check_support, clean_leftovers, new_run_id
from harness.netevents import EventLog
from harness.netrun import NetworkSpec, RunStats
from topologies.loader import load as load_topology

POLL_S = 0.2
"""How often a stop request or `--until` is checked while waiting for link changes."""


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while sock.recv(65536):
            pass


class LinuxNetworkRun:
    def __init__(
        self, spec: NetworkSpec, *, listener: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        spec.check()
        if spec.scenario is not None or spec.intents is not None:
            raise UsageError(
                "--dataplane linux takes no --scenario or --intents: cut a link with "
                "`ip -n NAMESPACE link set DEV down` on both ends (docs/dataplane.md)"
            )
        self.spec = spec
        self.topology = load_topology(spec.topology)
        self.log = EventLog(spec.events, listener=listener)
        self.run_id = new_run_id()
        self.plane = LinuxDataPlane(self.topology, self.run_id)
        self.fleet: FleetThread | None = None
        self.gnmi = None  # gNMI is not served over the Linux data plane (yet)
        self.stats = RunStats()
        self.reason = "stopped"
        self.build_s = 0.0
        self.leftovers = 0
        self._stop = threading.Event()
        self._started_at: float | None = None
        self._stopped = False

    def _t(self) -> float:
        return 0.0 if self._started_at is None else time.monotonic() - self._started_at

    def start(self) -> Inventory:
        check_support()
        self.leftovers = clean_leftovers()
        self.log.open()
        self.build_s = self.plane.build()
        self.fleet = FleetThread(lambda: kernel_fleet(self.plane, self.spec.key_dir))
        try:
            fleet = self.fleet.start()
            path = fleet.write_inventory(self.spec.inventory)
        except BaseException:
            self.stop()
            raise
        self._started_at = time.monotonic()
        inventory = load_inventory(path)
        self.log.emit(
            "started", 0.0, inventory=str(self.spec.inventory), topology=self.spec.topology,
            routers=len(inventory.devices), dataplane="linux", run=self.run_id,
            namespaces=len(self.plane.plan.ns), build_s=round(self.build_s, 3),
            leftovers_removed=self.leftovers, pid=os.getpid(),
        )  # fmt: skip
        return inventory

    def request_stop(self, reason: str = "stopped") -> None:
        self.reason = reason
        self._stop.set()

    def run_until_stopped(self) -> RunStats:
        """Wait for link changes (netlink notifications from every namespace) and reconverge."""
        until = self.spec.until_s
        socks = self.plane.watch()
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(socks, [], [], POLL_S)
                if ready:
                    for sock in ready:
                        _drain(sock)
                    self.step()
                if until is not None and self._t() >= until:
                    self.reason = "until"
                    break
        finally:
            for sock in socks:
                sock.close()
        return self.stats

    def step(self) -> list[str]:
        """Read the veths; log and reconverge on links that went down or came up."""
        before = set(self.plane.up)
        changed = self.plane.poll_links()
        for link_id in changed:
            kind = "link_up" if link_id not in before else "link_down"
            self.log.emit(kind, self._t(), link=link_id)
        for error in self.plane.errors:
            self.log.emit("kernel_error", self._t(), error=error)
        self.plane.errors.clear()
        self.stats.steps += 1
        return changed

    def stop(self) -> RunStats:
        """Close the routers, remove every namespace, log `stopped` (once)."""
        if self._stopped:
            return self.stats
        self._stopped = True
        self._stop.set()
        if self.fleet is not None:
            self.fleet.stop()
        removed = self.plane.close()
        if self._started_at is not None:
            self.stats.wall_s = self._t()
            self.stats.sim_s = self.stats.wall_s
            self.stats.events = self.log.count + 1
            stats = {k: v for k, v in self.stats.as_dict().items() if k != "sim_s"}
            self.log.emit("stopped", self._t(), reason=self.reason, namespaces_removed=removed,
                          **stats)  # fmt: skip
        self.log.close()
        return self.stats
