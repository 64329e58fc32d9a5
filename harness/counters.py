"""Cumulative interface counters of every router, as real routers keep them.

Counters are unsigned 64-bit and wrap (numpy uint64 arithmetic wraps silently); `start` lets a
test begin near the top to see the wrap. A router that restarts (node down, then up) loses its
counters: they restart from zero and its `boot_id` increases, as on a reboot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.classes import ClassTable


@dataclass
class Counters:
    n_links: int
    n_nodes: int
    classes: ClassTable
    start: int = 0
    tx_octets: np.ndarray = field(init=False)
    tx_packets: np.ndarray = field(init=False)
    drop_packets: np.ndarray = field(init=False)
    rx_octets: np.ndarray = field(init=False)
    rx_packets: np.ndarray = field(init=False)
    rx_errors: np.ndarray = field(init=False)
    boot_id: np.ndarray = field(init=False)
    _carry: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        c = len(self.classes.specs)
        shape = (self.n_links, c)
        self.tx_octets = self._initial(shape)
        self.tx_packets = self._initial(shape)
        self.drop_packets = np.zeros(shape, dtype=np.uint64)
        self.rx_octets = self._initial(shape)
        self.rx_packets = self._initial(shape)
        self.rx_errors = np.zeros(shape, dtype=np.uint64)
        self.boot_id = np.ones(self.n_nodes, dtype=np.int64)
        self._carry = np.zeros((6, *shape))

    def _initial(self, shape: tuple[int, int]) -> np.ndarray:
        """Zeros, except the first queue starts at `start` so interface totals start there too."""
        arr = np.zeros(shape, dtype=np.uint64)
        arr[:, 0] = np.uint64(self.start)
        return arr

    def add(
        self,
        seconds: float,
        served_bps: np.ndarray,
        dropped_bps: np.ndarray,
        delivered_bps: np.ndarray,
        corrupted_bps: np.ndarray,
    ) -> None:
        """Accumulate one step of (L, C) rates; fractional units carry over to the next step."""
        pkt_bits = self.classes.packet_bits[None, :]
        amounts = (
            np.stack(
                [
                    served_bps / 8.0,
                    served_bps / pkt_bits,
                    dropped_bps / pkt_bits,
                    delivered_bps / 8.0,
                    delivered_bps / pkt_bits,
                    corrupted_bps / pkt_bits,
                ]
            )
            * seconds
            + self._carry
        )
        whole = np.floor(np.maximum(amounts, 0.0))
        self._carry = amounts - whole
        inc = whole.astype(np.uint64)
        for k, target in enumerate(self._arrays()):
            np.add(target, inc[k], out=target)

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.tx_octets,
            self.tx_packets,
            self.drop_packets,
            self.rx_octets,
            self.rx_packets,
            self.rx_errors,
        )

    def restart(self, node: int, out_links: np.ndarray, in_links: np.ndarray) -> None:
        """Router `node` rebooted: its transmit and receive counters start again from zero."""
        self.boot_id[node] += 1
        for arr in (self.tx_octets, self.tx_packets, self.drop_packets):
            arr[out_links] = 0
        for arr in (self.rx_octets, self.rx_packets, self.rx_errors):
            arr[in_links] = 0
        self._carry[:, out_links] = 0.0
        self._carry[:, in_links] = 0.0
