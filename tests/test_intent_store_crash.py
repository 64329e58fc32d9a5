"""Crash safety: a controller process applying intents is killed with SIGKILL at random moments.

After every kill the store is reopened: no intent whose write was acknowledged is lost, SQLite's
integrity check passes, every revision has all its device configs, nothing is installed from an
uncommitted revision, and an engine restarts cleanly on it (aborting what the crash left pending).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

from controller.engine import Engine
from controller.intents import Intent, IntentState
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import FakeClock, small_wan

KILLS = 60
ENDS = ["DC1", "DC2", "HQ", "BR1", "BR2"]


def _worker(db: Path, first: int, out_fd: int, seed: int) -> None:
    """The controller under test: writes, reconciles, deletes, bulk-applies until killed."""
    rng = random.Random(seed)
    store = Store(db)
    engine = Engine(small_wan(), store, MemorySouthbound(), time.time)

    async def main() -> None:
        await engine.start()
        i = first
        while True:
            src, dst = rng.sample(ENDS, 2)
            spec = {"name": f"k{i}", "src": src, "dst": dst, "bandwidth": rng.choice(["1M", "5M"])}
            store.put_intent(Intent.model_validate(spec), actor="crash-test")
            os.write(out_fd, f"put k{i}\n".encode())
            if rng.random() < 0.2 and i > first:
                victim = f"k{rng.randrange(first, i)}"
                record = store.find_intent(victim)
                if (
                    record is not None
                    and not record.deleted
                    and record.state is not IntentState.WITHDRAWING
                ):
                    store.delete_intent(victim)
                    os.write(out_fd, f"del {victim}\n".encode())
            if rng.random() < 0.2:
                bulk = [
                    Intent.model_validate({"name": f"b{i}-{j}", "src": "DC1", "dst": "DC2"})
                    for j in range(5)
                ]
                store.apply_intents(bulk)
                os.write(out_fd, "".join(f"put b{i}-{j}\n" for j in range(5)).encode())
            await engine.reconcile(f"crash-test {i}")
            i += 1

    asyncio.run(main())


def _run_and_kill(db: Path, first: int, seed: int, delay: float) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            _worker(db, first, write_fd, seed)
        finally:
            os._exit(0)
    os.close(write_fd)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    return b"".join(chunks).decode().splitlines()


def test_sigkill_during_applies_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(4)
    acknowledged: set[str] = set()
    deleted: set[str] = set()
    first = 0
    for kill in range(KILLS):
        lines = _run_and_kill(db, first, seed=kill, delay=rng.uniform(0.03, 0.25))
        for line in lines:
            verb, name = line.split()
            (acknowledged if verb == "put" else deleted).add(name)
        first += 1000
        store = Store(db, clock=FakeClock())
        try:
            assert store.check() == [], f"after kill {kill}"
            for name in acknowledged:
                record = store.find_intent(name)
                assert record is not None, f"kill {kill}: acknowledged intent {name} lost"
                if name in deleted:
                    assert record.state in (IntentState.WITHDRAWING, IntentState.WITHDRAWN)
            if kill % 10 == 9:  # a restarted engine recovers and reconciles
                engine = Engine(small_wan(), store, MemorySouthbound(), time.time)
                asyncio.run(engine.start())
                assert store.check() == []
                assert all(r["status"] != "pending" for r in store.revisions(1000))
        finally:
            store.close()
    assert len(acknowledged) > KILLS  # the workers really did apply between kills
