"""The composition root: `build(settings)` assembles the whole controller once.

    runtime = build(make_settings(topology="bank-wan", db=Path("np.db"), inventory=inv))
    app = runtime.app()            # FastAPI; its lifespan starts and stops everything below
    uvicorn.run(app, host=..., port=...)

What it assembles: the SQLite store, the southbound (NETCONF from the inventory, metered; or
in-memory devices without one), the engine, the NETCONF telemetry collector and the live
telemetry loop (with an inventory), the link models (trained with `--models`, else the baseline
stand-ins), the Prometheus registry with every netpilot series, and the REST API. `start()`
loads the store, checks every device's running config against the last committed revision
(a restart never trusts the database alone), then runs the engine, the telemetry loop, the
signal delivery and the periodic drift watch as tasks; `stop()` ends them and closes sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from controller.engine import Engine, EngineConfig
from controller.failpoints import Failpoints
from controller.ha import Election, election_client
from controller.ha_takeover import Takeover, persist_for, takeover_step
from controller.ha_watch import IntentWatch
from controller.incident_metrics import assemble_incidents
from controller.incident_service import IncidentService
from controller.runtime.inventory import InventoryReloader
from controller.runtime.live import LiveTelemetry
from controller.runtime.metrics import RuntimeMetrics
from controller.runtime.settings import Settings
from controller.southbound.base import KnowsDevices, Southbound
from controller.southbound.inventory_reload import InventoryWatch, ReloadsInventory
from controller.store_api import IntentStore
from controller.store_etcd import EtcdStore
from controller.store_open import open_store
from controller.topology import Topology
from controller.verify_readback import DriftReport
from models.robust_forecast import LinkFutures
from telemetry.exporter import NetpilotMetrics
from telemetry.linkmodels import (
    BaselineLinkModels,
    LinkModels,
    TrainedLinkModels,
    with_periods,
)
from telemetry.metered import MeteredSouthbound

Clock = Callable[[], float]
log = logging.getLogger("netpilot.runtime")


@dataclass
class Runtime:
    settings: Settings
    topology: Topology
    store: IntentStore
    engine: Engine
    southbound: Southbound
    registry: CollectorRegistry
    metrics: NetpilotMetrics
    models: LinkModels
    models_note: str
    token: str
    token_source: str
    live: LiveTelemetry | None = None
    incidents: IncidentService | None = None
    """The alarm correlator (with an inventory; controller/incident_service.py)."""
    runtime_metrics: RuntimeMetrics | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    election: Election | None = None
    """With --store etcd: only the elected leader runs `_lead` (controller.ha)."""
    watch: IntentWatch | None = None
    takeover: Takeover | None = None
    """With --store etcd: cancel a dead leader's pending commits once elected (ha_takeover)."""
    inventory: InventoryReloader | None = None
    """With --inventory: the southbound follows the inventory file (runtime/inventory.py)."""
    exit_when_deposed: bool = True

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Lead at once, or (with an election) campaign and lead once elected."""
        if self.election is None:
            await self._lead()
            return
        if self.takeover is not None:  # a follower's device sessions, open ahead
            self._spawn("warm", asyncio.to_thread(self.takeover.warm))
        self._spawn("election", self.election.campaign(self._lead, self._deposed))

    def _deposed(self, why: str) -> None:
        """Stop pushing at once (every loop but the election's), then end the process: a
        supervisor starts it again as a follower (docs/ha.md)."""
        self.engine.stop()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if self.watch is not None:
            self.watch.stop()
        log.error("no longer the leader (%s): stopped the engine; exiting", why)
        if self.exit_when_deposed:
            signal.raise_signal(signal.SIGTERM)

    def readiness(self, ready: bool, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """/readyz with an election: the role and the leader; a follower is ready while it
        reaches etcd, the leader while its engine is healthy too."""
        if self.election is None:
            return ready, body
        state = self.election.state
        body = {**body, **state.view(), "store": self.settings.store}
        if state.role == "follower":
            ready = not state.cause
            body.pop("cause", None)
        if state.cause:
            body["cause"] = state.cause
            ready = False
        return ready, {**body, "ready": ready}

    async def _lead(self) -> None:
        """Load, resync with the devices, then run every loop as a task."""
        engine = self.engine
        took: dict[str, float] = {}
        if self.inventory is not None:  # what the file says now, before anything is sent
            await self.inventory.check()
        if self.takeover is not None:  # before the load aborts the dead leader's revisions
            with _timed(took, "takeover"):
                await asyncio.to_thread(self.takeover)
        with _timed(took, "load"):
            await asyncio.to_thread(engine.load)  # store reads: the lease refresh goes on
        if self.settings.inventory is not None and self.settings.drift != "off":
            with _timed(took, "drift"):
                await self.check_drift("startup")
        if self.watch is not None:  # writes through the other replicas wake the engine
            loop = asyncio.get_running_loop()

            def notify(cause: str) -> None:
                loop.call_soon_threadsafe(engine.notify, cause)

            self.watch.notify = notify
            with _timed(took, "watch"):
                await asyncio.to_thread(self.watch.start)  # before the first round reads
        engine.ready = True
        if self.election is not None:  # the failover's phases (bench/ha_chaos.py reads them)
            log.warning("leader ready: %s", " ".join(f"{k}={v:.3f}s" for k, v in took.items()))
        engine.notify("startup")
        self._spawn("engine", engine.run())
        if self.inventory is not None:
            self._spawn("inventory", self.inventory.run(self.settings.inventory_watch_s))
        if self.live is not None:
            from telemetry.stream_setup import start_streams  # gNMI streams, if any (issue 15)

            loop = asyncio.get_running_loop()
            await asyncio.to_thread(
                start_streams, self.live.collector, engine, loop, on_probe=self.live.probe_windows
            )
            self._spawn("telemetry", self.live.run())
            self._spawn("signals", self.live.deliver_forever())
            if self.incidents is not None:
                self._spawn("incidents", self.incidents.run())
            if self.settings.drift != "off":
                self._spawn("drift", self._drift_watch())

    async def check_drift(self, cause: str) -> DriftReport | None:
        """One drift pass (the engine records and, with --drift repair, repairs what it finds;
        it never raises for a device)."""
        try:
            return await self.engine.check_drift(repair=self.settings.drift == "repair")
        except Exception:  # the watch goes on
            log.exception("drift check (%s) failed", cause)
            return None

    async def _drift_watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.drift_interval_s)
            await self.check_drift("periodic")

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"netpilot-{name}")
        task.add_done_callback(_report_end)
        self.tasks.append(task)

    async def stop(self) -> None:
        self.engine.stop()
        if self.watch is not None:
            self.watch.stop()
        if self.election is not None and self.election.leading:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.election.resign)  # no TTL wait for the others
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        with contextlib.suppress(Exception):
            await self.southbound.close()
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()
        self.closers.clear()

    # -- views -------------------------------------------------------------------------------
    def app(self) -> Any:
        from controller.api import create_app

        return create_app(self.engine, self.token, registry=self.registry, runtime=self)

    def startup_lines(self) -> list[str]:
        s = self.settings
        host, port = s.host_port
        scheme = "https" if s.tls_cert is not None else "http"
        lines = [
            f"netpilot controller on {scheme}://{host}:{port} (token from {self.token_source})"
        ]
        if s.inventory is None:
            lines.append("southbound: in-memory devices (no --inventory); no telemetry")
        else:
            lines.append(
                f"southbound: NETCONF to {len(self.topology.nodes)} routers ({s.inventory}); "
                f"telemetry every {s.interval_s:g}s, drift {s.drift} every {s.drift_interval_s:g}s"
            )
            lines += southbound_lines(s, self.topology, self.southbound)
            streams = getattr(self.live.collector, "streams", None) if self.live else None
            if streams:  # gNMI (docs/streaming.md)
                lines.append(f"telemetry: gNMI streams from {len(streams)} routers, others polled")
        lines.append(f"models: {self.models_note}")
        lines.append(f"store: {s.store}" if s.store else f"store: SQLite {s.db}")
        if self.engine.failpoints:
            lines.append(f"failpoints armed (tests only): {self.engine.failpoints.remaining}")
        return lines


@contextlib.contextmanager
def _timed(took: dict[str, float], name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        took[name] = time.monotonic() - start


def _report_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("%s ended: %r", task.get_name(), error, exc_info=error)


def build(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    clock: Clock = time.time,
    southbound: Southbound | None = None,
) -> Runtime:
    """Assemble the controller from `settings` (see the module docstring)."""
    from controller.auth import TOKEN_ENV, default_token_file, load_or_create_token
    from topologies.loader import load

    env = os.environ if env is None else env
    topo = load(settings.topology)
    failpoints = Failpoints.from_env(env)
    models, note, model_step = _models(settings)
    if settings.premove_periods:  # issue 18: pre-move elastic classes before busy periods
        models = with_periods(models, settings.period_s, settings.periods_lead_s)
        note += (
            f"; bigdata and office leave a link {settings.periods_lead_s:g}s before a busy"
            " period learned per class (--premove-periods)"
        )
    if settings.robust_forecast:  # issue 18 item 3: the worst of a set of plausible futures
        note += (
            "; each link's forecast is the worst of the p90, the latest round, the same time a"
            f" period earlier and the peak of the last {LinkFutures().recent_rounds}"
            " rounds (--robust-forecast)"
        )
    closers: list[Callable[[], None]] = []
    raw_south = southbound or _southbound(settings, topo)
    store = open_store(settings.store, settings.db, clock=clock)
    closers.append(store.close)
    store.set_meta("topology", settings.topology)
    registry = CollectorRegistry()
    metrics = NetpilotMetrics(registry)
    engine = assemble_engine(settings, topo, store, MeteredSouthbound(raw_south, metrics), clock)
    engine.failpoints = failpoints
    path = settings.token_file or default_token_file()
    token = load_or_create_token(env, path)
    runtime = Runtime(
        settings, topo, store, engine, engine.southbound, registry, metrics, models, note,
        token, TOKEN_ENV if env.get(TOKEN_ENV) else str(path), closers=closers,
    )  # fmt: skip
    runtime.runtime_metrics = RuntimeMetrics(registry, engine, lambda: runtime.live, clock)
    if settings.inventory is not None:
        runtime.live = _live(
            settings, engine, models, metrics, runtime_metrics=runtime.runtime_metrics, clock=clock
        )
        runtime.live.model_step_s = model_step
        from telemetry.stream_metrics import register_stream_metrics  # gNMI (issue 15)

        register_stream_metrics(registry, runtime.live.collector)
        runtime.incidents = assemble_incidents(engine, store.audit, registry, clock)
        closers.append(runtime.live.collector.close)
        closers.append(runtime.live.close)
    if isinstance(store, EtcdStore):
        runtime.election, runtime.watch = elect(store, settings, raw_south)
        runtime.takeover = takeover_step(store, raw_south)
    if settings.inventory is not None and isinstance(raw_south, ReloadsInventory):
        watch = InventoryWatch(settings.inventory, settings.secrets)
        runtime.inventory = InventoryReloader(watch, raw_south, engine)
        from telemetry.netconf_collector import NetconfCollector

        polled = runtime.live.collector if runtime.live is not None else None
        if isinstance(polled, NetconfCollector):  # gNMI: stream_discovery adds the routers
            runtime.inventory.pollers.append(polled.add)
    return runtime


def southbound_lines(settings: Settings, topology: Topology, south: object) -> list[str]:
    """What `controller run` says of its southbound beyond the first line: its worker
    processes, and the routers of the topology the inventory lacks (configured once added)."""
    lines = []
    if settings.southbound_shards:
        pids = getattr(south, "pids", [])
        lines.append(
            f"southbound: sessions in {len(pids)} worker processes (--southbound-shards "
            f"{settings.southbound_shards}): pids {', '.join(map(str, pids))}"
        )
    known = south.known_devices() if isinstance(south, KnowsDevices) else set(topology.nodes)
    missing = sorted(set(topology.nodes) - known)
    if missing:
        lines.append(
            f"southbound: {len(missing)} router(s) of the topology not in the inventory yet, "
            f"e.g. {', '.join(missing[:5])}: configured once added to {settings.inventory} "
            f"(re-read every {settings.inventory_watch_s:g}s)"
        )
    return lines


def elect(store: EtcdStore, settings: Settings, south: Southbound) -> tuple[Election, IntentWatch]:
    """The election of replicas sharing `store`, fencing the store's writes and the devices'
    confirming commits, and the leader's watch on intent writes."""
    from controller.southbound.netconf import NetconfSouthbound
    from controller.southbound.shard import ShardedSouthbound
    from controller.southbound.transaction import TransactionHooks

    host, port = settings.host_port
    scheme = "https" if settings.tls_cert is not None else "http"
    identity = settings.replica_id or f"{socket.gethostname()}:{port}"
    url = f"{scheme}://{host}:{port}"
    client = election_client(store.client.endpoints, settings.lease_ttl_s)
    election = Election(client, store.keys.leader, identity, url, settings.lease_ttl_s)
    store.fence = election.guards
    if isinstance(south, NetconfSouthbound | ShardedSouthbound) and south.hooks is None:
        south.hooks = TransactionHooks(
            before_confirm=election.check_fence, persist_id=persist_for(store)
        )
    watch = IntentWatch(store.client.endpoints, store.keys.intents, lambda _: None)
    return election, watch


def assemble_engine(
    settings: Settings,
    topology: Topology,
    store: IntentStore,
    southbound: Southbound,
    clock: Clock,
) -> Engine:
    """The engine as `settings` configure it; `build` uses it, and so do embedded controllers
    (the lockstep simulator's) that bring their own topology, store and southbound."""
    from controller.intentfile import load_prefixes

    return Engine(
        topology,
        store,
        southbound,
        clock,
        config=EngineConfig(
            hold_time_s=settings.hold_time_s,
            improvement=settings.improvement,
            tick_s=settings.tick_s,
            debounce_s=settings.debounce_s,
        ),
        prefixes=load_prefixes(settings.prefixes) if settings.prefixes else None,
    )


def _southbound(settings: Settings, topo: Topology) -> Southbound:
    from controller.southbound.memory import MemorySouthbound
    from controller.southbound.netconf import NetconfSouthbound
    from controller.southbound.session import IDLE_TICK_S, set_reader_tick
    from controller.southbound.shard import ShardedSouthbound

    if settings.inventory is None:
        return MemorySouthbound()
    if settings.southbound_shards > 0:  # sessions in worker processes (shard.py)
        return ShardedSouthbound.from_inventory(
            settings.inventory, shards=settings.southbound_shards, secrets=settings.secrets
        )
    set_reader_tick(IDLE_TICK_S)  # the sessions' idle wake-ups (session.py says why)
    # routers of the topology the inventory lacks are configured once added (startup_lines)
    return NetconfSouthbound.from_inventory(settings.inventory, secrets=settings.secrets)


def _live(
    settings: Settings,
    engine: Engine,
    models: LinkModels,
    metrics: NetpilotMetrics,
    *,
    runtime_metrics: RuntimeMetrics,
    clock: Clock,
) -> LiveTelemetry:
    from controller.southbound.inventory import Inventory, load_inventory
    from controller.southbound.session import SessionOptions
    from telemetry.netconf_collector import NetconfCollector
    from telemetry.stream_setup import round_collector

    assert settings.inventory is not None
    inventory = load_inventory(settings.inventory, settings.secrets)
    deadline = settings.round_deadline_s

    def poll(devices: Inventory) -> NetconfCollector:
        return NetconfCollector(
            devices,
            options=SessionOptions(
                rpc_timeout_s=max(deadline, 1.0),
                connect_timeout_s=max(deadline, 1.0),
                connect_attempts=1,
            ),
            max_workers=64,
        )

    # gNMI streams for the devices the inventory gives a gnmi_target, polling for the rest
    collector = round_collector(inventory, settings.inventory, poll, settings.interval_s)
    return LiveTelemetry(
        engine,
        collector,
        models,
        interval_s=settings.interval_s,
        deadline_s=deadline,
        metrics=metrics,
        risk_floor=settings.risk_floor,
        clock=clock,
        on_round=runtime_metrics.observe_round,
        futures=link_futures(settings),
    )


def link_futures(settings: Settings) -> LinkFutures | None:
    """The live loop's per-link history for `--robust-forecast` (None without the flag)."""
    if not settings.robust_forecast:
        return None
    return LinkFutures(period_s=settings.period_s)


def _models(settings: Settings) -> tuple[LinkModels, str, float | None]:
    """The link models, a line saying which, and the telemetry step they were trained for."""
    if settings.models is None:
        stand_in = BaselineLinkModels()
        note = f"none given (--models); stand-ins: {stand_in.label}"
        return stand_in, note, None
    from models import loop_models

    trained = loop_models.load(Path(settings.models))
    note = (
        f"{settings.models}: trained forecaster (p90) and fault model, for telemetry every "
        f"{trained.step_s:g}s of network time"
    )
    return TrainedLinkModels(trained.predictor), note, trained.step_s
