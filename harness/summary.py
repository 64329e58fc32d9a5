"""What a simulation run did, for `netpilot sim run` and `netpilot telemetry top`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.netsim import NetworkSimulator, SimEvent
from telemetry.exporter import IntentSla


@dataclass
class RunSummary:
    sim: NetworkSimulator
    steps: int = 0
    offered_bits: np.ndarray = field(init=False)
    dropped_bits: np.ndarray = field(init=False)
    util_sum: np.ndarray = field(init=False)
    util_max: np.ndarray = field(init=False)
    sla_met: dict[str, int] = field(default_factory=dict)
    worst_latency: dict[str, float] = field(default_factory=dict)
    worst_loss: dict[str, float] = field(default_factory=dict)
    events: list[SimEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        c, n = len(self.sim.classes.specs), self.sim.index.n_links
        self.offered_bits = np.zeros(c)
        self.dropped_bits = np.zeros(c)
        self.util_sum = np.zeros(n)
        self.util_max = np.zeros(n)

    def add(self, events: tuple[SimEvent, ...], slas: list[IntentSla]) -> None:
        sim, sol = self.sim, self.sim.solution
        assert sol is not None
        self.steps += 1
        cls = sim.traffic.flows.cls
        c = len(sim.classes.specs)
        self.offered_bits += np.bincount(cls, sol.flow_offered, minlength=c) * sim.step_s
        self.dropped_bits += np.bincount(cls, sol.flow_dropped, minlength=c) * sim.step_s
        cap = sim.index.capacity
        util = sol.queues.served.sum(axis=1) / cap
        self.util_sum += util
        self.util_max = np.maximum(self.util_max, util)
        self.events += events
        for s in slas:
            self.sla_met[s.name] = self.sla_met.get(s.name, 0) + int(s.met)
            if s.latency_s is not None:
                self.worst_latency[s.name] = max(self.worst_latency.get(s.name, 0.0), s.latency_s)
            self.worst_loss[s.name] = max(self.worst_loss.get(s.name, 0.0), s.loss or 0.0)

    def busiest(self, n: int = 10) -> list[dict[str, Any]]:
        mean = self.util_sum / max(self.steps, 1)
        order = np.argsort(-mean)[:n]
        links = self.sim.index.links
        return [
            {
                "link": links[i].id,
                "src": links[i].src,
                "dst": links[i].dst,
                "mean_utilisation": round(float(mean[i]), 4),
                "max_utilisation": round(float(self.util_max[i]), 4),
            }
            for i in order
        ]

    def to_dict(self) -> dict[str, Any]:
        sim = self.sim
        seconds = max(self.steps * sim.step_s, 1e-9)
        names = sim.classes.names
        return {
            "topology": sim.index.topology.name,
            "simulated_s": self.steps * sim.step_s,
            "steps": self.steps,
            "flows": len(sim.traffic.flows),
            "offered_bps": float(self.offered_bits.sum() / seconds),
            "dropped_bps": float(self.dropped_bits.sum() / seconds),
            "drop_ratio_by_class": {
                n: float(d / o) if o > 0 else 0.0
                for n, o, d in zip(names, self.offered_bits, self.dropped_bits, strict=True)
            },
            "busiest_links": self.busiest(),
            "intents": [
                {
                    "name": name,
                    "sla_met_ratio": met / max(self.steps, 1),
                    "worst_latency_s": self.worst_latency.get(name),
                    "worst_loss": self.worst_loss.get(name),
                }
                for name, met in self.sla_met.items()
            ],
            "events": [{"t": e.t, "kind": e.kind, "target": e.target} for e in self.events],
        }
