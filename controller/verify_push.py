"""Verify what the engine pushed: per-device read-back state and which intent lives where.

Pure bookkeeping, no I/O: the engine reads the devices (`controller.southbound.drift`) and tells
a `DeviceBook` what it found; the book says which devices hold their last committed revision,
which to retry and when to give up. `owners` maps an intent (by color) to the devices whose
config carries it, so an intent is `verified` exactly when all those devices are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.desired import DeviceConfig, SrPolicy, SteeringRule

VERIFIED_PREFIX = "verified: "

Entries = tuple[tuple[SrPolicy, ...], tuple[SteeringRule, ...]]
"""An intent's own config on one device: its SR policies and steering rules."""


def owners(configs: Mapping[str, DeviceConfig]) -> dict[int, dict[str, Entries]]:
    """Color -> device -> the policies and steering rules of that color on the device."""
    policies: dict[int, dict[str, list[SrPolicy]]] = {}
    rules: dict[int, dict[str, list[SteeringRule]]] = {}
    for device, config in configs.items():
        for p in config.sr_policies:
            policies.setdefault(p.color, {}).setdefault(device, []).append(p)
        for r in config.steering:
            rules.setdefault(r.color, {}).setdefault(device, []).append(r)
    out: dict[int, dict[str, Entries]] = {}
    for color in policies.keys() | rules.keys():
        by_device = policies.get(color, {})
        by_rule = rules.get(color, {})
        out[color] = {
            d: (tuple(by_device.get(d, ())), tuple(by_rule.get(d, ())))
            for d in by_device.keys() | by_rule.keys()
        }
    return out


def intent_colors(color: int) -> tuple[int, int]:
    """An intent's colors: its own and its 1+1 twin's (color + 1)."""
    return (color, color + 1)


def intent_devices(index: Mapping[int, Mapping[str, Entries]], color: int) -> set[str]:
    """The devices whose config carries the intent of `color`."""
    return {d for c in intent_colors(color) for d in index.get(c, {})}


def changed_colors(
    before: Mapping[str, DeviceConfig], after: Mapping[str, DeviceConfig], devices: Iterable[str]
) -> set[int]:
    """Colors whose policies or steering rules differ on `devices` between two configs."""
    names = set(devices)
    old = owners({d: c for d, c in before.items() if d in names})
    new = owners({d: c for d, c in after.items() if d in names})
    return {c for c in old.keys() | new.keys() if old.get(c) != new.get(c)}


def verified_reason(revision: int, base: str) -> str:
    """`verified: devices hold revision N`, keeping why the intent got there (a move's cause)."""
    why = f"{VERIFIED_PREFIX}devices hold revision {revision}"
    return f"{why}; {base}" if base and base != "installed" else why


def base_reason(reason: str) -> str:
    """The reason without the `verified: ...` part (what `installed` said)."""
    if not reason.startswith(VERIFIED_PREFIX):
        return reason
    _, _, rest = reason.partition("; ")
    return rest or "installed"


@dataclass
class Verdict:
    """What one read-back pass decided."""

    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # device -> what differs / the error
    retry: list[str] = field(default_factory=list)  # devices to try again
    gave_up: list[str] = field(default_factory=list)  # failed `retries` times in a row
    read: dict[str, DeviceConfig] = field(default_factory=dict)  # what differing devices hold


@dataclass
class DeviceBook:
    """Per device: the revision last committed to it, the revision it was read back holding,
    whether it was last seen differing (`bad`), consecutive failed verifications, and devices
    whose state is unknown (to read again). A device neither verified nor bad is unknown (after
    a restart, until the drift check reads it)."""

    retries: int = 3
    revision: dict[str, int] = field(default_factory=dict)
    verified: dict[str, int] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)
    recheck: set[str] = field(default_factory=set)

    def committed(self, devices: Iterable[str], revision: int) -> None:
        for d in devices:
            self.revision[d] = revision
            self.verified.pop(d, None)
            self.bad.discard(d)

    def holds(self, device: str) -> bool:
        """Was the device read back holding its last committed revision (and not since)?"""
        return device in self.verified and self.verified[device] == self.revision.get(device, 0)

    def all_hold(self, devices: Iterable[str]) -> bool:
        names = list(devices)
        return bool(names) and all(self.holds(d) for d in names)

    def any_bad(self, devices: Iterable[str]) -> bool:
        return any(d in self.bad for d in devices)

    def in_sync(self, device: str) -> None:
        self.verified[device] = self.revision.get(device, 0)
        self.bad.discard(device)
        self.attempts.pop(device, None)
        self.recheck.discard(device)

    def drifted(self, device: str) -> None:
        self.verified.pop(device, None)
        self.bad.add(device)

    def failure(self, device: str, unreadable: bool) -> bool:
        """Record a failed verification (a device that differs is `bad`; one that could not be
        read is unknown); True while another attempt is allowed."""
        self.verified.pop(device, None)
        if not unreadable:
            self.bad.add(device)
        self.attempts[device] = self.attempts.get(device, 0) + 1
        if self.attempts[device] <= self.retries:
            if unreadable:
                self.recheck.add(device)
            return True
        self.recheck.discard(device)
        return False

    def last_revision(self, devices: Iterable[str]) -> int:
        return max((self.revision.get(d, 0) for d in devices), default=0)
