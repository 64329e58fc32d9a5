"""Benchmark (issue 15): how fast a cut reaches the controller, streamed (gNMI ON_CHANGE) against
polled (NETCONF `<get>` every `--poll` s), in the same run.

bank-wan's routers (or `--topology`'s, e.g. zoo:Cogentco with `--intents` random intents
between its routers; harness/netrun.py, gNMI on) are stepped by hand; random links carrying
intents are cut and restored one after another (`--cuts`). For every cut, from the network's
ground-truth `link_down` (stamped after the simulator's step, before the routers publish):

- stream_rx: the streaming collector (telemetry/stream_collector.py) receives the ON_CHANGE;
- stream_event: the real engine records the `topology` event (telemetry/stream_events.py ->
  `Engine.link_state`);
- stream_commit: the engine's `reconcile` with that cause has committed (in-memory devices:
  the transaction cost of NETCONF is not in this figure; bench/live_cut.py has it);
- poll_event: a NETCONF collector polling every `--poll` wall seconds first sees the link down.

    .venv/bin/python bench/gnmi_detect.py [--cuts 100] [--poll 1.0] [--seed 1] [--json]
        [--topology zoo:Cogentco --intents 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intents import make_intents
from bench.live_common import machine, machine_line, percentile, write_scenario
from controller.engine import Engine, EngineConfig
from controller.intentfile import load_intents
from controller.southbound.inventory import load_inventory
from controller.southbound.memory import MemorySouthbound
from controller.southbound.session import SessionOptions
from controller.store import Store
from harness.netrun import NetworkRun, NetworkSpec
from telemetry.gnmi_inventory import load_gnmi
from telemetry.netconf_collector import NetconfCollector
from telemetry.stream_collector import StreamCollector, StreamOptions
from telemetry.stream_events import link_callback
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = "bank-wan"
STEP_S = 10.0


def start_engine(
    db: Path, topology: str, intents: int
) -> tuple[Engine, Store, asyncio.AbstractEventLoop, threading.Thread]:
    store = Store(db)
    topo = load(topology)
    engine = Engine(topo, store, MemorySouthbound(), time.time,
                    config=EngineConfig(tick_s=3600, hold_time_s=0))  # fmt: skip
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    if topology == TOPOLOGY:
        wanted = load_intents(ROOT / "topologies/bank-wan.intents.yaml")
    else:  # the intents bench's mix of classes, random pairs
        wanted = make_intents(sorted(topo.nodes), intents, seed=1)
    store.apply_intents(wanted, actor="bench")
    asyncio.run_coroutine_threadsafe(engine.start(), loop).result(120)
    asyncio.run_coroutine_threadsafe(engine.reconcile("bench"), loop).result(120)
    return engine, store, loop, thread


def stop_engine(loop: asyncio.AbstractEventLoop, thread: threading.Thread, store: Store) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    store.close()


class Poller:
    """NETCONF polling every `every` s in its own process (as a controller that polls runs it,
    not sharing the streaming collector's interpreter); the first time each link is seen down."""

    def __init__(self, inventory: Path, every: float) -> None:
        self.every = every
        self.down_seen: dict[str, float] = {}
        self.rounds = 0
        ctx = multiprocessing.get_context("spawn")
        self.queue: Any = ctx.Queue()
        self.stop_flag: Any = ctx.Event()
        args = (str(inventory), every, self.queue, self.stop_flag)
        self.proc = ctx.Process(target=_poll, args=args, daemon=True)
        self.thread = threading.Thread(target=self._drain, daemon=True)

    def start(self) -> None:
        self.proc.start()
        self.thread.start()

    def _drain(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            now, down = item
            self.rounds += 1
            for link in down:
                self.down_seen.setdefault(link, now)
            for link in list(self.down_seen):
                if link not in down:
                    del self.down_seen[link]

    def close(self) -> None:
        self.stop_flag.set()
        self.proc.join(15)
        if self.proc.is_alive():
            self.proc.kill()
        self.queue.put(None)
        self.thread.join(5)


def _poll(inventory: str, every: float, queue: Any, stop: Any) -> None:
    """The polling process: one NETCONF `<get>` round every `every` s, the down links sent back."""
    collector = NetconfCollector(
        load_inventory(Path(inventory)),
        options=SessionOptions(rpc_timeout_s=10.0, connect_attempts=2),
        max_workers=32,
    )
    try:
        collector.collect(60.0)  # the SSH connects, before the rounds are timed
        while not stop.is_set():
            started = time.monotonic()
            result = collector.collect(every)
            down = {i.name for s in result.states for i in s.interfaces if not i.oper_up}
            queue.put((time.time(), down))
            stop.wait(max(0.0, every - (time.monotonic() - started)))
    finally:
        collector.close()


def schedule(links: list[str], cuts: int, seed: int) -> list[tuple[str, float, float]]:
    """(link, down at, up at): one cut every other step, mid-step (it takes effect at the
    step's end)."""
    rng = random.Random(seed)
    return [(rng.choice(links), (2 * k + 1) * STEP_S - 5, (2 * k + 2) * STEP_S - 5)
            for k in range(cuts)]  # fmt: skip


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    engine, store, loop, thread = start_engine(workdir / "np.db", args.topology, args.intents)
    carrying = sorted({k[2] for p in engine.placements().values() for k in p.primary.links})
    plan = schedule(carrying, args.cuts, args.seed)
    events = [{"kind": "link_down", "link": lk, "at": f"{d:g}s"} for lk, d, _ in plan]
    events += [{"kind": "link_up", "link": lk, "at": f"{u:g}s"} for lk, _, u in plan]
    scen = write_scenario(workdir / "cuts.yaml", events)
    truth: list[dict[str, Any]] = []
    spec = NetworkSpec(
        topology=args.topology, inventory=workdir / "inv.yaml", scenario=scen, speed=3600
    )
    rx: list[tuple[float, str, str, str]] = []
    rows: list[dict[str, float]] = []
    with NetworkRun(spec, listener=truth.append) as run:
        access = load_gnmi(spec.inventory)
        assert access is not None
        collector = StreamCollector(access, StreamOptions(sample_s=10.0))
        collector.start(on_link=link_callback(engine, loop, seen=rx, window_s=STEP_S / 4))
        poller = Poller(spec.inventory, args.poll)
        poller.start()
        try:
            deadline = time.monotonic() + 60  # every stream synced, a first poll done
            while time.monotonic() < deadline and not (
                poller.rounds and all(h["samples"] for h in collector.health().values())
            ):
                time.sleep(0.05)
            for link, _down, _up in plan:
                rows.append(
                    one_cut(run, engine, poller, rx=rx, truth=truth, link=link, poll=args.poll)
                )
        finally:
            poller.close()
            collector.close()
    stop_engine(loop, thread, store)
    return summarise(rows, args)


def one_cut(run: NetworkRun, engine: Engine, poller: Poller, *, rx: list[Any],
            truth: list[dict[str, Any]], link: str, poll: float) -> dict[str, float]:  # fmt: skip
    """Step to the cut, wait for both detectors and the commit, step to the repair."""
    run.step()
    cut = next(e for e in reversed(truth) if e["kind"] == "link_down" and e["link"] == link)
    t0 = cut["wall"]
    deadline = time.monotonic() + poll * 2 + 10
    row: dict[str, float] = {}
    while time.monotonic() < deadline and len(row) < 4:
        row.update(_times([e for e in list(engine.events) if e.at >= t0], rx, poller, link, t0))
        time.sleep(0.005)
    run.step()  # repair
    time.sleep(0.05)
    return row


def _times(
    events: list[Any], rx: list[Any], poller: Poller, link: str, t0: float
) -> dict[str, float]:
    out: dict[str, float] = {}
    got = [w for w, _d, lk, state in rx if lk == link and state == "down" and w >= t0 - 1]
    if got:
        out["stream_rx"] = got[0] - t0
    cause = None
    for e in events:
        if e.kind == "topology" and e.cause.endswith(f"{link} down") and "stream_event" not in out:
            out["stream_event"], cause = e.at - t0, e.cause
        elif e.kind == "reconcile" and cause is not None and e.cause == cause:
            out["stream_commit"] = e.at - t0
            break
    if link in poller.down_seen:
        out["poll_event"] = poller.down_seen[link] - t0
    return out


def summarise(rows: list[dict[str, float]], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"topology": args.topology, "cuts": len(rows),
                           "poll_interval_s": args.poll, "machine": machine()}  # fmt: skip
    for key in ("stream_rx", "stream_event", "stream_commit", "poll_event"):
        values = sorted(r[key] for r in rows if key in r)
        out[key] = {
            "n": len(values),
            "p50_s": round(percentile(values, 50), 4) if values else None,
            "p90_s": round(percentile(values, 90), 4) if values else None,
            "p99_s": round(percentile(values, 99), 4) if values else None,
            "max_s": round(values[-1], 4) if values else None,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cuts", type=int, default=100)
    parser.add_argument("--poll", type=float, default=1.0, help="NETCONF poll interval, wall s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--topology", default=TOPOLOGY, help="bank-wan, zoo:Cogentco, ...")
    parser.add_argument("--intents", type=int, default=100,
                        help="random intents off bank-wan (bench/intents.py's mix)")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("netpilot.telemetry").setLevel(logging.ERROR)  # the poller's stale lines
    with tempfile.TemporaryDirectory(prefix="gnmi-detect-") as tmp:
        result = measure(args, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(machine_line(result["machine"]))
    print(f"{result['cuts']} cuts on {args.topology}; NETCONF polled every {args.poll:g}s")
    for key in ("stream_rx", "stream_event", "stream_commit", "poll_event"):
        r = result[key]
        print(f"  {key:14} n={r['n']:4}  p50 {r['p50_s']}s  p90 {r['p90_s']}s  "
              f"p99 {r['p99_s']}s  max {r['max_s']}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
