"""Read devices back for the engine: verify a commit, check for drift. Never raises for a device.

`Readback` reads through the southbound (`controller.southbound.drift`, devices in parallel),
compares canonically with what the engine committed, and records what it found in the
`DeviceBook`, the `EngineStats` and the engine's events. The engine decides what to do with it
(re-push, retry, repair, intent states).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.desired import DeviceConfig
from controller.southbound.base import Southbound
from controller.southbound.drift import read_drift
from controller.supervision import EngineStats
from controller.verify_push import DeviceBook, Verdict

EventSink = Callable[[str, str, str], None]
"""`(kind, cause, detail)`: records an engine event."""


@dataclass
class DriftReport:
    """One drift check: which devices drifted, which could not be read, what was repaired."""

    repair: bool
    checked: list[str] = field(default_factory=list)
    in_sync: list[str] = field(default_factory=list)
    drifted: dict[str, str] = field(default_factory=dict)  # device -> what differs (keys only)
    unreadable: dict[str, str] = field(default_factory=dict)  # device -> the read error
    repaired: list[str] = field(default_factory=list)
    revisions: list[int] = field(default_factory=list)
    committed: bool = True  # the repair transaction committed (or none was needed)
    error: str | None = None  # the engine failed (not a device): the round error
    read: dict[str, DeviceConfig] = field(default_factory=dict, repr=False)
    """What each drifted, readable device holds (the engine's new view of it on repair)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "repair": self.repair,
            "checked": self.checked,
            "in_sync": self.in_sync,
            "drifted": self.drifted,
            "unreadable": self.unreadable,
            "repaired": self.repaired,
            "revisions": self.revisions,
            "committed": self.committed,
            "error": self.error,
        }


class Readback:
    def __init__(
        self, southbound: Southbound, book: DeviceBook, stats: EngineStats, event: EventSink
    ) -> None:
        self.southbound = southbound
        self.book = book
        self.stats = stats
        self.event = event

    async def verify(self, expected: Mapping[str, DeviceConfig], cause: str) -> Verdict:
        """After a commit: does each device hold what was committed to it?"""
        verdict = Verdict()
        for drift in await read_drift(self.southbound, expected):
            name = drift.device
            if not drift.drifted:
                self.book.in_sync(name)
                verdict.ok.append(name)
                self.stats.verify_ok += 1
                continue
            revision = self.book.revision.get(name, 0)
            if drift.readable:
                text = f"differs from revision {revision}: {drift.summary()}"
            else:
                text = f"cannot read its running config: {drift.error}"
                self.stats.device_errors += 1
            self.stats.verify_failures += 1
            verdict.failed[name] = text
            self.event("verify-failed", cause, f"{name}: {text}")
            if self.book.failure(name, unreadable=not drift.readable):
                verdict.retry.append(name)
                if drift.actual is not None:
                    verdict.read[name] = drift.actual
            else:
                verdict.gave_up.append(name)
        if verdict.ok:
            held = ", ".join(sorted(verdict.ok)[:10]) + (" ..." if len(verdict.ok) > 10 else "")
            self.event("verified", cause, f"{len(verdict.ok)} devices hold what was pushed: {held}")
        if verdict.gave_up:
            self.stats.verify_gave_up += len(verdict.gave_up)
            self.event(
                "verify-gave-up",
                cause,
                f"{', '.join(sorted(verdict.gave_up))}: still failing after "
                f"{self.book.retries} retries; left to the drift watch",
            )
        return verdict

    async def drift(self, expected: Mapping[str, DeviceConfig], repair: bool) -> DriftReport:
        """Compare every device in `expected` (the last committed configs) with what it runs."""
        cause = "drift check"
        report = DriftReport(repair=repair, checked=sorted(expected))
        self.stats.drift_checks += 1
        for drift in await read_drift(self.southbound, expected):
            name = drift.device
            if not drift.drifted:
                self.book.in_sync(name)
                report.in_sync.append(name)
            elif not drift.readable:
                report.unreadable[name] = drift.error or "unreadable"
                self.stats.drift_unreadable += 1
                self.stats.device_errors += 1
                self.event("drift-unreadable", cause, f"{name}: {drift.error}")
            else:
                self.book.drifted(name)
                report.drifted[name] = drift.summary()
                if drift.actual is not None:
                    report.read[name] = drift.actual
                self.stats.drift_found += 1
                self.event("drift", cause, f"{name}: {report.drifted[name]}")
        if not report.drifted and not report.unreadable:
            self.event("drift-check", cause, f"{len(report.in_sync)} devices in sync")
        return report
