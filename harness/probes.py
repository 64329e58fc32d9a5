"""Probe flows for watched intents: a small flow per intent whose delay and loss the simulator
reports against the intent's SLA (what TWAMP/active probes measure on a real network)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from controller.intents import Intent
from harness.classes import ClassTable
from harness.routing import LinkIndex
from harness.scenario import WatchIntent
from harness.traffic import Flows, TrafficSource

PROBE_BPS = 1e4


@dataclass
class WithProbes:
    """`base` traffic plus one probe flow per watched intent (appended at the end)."""

    base: TrafficSource
    intents: list[WatchIntent]
    index: LinkIndex
    classes: ClassTable
    flows: Flows = field(init=False)

    def __post_init__(self) -> None:
        ids = self.index.node_idx
        b = self.base.flows
        self.first_probe = len(b)
        self.flows = Flows(
            src=np.concatenate([b.src, [ids[i.src] for i in self.intents]]).astype(np.int64),
            dst=np.concatenate([b.dst, [ids[i.dst] for i in self.intents]]).astype(np.int64),
            cls=np.concatenate(
                [b.cls, [self.classes.index(i.service_class) for i in self.intents]]
            ).astype(np.int64),
        )

    def rates(self, t: float) -> np.ndarray:
        return np.concatenate([self.base.rates(t), np.full(len(self.intents), PROBE_BPS)])


def watch_intents(intents: Iterable[Intent]) -> list[WatchIntent]:
    """Probes for the controller's intents between routers (prefix-only endpoints are skipped)."""
    out = []
    for it in intents:
        if it.src.node is None or it.dst.node is None:
            continue
        out.append(
            WatchIntent(
                name=it.name,
                src=it.src.node,
                dst=it.dst.node,
                service_class=it.service_class,
                max_latency=it.max_latency_s,
                max_loss=it.max_loss if it.max_loss is not None else 1.0,
            )
        )
    return out
