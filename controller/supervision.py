"""What the supervised engine counts and how it backs off: `EngineStats`, `backoff_s`, `health`.

Plain counters (monotonic, `_total` in Prometheus) and a few gauges; the runtime exports them at
scrape time. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

UNHEALTHY_AFTER = 3
"""Consecutive failed rounds after which the engine reports not ready."""


@dataclass
class EngineStats:
    """Engine counters (monotonic) and gauges (`consecutive_errors`, `last_*`)."""

    rounds: int = 0
    """Supervised rounds run: reconcile, optimize's planning, drift checks."""
    round_errors: int = 0
    """Rounds that raised (logged with their traceback, event `round-error`)."""
    consecutive_errors: int = 0
    """Gauge: failed rounds since the last good one; 3 or more makes the engine not ready."""
    last_error: str | None = None
    """Gauge: the last round error (`Type: text`), kept after recovery."""
    last_round_s: float = 0.0
    """Gauge: wall seconds of the last round."""
    transactions: int = 0
    """Transactions handed to the southbound."""
    superseded: int = 0
    """State writes of a round skipped because the intent changed meanwhile (the API's wins)."""
    transaction_failures: int = 0
    """Transactions not committed (refused, rolled back, or the southbound raised)."""
    verify_ok: int = 0
    """Devices read back after a commit and found holding what was pushed."""
    verify_failures: int = 0
    """Devices read back after a commit that differed or could not be read."""
    verify_gave_up: int = 0
    """Devices that still failed verification after the allowed retries."""
    drift_checks: int = 0
    """Drift checks run (each reads every managed device)."""
    drift_found: int = 0
    """Devices found drifted (their running config differs from the last committed one)."""
    drift_repaired: int = 0
    """Drifted devices put back by a committed repair transaction."""
    drift_unreadable: int = 0
    """Devices a drift check could not read."""
    device_errors: int = 0
    """Device operations that failed: a device failing a transaction, or a read that failed."""

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)


def backoff_s(failures: int, base_s: float, max_s: float) -> float:
    """Delay before retrying after `failures` consecutive failed rounds: base, 2x, 4x, ... max."""
    if failures <= 0:
        return 0.0
    return min(base_s * 2.0 ** min(failures - 1, 30), max_s)


def health(ready: bool, stats: EngineStats, after: int = UNHEALTHY_AFTER) -> tuple[bool, str]:
    """(ready, why): not ready before startup and after `after` consecutive failed rounds."""
    if not ready:
        return False, "starting: state not loaded yet"
    if stats.consecutive_errors >= after:
        return False, f"{stats.consecutive_errors} consecutive failed rounds: {stats.last_error}"
    return True, "ready"
