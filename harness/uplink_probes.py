"""Active SLA probes on the simulated branch routers' uplinks (TWAMP-light style; issue 20).

Each branch router (a non-transit node) probes every uplink it owns (an outgoing link with a
`transport`) in windows of `interval_s` simulated seconds: `packets` probes a window, evenly
spaced, each with the uplink's one-way delay (its nominal delay plus any scenario extra delay,
e.g. a brownout's), a small baseline jitter plus the brownout's jitter, and lost with the
brownout's loss (harness/scenario.py `brownout`; all lost while the link is down), as the
scenario stands when that probe is sent: a brownout that begins halfway through a window
impairs the second half of its probes (the faults are read at `SLOTS` instants a window).
A window reports the mean delay of the probes that came back, the RFC 3550 interarrival jitter
estimate and the fraction lost. The router reports its last `keep` finished windows (numbered by
`seq`), so a controller polling slower than the probes still sees every window.

Figures are a function of (seed, link, window), not of when they are read: every reader of a
window sees the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from controller.devicestate import UplinkProbe
from harness.routing import LinkIndex
from harness.scenario import FaultState

PROBE_INTERVAL_S = 2.0
PACKETS = 100
"""Probes per window: 50 a second over a 2 s window (TWAMP-light senders run 10-100/s)."""
KEEP = 4
BASE_JITTER_S = 0.0002
"""Delay variation of a healthy uplink (per-probe standard deviation)."""
CACHE = 4096
SLOTS = 10
"""Instants a window at which the scenario's faults are read (each covers packets / SLOTS
probes): a fault's onset is placed within a tenth of a window."""


class FaultTimeline(Protocol):
    """The scenario's faults at any time (harness.scenario.FaultPlan)."""

    def at(self, t: float) -> FaultState: ...


def rfc3550_jitter(transit_s: np.ndarray) -> float:
    """Interarrival jitter J of RFC 3550 (6.4.1): J += (|D| - J) / 16 over successive probes."""
    jitter = 0.0
    for d in np.abs(np.diff(transit_s)):
        jitter += (float(d) - jitter) / 16.0
    return jitter


@dataclass
class UplinkProber:
    index: LinkIndex
    faults: FaultTimeline
    interval_s: float = PROBE_INTERVAL_S
    packets: int = PACKETS
    keep: int = KEEP
    seed: int = 1
    uplinks: dict[str, list[int]] = field(init=False)
    """Branch router -> indices of the uplinks it probes."""
    _windows: dict[tuple[int, int], UplinkProbe] = field(init=False, default_factory=dict)
    _faults: dict[int, list[FaultState]] = field(init=False, default_factory=dict)
    """Window -> the faults at its slots (shared by every uplink's window)."""

    def __post_init__(self) -> None:
        topo = self.index.topology
        self.uplinks = {}
        for i, link in enumerate(self.index.links):
            if link.transport is not None and not topo.nodes[link.src].transit:
                self.uplinks.setdefault(link.src, []).append(i)

    def at(self, device: str, t: float) -> tuple[UplinkProbe, ...]:
        """The last `keep` windows finished by time `t` on each of `device`'s uplinks."""
        links = self.uplinks.get(device)
        if not links:
            return ()
        done = math.floor(t / self.interval_s + 1e-9)
        seqs = range(max(0, done - self.keep), done)
        return tuple(self._window(i, k) for i in links for k in seqs)

    def _window(self, i: int, k: int) -> UplinkProbe:
        cached = self._windows.get((i, k))
        if cached is not None:
            return cached
        if len(self._windows) >= CACHE:
            self._windows.clear()
        probe = self._measure(i, k, (k + 1) * self.interval_s, self._slots(k))
        self._windows[(i, k)] = probe
        return probe

    def _slots(self, k: int) -> list[FaultState]:
        """The faults at the end of each slot of window `k` (the last one: the window's end)."""
        got = self._faults.get(k)
        if got is None:
            if len(self._faults) >= 64:
                self._faults.clear()
            start, width = k * self.interval_s, self.interval_s / SLOTS
            got = [self.faults.at(start + (s + 1) * width - 1e-6) for s in range(SLOTS)]
            self._faults[k] = got
        return got

    def _measure(self, i: int, k: int, end: float, slots: list[FaultState]) -> UplinkProbe:
        link = self.index.links[i]
        rng = np.random.default_rng([self.seed, i, k])
        per = -(-self.packets // SLOTS)
        pick = np.minimum(np.arange(self.packets) // per, SLOTS - 1)
        up = np.array([bool(st.link_up[i]) for st in slots])[pick]
        loss = np.array([_at(st.probe_loss, i) for st in slots])[pick]
        spread = BASE_JITTER_S + np.array([_at(st.probe_jitter_s, i) for st in slots])[pick]
        extra = np.array([float(st.extra_delay_s[i]) for st in slots])[pick]
        base = float(self.index.delay[i]) + extra
        # successive probes differ by `spread` on average (E|X - Y| of two normals is 2s/sqrt(pi))
        noise = rng.normal(0.0, 1.0, self.packets) * spread * math.sqrt(math.pi) / 2
        transit = np.maximum(base + spread + noise, base)
        kept = transit[(rng.random(self.packets) >= loss) & up]
        lost = (self.packets - kept.size) / self.packets
        if kept.size == 0:
            return UplinkProbe(link.id, k, end, 0.0, 0.0, 1.0, self.packets)
        delay, jitter = round(float(kept.mean()), 9), round(rfc3550_jitter(kept), 9)
        return UplinkProbe(link.id, k, end, delay, jitter, round(lost, 6), self.packets)


def _at(values: np.ndarray, i: int) -> float:
    return float(values[i]) if values.size else 0.0
