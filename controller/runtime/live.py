"""The live controller's telemetry loop: poll every device, measure, predict, tell the engine.

Every `interval_s` a round reads every device's interface state and counters over NETCONF (in
parallel, in worker threads), turns them into link utilisation, delay, loss and state
(`telemetry.processor`), updates the link models (trained forecaster and fault model, or the
baseline stand-ins), and queues `Signal`s for the engine (`controller.runtime.signals`): link
down/up, fault risk, forecasts, measured SLA breaks. A separate task hands the queued signals to
the engine one after another, so a slow reconcile never delays the next round, and the API
never waits for either.

A device that has not answered by the round's deadline is *stale* for that round: not waited
for, its reports not trusted for link state, and an event names it with a one-line cause; it is
*recovered* at its next answer. Ages and rates come from the routers' own timestamps (a router
that runs its clock faster, like a sped-up simulated network, gets its rates right); the
controller's clock times only its own work.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import statistics
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from controller.devicestate import UplinkProbe
from controller.engine import Engine, EngineEvent
from controller.pathing.types import Path
from controller.qos import LinkKey
from controller.qos_forecast import ClassDemand, class_demand, installed_demand
from controller.runtime.signals import Signal, SignalPlanner, avoided_links, deliver
from models.robust_forecast import LinkFutures
from telemetry.collectors import CollectionResult
from telemetry.exporter import IntentSla, LinkForecast, LinkRisk, NetpilotMetrics
from telemetry.linkmodels import LinkModels
from telemetry.processor import LinkTelemetry, TelemetryProcessor
from telemetry.store import RingStore

Clock = Callable[[], float]
JITTER_SAMPLES = 10


class RoundCollector(Protocol):
    def collect(self, deadline_s: float | None = None) -> CollectionResult: ...

    def close(self) -> None: ...


@dataclass
class DeviceHealth:
    """What the controller knows of one device's telemetry."""

    last_ok: float | None = None
    """Controller wall time of the last answer."""
    stamp: float | None = None
    """The device's own timestamp in its last answer."""
    stale_since: float | None = None
    cause: str = ""

    @property
    def stale(self) -> bool:
        return self.stale_since is not None


@dataclass
class LiveStats:
    rounds: int = 0
    round_errors: int = 0
    last_round_s: float = 0.0
    step_s: float = 0.0
    """Device-clock seconds between the last two rounds (what the models see as one step)."""
    signals: dict[str, int] = field(default_factory=dict)
    signal_errors: int = 0
    inference_skipped: int = 0
    """Rounds whose model inference was skipped because the previous one still ran."""
    last_error: str | None = None
    streamed_windows: int = 0
    """Uplink probe windows that arrived ON_CHANGE, between rounds."""


@dataclass(frozen=True)
class MeasuredSla:
    """An intent's primary path as telemetry measures it (None where a link has no figure)."""

    latency_s: float | None
    loss: float | None
    age_s: float | None


class LiveTelemetry:
    def __init__(
        self,
        engine: Engine,
        collector: RoundCollector,
        models: LinkModels,
        *,
        interval_s: float,
        deadline_s: float,
        metrics: NetpilotMetrics | None = None,
        risk_floor: float = 0.2,
        clock: Clock = time.time,
        on_round: Callable[[float], None] | None = None,
        model_step_s: float | None = None,
        logger: logging.Logger | None = None,
        futures: LinkFutures | None = None,
    ) -> None:
        self.engine = engine
        self.collector = collector
        self.models = models
        self.interval_s = interval_s
        self.deadline_s = deadline_s
        self.metrics = metrics
        self.clock = clock
        self.on_round = on_round
        self.model_step_s = model_step_s
        """The telemetry step the trained models expect (network seconds); None: any."""
        self._step_warned = False
        self.log = logger or logging.getLogger("netpilot.telemetry")
        self.processor = TelemetryProcessor(engine.topology, RingStore())
        self.planner = SignalPlanner(engine.config.avoid, risk_floor, futures)
        """With `futures` (--robust-forecast), forecasts are each link's worst plausible future."""
        self.devices: dict[str, DeviceHealth] = {}
        self.stats = LiveStats()
        self.forecasts: list[LinkForecast] = []
        self.risks: list[LinkRisk] = []
        self.queue: asyncio.Queue[Signal] = asyncio.Queue()
        self.uplinks: asyncio.Queue[Signal] = asyncio.Queue()
        """Brownout moves (`uplink` signals), delivered beside `queue`."""
        self._paths: dict[str, tuple[str, ...]] = {}
        self._models_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="models")
        self._inference: asyncio.Task[None] | None = None
        self._latencies: dict[str, deque[float]] = {}
        self.demand = ClassDemand()
        """Per link and class, the forecast p90 (else measured) load: the queue shares follow
        it when the engine compiles (issue 20, item 6)."""
        engine.demand = self.class_demand

    # -- tasks -------------------------------------------------------------------------------
    async def run(self) -> None:
        """A round every `interval_s` (measured start to start) until cancelled."""
        while True:
            started = time.monotonic()
            try:
                await self.round()
            except Exception as error:  # one bad round must not end telemetry
                self.stats.round_errors += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"
                self.log.exception("telemetry round failed")
                self._event("telemetry-error", "telemetry round failed", self.stats.last_error)
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def deliver_forever(self) -> None:
        """Hand queued signals to the engine, in order, until cancelled; brownout moves
        (`uplink`) in their own order, so that they never wait behind the other signals'
        reconciles in the queue (only behind the one running: the engine runs one at a time)."""
        uplinks = asyncio.create_task(self._deliver_from(self.uplinks))
        try:
            await self._deliver_from(self.queue)
        finally:
            uplinks.cancel()

    async def _deliver_from(self, queue: asyncio.Queue[Signal]) -> None:
        while True:
            signal = await queue.get()
            try:
                await deliver(self.engine, signal)
            except Exception as error:  # the engine logs and counts its own rounds
                self.stats.signal_errors += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"
                self.log.exception("signal %s on %s failed", signal.kind, signal.link)
                self._event("signal-error", signal.cause, self.stats.last_error)
            finally:
                queue.task_done()

    # -- one round ---------------------------------------------------------------------------
    async def round(self) -> list[Signal]:
        started = time.perf_counter()
        asked_at = time.monotonic()  # what the round reports was seen after this
        result = await asyncio.to_thread(self.collector.collect, self.deadline_s)
        now = self.clock()
        self._health(result, now)
        for state in result.states:
            self.processor.ingest(state)
        links = self.processor.snapshot()
        self.demand = class_demand(links, self.forecasts)
        step = self._step(result)
        self._models(copy.deepcopy(links), step)
        signals = [
            replace(sig, observed_at=asked_at) if sig.kind.startswith("link_") else sig
            for sig in self._signals(links)
        ]
        fresh = self._fresh()
        self.planner.record_loads(lt for lt in links if lt.src in fresh)
        signals += self.planner.probe_signals(s for s in result.states if s.device in fresh)
        self._queue(signals)
        self.stats.rounds += 1
        self.stats.last_round_s = time.perf_counter() - started
        self._export(result, links)
        if self.on_round is not None:
            self.on_round(self.stats.last_round_s)
        return signals

    def class_demand(self) -> Mapping[LinkKey, Mapping[str, float]]:
        """What the queue shares follow (any thread): the latest round's figures, or, until a
        round has measured class loads, what the installed shares were computed for."""
        if self.demand.demand:
            return self.demand.demand
        return installed_demand(self.engine.topology, self.engine.installed_configs().values())

    def probe_windows(self, device: str, windows: tuple[UplinkProbe, ...]) -> None:
        """Probe windows streamed as they close (on the loop): the uplink SLA is judged now, so
        the window that completes a run of bad ones moves its classes at once (issue 20)."""
        self.stats.streamed_windows += len(windows)
        self._queue(self.planner.window_signals(windows))

    def _queue(self, signals: list[Signal]) -> None:
        for signal in signals:
            self.stats.signals[signal.kind] = self.stats.signals.get(signal.kind, 0) + 1
            if signal.kind == "uplink":  # decided now: the event times the detection
                self._event("sla-detect", signal.cause)
                self.uplinks.put_nowait(signal)
            else:
                self.queue.put_nowait(signal)

    def _fresh(self) -> set[str]:
        return {n for n, h in self.devices.items() if not h.stale}

    def _signals(self, links: list[LinkTelemetry]) -> list[Signal]:
        topo = self.engine.topology
        fresh = self._fresh()
        out = self.planner.link_states(links, topo, lambda d: d in fresh)
        current = [lt for lt in links if lt.src in fresh]
        settling = self.engine.links_changed_within(2 * self.interval_s + self.deadline_s)
        return out + self.planner.measure_signals(current, topo, settling)

    # -- models ------------------------------------------------------------------------------
    def _models(self, links: list[LinkTelemetry], step: float) -> None:
        """Every round's telemetry goes into the models' history (in order, on the models'
        own thread); inference runs there too, but is skipped for a round while the previous
        one still runs, so the rounds keep their cadence whatever the models cost."""
        loop = asyncio.get_running_loop()
        loop.run_in_executor(self._models_thread, self.models.record, links, step)
        if self._inference is None or self._inference.done():
            self._inference = asyncio.create_task(self._infer(links, step))
        else:
            self.stats.inference_skipped += 1

    async def _infer(self, links: list[LinkTelemetry], step: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            forecasts, risks = await loop.run_in_executor(
                self._models_thread, self.models.infer, links, step
            )
        except Exception as error:  # the models must never end telemetry
            self.stats.round_errors += 1
            self.stats.last_error = f"{type(error).__name__}: {error}"
            self.log.exception("model inference failed")
            return
        self.forecasts, self.risks = forecasts, risks
        fresh = self._fresh()
        self._queue(
            self.planner.model_signals(
                [r for r in risks if r.src in fresh],
                [f for f in forecasts if f.src in fresh],
                avoided_links(self.engine),
                self.models.detail,
                self.models.forecast_source,
            )
        )

    def close(self) -> None:
        self._models_thread.shutdown(wait=False, cancel_futures=True)

    def _health(self, result: CollectionResult, now: float) -> None:
        for state in result.states:
            health = self.devices.setdefault(state.device, DeviceHealth())
            if health.stale:
                gone = now - (health.stale_since or now)
                self._event("device-recovered", f"telemetry: {state.device} answers again",
                            f"stale for {gone:.1f}s ({health.cause})")  # fmt: skip
            health.last_ok, health.stale_since, health.cause = now, None, ""
        for device, cause in result.errors.items():
            health = self.devices.setdefault(device, DeviceHealth())
            if not health.stale:
                health.stale_since = now
                self._event("device-stale", f"telemetry: {device} is stale", cause)
            health.cause = cause

    def _step(self, result: CollectionResult) -> float:
        """Device-clock seconds since each device's previous answer (median), checked against
        the trained models' step (which they are then given: the routers' step-quantised
        stamps jitter around it); without trained models, the measured step, or the interval
        before two answers are in."""
        deltas = []
        for state in result.states:
            health = self.devices[state.device]
            if health.stamp is not None and state.timestamp > health.stamp:
                deltas.append(state.timestamp - health.stamp)
            health.stamp = state.timestamp
        if deltas:
            self.stats.step_s = statistics.median(deltas)
            self._check_step(self.stats.step_s)
        if self.model_step_s is not None:
            return self.model_step_s  # trained models see the step they were trained for
        return self.stats.step_s or self.interval_s

    def _check_step(self, step: float) -> None:
        expected = self.model_step_s
        if expected is None or self._step_warned or abs(step - expected) <= 0.5 * expected:
            return
        self._step_warned = True
        self._event(
            "models-step",
            f"telemetry: samples every {step:g}s of network time, the models were trained for "
            f"{expected:g}s",
            "forecasts and risks may be off; set --interval so that rounds match, or retrain",
        )

    # -- views -------------------------------------------------------------------------------
    def measured(self, path: Path) -> MeasuredSla:
        """Latency (sum of measured link delays) and loss of `path` from the latest round."""
        latency, delivered, oldest = 0.0, 1.0, None
        for src, _dst, link in path.links:
            lt = self.processor.links.get((src, link))
            health = self.devices.get(src)
            if lt is None or lt.delay_s is None or health is None or health.stale:
                return MeasuredSla(None, None, None)
            latency += lt.delay_s
            delivered *= 1.0 - (lt.loss or 0.0)
            if health.last_ok is not None:
                age = self.clock() - health.last_ok
                oldest = age if oldest is None else max(oldest, age)
        return MeasuredSla(latency, 1.0 - delivered, oldest)

    def intent_slas(self) -> list[IntentSla]:
        """Each placed intent's SLA as telemetry measures its primary path this round; jitter is
        the mean absolute change of that latency over the last rounds (RFC 3393 style)."""
        out = []
        records = {r.name: r for r in self.engine.store.list_intents()}
        placements = self.engine.placements()
        for name, placement in sorted(placements.items()):
            record = records.get(name)
            if record is None:
                continue
            self._track_path(name, placement.primary)
            m = self.measured(placement.primary)
            if m.latency_s is None:
                continue
            intent = record.intent
            met = (intent.max_latency_s is None or m.latency_s <= intent.max_latency_s) and (
                intent.max_loss is None or (m.loss or 0.0) <= intent.max_loss
            )
            jitter = self._jitter(name, m.latency_s)
            out.append(IntentSla(name, met, m.latency_s, intent.max_latency_s, m.loss, jitter))
        for gone in set(self._latencies) - set(placements):
            del self._latencies[gone]
        return out

    def _jitter(self, name: str, latency_s: float) -> float | None:
        history = self._latencies.setdefault(name, deque(maxlen=JITTER_SAMPLES))
        history.append(latency_s)
        if len(history) < 2:
            return None
        values = list(history)
        return sum(abs(b - a) for a, b in itertools.pairwise(values)) / (len(values) - 1)

    def _track_path(self, name: str, path: Path) -> None:
        """Count a change of an intent's primary path (netpilot_intent_path_changes_total)."""
        links = tuple(k[2] for k in path.links)
        before = self._paths.get(name)
        self._paths[name] = links
        if self.metrics is None:
            return
        counter = self.metrics.path_changes.labels(name)
        if before is not None and before != links:
            counter.inc()

    def stale_devices(self) -> dict[str, str]:
        return {n: h.cause for n, h in sorted(self.devices.items()) if h.stale}

    # -- outputs -----------------------------------------------------------------------------
    def _export(self, result: CollectionResult, links: list[LinkTelemetry]) -> None:
        m = self.metrics
        if m is None:
            return
        m.record_collection(result.duration_s, result.errors)
        m.set_links(links)
        m.set_forecasts(self.forecasts)
        m.set_risks(self.risks)
        m.set_intents(self.intent_slas())

    def _event(self, kind: str, cause: str, detail: str = "") -> None:
        self.engine.record(EngineEvent(self.clock(), kind, cause, detail))
        self.log.info("%s: %s %s", kind, cause, detail)

    def describe(self) -> dict[str, Any]:
        return {
            "rounds": self.stats.rounds,
            "streamed_windows": self.stats.streamed_windows,
            "interval_s": self.interval_s,
            "step_s": self.stats.step_s,
            "last_round_s": self.stats.last_round_s,
            "inference_skipped": self.stats.inference_skipped,
            "stale": self.stale_devices(),
            "models": self.models.label,
        }
