"""SLA misses as measured: which intents break their SLA on the path their traffic is on now.

The correlator's `sla_miss` symptoms (docs/incidents.md, "SLA misses"). Pure: the caller passes
the engine's installed placements, its link measurements (`Engine.measures`, from telemetry) and
topology (link states as the routers reported them), and each intent's SLA.

- The path carrying an intent's traffic is its primary; with the primary cut, its backup (path
  protection: the head end switches on its own) when every link of it is up.
- No intact path: the intent is **unreachable** (its path was cut and the engine has not moved
  it yet), whatever its SLA: loss 1.0.
- Otherwise the carrying path's latency (measured delay of each link, the configured delay where
  telemetry has none) and loss (1 - product of each link's delivery) against the intent's
  `max_latency` and `max_loss` (`controller.planner.path_figures`, what the engine's own
  SLA-at-risk check computes).
- Branch uplink probes (`controller.uplink_sla`): a class moved off an uplink because its probes
  broke the class's SLA there is an SLA miss of that class's intents over the uplink, with the
  probe's figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from controller.errors import NetpilotError
from controller.incident_model import MissReason, SlaFigures, Symptom
from controller.intents import SERVICE_CLASSES
from controller.pathing.types import Path, Placement
from controller.planner import LinkMeasure, path_figures
from controller.topology import Topology

PROBE_FIGURES = re.compile(
    r"\(delay (?P<delay>[\d.]+) ms, jitter [\d.]+ ms, loss (?P<loss>[\d.]+)%\)$"
)


@dataclass(frozen=True)
class Target:
    """An intent's SLA: one-way latency (s) and loss ratio bounds (None: no bound)."""

    max_latency_s: float | None
    max_loss: float | None


Targets = Callable[[str, Placement], Target]
"""The SLA of an intent, by name and installed placement."""


class PathState(Protocol):
    """What the check reads of the engine (`controller.engine.Engine` is one)."""

    topology: Topology
    measures: dict[str, LinkMeasure]

    def placements(self) -> dict[str, Placement]: ...


def default_target(_name: str, placement: Placement) -> Target:
    """The SLA the placement was asked for: its latency bound and its class's loss bound."""
    defaults = SERVICE_CLASSES.get(placement.request.service_class)
    loss = defaults.max_loss if defaults is not None else None
    return Target(placement.request.max_latency_s, loss)


def link_ids(path: Path) -> tuple[str, ...]:
    return tuple(key[2] for key in path.links)


def carrying(placement: Placement, topology: Topology) -> Path | None:
    """The path the traffic is on: the primary if intact, else an intact backup, else None."""
    for path in (placement.primary, placement.backup):
        if path is not None and not _cut(path, topology):
            return path
    return None


def misses_over(
    at: float, link: str, state: PathState, targets: Targets, *, primary_only: bool = False
) -> list[Symptom]:
    """SLA misses of the intents whose traffic crossed `link` (with `primary_only`: whose
    primary path crosses it, e.g. a link just cut)."""
    out = []
    for name, placement in sorted(state.placements().items()):
        paths = [placement.primary] if primary_only else _over(placement, state.topology)
        if not any(link in link_ids(p) for p in paths):
            continue
        found = check(at, name, placement, targets(name, placement), state)
        if found is not None:
            out.append(found)
    return out


def check(
    at: float, name: str, placement: Placement, target: Target, state: PathState
) -> Symptom | None:
    """The SLA miss of one intent now, or None when its traffic meets its SLA."""
    topology = state.topology
    path = carrying(placement, topology)
    primary = link_ids(placement.primary)
    if path is None:
        where = _cut(placement.primary, topology) or "?"
        figures = SlaFigures("unreachable", None, 1.0, *_bounds(target), source="link-state")
        why = f"unreachable: its path is cut at {where} (no intact backup), not yet rerouted"
        return Symptom(at, "sla_miss", name, primary, why, figures)
    latency, loss = path_figures(path, state.measures, topology)
    reason = _breach(latency, loss, target)
    if reason is None:
        return None
    figures = SlaFigures(reason, latency, loss, *_bounds(target))
    via = "backup" if path is not placement.primary else "path"
    why = f"measured on its {via} {'-'.join(path.nodes)}: {_words(figures)}"
    links = tuple(dict.fromkeys(primary + link_ids(path)))
    return Symptom(at, "sla_miss", name, links, why, figures)


def probe_misses(
    at: float, link: str, service_class: str, cause: str, state: PathState, *, targets: Targets
) -> list[Symptom]:
    """The intents of `service_class` whose primary path crosses uplink `link`, which the
    uplink probes (`cause`, as `controller.uplink_sla` words it) say breaks its SLA."""
    found = PROBE_FIGURES.search(cause)
    if found is None:
        return []
    delay, loss = float(found["delay"]) / 1e3, float(found["loss"]) / 100
    out = []
    for name, placement in sorted(state.placements().items()):
        if placement.request.service_class != service_class:
            continue
        if link not in link_ids(placement.primary):
            continue
        target = targets(name, placement)
        reason: MissReason = "loss" if _over_bound(loss, target.max_loss) else "latency"
        figures = SlaFigures(reason, delay, loss, *_bounds(target), source="probes")
        why = f"uplink probes: {cause}"
        out.append(Symptom(at, "sla_miss", name, link_ids(placement.primary), why, figures))
    return out


def _over(placement: Placement, topology: Topology) -> Iterable[Path]:
    path = carrying(placement, topology)
    return () if path is None else (path,)


def _cut(path: Path, topology: Topology) -> str | None:
    """The first link of `path` that is down or gone, or None."""
    for key in path.links:
        try:
            if not topology.link(key).is_up:
                return key[2]
        except NetpilotError:
            return key[2]
    return None


def _breach(latency: float, loss: float, target: Target) -> MissReason | None:
    if _over_bound(loss, target.max_loss):
        return "loss"
    if _over_bound(latency, target.max_latency_s):
        return "latency"
    return None


def _over_bound(value: float, bound: float | None) -> bool:
    return bound is not None and value > bound


def _bounds(target: Target) -> tuple[float | None, float | None]:
    return target.max_latency_s, target.max_loss


def _words(f: SlaFigures) -> str:
    if f.reason == "loss":
        return f"loss {f.loss:.2%} > SLA {f.max_loss:.2%}"
    assert f.latency_s is not None and f.max_latency_s is not None
    return f"latency {f.latency_s * 1e3:.1f} ms > SLA {f.max_latency_s * 1e3:.1f} ms"


def targets_from(sla: Mapping[str, Target]) -> Targets:
    """Each intent's own SLA where known (`sla`, by name), else `default_target`."""

    def target(name: str, placement: Placement) -> Target:
        return sla.get(name) or default_target(name, placement)

    return target
