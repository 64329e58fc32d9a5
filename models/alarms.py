"""Alarms with hysteresis: raise after `persist` hot samples in a row, clear after `clear` cool
samples in a row. Nothing is raised while the link is down (and an active alarm ends there)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hysteresis:
    on: float
    off: float
    persist: int = 3
    clear: int = 10


def raise_points(
    hot: np.ndarray, cool: np.ndarray, up: np.ndarray, persist: int, clear: int
) -> list[int]:
    """Sample indices where an alarm is raised."""
    return run(hot, cool, up, persist, clear)[0]


def run(
    hot: np.ndarray, cool: np.ndarray, up: np.ndarray, persist: int, clear: int
) -> tuple[list[int], bool]:
    """Raise points and whether an alarm is still active after the last sample."""
    raised: list[int] = []
    active, run_hot, run_cool = False, 0, 0
    for i in range(len(hot)):
        if not up[i]:
            active, run_hot, run_cool = False, 0, 0
            continue
        if active:
            run_cool = run_cool + 1 if cool[i] else 0
            if run_cool >= clear:
                active, run_cool = False, 0
            continue
        run_hot = run_hot + 1 if hot[i] else 0
        if run_hot >= persist:
            raised.append(i)
            active, run_hot = True, 0
    return raised, active


def alarms(score: np.ndarray, up: np.ndarray, h: Hysteresis) -> list[int]:
    return raise_points(score >= h.on, score < h.off, up, h.persist, h.clear)


def active_at_end(score: np.ndarray, up: np.ndarray, h: Hysteresis) -> bool:
    return run(score >= h.on, score < h.off, up, h.persist, h.clear)[1]
