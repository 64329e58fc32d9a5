"""One exception family for netpilot.

The CLI and the API turn a `NetpilotError` into one clear line and an exit code / HTTP status;
anything else is a bug and may show a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class NetpilotError(Exception):
    """Root of every error netpilot raises on purpose (bad input, unreachable device, ...)."""

    exit_code = 1


class UsageError(NetpilotError):
    """A flag, argument or name given by the user is wrong (exit code 2, like click)."""

    exit_code = 2


class NotFoundError(NetpilotError):
    """A named thing (file, topology, node, intent, device) does not exist."""

    exit_code = 2


class ValidationError(NetpilotError):
    """Input failed validation; `problems` lists each problem, naming the element and the fix."""

    def __init__(self, what: str, problems: Iterable[str]) -> None:
        self.what = what
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{what}: {first}{more}")


class TopologyError(ValidationError):
    """A topology is invalid."""


class PathError(NetpilotError):
    """No path satisfies a request; the message says which constraint blocked it."""


class ConflictError(NetpilotError):
    """A write raced another one (optimistic concurrency, HTTP 409): re-read and retry."""


def pydantic_message(item: Mapping[str, Any]) -> str:
    """The message of one pydantic error item, without pydantic's "Value error, " (or
    "Assertion failed, ") in front of netpilot's own wording."""
    message = str(item.get("msg") or "invalid")
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message
