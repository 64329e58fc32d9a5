"""The simulated network as its own process (`netpilot network run`), free-running in wall time.

    run = NetworkRun(NetworkSpec(topology="bank-wan", inventory=Path("inv.yaml"), speed=60))
    run.start()               # routers listen on 127.0.0.1, inventory written, `started` logged
    run.run_until_stopped()   # one simulator step every step_s / speed wall seconds
    stats = run.stop()        # servers closed, `stopped` logged; the inventory file stays

One NETCONF/SSH router per node (harness/simdevices.py), its state from the simulator and
stamped with the simulated clock. Each step pulls the routers' running configs into the
simulator, steps it, enforces `device_unreachable` windows and writes the ground truth to the
event log (harness/netevents.py). Nothing waits for anyone: a step that starts late runs at once,
missed ticks are skipped (no burst of catch-up steps) and the lag is counted.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller.errors import NotFoundError, UsageError
from controller.intentfile import load_intents
from controller.southbound.inventory import Inventory
from harness.build import SimSpec, build_simulation
from harness.gnmi_network import GnmiNetwork
from harness.netevents import EventLog, scenario_marks
from harness.netsim import NetworkSimulator, StepSummary
from harness.probes import watch_intents
from harness.scenario import WatchIntent, unreachable_at
from harness.simdevices import SimDevices

HOT_LINK = 0.5
"""Links at or above this utilisation are named in each `probes` line (`hot_links`)."""
MAX_SPEED = 3600.0
"""An hour of network per wall second; beyond that the steps cannot keep pace anyway."""


@dataclass(frozen=True)
class NetworkSpec:
    topology: str
    inventory: Path
    scenario: Path | None = None
    intents: Path | None = None
    events: Path | None = None
    speed: float = 1.0
    step_s: float = 10.0
    traffic: str = "gravity"
    load: float = 0.6
    flows: int = 120
    seed: int = 1
    until_s: float | None = None
    keys: Path | None = None
    """Where the generated SSH keys go (default: `<inventory stem>-keys` beside the inventory)."""
    gnmi: bool = True
    """Also serve gNMI (one TLS port, routers by target; docs/streaming.md)."""
    traffic_rate: float | None = None
    """--dataplane linux: real packets, this many bit/s per flow (harness/trafficgen.py)."""
    extra_links: tuple[str, ...] = ()
    """`--add-link A:B`: links the routers have and the topology file lacks (discovery)."""

    @property
    def key_dir(self) -> Path:
        return self.keys or self.inventory.parent / f"{self.inventory.stem}-keys"

    def check(self) -> None:
        """One line naming the flag and the fix for each impossible value."""
        if not (math.isfinite(self.speed) and 0 < self.speed <= MAX_SPEED):
            raise UsageError(
                f"--speed {self.speed:g}: give a factor of real time in (0, {MAX_SPEED:g}], "
                "e.g. 1 (real time) or 60 (a simulated minute per wall second)"
            )
        if not (math.isfinite(self.step_s) and self.step_s > 0):
            raise UsageError(f"--step {self.step_s:g}s: give a positive simulated step, e.g. 10s")
        if self.flows < 1:
            raise UsageError(f"--flows {self.flows}: give at least 1 flow, e.g. 120")
        if self.until_s is not None and not self.until_s > 0:
            raise UsageError(f"--until {self.until_s:g}s: give a positive duration, e.g. 1h")


@dataclass
class RunStats:
    steps: int = 0
    sim_s: float = 0.0
    wall_s: float = 0.0
    max_lag_s: float = 0.0
    """Longest wall delay between a step's due time and its start."""
    late_steps: int = 0
    """Steps that started more than a quarter of an interval late."""
    skipped_ticks: int = 0
    """Due times given up because a step ran more than a whole interval late."""
    sim_behind_s: float = 0.0
    """How far the simulated clock trails wall time x speed at the end (under a step: on pace)."""
    events: int = 0
    """Lines written to the event log (started, ground truth, probes, stopped)."""

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _watch(path: Path | None) -> list[WatchIntent]:
    if path is None:
        return []
    if not path.is_file():
        raise NotFoundError(f"--intents {path}: no such file; give an intents YAML")
    return watch_intents(load_intents(path))


def _finite(value: float | None, scale: float = 1.0) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(value * scale, 6)


class NetworkRun:
    def __init__(
        self,
        spec: NetworkSpec,
        *,
        listener: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        spec.check()
        self.spec = spec
        self.clock = clock
        self.sleep = sleep
        sim_spec = SimSpec(
            spec.topology, spec.traffic, spec.scenario, spec.seed, spec.step_s, spec.flows,
            spec.load, spec.extra_links,
        )  # fmt: skip
        self.sim: NetworkSimulator = build_simulation(sim_spec, _watch(spec.intents))
        self.log = EventLog(spec.events, listener=listener)
        self.devices: SimDevices | None = None
        self.gnmi: GnmiNetwork | None = None
        self.stats = RunStats()
        self.reason = "stopped"
        self._marks = scenario_marks(self.sim.scenario)
        self._next_mark = 0
        self._unreachable: set[str] = set()
        self._stop = threading.Event()
        self._started_at: float | None = None
        self._stopped = False

    def __enter__(self) -> NetworkRun:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Inventory:
        """Start every router, write the inventory (atomically, once all listen), log `started`."""
        self.log.open()
        spec = self.spec
        staging = spec.inventory.with_name(f".{spec.inventory.name}.netconf") if spec.gnmi else None
        self.devices = SimDevices(self.sim, spec.key_dir, staging or spec.inventory)
        try:
            inventory = self.devices.start()
            if staging is not None:  # gNMI's port and CA join the inventory before it appears
                self.gnmi = GnmiNetwork(self.sim, spec.key_dir)
                self.gnmi.start()
                self.gnmi.add_to_inventory(staging, spec.inventory)
        except OSError as error:
            self.devices.stop()
            if self.gnmi is not None:
                self.gnmi.stop()
            self.log.close()
            raise UsageError(
                f"cannot start the routers or write --inventory {spec.inventory} ({error}); "
                f"give a writable path (keys go to {spec.key_dir})"
            ) from None
        self._started_at = self.clock()
        self.log.emit(
            "started", self.sim.t, inventory=str(spec.inventory), topology=spec.topology,
            routers=len(inventory.devices), speed=spec.speed, step_s=spec.step_s,
            scenario=str(spec.scenario) if spec.scenario else None, pid=os.getpid(),
        )  # fmt: skip
        self._initial_state()
        return inventory

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask `run_until_stopped` to return (safe from a signal handler or another thread)."""
        self.reason = reason
        self._stop.set()

    def run_until_stopped(self) -> RunStats:
        """Step every `step_s / speed` wall seconds until `request_stop` or `until_s`."""
        interval = self.spec.step_s / self.spec.speed
        due = self.clock() + interval
        while not self._finished() and self._wait_until(due):
            self._record_lag(self.clock() - due, interval)
            try:
                self.step()
            except Exception as error:  # a bug: the `stopped` line says so, the caller sees it
                self.reason = f"error: {error!r}"
                raise
            due = self._skip_missed(due + interval, interval)
        if not self._stop.is_set() and self._finished():
            self.reason = "until"
        return self.stats

    def stop(self) -> RunStats:
        """Close the routers and log `stopped` (once; later calls return the same stats)."""
        if self._stopped:
            return self.stats
        self._stopped = True
        self._stop.set()
        if self.devices is not None:
            self.devices.stop()
        if self.gnmi is not None:
            self.gnmi.stop()
        if self._started_at is not None:
            self._final_stats()
            stats = {k: v for k, v in self.stats.as_dict().items() if k != "sim_s"}
            self.log.emit("stopped", self.sim.t, reason=self.reason, **stats)
        self.log.close()
        return self.stats

    # -- one step ------------------------------------------------------------------------------
    def step(self) -> StepSummary:
        """Pull running configs, advance the simulator one step, log what happened."""
        assert self.devices is not None, "start() the network first"
        self.devices.sync_configs()
        summary = self.sim.step()
        self._emit_marks(summary.t)
        for ev in summary.events:
            where = "node" if ev.kind.startswith("node") else "link"
            self.log.emit(ev.kind, ev.t, **{where: ev.target})
        published = None
        if self.gnmi is not None:  # after the ground truth's stamp: detection times include it
            published = self.log.wall()  # ON_CHANGE events go out first, as publish() begins
            self.gnmi.publish()
        self._apply_reachability(summary.t)
        self._emit_probes(summary.t, published)
        self.stats.steps += 1
        return summary

    def _initial_state(self) -> None:
        """What the scenario has in effect from time 0 (no transition will report it)."""
        f, idx, t = self.sim.faults, self.sim.index, self.sim.t
        for node in np.flatnonzero(~f.node_up):
            self.log.emit("node_down", t, node=idx.nodes[int(node)])
        for link_id in sorted({idx.links[int(i)].id for i in np.flatnonzero(~f.link_up)}):
            self.log.emit("link_down", t, link=link_id)
        self._emit_marks(t)
        self._apply_reachability(t)

    def _emit_marks(self, t: float) -> None:
        while self._next_mark < len(self._marks) and self._marks[self._next_mark].at <= t:
            mark = self._marks[self._next_mark]
            self.log.emit(mark.kind, t, at=mark.at, **mark.fields)
            self._next_mark += 1

    def _apply_reachability(self, t: float) -> None:
        assert self.devices is not None
        now = unreachable_at(self.sim.scenario, t)
        for node in sorted(now - self._unreachable):
            self.devices.set_reachable(node, False)
            if self.gnmi is not None:
                self.gnmi.set_reachable(node, False)
            self.log.emit("unreachable", t, node=node)
        for node in sorted(self._unreachable - now):
            self.devices.set_reachable(node, True)
            if self.gnmi is not None:
                self.gnmi.set_reachable(node, True)
            self.log.emit("reachable", t, node=node)
        self._unreachable = now

    def _emit_probes(self, t: float, published: float | None = None) -> None:
        """`published`: wall time the step's state went to the gNMI server (ON_CHANGE out)."""
        if self.sim.probes is None:
            return
        rows = {
            s.name: {"met": s.met, "latency_ms": _finite(s.latency_s, 1e3), "loss": _finite(s.loss)}
            for s in self.sim.sla()
        }
        extra = {} if published is None else {"published": round(published, 6)}
        self.log.emit("probes", t, intents=rows, hot_links=self._hot_links(), **extra)

    def _hot_links(self, floor: float = HOT_LINK) -> dict[str, float]:
        """Physical links carrying at least `floor` of their capacity this step (the busier
        direction), as the network measures it: ground truth for "absorbed before 85 %"."""
        sol, index = self.sim.solution, self.sim.index
        if sol is None:
            return {}
        served = sol.queues.served.sum(axis=1)
        util = np.divide(served, index.capacity, out=np.zeros_like(served),
                         where=index.capacity > 0)  # fmt: skip
        out: dict[str, float] = {}
        for k, link in enumerate(index.links):
            if util[k] >= floor:
                out[link.id] = max(out.get(link.id, 0.0), round(float(util[k]), 4))
        return out

    # -- pacing --------------------------------------------------------------------------------
    def _finished(self) -> bool:
        until = self.spec.until_s
        return self._stop.is_set() or (until is not None and self.sim.t >= until - 1e-9)

    def _wait_until(self, due: float) -> bool:
        """Sleep until `due` in short naps; False when a stop was requested meanwhile."""
        while not self._stop.is_set():
            left = due - self.clock()
            if left <= 0:
                return True
            self.sleep(min(left, 0.05))
        return False

    def _record_lag(self, late: float, interval: float) -> None:
        self.stats.max_lag_s = max(self.stats.max_lag_s, late)
        if late > interval / 4:
            self.stats.late_steps += 1

    def _skip_missed(self, due: float, interval: float) -> float:
        """More than a whole interval behind: give up the missed ticks instead of bursting."""
        behind = self.clock() - due
        if behind > interval:
            missed = int(behind // interval)
            self.stats.skipped_ticks += missed
            due += missed * interval
        return due

    def _final_stats(self) -> None:
        assert self._started_at is not None
        s = self.stats
        s.sim_s = self.sim.t
        s.wall_s = self.clock() - self._started_at
        s.sim_behind_s = max(0.0, s.wall_s * self.spec.speed - self.sim.t)
        s.events = self.log.count + 1  # with the `stopped` line about to be written
