"""Ground truth of a running simulated network, as JSON lines (`netpilot network run --events`).

Every line has `kind`, `sim_s` (simulated seconds when it took effect in the network) and `wall`
(Unix time it was written); link events name the physical link as the topology does (`link`),
router events the router (`node`). Scenario-driven lines also carry `at`, the scenario's time.

    {"kind": "started", "sim_s": 0.0, "wall": ..., "inventory": ..., "speed": 60, "step_s": 10, ...}
    {"kind": "degrade", "sim_s": 300.0, "at": 300.0, "link": "DC1-DC2-a", "signal": "rx_power", ...}
    {"kind": "link_down", "sim_s": 1320.0, "link": "DC1-DC2-a", "wall": ...}
    {"kind": "unreachable", "sim_s": 120.0, "node": "BR3", "wall": ...}
    {"kind": "stopped", "sim_s": 3600.0, "steps": 360, ...}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from controller.errors import UsageError
from harness.scenario import (
    Brownout,
    CapacityLoss,
    Decoy,
    Degrade,
    Event,
    Flap,
    Scenario,
    TrafficSurge,
)


@dataclass(frozen=True)
class Mark:
    """A scenario event's moment: at simulated time `at`, `kind` starts (or ends)."""

    at: float
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


def _degrade_marks(ev: Degrade) -> list[Mark]:
    onset = {
        "link": ev.link,
        "signal": ev.signal,
        "amount": ev.magnitude(),
        "ramp_s": ev.ramp,
        "fail_at": ev.fail_at,
        "repair_at": ev.repair_at,
    }
    out = [Mark(ev.at, "degrade", onset)]
    if ev.repair_at is not None:
        out.append(Mark(ev.repair_at, "repaired", {"link": ev.link}))
    return out


def _surge_marks(ev: TrafficSurge) -> list[Mark]:
    ends = {"src": ev.src, "dst": ev.dst, "class": ev.cls}
    onset = {**ends, "peak_bps": ev.peak, "ramp_s": ev.ramp, "until": ev.until}
    return [Mark(ev.at, "surge", onset), Mark(ev.until, "surge_end", ends)]


def _marks_of(ev: Event) -> list[Mark]:
    if isinstance(ev, Degrade):
        return _degrade_marks(ev)
    if isinstance(ev, TrafficSurge):
        return _surge_marks(ev)
    if isinstance(ev, Decoy):
        fields = {"link": ev.link, "signal": ev.signal, "amount": ev.magnitude(), "ramp_s": ev.ramp}
        return [Mark(ev.at, "decoy", fields)]
    if isinstance(ev, Flap):
        return [Mark(ev.at, "flap", {"link": ev.link, "period_s": ev.period, "count": ev.count})]
    if isinstance(ev, CapacityLoss):
        out = [Mark(ev.at, "capacity_loss", {"link": ev.link, "fraction": ev.fraction})]
        if ev.until is not None:
            out.append(Mark(ev.until, "capacity_restored", {"link": ev.link}))
        return out
    if isinstance(ev, Brownout):
        impair = {"link": ev.link, "loss": ev.loss, "delay_s": ev.delay, "jitter_s": ev.jitter}
        out = [Mark(ev.at, "brownout", impair)]
        if ev.until is not None:
            out.append(Mark(ev.until, "brownout_end", {"link": ev.link}))
        return out
    return []  # link/node down and up: the simulator's own transitions report them


def scenario_marks(scenario: Scenario) -> list[Mark]:
    """Onsets (and ends) of the scenario's gradual events, in time order. Hard state changes
    (link_down/up, node_down/up, also a degradation's failure and a flap's toggles) come from
    the simulator when it makes them; unreachable/reachable from the run that enforces them."""
    marks = [m for ev in scenario.events for m in _marks_of(ev)]
    return sorted(marks, key=lambda m: m.at)


class EventLog:
    """Appends one JSON object per line to `path` (none: counts only), flushed at once."""

    def __init__(
        self,
        path: Path | None,
        *,
        wall: Callable[[], float] = time.time,
        listener: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.path = path
        self.wall = wall
        self.listener = listener
        self.count = 0
        self._file: IO[str] | None = None

    def open(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"--events {self.path}: cannot open it ({error.strerror}); give a writable file"
            ) from None

    def emit(self, kind: str, sim_s: float, **fields: Any) -> dict[str, Any]:
        line = {"kind": kind, "sim_s": round(sim_s, 6), **fields, "wall": round(self.wall(), 6)}
        if self._file is not None:
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()
        self.count += 1
        if self.listener is not None:
            self.listener(line)
        return line

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
