"""The closed loop, timed: simulator -> telemetry -> engine -> southbound -> simulator.

`LoopRunner` steps a `SimRuntime` whose embedded controller hears, after every telemetry round,
what the live controller's would (`controller.runtime.signals.SignalPlanner` decides for both):
link down/up, per-link fault risk and utilisation forecasts (the runtime's `LinkModels`: the
trained models in the demo and the suite) and measured SLA breaks. This lockstep loop is the
fast, deterministic regression suite of engine decisions; the product is `netpilot controller
run` against `netpilot network run`. Every signal handed to the engine is recorded with
its simulated and wall time, and with the wall time its reconcile finished (new config committed
and confirmed, or nothing to change). The simulation waits for the controller after each round:
the controller's own work is measured in wall time, the network's in simulated time.

`timeline()` joins the scenario's faults with those signals: time to detect (first signal naming
the faulty link after its onset), to locate (the signal names the link: same as detect), to
rectify (detect + wall time of the reconcile), and SLA violations (probe-seconds) around it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from controller.engine import ReconcileReport
from controller.intents import IntentState
from controller.runtime.signals import Signal as PlannedSignal
from controller.runtime.signals import SignalPlanner, avoided_links, deliver
from harness.closedloop import EmbeddedController
from harness.scenario import Degrade, Flap, LinkDown, NodeDown
from harness.simrun import SimRuntime
from harness.surge import Surge, SurgingTraffic  # noqa: F401 (SurgingTraffic re-exported)
from telemetry.exporter import IntentSla

LIVE = (IntentState.INSTALLED, IntentState.VERIFIED, IntentState.DEGRADED, IntentState.ACCEPTED)


@dataclass
class Signal:
    """One thing the controller was told: link_down, link_up, risk or forecast on `link`."""

    kind: str
    link: str
    value: float
    t: float
    wall: float
    done_wall: float | None = None
    moved: list[str] = field(default_factory=list)
    revisions: list[int] = field(default_factory=list)
    committed: bool = True


class LoopRunner:
    def __init__(
        self, runtime: SimRuntime, controller: EmbeddedController, risk_floor: float = 0.2
    ) -> None:
        self.runtime = runtime
        self.controller = controller
        self.engine = controller.engine
        self.signals: list[Signal] = []
        self.sla: list[tuple[float, list[IntentSla]]] = []
        self.planner = SignalPlanner(self.engine.config.avoid, risk_floor)
        self._pending: list[Future[Any]] = []

    # -- signals -----------------------------------------------------------------------------
    def _submit(self, kind: str, link: str, value: float, coro: Coroutine[Any, Any, Any]) -> None:
        signal = Signal(kind, link, value, self.runtime.sim.t, time.perf_counter())
        future = asyncio.run_coroutine_threadsafe(coro, self.controller.loop)

        def done(f: Future[Any]) -> None:
            signal.done_wall = time.perf_counter()
            report = None if f.cancelled() or f.exception() else f.result()
            if isinstance(report, ReconcileReport):
                signal.moved = list(report.moved)
                signal.revisions = list(report.revisions)
                signal.committed = report.committed

        future.add_done_callback(done)
        self.signals.append(signal)
        self._pending.append(future)

    def _signals(self, signals: list[PlannedSignal]) -> None:
        for signal in signals:
            self._submit(signal.kind, signal.link, signal.value, deliver(self.engine, signal))

    def _link_states(self) -> None:
        """Link down/up from the round's reports (the live controller's rule)."""
        links = self.runtime.processor.snapshot()
        self._signals(self.planner.link_states(links, self.engine.topology))

    def _models(self) -> None:
        """Hand the engine each link's fault risk and forecast utilisation (worst direction)."""
        rt = self.runtime
        self._signals(
            self.planner.model_signals(
                rt.last_risks,
                rt.last_forecasts,
                avoided_links(self.engine),
                rt.models.detail,
                rt.models.forecast_source,
            )
        )

    def _measures(self) -> None:
        """Measured delay or loss far from a link's figures (`SignalPlanner.measure_signals`)."""
        links = self.runtime.processor.snapshot()
        self._signals(self.planner.measure_signals(links, self.engine.topology))

    def settle(self, timeout_s: float = 120.0) -> None:
        for future in list(self._pending):
            future.result(timeout_s)
        self._pending.clear()

    def tick(self) -> None:
        self.runtime.tick()
        self._link_states()
        self.settle()  # topology events first: the engine hears a cut before the risk it implies
        self._models()
        self._measures()
        self._signals(self.planner.probe_signals(self.runtime.last_states))  # uplink probes
        self.settle()
        if self.signals and not self.signals[-1].committed:
            # the last push was not committed (a device unreachable): retry every round
            self._submit("retry", "", 0.0, self.engine.reconcile("retry: last push not committed"))
            self.settle()
        self.sla.append((self.runtime.sim.t, list(self.runtime.last_sla)))

    # -- outcomes ----------------------------------------------------------------------------
    def acting(self) -> list[Signal]:
        """Signals that changed something (a revision) or failed to."""
        return [s for s in self.signals if s.revisions or not s.committed]

    def intents_lost(self, names: list[str]) -> list[str]:
        records = {r.name: r for r in self.controller.store.list_intents()}
        return sorted(n for n in names if n not in records or records[n].state not in LIVE)


@dataclass(frozen=True)
class Fault:
    """One fault of a scenario, as the timeline sees it."""

    name: str
    links: frozenset[str]
    onset: float
    fails_at: float
    kinds: frozenset[str]


def faults_of(events: list[Any], links_of_node: dict[str, set[str]]) -> list[Fault]:
    out = []
    for ev in events:
        if isinstance(ev, LinkDown):
            out.append(Fault(f"cut {ev.link}", frozenset({ev.link}), ev.at, ev.at, _DOWN))
        elif isinstance(ev, NodeDown):
            links = frozenset(links_of_node.get(ev.node, set()))
            out.append(Fault(f"node {ev.node} down", links, ev.at, ev.at, _DOWN))
        elif isinstance(ev, Flap):
            out.append(Fault(f"flap {ev.link}", frozenset({ev.link}), ev.at, ev.at, _DOWN))
        elif isinstance(ev, Degrade) and ev.signal == "latency":
            name = f"latency {ev.link}"
            out.append(Fault(name, frozenset({ev.link}), ev.at, ev.at, frozenset({"sla"})))
        elif isinstance(ev, Degrade) and ev.fail_at is not None:
            kinds = frozenset({"risk", "link_down"})
            name = f"degradation {ev.link} ({ev.signal})"
            out.append(Fault(name, frozenset({ev.link}), ev.at, ev.fail_at, kinds))
    return out


_DOWN = frozenset({"link_down"})


def _threshold(runner: LoopRunner, kind: str) -> float:
    cfg = runner.engine.config.avoid
    return {"forecast": cfg.forecast_on, "risk": cfg.risk_on, "sla": 1.0}.get(kind, 0.0)


def surge_fault(surge: Surge) -> Fault:
    name = f"traffic surge {surge.src}->{surge.dst}"
    return Fault(name, frozenset(), surge.at, surge.at + surge.ramp, frozenset({"forecast"}))


def timeline(
    faults: list[Fault], runner: LoopRunner, step_s: float, end_t: float
) -> list[dict[str, Any]]:
    """Per fault: detect/locate/rectify (simulated seconds after the failure; negative = ahead
    of it), the wall time the controller took, and SLA violations until the next fault."""
    faults = sorted(faults, key=lambda f: f.onset)
    out = []
    for k, fault in enumerate(faults):
        until = faults[k + 1].onset if k + 1 < len(faults) else end_t
        hit = next(
            (
                s
                for s in runner.signals
                if s.kind in fault.kinds
                and (not fault.links or s.link in fault.links)
                and s.t >= fault.onset
                and s.value >= _threshold(runner, s.kind)
            ),
            None,
        )
        row: dict[str, Any] = {
            "event": fault.name,
            "onset_s": fault.onset,
            "fails_at_s": fault.fails_at,
        }
        if hit is None:
            row.update(detect_s=None, locate_s=None, rectify_s=None, link=None, moved=[])
        else:
            wall = (hit.done_wall or hit.wall) - hit.wall
            detect = hit.t - fault.fails_at
            row.update(
                link=hit.link,
                signal=hit.kind,
                detect_s=detect,
                locate_s=detect,
                rectify_s=detect + wall,
                rectify_wall_s=wall,
                moved=hit.moved,
                committed=hit.committed,
            )
        row["sla_violations"] = _violations(runner.sla, fault.onset, until, step_s)
        out.append(row)
    return out


def _violations(
    sla: list[tuple[float, list[IntentSla]]], start: float, end: float, step_s: float
) -> int:
    """Probe-intervals with an SLA missed, in [start, end)."""
    return sum(sum(not s.met for s in rows) for t, rows in sla if start <= t < end)


def compliance_by_class(
    sla: list[tuple[float, list[IntentSla]]], classes: dict[str, str]
) -> dict[str, float]:
    met: dict[str, list[bool]] = {}
    for _, rows in sla:
        for s in rows:
            met.setdefault(classes.get(s.name, "?"), []).append(s.met)
    return {c: sum(v) / len(v) for c, v in sorted(met.items()) if v}


def longest_violation(sla: list[tuple[float, list[IntentSla]]], name: str, after: float) -> int:
    """Longest run of consecutive telemetry intervals with intent `name` missing its SLA."""
    run = best = 0
    for t, rows in sla:
        if t < after:
            continue
        missed = any(s.name == name and not s.met for s in rows)
        run = run + 1 if missed else 0
        best = max(best, run)
    return best
