"""Drift: what a device runs compared with what netpilot committed, for any southbound.

`Drift` is the one comparison (canonical forms, so two configs with the same meaning are equal);
`read_drift` reads the devices' running config in parallel (through the southbound's own pool
when it has one, `BulkReader`) and never raises for a device: an unreadable device is a `Drift`
with `error` set. The engine uses it to verify what it pushed and to watch for drift; the
`devices drift` command and `watch_drift` use it too. Time is passed in (`sleep`), so tests run
`watch_drift` without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from controller.desired import DeviceConfig
from controller.southbound.base import BulkReader, Southbound
from controller.southbound.render import canonical, render_edit, to_string


@dataclass(frozen=True)
class Drift:
    """Difference between what a device runs and what netpilot committed."""

    device: str
    expected: DeviceConfig
    actual: DeviceConfig | None
    error: str | None = None

    @property
    def drifted(self) -> bool:
        return self.error is not None or not same_config(self.actual, self.expected)

    @property
    def readable(self) -> bool:
        return self.actual is not None and self.error is None

    def changes(self) -> list[str]:
        """One line per differing entry, by key only (never values): what the device has that
        it should not, lacks, or holds differently."""
        if self.actual is None:
            return [self.error or "unreachable"]
        want, got = canonical(self.expected), canonical(self.actual)
        lines: list[str] = []

        def by_key(cfg: DeviceConfig) -> list[dict[str, object]]:
            return [
                {f"{p.color}/{p.endpoint}": p for p in cfg.sr_policies},
                {r.name: r for r in cfg.steering},
                {c.service_class: c for c in cfg.qos},
                {f"{s.interface}/{s.service_class}": s for s in cfg.shares},
            ]

        kinds = ("policy", "steering rule", "qos class", "qos share")
        for kind, w, g in zip(kinds, by_key(want), by_key(got), strict=True):
            for key in sorted(w.keys() | g.keys()):
                if key not in g:
                    lines.append(f"{kind} {key}: missing")
                elif key not in w:
                    lines.append(f"{kind} {key}: not ours (unexpected)")
                elif w[key] != g[key]:
                    lines.append(f"{kind} {key}: changed")
        return lines

    def summary(self, limit: int = 5) -> str:
        """`changes()` on one line, at most `limit` entries."""
        lines = self.changes()
        more = f" (+{len(lines) - limit} more)" if len(lines) > limit else ""
        return "; ".join(lines[:limit]) + more

    def edit(self) -> str | None:
        """The edit-config that would repair it (XML), or None."""
        if self.actual is None:
            return None
        el = render_edit(self.actual, self.expected)
        return None if el is None else to_string(el)


def same_config(actual: DeviceConfig | None, expected: DeviceConfig) -> bool:
    """Do two configs mean the same (the canonical comparison)?"""
    return actual is not None and canonical(actual) == canonical(expected)


def compare(
    expected: Mapping[str, DeviceConfig], actual: Mapping[str, DeviceConfig | str]
) -> list[Drift]:
    """One `Drift` per expected device; a string in `actual` is the error reading that device."""
    out = []
    for name, want in expected.items():
        got = actual.get(name, "not read")
        if isinstance(got, DeviceConfig):
            out.append(Drift(name, want, got))
        else:
            out.append(Drift(name, want, None, str(got)))
    return out


async def read_running(
    southbound: Southbound, devices: Iterable[str]
) -> dict[str, DeviceConfig | str]:
    """Each device's running config, in parallel; a device that fails gives its error text."""
    names = sorted(set(devices))
    if not names:
        return {}
    if isinstance(southbound, BulkReader):
        with contextlib.suppress(Exception):  # the bulk path itself broke: one by one below
            return await asyncio.to_thread(southbound.running_all, names)

    async def one(name: str) -> DeviceConfig | str:
        try:
            return await southbound.running(name)
        except Exception as error:
            return str(error) or type(error).__name__

    return dict(zip(names, await asyncio.gather(*(one(n) for n in names)), strict=True))


async def read_drift(southbound: Southbound, expected: Mapping[str, DeviceConfig]) -> list[Drift]:
    """Read every device in `expected` and compare; in sync, drifted and unreadable alike."""
    return compare(expected, await read_running(southbound, expected))


async def check_drift(southbound: Southbound, expected: Mapping[str, DeviceConfig]) -> list[Drift]:
    """One pass, devices in parallel; only drifted (or unreadable) devices are returned."""
    return [d for d in await read_drift(southbound, expected) if d.drifted]


async def watch_drift(
    southbound: Southbound,
    expected: Callable[[], Mapping[str, DeviceConfig]],
    report: Callable[[list[Drift]], Awaitable[None]],
    *,
    interval_s: float = 60.0,
    stop: asyncio.Event,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Check every `interval_s` until `stop` is set; returns the number of passes made."""
    passes = 0
    while not stop.is_set():
        drifted = await check_drift(southbound, expected())
        passes += 1
        if drifted:
            await report(drifted)
        await sleep(interval_s)
    return passes
