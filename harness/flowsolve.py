"""Per-step flow solver: offered load per link and class, drops with upstream thinning, per-flow
delivery, delay, loss and jitter.

The routing is a table of entries (link, flow, fraction, level): flow f sends `fraction` of its
traffic over `link`, `level` hops from its source. Traffic dropped at a link does not reach the
links after it: the survival of a flow before an entry is the product of (1 - drop ratio) over
its earlier levels (weighted by fraction for ECMP branches). Drops depend on offered load, which
depends on upstream drops: the solver iterates to a fixed point (exact after as many rounds as
there are congested links in series). Accounting is exact: what a flow loses is what the links
drop of it, so offered = delivered + dropped network-wide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.classes import ClassTable
from harness.queues import QueueResult, serve

MAX_ROUNDS = 12


@dataclass
class RouteTable:
    """Routing entries sorted by (flow, level), with the grouping the solver needs."""

    link: np.ndarray
    flow: np.ndarray
    frac: np.ndarray
    level: np.ndarray
    n_flows: int
    routed: np.ndarray
    group: np.ndarray = field(init=False)
    first_group: np.ndarray = field(init=False)
    n_groups: int = field(init=False)

    def __post_init__(self) -> None:
        order = np.lexsort((self.level, self.flow))
        self.link, self.flow = self.link[order], self.flow[order]
        self.frac, self.level = self.frac[order], self.level[order]
        n = len(self.flow)
        new_group = np.ones(n, dtype=bool)
        new_flow = np.ones(n, dtype=bool)
        if n:
            new_flow[1:] = self.flow[1:] != self.flow[:-1]
            new_group[1:] = new_flow[1:] | (self.level[1:] != self.level[:-1])
        self.group = np.cumsum(new_group) - 1
        self.n_groups = int(self.group[-1]) + 1 if n else 0
        group_starts = np.flatnonzero(new_group)
        flow_start_group = np.where(new_flow[group_starts], np.arange(self.n_groups), 0)
        self.first_group = np.maximum.accumulate(flow_start_group) if n else flow_start_group


@dataclass(frozen=True)
class FlowSolution:
    """One step's result. Link arrays are (L, C); flow arrays are (F,)."""

    queues: QueueResult
    offered: np.ndarray
    corrupted: np.ndarray
    delivered_link: np.ndarray
    flow_offered: np.ndarray
    flow_delivered: np.ndarray
    flow_dropped: np.ndarray
    flow_delay_s: np.ndarray
    flow_jitter_s: np.ndarray
    rounds: int

    @property
    def flow_loss(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.flow_offered > 0, self.flow_dropped / self.flow_offered, 0.0)


def solve(
    rt: RouteTable,
    *,
    rates: np.ndarray,
    flow_cls: np.ndarray,
    capacity: np.ndarray,
    error_ratio: np.ndarray,
    link_delay_s: np.ndarray,
    classes: ClassTable,
) -> FlowSolution:
    n_links, n_cls = len(capacity), len(classes.specs)
    e_cls = flow_cls[rt.flow]
    e_rate = rates[rt.flow] * rt.frac
    slot = rt.link * n_cls + e_cls
    d_entry = np.zeros(len(rt.link))
    rounds = 0
    while True:
        rounds += 1
        x = rt.frac * np.log1p(-np.clip(d_entry, 0.0, 1.0 - 1e-15))
        gsum = np.bincount(rt.group, x, minlength=rt.n_groups)
        excl = np.cumsum(gsum) - gsum
        surv = np.exp((excl - excl[rt.first_group])[rt.group]) if len(x) else x
        carried = e_rate * surv
        offered = np.bincount(slot, carried, minlength=n_links * n_cls).reshape(n_links, n_cls)
        q = serve(offered, capacity, classes)
        d_link = 1.0 - (1.0 - q.drop_ratio) * (1.0 - error_ratio[:, None])
        new = d_link.ravel()[slot]
        done = not len(new) or float(np.max(np.abs(new - d_entry))) < 1e-12
        d_entry = new
        if done or rounds >= MAX_ROUNDS:
            break
    lost = np.bincount(rt.flow, carried * d_entry, minlength=rt.n_flows)
    dropped = np.where(rt.routed, np.minimum(lost, rates), rates)
    qdelay = q.delay_s.ravel()[slot]
    delay = np.bincount(rt.flow, rt.frac * (link_delay_s[rt.link] + qdelay), minlength=rt.n_flows)
    jitter = np.sqrt(np.bincount(rt.flow, rt.frac * qdelay**2, minlength=rt.n_flows))
    corrupted = q.served * error_ratio[:, None]
    return FlowSolution(
        queues=q,
        offered=offered,
        corrupted=corrupted,
        delivered_link=q.served - corrupted,
        flow_offered=rates,
        flow_delivered=rates - dropped,
        flow_dropped=dropped,
        flow_delay_s=np.where(rt.routed, delay, np.inf),
        flow_jitter_s=jitter,
        rounds=rounds,
    )
