"""The demand QoS shares follow besides the placed intents (issue 20, item 6): per directed link
and class, the traffic forecast's p90 where the models give one, else the measured load. Pure.

The models forecast each directed link's whole load (the p90 of its utilisation `horizon`
ahead, telemetry/linkmodels.py); telemetry measures each class's load on it from the queue
counters. The forecast is split over the classes as they are measured now; a link without a
forecast (the forecaster's first rounds, or no models) gives its measured class loads. Figures
are rounded up to a `QUANTUM` of the link's capacity, so that shares move when demand moves by
a step, not with every sample (each share change is a push).

The engine calls `demand()` when it compiles: `controller.qos.interface_shares` takes, per
class an interface carries intents of, the larger of the placed bandwidth and this figure (the
measured traffic includes the intents' own), within the class's floor and ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from controller.desired import DeviceConfig
from controller.qos import LinkKey
from controller.topology import Topology

QUANTUM = 0.05
"""Demand is rounded up to this fraction of the link's capacity."""


class ClassLoad(Protocol):
    """One directed link as telemetry measures it (telemetry.processor.LinkTelemetry)."""

    @property
    def link(self) -> str: ...
    @property
    def src(self) -> str: ...
    @property
    def dst(self) -> str: ...
    @property
    def speed_bps(self) -> float: ...
    @property
    def class_utilisation(self) -> Mapping[str, float]: ...


class LoadForecast(Protocol):
    """A link's forecast utilisation p90 (telemetry.exporter.LinkForecast)."""

    @property
    def link(self) -> str: ...
    @property
    def src(self) -> str: ...
    @property
    def utilisation(self) -> float: ...


@dataclass(frozen=True)
class ClassDemand:
    """What `demand()` hands the compiler, and where each figure came from."""

    demand: Mapping[LinkKey, Mapping[str, float]] = field(default_factory=dict)
    forecast_links: int = 0
    """Links whose figures come from the forecast p90 (the others: measured)."""


def class_demand(loads: Iterable[ClassLoad], forecasts: Iterable[LoadForecast]) -> ClassDemand:
    """Directed link -> class -> bit/s: the forecast p90 split as the classes are measured,
    or the measured class load where no forecast exists."""
    p90 = {(f.src, f.link): float(f.utilisation) for f in forecasts}
    out: dict[LinkKey, dict[str, float]] = {}
    forecast_links = 0
    for lt in loads:
        measured = {c: u for c, u in lt.class_utilisation.items() if u > 0}
        total = sum(measured.values())
        if lt.speed_bps <= 0 or total <= 0:
            continue
        ahead = p90.get((lt.src, lt.link))
        scale = 1.0 if ahead is None else max(ahead, 0.0) / total
        forecast_links += ahead is not None
        out[(lt.src, lt.dst, lt.link)] = {
            c: step_up(u * scale * lt.speed_bps, lt.speed_bps) for c, u in sorted(measured.items())
        }
    return ClassDemand(out, forecast_links)


def installed_demand(
    topology: Topology, configs: Iterable[DeviceConfig]
) -> dict[LinkKey, dict[str, float]]:
    """The demand the installed shares were computed for, per directed link and class: what the
    engine compiles with until telemetry has measured any (a restarted controller must not
    take back shares that followed demand, only to raise them again a few rounds later)."""
    out: dict[LinkKey, dict[str, float]] = {}
    for config in configs:
        links = {lk.id: lk for lk in topology.out_links(config.device)}
        for share in config.shares:
            link = links.get(share.interface)
            if link is not None:
                key = (link.src, link.dst, link.id)
                out.setdefault(key, {})[share.service_class] = share.guaranteed_bps
    return out


def step_up(bps: float, capacity: float) -> float:
    """`bps` rounded up to a `QUANTUM` of `capacity`."""
    quantum = QUANTUM * capacity
    return float(math.ceil(bps / quantum - 1e-9) * quantum) if bps > 0 else 0.0
