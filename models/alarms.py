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


def run_lengths(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at each index (0 where False)."""
    flags = np.asarray(flags, dtype=bool)
    idx = np.arange(len(flags))
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return np.where(flags, idx - last_false, 0)


def run(
    hot: np.ndarray, cool: np.ndarray, up: np.ndarray, persist: int, clear: int
) -> tuple[list[int], bool]:
    """Raise points and whether an alarm is still active after the last sample.

    Jumps from one alarm to the next with run lengths instead of stepping through samples:
    inactive from `pos`, an alarm is raised at the first i whose hot run (counted from `pos`)
    reaches `persist`; it ends at the first later sample that is down or ends a cool run of
    `clear`; counting starts again after it."""
    up = np.asarray(up, dtype=bool)
    n = len(up)
    hot_run = run_lengths(np.asarray(hot, dtype=bool) & up)
    cool_run = run_lengths(np.asarray(cool, dtype=bool) & up)
    raised: list[int] = []
    pos = 0
    while pos < n:
        since = np.arange(1, n - pos + 1)
        start = np.flatnonzero(np.minimum(hot_run[pos:], since) >= persist)
        if not start.size:
            return raised, False
        i = pos + int(start[0])
        raised.append(i)
        after = np.arange(1, n - i)
        ends = np.flatnonzero(~up[i + 1 :] | (np.minimum(cool_run[i + 1 :], after) >= clear))
        if not ends.size:
            return raised, True
        pos = i + 1 + int(ends[0]) + 1
    return raised, False


def alarms(score: np.ndarray, up: np.ndarray, h: Hysteresis) -> list[int]:
    return raise_points(score >= h.on, score < h.off, up, h.persist, h.clear)


def active_at_end(score: np.ndarray, up: np.ndarray, h: Hysteresis) -> bool:
    return run(score >= h.on, score < h.off, up, h.persist, h.clear)[1]
