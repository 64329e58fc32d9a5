"""Time splits for forecasting: train on the earlier part, roll the origin over the later part.

Nothing here shuffles. `assert_no_leak` is the guard every fit goes through: it refuses training
samples whose target lies at or after the end of the training part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from controller.errors import NetpilotError, UsageError

HORIZONS: tuple[int, ...] = (1, 3, 12)


class DataLeakError(NetpilotError):
    """A fit used data from the test part (a bug in the caller, reported loudly)."""


@dataclass(frozen=True)
class TimeSplit:
    """Steps `[0, train_end)` train, `[train_end, steps)` test."""

    steps: int
    train_end: int

    @classmethod
    def by_fraction(
        cls, steps: int, fraction: float, max_horizon: int = max(HORIZONS)
    ) -> TimeSplit:
        if not 0.0 < fraction < 1.0:
            raise UsageError(f"--train-fraction must be between 0 and 1, got {fraction}")
        train_end = round(steps * fraction)
        if train_end < 2 * max_horizon + 2:
            raise UsageError(
                f"only {train_end} training steps for horizons up to {max_horizon}: "
                "give a longer file or a larger --train-fraction"
            )
        if steps - train_end < max_horizon + 1:
            raise UsageError(
                f"only {steps - train_end} test steps for horizons up to {max_horizon}: "
                "give a longer file or a smaller --train-fraction"
            )
        return cls(steps=steps, train_end=train_end)

    def origins(self, max_horizon: int = max(HORIZONS)) -> np.ndarray:
        """Rolling forecast origins t (last observed step) whose targets t+1..t+max_horizon all
        fall in the test part; the same origins serve every horizon so horizons compare fairly."""
        return np.arange(self.train_end - 1, self.steps - max_horizon)

    def train_origins(self, horizon: int, min_history: int) -> np.ndarray:
        """Origins usable for training at `horizon`: enough history, target before train_end."""
        return np.arange(min_history - 1, self.train_end - horizon)


def assert_no_leak(split: TimeSplit, target_steps: Iterable[int] | np.ndarray, what: str) -> None:
    """Refuse a fit whose targets reach into the test part."""
    steps = np.asarray(
        list(target_steps) if not isinstance(target_steps, np.ndarray) else target_steps
    )
    if steps.size and int(steps.max()) >= split.train_end:
        raise DataLeakError(
            f"{what}: training target at step {int(steps.max())} but the test part starts at "
            f"step {split.train_end}; fit only on data before the split"
        )
