"""The transaction journal: what a controller killed mid-transaction must undo on its next start.

Devices with `:candidate` and `:confirmed-commit` undo by themselves (the confirm timer); devices
with only `:writable-running` do not: their change is live as soon as it is sent. Before the
first of those is touched, the transaction writes a journal file with, for every device in it,
the config to go back to (for a running-only device: its running config as read under the lock),
the config being installed, and the phase:

- `commit`: changes are being sent; the way out is back (restore every device);
- `confirm`: every device took the change, confirms are being sent; the way out is forward
  (confirm with the persist-id) if every candidate device still can, else back;
- `undo`: an undo left some device not verified back; the next start tries again.

The file is replaced atomically (temp file, fsync, rename) at each phase and removed when the
transaction ends with every device verified on one side. `NetconfSouthbound.recover()` replays
it (controller/southbound/recovery.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.desired import DeviceConfig
from controller.errors import ValidationError
from controller.southbound.serialize import config_from_dict, config_to_dict

FORMAT = 1
PHASES = ("commit", "confirm", "undo")


@dataclass(frozen=True)
class JournalEntry:
    candidate: bool
    restore: DeviceConfig
    desired: DeviceConfig


@dataclass(frozen=True)
class JournalRecord:
    revision: int
    persist: str
    phase: str
    devices: dict[str, JournalEntry]


def write(path: Path, record: JournalRecord) -> None:
    """Replace the journal atomically and durably."""
    doc = {
        "format": FORMAT,
        "revision": record.revision,
        "persist": record.persist,
        "phase": record.phase,
        "devices": {
            name: {
                "candidate": e.candidate,
                "restore": config_to_dict(e.restore),
                "desired": config_to_dict(e.desired),
            }
            for name, e in record.devices.items()
        },
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(doc, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clear(path: Path) -> None:
    if path.exists():
        path.unlink()
        _sync_dir(path.parent)


def read(path: Path) -> JournalRecord | None:
    """The journal, or None when there is none; a damaged one is a ValidationError naming it."""
    if not path.is_file():
        return None
    where = f"transaction journal {path}"
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("phase") not in PHASES:
            raise ValueError(f"format {doc.get('format')!r}, phase {doc.get('phase')!r}")
        devices = {
            str(name): JournalEntry(
                bool(e["candidate"]),
                config_from_dict(e["restore"], f"{where}, device {name!r}"),
                config_from_dict(e["desired"], f"{where}, device {name!r}"),
            )
            for name, e in doc["devices"].items()
        }
        return JournalRecord(int(doc["revision"]), str(doc["persist"]), doc["phase"], devices)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValidationError(
            where, [f"unreadable ({error}); restore the devices by hand, then delete it"]
        ) from None
