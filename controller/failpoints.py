"""Failpoints: named places where an operator's test makes the controller fail on purpose.

Like etcd's gofail, a failpoint costs nothing until it is armed, and it is armed only from the
outside: `NETPILOT_FAILPOINTS="engine-round=3"` (read once at start by the composition root)
makes the next three reconcile rounds raise `FailpointError`, so a test can prove, against a
running controller, that a failed round is logged, counted, shown as an event, turns `/readyz`
to 503 after three in a row, and that the loop goes on. Unknown names or counts fail at start
with one line.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.errors import UsageError

ENV = "NETPILOT_FAILPOINTS"
KNOWN = {
    "engine-round": "the next N reconcile rounds raise before they plan",
}


class FailpointError(RuntimeError):
    """Raised by an armed failpoint (a bug on purpose, not a user error)."""


class Failpoints:
    def __init__(self, armed: Mapping[str, int] | None = None) -> None:
        self.remaining = dict(armed or {})

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Failpoints:
        return cls(parse(env.get(ENV, "")))

    def hit(self, name: str) -> None:
        """Raise if `name` is armed (and count one use down)."""
        left = self.remaining.get(name, 0)
        if left <= 0:
            return
        self.remaining[name] = left - 1
        raise FailpointError(f"failpoint {name} ({left - 1} more armed through {ENV})")

    def __bool__(self) -> bool:
        return any(n > 0 for n in self.remaining.values())


def parse(spec: str) -> dict[str, int]:
    """`"engine-round=3,..."` -> {"engine-round": 3}; one clear line for anything else."""
    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, count = item.partition("=")
        if name not in KNOWN:
            known = ", ".join(f"{k} ({v})" for k, v in KNOWN.items())
            raise UsageError(f"{ENV}: unknown failpoint {name!r}; known: {known}")
        if not sep or not count.isdigit():
            raise UsageError(f"{ENV}: {item!r}: write NAME=COUNT, e.g. engine-round=3")
        out[name] = int(count)
    return out
