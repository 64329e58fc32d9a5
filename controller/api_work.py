"""Blocking API work off the event loop, on a snapshot of the engine.

The engine's rounds, `/healthz` and every request share one event loop, so nothing the API does
may block it: body parsing, store reads and writes, checks, plans and what-ifs run on worker
threads (`Work`). Store calls are thread-safe (one SQLite connection behind a lock). Engine
state is not: a round on the loop reassigns placements and updates the installed configs, the
measures and the avoidances between its awaits. So work that reads the engine gets
`Engine.snapshot()`, taken on the loop (between two awaits of a round, so consistent) and never
written by the round afterwards.

Planning is bounded: at most `planners` run at once and `queue` more wait; beyond that the API
answers 503 with Retry-After (`Busy`) instead of queueing without limit. While a plan runs,
the garbage collector is paused and the GIL switch interval shortened (`PlanMode`), so the event
loop gets the GIL back within half a millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi.responses import JSONResponse

from controller.errors import NetpilotError
from controller.gradual import CHUNK

T = TypeVar("T")


class Busy(NetpilotError):
    """Too many plans running or waiting (HTTP 503 with Retry-After)."""

    retry_after_s = 5


SWITCH_INTERVAL_S = 0.0005
"""The GIL switch interval while a plan runs (CPython's default is 5 ms)."""


class PlanMode:
    """While at least one plan runs: automatic garbage collection off, and the GIL handed over
    every `SWITCH_INTERVAL_S` instead of every 5 ms; both restored when the last plan leaves.
    Thread-safe.

    A plan is CPU-bound Python on a worker thread; the event loop needs the GIL back after each
    socket read or write of a request, and with the default interval waits up to 5 ms each
    time, so one `/healthz` took tens to hundreds of ms during a 100,000-intent plan. At 0.5 ms
    it takes a few. Only while planning: the rest of the time the telemetry threads keep the
    default. A full collection over the objects of a big plan holds the GIL for seconds (13
    collections of up to 2 s in one plan); intents, placements and plans hold no reference
    cycles, so reference counting frees them as usual."""

    def __init__(self, switch_interval_s: float = SWITCH_INTERVAL_S) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._gc_was_enabled = False
        self._interval_was = sys.getswitchinterval()
        self._switch_interval_s = switch_interval_s

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._gc_was_enabled = gc.isenabled()
                self._interval_was = sys.getswitchinterval()
                gc.disable()
                sys.setswitchinterval(self._switch_interval_s)
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                sys.setswitchinterval(self._interval_was)
                if self._gc_was_enabled:
                    gc.enable()


class Work:
    """Two thread pools: `run` for short jobs (store, one intent), `plan` for planning."""

    def __init__(self, *, workers: int = 4, planners: int = 2, queue: int = 8) -> None:
        self._short = ThreadPoolExecutor(workers, thread_name_prefix="netpilot-api")
        self._plans = ThreadPoolExecutor(planners, thread_name_prefix="netpilot-plan")
        self._limit = planners + queue
        self._planning = 0
        self._mode = PlanMode()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._short, functools.partial(fn, *args))

    @property
    def planning(self) -> int:
        """Plans running or waiting now."""
        return self._planning

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """A place among the plans running or waiting, else `Busy` (before the body is read)."""
        if self._planning >= self._limit:
            raise Busy(
                f"{self._planning} plans running or waiting; retry in {Busy.retry_after_s} s"
            )
        self._planning += 1
        try:
            yield
        finally:
            self._planning -= 1

    async def plan(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn` on a planner thread (after `admit`) in `PlanMode`."""

        def job() -> T:
            with self._mode:
                return fn(*args)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._plans, job)

    def close(self) -> None:
        self._short.shutdown(wait=False, cancel_futures=True)
        self._plans.shutdown(wait=False, cancel_futures=True)


class BigJSON(JSONResponse):
    """A JSONResponse whose big lists and dicts are encoded a thousand items at a time, with
    Python code between the pieces: one `json.dumps` of a 100,000-intent plan holds the GIL
    for a quarter to a whole second, stalling the event loop that long. Same bytes as
    JSONResponse."""

    def render(self, content: Any) -> bytes:
        return "".join(_pieces(content)).encode("utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _pieces(value: Any) -> Iterator[str]:
    if isinstance(value, list) and len(value) > CHUNK:
        yield "["
        for start in range(0, len(value), CHUNK):
            yield ("," if start else "") + _dumps(value[start : start + CHUNK])[1:-1]
        yield "]"
    elif isinstance(value, dict) and len(value) > CHUNK:
        items = list(value.items())
        yield "{"
        for start in range(0, len(items), CHUNK):
            yield ("," if start else "") + _dumps(dict(items[start : start + CHUNK]))[1:-1]
        yield "}"
    elif isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + _dumps(str(key)) + ":"
            yield from _pieces(item)
        yield "}"
    else:
        yield _dumps(value)
