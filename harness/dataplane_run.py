"""`netpilot network run --dataplane linux`: NETCONF routers over a real Linux data plane.

    run = LinuxNetworkRun(spec)     # spec: harness.netrun.NetworkSpec (topology, inventory...)
    run.start()                     # root + SRv6 checked, leftovers cleaned, namespaces built,
                                    # routers listen, inventory written, `started` logged
    run.run_until_stopped()         # polls the veths: a link set down (both ends) or up again
                                    # is logged and the static IGP reconverges; plays the
                                    # scenario; publishes gNMI
    run.stop()                      # traffic stopped, routers closed, every namespace removed

The same surface as harness/netrun.NetworkRun, so `commands/network.py` drives either. The
clock is wall time since start times `--speed` (the events' `sim_s`, the scenario's times,
`--until`); `--step` does not apply. With `spec.traffic_rate`, a traffic generator
(harness/trafficgen.py) sends each flow at that rate: the intents of `--intents`, else every
branch to every data centre and back in each class. gNMI (on by default) serves the kernel
counters (harness/dataplane_gnmi.py); `--scenario` is played by harness/dataplane_scenario.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.errors import UsageError
from controller.intentfile import load_intents
from controller.southbound.inventory import Inventory, load_inventory
from harness.dataplane import LinuxDataPlane
from harness.dataplane_gnmi import PUBLISH_S, KernelGnmi
from harness.dataplane_router import KernelState, kernel_fleet
from harness.dataplane_scenario import KernelScenario, check_playable
from harness.fleet import FleetThread
from harness.linuxnet import check_support, clean_leftovers, new_run_id
from harness.netevents import EventLog
from harness.netrun import NetworkSpec, RunStats
from harness.scenario import FaultPlan, Scenario, load_scenario
from harness.trafficgen import TrafficGen, intent_flows, site_flows
from topologies.loader import load as load_topology

POLL_S = 0.1
"""How often a stop request, `--until`, the scenario and gNMI are looked at between link
changes."""


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while sock.recv(65536):
            pass


def _check(spec: NetworkSpec) -> None:
    rate = spec.traffic_rate
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise UsageError(f"--traffic-rate {rate:g}: give a positive bit rate per flow, e.g. 200k")
    if spec.intents is not None and rate is None:
        raise UsageError(
            "--dataplane linux: --intents chooses the traffic generator's flows; add "
            "--traffic-rate RATE (e.g. 200k per flow)"
        )


class LinuxNetworkRun:
    def __init__(
        self, spec: NetworkSpec, *, listener: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        spec.check()
        _check(spec)
        self.spec = spec
        self.topology = load_topology(spec.topology)
        self.scenario: Scenario | None = (
            load_scenario(spec.scenario) if spec.scenario is not None else None
        )
        self.log = EventLog(spec.events, listener=listener)
        self.run_id = new_run_id()
        self.plane = LinuxDataPlane(self.topology, self.run_id)
        if self.scenario is not None:  # its links and nodes exist, this kernel can play it
            FaultPlan(self.scenario, self.plane.plan.index)
            check_playable(self.scenario)
        self.provider = KernelState(self.plane)
        self.fleet: FleetThread | None = None
        self.gnmi: KernelGnmi | None = None
        self.traffic: TrafficGen | None = None
        self.play: KernelScenario | None = None
        self.stats = RunStats()
        self.reason = "stopped"
        self.build_s = 0.0
        self.leftovers = 0
        self._stop = threading.Event()
        self._started_at: float | None = None
        self._stopped = False
        self._published = 0.0

    def _t(self) -> float:
        """Scenario time: wall seconds since start times --speed."""
        if self._started_at is None:
            return 0.0
        return (time.monotonic() - self._started_at) * self.spec.speed

    def start(self) -> Inventory:
        check_support()
        self.leftovers = clean_leftovers()
        self.log.open()
        self.build_s = self.plane.build()
        self.fleet = FleetThread(lambda: kernel_fleet(self.plane, self.spec.key_dir, self.provider))
        try:
            path = self._serve()
            self._traffic()
            if self.scenario is not None:
                self.play = KernelScenario(self.scenario, self.plane, self.provider, self.traffic)
            if self.traffic is not None:
                self.traffic.start()
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
            gnmi_port=self.gnmi.server.port if self.gnmi and self.gnmi.server else None,
            traffic_flows=len(self.traffic.flows) if self.traffic else 0,
            scenario=str(self.spec.scenario) if self.spec.scenario else None,
        )  # fmt: skip
        self.play_scenario(0.0)
        return inventory

    def _serve(self) -> Path:
        """NETCONF routers (and gNMI): the inventory, written once all listen."""
        assert self.fleet is not None
        fleet = self.fleet.start()
        inventory = self.spec.inventory
        if not self.spec.gnmi:
            return fleet.write_inventory(inventory)
        staging = fleet.write_inventory(inventory.with_name(f".{inventory.name}.netconf"))
        self.gnmi = KernelGnmi(self.plane, self.provider, self.spec.key_dir)
        self.gnmi.start()
        return self.gnmi.add_to_inventory(staging, inventory)

    def _traffic(self) -> None:
        rate, topo = self.spec.traffic_rate, self.topology
        surges = self.scenario is not None and any(
            getattr(e, "kind", "") == "surge" for e in self.scenario.events
        )
        if rate is None and not surges:
            return
        flows = []
        if rate is not None:
            intents = self.spec.intents
            flows = (intent_flows(topo, load_intents(intents), rate) if intents is not None
                     else site_flows(topo, rate))  # fmt: skip
        self.traffic = TrafficGen(self.plane.plan.ns, flows)

    def request_stop(self, reason: str = "stopped") -> None:
        self.reason = reason
        self._stop.set()

    def run_until_stopped(self) -> RunStats:
        """Wait for link changes (netlink notifications from every namespace) and reconverge;
        play the scenario and publish gNMI in between."""
        until = self.spec.until_s
        socks = self.plane.watch()
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(socks, [], [], POLL_S)
                if ready:
                    for sock in ready:
                        _drain(sock)
                    self.step()
                now = self._t()
                self.play_scenario(now)
                if self.gnmi is not None and time.monotonic() - self._published >= PUBLISH_S:
                    self._publish()
                if until is not None and now >= until:
                    self.reason = "until"
                    break
        finally:
            for sock in socks:
                sock.close()
        return self.stats

    def _publish(self) -> None:
        if self.gnmi is not None:
            self.gnmi.publish()
            self._published = time.monotonic()

    def play_scenario(self, t: float) -> None:
        """The scenario's state at `t` made real; what changed beyond links is logged here."""
        if self.play is None:
            return
        for line in self.play.apply(t):
            kind = line.pop("kind")
            if kind in ("unreachable", "reachable"):
                self._reachable(line["node"], kind == "reachable")
            self.log.emit(kind, t, **line)

    def _reachable(self, node: str, up: bool) -> None:
        if self.fleet is not None:
            router = self.fleet.fleet.routers[node]
            self.fleet.call(lambda: router.set_reachable(up))
        if self.gnmi is not None:
            self.gnmi.set_reachable(node, up)

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
        if changed:
            self._publish()  # ON_CHANGE subscribers (the controller) hear of it now
        self.stats.steps += 1
        return changed

    def stop(self) -> RunStats:
        """Stop the traffic, close the routers, remove every namespace, log `stopped` (once)."""
        if self._stopped:
            return self.stats
        self._stopped = True
        self._stop.set()
        sent = None
        if self.traffic is not None:
            self.traffic.stop()
            sent = self.traffic.stats()
        if self.gnmi is not None:
            self.gnmi.stop()
        if self.fleet is not None:
            self.fleet.stop()
        removed = self.plane.close()
        if self._started_at is not None:
            self.stats.sim_s = self._t()
            self.stats.wall_s = time.monotonic() - self._started_at
            self.stats.events = self.log.count + 1
            stats = {k: v for k, v in self.stats.as_dict().items() if k != "sim_s"}
            self.log.emit("stopped", self._t(), reason=self.reason, namespaces_removed=removed,
                          traffic=sent, **stats)  # fmt: skip
        self.log.close()
        return self.stats
