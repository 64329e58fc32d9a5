"""Discovery in the running controller: on every LLDP change (and periodically, for polled
devices) compare the routers' reports with the topology file and act on the engine.

    watch = DiscoveryWatch(file_topology, engine, views)   # views(): {device: DeviceView}
    watch.changed()                  # any thread: an LLDP change; refresh soon (debounced)
    await watch.refresh("startup")   # on the engine's loop

Each mismatch that appears is a `topology-diff` engine event (its one line as the cause), each
that goes a `topology-diff-clear`; `netpilot_topology_mismatch` (controller/discovery_metrics.py)
and `GET /v1/topology/diff` show the current ones. The engine's graph follows the routers
(`controller.discovery.merged`): a learned link between routers of the file is added (one
`topology` event and a reconcile), a file link no router has is taken down, and brought back
up once a router has it again. A learned link stays known while a router still has its
interface (cut: down, not gone); once no router has it, it is dropped from the graph.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel, Field

from controller.discovery import DeviceView, Mismatch, TopoDiff, changes, compare, merged
from controller.topology import Link, LinkState, Topology

log = logging.getLogger("netpilot.discovery")
Views = Callable[[], Mapping[str, DeviceView]]


@dataclass(frozen=True)
class DiscoveryEvent:
    """An engine event (the fields of `controller.engine.EngineEvent`, which the layers keep
    this module from importing), appended to `engine.events`."""

    at: float
    kind: str
    cause: str
    detail: str = ""


class GraphEngine(Protocol):
    topology: Topology
    events: Any

    async def set_topology(self, topology: Topology, cause: str) -> Any: ...


class DiscoveryWatch:
    def __init__(
        self,
        file_topology: Topology,
        engine: GraphEngine,
        views: Views,
        *,
        debounce_s: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.file = file_topology
        self.engine = engine
        self.views = views
        self.debounce_s = debounce_s
        self.clock = clock
        self.diff = TopoDiff()
        self.refreshed_at: float | None = None
        self.events_total: Counter[str] = Counter()
        """Mismatches that appeared, by kind (a counter for Prometheus)."""
        self.learned: dict[str, Mismatch] = {}
        self.taken_down: set[str] = set()
        self.routers_added: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    # -- triggers ------------------------------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The engine's loop, where refreshes run."""
        self._loop = loop

    def changed(self, device: str = "") -> None:
        """An LLDP change (any thread): refresh after `debounce_s` of quiet."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._arm, device)

    def _arm(self, device: str) -> None:
        if self._pending is not None:
            self._pending.cancel()
        assert self._loop is not None
        self._pending = self._loop.call_later(self.debounce_s, self._fire, device)

    def _fire(self, device: str) -> None:
        self._pending = None
        task = asyncio.ensure_future(self.refresh(f"LLDP change on {device}" if device else "LLDP"))
        task.add_done_callback(_log_failure)

    def router_added(self, names: list[str]) -> None:
        """Routers newly in the inventory (streams started for them): one event each."""
        for name in names:
            self.routers_added.append(name)
            self._event("router-added", f"discovery: router {name} added to the inventory; "
                        "streaming from it")  # fmt: skip

    # -- the work ------------------------------------------------------------------------------
    async def refresh(self, cause: str) -> TopoDiff:
        """Compare, record what changed, and move the engine's graph to the routers' word."""
        async with self._lock:
            views = await asyncio.to_thread(self.views)
            diff = self._remember(compare(self.file, views), views)
            appeared, resolved = changes(self.diff.mismatches, diff.mismatches)
            self.diff, self.refreshed_at = diff, self.clock()
            for m in appeared:
                self.events_total[m.kind] += 1
                self._event("topology-diff", f"discovery: {m.line()}", cause)
            for m in resolved:
                self._event("topology-diff-clear", f"discovery: resolved: {m.line()}", cause)
            await self._apply(diff, views, cause)
            return diff

    def _remember(self, diff: TopoDiff, views: Mapping[str, DeviceView]) -> TopoDiff:
        """Learned links stay while a router still has their interface (a cut one is down)."""
        now = {m.link: m for m in diff.mismatches if m.kind == "routers-only"}
        for lid, m in list(self.learned.items()):
            if lid in now:
                continue
            ports = [v for v in (views.get(m.a), views.get(m.b)) if v is not None]
            if any(lid in v.interfaces for v in ports):
                now[lid] = replace(m, detail=m.detail.split(" [")[0] + " [down now]")
            else:
                del self.learned[lid]
        self.learned.update(now)
        kept = [m for m in diff.mismatches if m.kind != "routers-only"]
        learned = [now[k] for k in sorted(now)]
        return replace(diff, mismatches=(*kept, *learned))

    async def _apply(self, diff: TopoDiff, views: Mapping[str, DeviceView], cause: str) -> None:
        topo = self.engine.topology
        want = merged(self.file, diff, views)
        links = {lk.key: lk for lk in topo.links}
        learned = {lk.key: lk for lk in want.links if lk.medium == "learned"}
        added = [lk for k, lk in learned.items() if k not in links]
        dropped = [lk for lk in topo.links if lk.medium == "learned" and lk.key not in learned]
        absent = {m.link for m in diff.mismatches if m.kind == "file-only" and m.absent}
        down = absent - self.taken_down
        back = self.taken_down - absent
        self.taken_down = absent
        if not (added or dropped or down or back):
            return
        kept = [_with(lk, down, back) for lk in topo.links if lk not in dropped]
        new = Topology(topo.name, topo.nodes.values(), [*kept, *added],
                       loader_warnings=topo.loader_warnings)  # fmt: skip
        what = [f"learned {lk}" for lk in sorted({lk.id for lk in added})]
        what += [f"dropped {lk}" for lk in sorted({lk.id for lk in dropped})]
        what += [f"{lk} down (no router has it)" for lk in sorted(down)]
        what += [f"{lk} back" for lk in sorted(back)]
        await self.engine.set_topology(new, f"discovery: {', '.join(what)} ({cause})")

    def _event(self, kind: str, cause: str, detail: str = "") -> None:
        self.engine.events.append(DiscoveryEvent(self.clock(), kind, cause, detail))
        log.warning("%s: %s", kind, cause)

    # -- views ---------------------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        """The current diff for `GET /v1/topology/diff` and `netpilot topo diff`."""
        return {
            "topology": self.file.name,
            "refreshed_at": self.refreshed_at,
            **self.diff.as_dict(),
            "learned": sorted(self.learned),
            "taken_down": sorted(self.taken_down),
            "routers_added": list(self.routers_added),
        }


class MismatchView(BaseModel):
    kind: str = Field(description="routers-only, file-only or router-only")
    link: str
    a: str
    b: str
    detail: str
    absent: bool = Field(description="file-only and no router has the interface: taken down")
    line: str


class TopologyDiffView(BaseModel):
    """`GET /v1/topology/diff`."""

    enabled: bool
    reason: str | None = Field(default=None, description="why off (no gNMI streams)")
    topology: str | None = None
    refreshed_at: float | None = None
    mismatches: list[MismatchView] = []
    confirmed: int | None = Field(default=None, description="file links an LLDP table shows")
    down: int | None = Field(default=None, description="file links a router reports down")
    unverified: list[str] = Field(default=[], description="file links no router reported yet")
    reporting: int | None = Field(default=None, description="routers compared")
    seen: int | None = Field(default=None, description="file links up on NETCONF-only ends")
    learned: list[str] = Field(default=[], description="links added to the graph from LLDP")
    taken_down: list[str] = Field(default=[], description="file links no router has")
    routers_added: list[str] = Field(default=[], description="picked up from the inventory")


def diff_view(live: Any) -> dict[str, Any]:
    """The discovery's view for the API, or why there is none."""
    watch = getattr(getattr(live, "collector", None), "discovery", None)
    if not isinstance(watch, DiscoveryWatch):
        why = "no gNMI streams (an inventory with a gnmi: section): topology from the file only"
        return {"enabled": False, "reason": why}
    return {"enabled": True, **watch.view()}


def _with(link: Link, down: set[str], back: set[str]) -> Link:
    if link.id in down:
        return replace(link, state=LinkState.DOWN)
    if link.id in back:
        return replace(link, state=LinkState.UP)
    return link


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("topology discovery failed: %r", task.exception())
