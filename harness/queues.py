"""Output queues of every link at once: strict priority, then weighted fair sharing.

Inputs are offered loads per (link, class) in bit/s and the link capacities. Priority classes
(voice) are served first, in class order; the rest share what remains by weight with max-min
fairness (a class that needs less than its weighted share gives the rest back). Whatever is not
served is dropped (tail drop once the queue's buffer is full).

Delay model (per queue, on top of propagation): a queue that is not overloaded waits like an
M/M/1 queue, `s * rho / (1 - rho)` with `s` the class's packet transmission time and `rho` the
utilisation it competes with (its own for priority classes, the whole link for the others),
bounded by the time to drain a full buffer. An overloaded queue is full: its delay is that drain
time, `buffer_bits / served_rate`, capped at `MAX_QUEUE_DELAY_S`. Jitter is taken as equal to the
queueing delay (the M/M/1 waiting time's spread is of the order of its mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.classes import ClassTable

MAX_QUEUE_DELAY_S = 1.0
_EPS = 1e-9


@dataclass(frozen=True)
class QueueResult:
    """Per (link, class): served and dropped bit/s, drop ratio, queueing delay and depth."""

    served: np.ndarray
    dropped: np.ndarray
    drop_ratio: np.ndarray
    delay_s: np.ndarray
    depth_bits: np.ndarray


def serve(offered: np.ndarray, capacity: np.ndarray, classes: ClassTable) -> QueueResult:
    """Schedule offered load (L x C, bit/s) onto links of `capacity` (L,, bit/s)."""
    offered = np.maximum(offered, 0.0)
    cap = np.maximum(capacity, 0.0)
    served = np.zeros_like(offered)
    remaining = cap.copy()
    prio = classes.priority
    for c in np.flatnonzero(prio):
        served[:, c] = np.minimum(offered[:, c], remaining)
        remaining = remaining - served[:, c]
    weighted = np.flatnonzero(~prio)
    served[:, weighted] = _weighted_share(
        offered[:, weighted], remaining, classes.weights[weighted]
    )
    dropped = np.maximum(offered - served, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop_ratio = np.where(offered > _EPS, dropped / np.where(offered > 0, offered, 1.0), 0.0)
    delay, depth = _delays(served, dropped, cap, classes)
    return QueueResult(served, dropped, np.clip(drop_ratio, 0.0, 1.0), delay, depth)


def _weighted_share(offered: np.ndarray, capacity: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted max-min fair allocation of `capacity` (L,) among columns of `offered` (L x K)."""
    alloc = np.zeros_like(offered)
    remaining = capacity.copy()
    active = offered > _EPS
    for _ in range(offered.shape[1]):
        wsum = (active * weights).sum(axis=1)
        if not (wsum > 0).any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(
                active, remaining[:, None] * weights / np.where(wsum > 0, wsum, 1)[:, None], 0.0
            )
        give = np.minimum(offered - alloc, share)
        alloc += give
        remaining = np.maximum(remaining - give.sum(axis=1), 0.0)
        active &= alloc < offered - _EPS
    return alloc


def _delays(
    served: np.ndarray, dropped: np.ndarray, cap: np.ndarray, classes: ClassTable
) -> tuple[np.ndarray, np.ndarray]:
    safe_cap = np.where(cap > 0, cap, 1.0)[:, None]
    tx_time = classes.packet_bits[None, :] / safe_cap
    prio = classes.priority[None, :]
    rho_own = np.cumsum(np.where(prio, served, 0.0), axis=1) / safe_cap
    rho_all = served.sum(axis=1, keepdims=True) / safe_cap
    rho = np.clip(np.where(prio, rho_own, rho_all), 0.0, 1.0 - 1e-6)
    wait = tx_time * rho / (1.0 - rho)
    buffer_bits = classes.buffer_s[None, :] * safe_cap
    drain = np.minimum(buffer_bits / np.maximum(served, 1.0), MAX_QUEUE_DELAY_S)
    full = dropped > _EPS
    delay = np.where(full, drain, np.minimum(wait, drain))
    depth = np.where(full, buffer_bits, np.minimum(wait * served, buffer_bits))
    down = (cap <= 0)[:, None]
    return np.where(down, 0.0, delay), np.where(down, 0.0, depth)
