"""The closed loop, timed: simulator -> telemetry -> engine -> southbound -> simulator.

`LoopRunner` steps a `SimRuntime` whose embedded controller hears, after every telemetry round:
link down/up events (at once, from the telemetry processor), per-link fault risk and per-link
utilisation forecasts (the runtime's `LinkModels`: the trained models in the demo and the
suite). Every signal handed to the engine is recorded with
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

import numpy as np

from controller.engine import ReconcileReport
from controller.errors import NetpilotError
from controller.intents import IntentState
from controller.topology import LinkState
from harness.classes import ClassTable
from harness.closedloop import EmbeddedController
from harness.routing import LinkIndex
from harness.scenario import Degrade, Flap, LinkDown, NodeDown
from harness.simrun import SimRuntime
from harness.traffic import Flows, TrafficSource
from telemetry.events import TopologyEvent
from telemetry.exporter import IntentSla

LIVE = (IntentState.INSTALLED, IntentState.DEGRADED, IntentState.ACCEPTED)


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


@dataclass(frozen=True)
class Surge:
    """Extra traffic from node `src` to `dst` in class `cls`, ramping to `peak_bps` over `ramp`
    from `at`, gone at `until` (routed as the network routes that class between those nodes)."""

    src: str
    dst: str
    peak_bps: float
    at: float
    ramp: float
    until: float
    cls: str = "test"

    def at_time(self, t: float) -> float:
        if t < self.at or t >= self.until:
            return 0.0
        return self.peak_bps * min(1.0, (t - self.at) / self.ramp)


class SurgingTraffic:
    """A traffic source plus one extra flow per surge (the demo's and the suite's surges)."""

    def __init__(self, base: TrafficSource, surges: list[Surge], index: LinkIndex) -> None:
        self.base = base
        self.surges = surges
        b = base.flows
        classes = ClassTable()
        self.flows = Flows(
            src=np.concatenate([b.src, [index.node_idx[s.src] for s in surges]]).astype(np.int64),
            dst=np.concatenate([b.dst, [index.node_idx[s.dst] for s in surges]]).astype(np.int64),
            cls=np.concatenate([b.cls, [classes.index(s.cls) for s in surges]]).astype(np.int64),
        )

    def rates(self, t: float) -> np.ndarray:
        return np.concatenate([self.base.rates(t), [s.at_time(t) for s in self.surges]])


class LoopRunner:
    def __init__(
        self, runtime: SimRuntime, controller: EmbeddedController, risk_floor: float = 0.2
    ) -> None:
        self.runtime = runtime
        self.controller = controller
        self.engine = controller.engine
        self.signals: list[Signal] = []
        self.sla: list[tuple[float, list[IntentSla]]] = []
        self.risk_floor = risk_floor
        self._link_state: dict[str, LinkState] = {}
        self._measured: dict[str, bool] = {}  # link -> last reported as abnormal
        self._pending: list[Future[Any]] = []
        runtime.on_event = self._on_topology

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

    def _on_topology(self, event: TopologyEvent) -> None:
        if event.link is None or event.kind not in ("link_down", "link_up"):
            return
        state = LinkState.DOWN if event.kind == "link_down" else LinkState.UP
        if self._link_state.get(event.link, LinkState.UP) is state:
            return  # the other end reported it already
        self._link_state[event.link] = state
        cause = f"telemetry: {event.device} reports {event.link} {state.value}"
        self._submit(event.kind, event.link, 0.0, self.engine.link_state(event.link, state, cause))

    def _models(self) -> None:
        """Hand the engine each link's fault risk and forecast utilisation (worst direction)."""
        rt = self.runtime
        risks: dict[str, float] = {}
        for r in rt.last_risks:
            risks[r.link] = max(r.risk, risks.get(r.link, 0.0))
        forecasts: dict[str, float] = {}
        horizon = 0.0
        for f in rt.last_forecasts:
            forecasts[f.link] = max(f.utilisation, forecasts.get(f.link, 0.0))
            horizon = f.horizon_s
        avoided = {a.link for a in self.engine.avoid.values()}
        for link, risk in sorted(risks.items()):
            if self._link_state.get(link) is LinkState.DOWN:
                continue  # link_state handles it
            if risk >= self.risk_floor or link in avoided:
                cause = f"fault risk {risk:.2f} ({rt.models.detail(link)})"
                self._submit("risk", link, risk, self.engine.link_risk(link, risk, cause))
        for link, util in sorted(forecasts.items()):
            if util >= self.engine.config.avoid.forecast_off or link in avoided:
                source = rt.models.forecast_source
                cause = f"utilisation {util:.0%} forecast {horizon:.0f}s ahead ({source})"
                self._submit("forecast", link, util, self.engine.link_forecast(link, util, cause))

    def _measures(self) -> None:
        """Measured delay or loss far from the link's figures: the engine re-checks the SLAs of
        the intents on it (`link_measured`); reported again when the link is back to normal."""
        topo = self.engine.topology
        for lt in self.runtime.processor.snapshot():
            if lt.delay_s is None or not lt.oper_up:
                continue
            try:
                nominal = topo.link((lt.src, lt.dst, lt.link)).delay_s
            except NetpilotError:
                continue
            loss = lt.loss or 0.0
            abnormal = lt.delay_s > nominal * 1.5 + 0.005 or loss > 0.001
            if abnormal == self._measured.get(lt.link, False):
                continue
            self._measured[lt.link] = abnormal
            what = "SLA at risk" if abnormal else "back to normal"
            cause = (
                f"telemetry: {lt.link} delay {lt.delay_s * 1e3:.1f} ms, loss {loss:.2%} ({what})"
            )
            coro = self.engine.link_measured(lt.link, lt.delay_s, loss, cause)
            self._submit("sla", lt.link, 1.0 if abnormal else 0.0, coro)

    def settle(self, timeout_s: float = 120.0) -> None:
        for future in list(self._pending):
            future.result(timeout_s)
        self._pending.clear()

    def tick(self) -> None:
        self.runtime.tick()
        self.settle()  # topology events first: the engine hears a cut before the risk it implies
        self._models()
        self._measures()
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
