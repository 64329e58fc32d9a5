"""Chaos run (issue 16): leader SIGKILLs at random moments under concurrent writes, with
simulated routers over real NETCONF.

One etcd on loopback, --routers simulated routers (real NETCONF over SSH, ring:N), and
--replicas real `netpilot controller run --store etcd://... --inventory` processes (lease TTL
--ttl). --writers threads update their own intents through random replicas (If-Match) the whole
time, so the leader is pushing transactions when it dies. Each of --kills rounds: wait for the
leader, wait a random 0..--max-delay s, SIGKILL it, then time (a) until another replica's
/readyz says it leads and is ready (it loaded the last committed revision and checked the
devices for drift) and (b) until an intent written through it is installed on the routers; the
killed replica is started again as a follower (without --no-restart: then --kills must be
below --replicas), and the next kill waits until some follower is ready to take over.

At the end, with the writers stopped and every intent settled: every intent write acknowledged
with 2xx is there with its content, the acknowledged versions of each intent have no gaps and
no forks, and every router holds the configuration of the last revision the store recorded as
committed for it (no mix of two leaders' revisions, no pending confirmed commit).

    .venv/bin/python bench/ha_chaos.py [--json] [--kills 50] [--ttl 3] [--writers 4]

`kill -USR1 PID` stops the kills early and still runs the final check.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.controller_proc import ControllerProcess
from bench.etcd_proc import EtcdServer
from bench.ha_failover import Replica, Writers, check, put, role, wait_leader, wait_settled
from bench.live_common import machine, machine_line, percentile
from controller.southbound.render import canonical
from controller.store_open import open_etcd
from harness.fleet import Fleet, FleetThread

ENDS = ("r1", "r3")  # every intent crosses the ring: each revision touches several routers


class ChaosCluster:
    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work = work
        self.etcd = EtcdServer(work / "etcd" / "data")
        self.store = f"{self.etcd.url}/chaos"
        names = [f"r{i}" for i in range(1, args.routers + 1)]
        self.topology = f"ring:{args.routers}"
        self.fleet = FleetThread(lambda: Fleet(names, work / "fleet"))
        self.ttl = args.ttl
        self.count = args.replicas
        self.processes: list[ControllerProcess] = []
        self.replicas: list[Replica] = []
        self.inventory = work / "inventory.yaml"
        self.restarts = 0
        self.phases: list[dict[str, float]] = []
        """Per kill, how the new leader spent the failover (`leader_phases`)."""

    def start(self, extra: Callable[[ChaosCluster, int], Replica | None] | None = None) -> None:
        """Start etcd, the routers and --replicas processes; `extra(cluster, i)` (tests) makes
        replica i in-process instead, for every i >= 1 it returns one for (never killed)."""
        self.etcd.start()
        self.fleet.start()
        self.inventory = self.fleet.fleet.write_inventory(self.work / "inventory.yaml")
        flags = (
            "--store", self.store, "--lease-ttl", str(self.ttl), "--inventory",
            str(self.inventory), "--interval", "5", "--drift-interval", "3600", "--tick", "3600",
        )  # fmt: skip
        for i in range(self.count):
            ctl = ControllerProcess(
                self.work / f"r{i}", self.topology, *flags, "--replica-id", f"r{i}"
            )
            ctl.work.mkdir(parents=True, exist_ok=True)
            if self.processes:
                ctl.token, ctl.auth = self.processes[0].token, self.processes[0].auth
            self.processes.append(ctl)
        self.processes[0].start()  # the first leads (no race for the first election)
        self.replicas = [self.processes[0]]
        wait_leader(self.replicas)
        others = [(extra(self, i) if extra is not None else None) for i in range(1, self.count)]
        starting = [
            threading.Thread(target=self.processes[i].start)
            for i, other in enumerate(others, start=1)
            if other is None
        ]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        self.replicas += [other or self.processes[i] for i, other in enumerate(others, start=1)]

    def supervise(self, stop: threading.Event) -> None:
        """What systemd's Restart=always does for each replica: start again, within a second,
        every process that ended (SIGKILLed, or exited because it was deposed)."""
        while not stop.wait(1.0):
            try:
                self.restarts += self.revive()
            except SystemExit as error:  # did not come up this time: try again
                print(f"supervisor: {error}", file=sys.stderr)

    def revive(self) -> int:
        """Start again every replica process that ended (killed, or deposed: a deposed leader
        exits for its supervisor to restart it, which this is); how many were started."""
        dead = [c for c in self.replicas if isinstance(c, ControllerProcess) and c.ended()]
        for ctl in dead:
            ctl.new_port()  # a free port taken by another program meanwhile must not stop it
            ctl.start()
        return len(dead)

    def stop(self) -> None:
        for ctl in self.processes:
            ctl.kill()
        for other in self.replicas:  # in-process replicas (tests) stop before their etcd
            if not isinstance(other, ControllerProcess):
                getattr(other, "stop", lambda: None)()
        self.fleet.stop()
        self.etcd.stop()

    def devices(self) -> dict[str, Any]:
        """Each router against the store's last committed revision for it."""
        store = open_etcd(self.store)
        try:
            installed, revisions = store.installed_configs(), store.installed_revisions()
        finally:
            store.close()
        routers = self.fleet.fleet.routers
        running = self.fleet.call(lambda: {n: r.running_config() for n, r in routers.items()})
        pending = self.fleet.call(lambda: [n for n, r in routers.items() if r.pending])
        mixed = [
            n for n, cfg in running.items() if n not in installed or canonical(installed[n]) != cfg
        ]
        return {"mixed": mixed, "pending": pending, "revisions": revisions}


def one_kill(
    cluster: ChaosCluster, k: int, rng: random.Random, written: dict[str, int], args: Any
) -> tuple[float, float] | None:
    """One leader SIGKILL; (elected, committed) seconds, or None when the leader is an
    in-process replica (tests), which cannot be killed."""
    replicas = cluster.replicas
    while True:
        leader = wait_leader(replicas)
        target = replicas[leader]
        if not isinstance(target, ControllerProcess):
            return None
        time.sleep(rng.uniform(0, args.max_delay))  # at a random moment of the leader's work
        now = role(target)
        if now is not None and now.get("role") == "leader":  # still (not deposed meanwhile)
            break
    target.kill()
    t0, killed_at = time.monotonic(), time.time()
    new = wait_leader(replicas)  # the killed one is down (if it is back and wins, so be it)
    elected = time.monotonic() - t0
    phases = leader_phases(replicas[new], killed_at)
    probe = f"after-{k}"
    installed(cluster, new, probe, 1 + k % 7, args.settle)
    written[probe] = 1 + k % 7
    committed = time.monotonic() - t0
    cluster.phases.append(phases)
    print(f"kill {k}: ready {elected:.2f}s, committed {committed:.2f}s", file=sys.stderr)
    if not args.no_restart:  # the supervisor starts it again; the next kill waits for a
        wait_for(lambda: followers(replicas) >= 1, 120)  # follower to take over, not for it
    return elected, committed


def leader_phases(ctl: Replica, killed_at: float) -> dict[str, float]:
    """How the new leader spent the failover, from its log: `elected` (kill -> it won the
    campaign: the lease TTL and the poll), then what `controller run` logs once ready, and
    `ready_logged` (kill -> that line: ready as the leader itself saw it, without the time the
    bench's own polling and a loaded API add to the `elected_s` it observes)."""
    if not isinstance(ctl, ControllerProcess):
        return {}
    lines = (ctl.work / f"controller-{ctl.starts - 1}.log").read_text(errors="replace")
    out: dict[str, float] = {}
    for line in lines.splitlines():
        stamp, _, rest = line.partition(" netpilot.")
        try:
            at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        if at < killed_at:
            continue
        if "elected leader" in rest and "elected" not in out:
            out["elected"] = at - killed_at
        elif "leader ready:" in rest and "elected" in out:
            out["ready_logged"] = at - killed_at
            for item in rest.split("leader ready:", 1)[1].split():
                name, _, value = item.partition("=")
                out[name] = float(value.rstrip("s"))
    return out


def followers(replicas: list[Replica]) -> int:
    """How many replicas answer ready as followers (each could take over at the next kill)."""
    views = [role(r) for r in replicas]
    return sum(1 for v in views if v and v.get("role") == "follower" and v["status"] == 200)


def installed(cluster: ChaosCluster, first: int, name: str, mbps: int, timeout_s: float) -> None:
    """Write `name` through replica `first` and wait until it is installed; should that replica
    die meanwhile (killed or deposed under load), again through whichever replica leads."""
    deadline = time.monotonic() + timeout_s
    at = first
    while True:
        try:
            put(cluster.replicas[at], name, mbps, ENDS)
            left = max(1.0, deadline - time.monotonic())
            wait_settled(cluster.replicas[at], name, timeout_s=left)
            return
        except (httpx.HTTPError, SystemExit) as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} not installed within {timeout_s}s: {error}") from None
        at = wait_leader(cluster.replicas)


def settle_all(cluster: ChaosCluster, names: list[str], timeout_s: float) -> None:
    """Every name installed, as whichever replica leads says (the leader may change meanwhile:
    on a loaded machine a starved leader steps down)."""
    deadline = time.monotonic() + timeout_s
    for name in names:
        while True:
            try:
                leader = cluster.replicas[wait_leader(cluster.replicas)]
                wait_settled(leader, name, max(1.0, deadline - time.monotonic()))
                break
            except (httpx.HTTPError, SystemExit):
                if time.monotonic() > deadline:
                    raise
    wait_for(lambda: not cluster.devices()["pending"], timeout_s)


def wait_for(ok: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not ok():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def run(
    args: argparse.Namespace,
    extra: Callable[[ChaosCluster, int], Replica | None] | None = None,
    inspect: Callable[[ChaosCluster], None] | None = None,
) -> dict[str, Any]:
    """The chaos run; `extra` (tests) makes replicas in-process (see `ChaosCluster.start`),
    `inspect(cluster)` (tests) looks at the cluster after the final check, before it stops."""
    if args.no_restart and args.kills >= args.replicas:
        raise SystemExit("--no-restart: --kills must be below --replicas (one must be left)")
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="np-chaos-")
    supervisor = threading.Event()
    cluster = ChaosCluster(Path(tmp), args)
    written: dict[str, int] = {}
    elected, committed = [], []
    aborted = ""
    try:
        cluster.start(extra)
        if not args.no_restart:
            threading.Thread(target=cluster.supervise, args=(supervisor,), daemon=True).start()
        writers = Writers(cluster.replicas, args.writers, ENDS)
        writers.start()
        try:
            for k in range(args.kills):
                try:
                    times = one_kill(cluster, k, rng, written, args)
                except SystemExit as error:  # a takeover that did not come: say so
                    aborted = f"kill {k}: {error}"
                    break
                except KeyboardInterrupt:  # Ctrl-C: stop killing, check what was done
                    aborted = f"interrupted during kill {k}"
                    break
                if times is None:
                    break
                elected.append(times[0])
                committed.append(times[1])
        finally:
            writers.stop()
        result = final_check(cluster, written, writers, args.settle)
        if inspect is not None:
            inspect(cluster)
    finally:
        supervisor.set()
        cluster.stop()
    if result["lost"] or result["wrong"] or result["devices"]["mixed"] or aborted:
        print(f"kept the logs of this run in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "replicas": args.replicas,
        "routers": args.routers,
        "ttl_s": args.ttl,
        "kills": len(elected),
        "aborted": aborted,
        "restarts": cluster.restarts,
        "elected_s": summary(elected),
        "can_commit_s": summary(committed),
        "phases_s": {
            name: summary([p[name] for p in cluster.phases if name in p])
            for name in ("elected", "takeover", "load", "drift", "watch", "ready_logged")
        },
        **result,
        "machine": machine(),
    }


def final_check(
    cluster: ChaosCluster, written: dict[str, int], writers: Writers, settle_s: float
) -> dict[str, Any]:
    """With the writers stopped: every acknowledged write, each intent's acknowledged versions,
    and every router against the store."""
    wait_leader(cluster.replicas, timeout_s=settle_s)
    settle_all(cluster, [*written, *writers.acked], settle_s)
    alive = [i for i, r in enumerate(cluster.replicas) if role(r) is not None]
    result = check(cluster.replicas, written, alive)
    leader = cluster.replicas[alive[wait_leader([cluster.replicas[i] for i in alive])]]
    result["writers"] = {"outcomes": writers.outcomes, "problems": writers.check(leader)}
    result["acknowledged_writes"] = len(written) + sum(map(len, writers.acked.values()))
    result["devices"] = cluster.devices()
    return result


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values, default=0.0),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--routers", type=int, default=4, help="simulated routers (a ring)")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--ttl", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer threads")
    parser.add_argument("--max-delay", type=float, default=1.5, help="s before each kill")
    parser.add_argument("--settle", type=float, default=90.0, help="s an intent may take")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-restart", action="store_true", help="do not restart the killed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if argv is None:  # `kill -USR1 PID`: stop killing, check and report what was done
        signal.signal(signal.SIGUSR1, _interrupt)
    result = run(args)
    if argv is None:
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            report(result)
    return result


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def report(result: dict[str, Any]) -> None:
    e, c, d = result["elected_s"], result["can_commit_s"], result["devices"]
    print(
        f"{result['replicas']} replicas, {result['routers']} NETCONF routers, lease TTL "
        f"{result['ttl_s']}s, {result['kills']} leader SIGKILLs under concurrent writes"
    )
    print(f"new leader ready: p50 {e['p50']:.2f}s  p99 {e['p99']:.2f}s  max {e['max']:.2f}s")
    for name, p in result["phases_s"].items():
        print(f"  {name}: p50 {p['p50']:.2f}s  p99 {p['p99']:.2f}s  max {p['max']:.2f}s")
    print(f"new leader committed: p50 {c['p50']:.2f}s  p99 {c['p99']:.2f}s  max {c['max']:.2f}s")
    w = result["writers"]
    print(
        f"acknowledged writes: {result['acknowledged_writes']}, lost {len(result['lost'])}, "
        f"wrong {len(result['wrong'])}, version problems {len(w['problems'])}"
    )
    print(f"writer outcomes: {w['outcomes']}")
    print(f"devices: mixed {d['mixed']}, pending {d['pending']}")
    print(f"replica restarts by the supervisor: {result['restarts']}")
    if result["aborted"]:
        print(f"stopped early: {result['aborted']}")
    print(machine_line(result["machine"]))


if __name__ == "__main__":
    main()
