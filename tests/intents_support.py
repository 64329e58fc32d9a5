"""Helpers for the intent tests: a small bank-like topology, a fake clock, a live server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.topology import Link, Node, Topology


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0  # a Tuesday, 22:13 UTC

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def small_wan() -> Topology:
    """DC1, DC2, HQ, BR1, BR2 around two transit routers P1, P2; every link both ways."""
    names = ["DC1", "DC2", "HQ", "BR1", "BR2", "P1", "P2"]
    nodes = [Node(n, i + 1, role=n[:2].lower()) for i, n in enumerate(names)]
    spans = [
        ("DC1", "P1", 10e9, 0.002),
        ("DC1", "P2", 10e9, 0.003),
        ("DC2", "P1", 10e9, 0.003),
        ("DC2", "P2", 10e9, 0.002),
        ("P1", "P2", 10e9, 0.001),
        ("HQ", "P1", 1e9, 0.004),
        ("HQ", "P2", 1e9, 0.005),
        ("BR1", "P1", 100e6, 0.010),
        ("BR1", "P2", 100e6, 0.012),
        ("BR2", "P2", 100e6, 0.008),
        ("BR2", "HQ", 100e6, 0.009),
    ]
    links = []
    for a, b, cap, delay in spans:
        lid = f"{a}-{b}"
        links.append(Link(lid, a, b, cap, delay))
        links.append(Link(lid, b, a, cap, delay))
    return Topology("small-wan", nodes, links)


class LiveServer:
    """A real uvicorn server on 127.0.0.1, ephemeral port, in a background thread."""

    def __init__(self, app: object) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll (not sleep-and-hope) until `predicate` holds; for waiting on a real server."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def until(cond: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Poll `cond` on the running event loop until it holds (AssertionError after the deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)
