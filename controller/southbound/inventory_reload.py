"""The inventory file re-read while the controller runs: routers added to it are pushed to
without a restart.

    watch = InventoryWatch(path, secrets, south.inventory)
    got = watch.poll()           # None: the file did not change since the last look
    if isinstance(got, Inventory):
        change = south.reload(got, keep=devices_holding_config)   # InventoryChange

`poll` looks at the file's (and the secrets file's) size, mtime and inode, and reads it only
when one changed. A bad edit (invalid YAML, a missing field) is an `InventoryError` whose one
line names the file and the field; the watch remembers the edit, so it is reported once, and the
old inventory stays in force until the file is fixed. `plan_reload` says what a new inventory
changes: devices added (their sessions open lazily, host keys checked as always), removed,
changed (host, port, key or credentials: a new session), and removals refused because netpilot
still holds config for the device (the device is kept, with its old entry).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from controller.southbound.errors import InventoryError
from controller.southbound.inventory import Inventory, load_inventory


@dataclass(frozen=True)
class InventoryChange:
    """What a reload did (or, from `plan_reload`, will do)."""

    inventory: Inventory
    """The inventory in force after it (refused removals kept)."""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    """Device -> why its removal was refused (it stays)."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.refused)

    def line(self) -> str:
        """One line for the log and the event's detail."""
        named = (("added", self.added), ("removed", self.removed), ("changed", self.changed))
        parts = [f"{what}: {', '.join(names)}" for what, names in named if names]
        parts += [f"{name} kept: {why}" for name, why in sorted(self.refused.items())]
        return "; ".join(parts) or "no device changed"


def plan_reload(old: Inventory, new: Inventory, keep: Collection[str] = ()) -> InventoryChange:
    """`new` against `old`; a device of `keep` (netpilot holds config for it) is never removed."""
    before = {d.name: d for d in old.devices}
    after = {d.name: d for d in new.devices}
    added = tuple(n for n in after if n not in before)
    changed = tuple(n for n in after if n in before and after[n] != before[n])
    gone = [n for n in before if n not in after]
    refused = {
        n: "removed from the inventory, but netpilot holds config for it; kept until it no "
        "longer does (drop it from the topology first)"
        for n in gone
        if n in keep
    }
    kept = tuple(before[n] for n in gone if n in refused)
    merged = Inventory((*new.devices, *kept), new.known_hosts, new.source)
    removed = tuple(n for n in gone if n not in refused)
    return InventoryChange(merged, added, removed, changed, refused)


@runtime_checkable
class ReloadsInventory(Protocol):
    """A southbound that takes a re-read inventory (NetconfSouthbound, ShardedSouthbound)."""

    inventory: Inventory

    def reload(self, inventory: Inventory, keep: Collection[str] = ()) -> InventoryChange: ...


Stamp = tuple[tuple[int, int, int] | None, ...]


class InventoryWatch:
    """Re-reads an inventory file when it changes (see the module docstring)."""

    def __init__(self, path: Path, secrets: Path | None = None) -> None:
        self.path = Path(path)
        self.secrets = secrets
        self.stamp = self._stamp()
        self.errors = 0
        """Bad edits seen (each reported once)."""

    def _stamp(self) -> Stamp:
        return tuple(_stat(p) for p in (self.path, self.secrets) if p is not None)

    def poll(self) -> Inventory | None:
        """The inventory as the file now says, when the file changed since the last look; None
        when it did not. Raises InventoryError (one line: file and field) for a bad edit, once
        per edit; the caller keeps its old inventory."""
        stamp = self._stamp()
        if stamp == self.stamp:
            return None
        self.stamp = stamp
        try:
            return load_inventory(self.path, self.secrets)
        except InventoryError:
            self.errors += 1
            raise

    def forget(self) -> None:
        """Read the file again at the next `poll` (a reload that failed half-way)."""
        self.stamp = ()


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:  # gone for a moment (an editor's save): a change, reported on reading
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
