"""Randomized fault injection against network-wide transactions (used by tests and a bench).

Each trial arms one fault on one router at one RPC, pushes the next revision, waits until no
router has an unconfirmed commit pending, then reads every router's running datastore directly:
it must equal the old revision everywhere (transaction reported not committed) or the new one
everywhere (committed).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from controller.desired import DeviceConfig
from controller.southbound.netconf import NetconfSouthbound
from controller.topology import Topology
from harness.fleet import FleetThread
from harness.sample import sample_network

RPCS = ("lock", "discard-changes", "edit-config", "validate", "commit", "unlock", "cancel-commit")
ACTIONS = (
    "fail", "drop", "drop-after", "die", "die-after", "delay", "refuse+drop", "refuse+drop-after",
)  # fmt: skip
REFUSE_FOR_S = 0.6  # shorter than confirm timeout + margin: the outcome can still be learnt


@dataclass(frozen=True)
class Trial:
    number: int
    fault: str
    committed: bool
    consistent: bool
    failed_devices: tuple[str, ...]
    seconds: float


def _arm(runner: FleetThread, rng: random.Random) -> str:
    router = rng.choice(list(runner.fleet.routers.values()))
    rpc, action = rng.choice(RPCS), rng.choice(ACTIONS)

    def arm() -> None:
        faults = router.faults
        if action == "delay":
            faults.delay_s = rng.choice([0.01, 0.05, 0.4])  # 0.4 s exceeds a 0.3 s RPC timeout
        elif action == "refuse+drop":  # refused for good (lifted after the transaction)
            faults.refuse_connections = True
            faults.on_rpc[rpc] = "drop"
        elif action == "refuse+drop-after":  # the RPC runs, its reply is lost, reconnects fail
            faults.refuse_until = time.monotonic() + REFUSE_FOR_S
            faults.on_rpc[rpc] = "drop-after"
        else:
            faults.on_rpc[rpc] = action
            faults.restart_after_s = rng.choice([0.05, 0.3])

    runner.call(arm)
    return f"{router.name}:{rpc}:{action}"


def heal(runner: FleetThread) -> None:
    async def run() -> None:
        for router in runner.fleet.routers.values():
            router.faults.on_rpc.clear()
            router.faults.delay_s = 0.0
            router.faults.refuse_connections = False
            router.faults.refuse_until = 0.0
            if not router.alive:
                await router.revive()

    runner.run(run())


def settle(runner: FleetThread, timeout_s: float) -> None:
    """Wait until no router has an unconfirmed commit and every router is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = runner.call(
            lambda: any(r.pending is not None or not r.alive for r in runner.fleet.routers.values())
        )
        if not busy:
            return
        time.sleep(0.05)


def _runs(runner: FleetThread, network: dict[str, DeviceConfig]) -> bool:
    routers = runner.fleet.routers
    now = runner.call(lambda: {n: r.running_config() for n, r in routers.items()})
    return all(now[n] == routers[n].flavor.carried(cfg) for n, cfg in network.items())


def run_trials(
    runner: FleetThread, sb: NetconfSouthbound, topo: Topology, trials: int, seed: int
) -> list[Trial]:
    rng = random.Random(seed)
    old = sample_network(topo, 0)
    if not sb.apply_sync(0, old, {}).committed:
        raise RuntimeError("the fault-free first revision did not commit")
    out = []
    for number in range(1, trials + 1):
        new = sample_network(topo, number)
        fault = _arm(runner, rng)
        start = time.perf_counter()
        result = sb.apply_sync(number, new, old)
        # lift the refusal so that nothing but the routers' own timers decides the outcome
        runner.call(lambda: _accept_connections(runner))
        settle(runner, timeout_s=sb.options.confirm_timeout_s + 4)
        consistent = _runs(runner, new if result.committed else old)
        out.append(Trial(number, fault, result.committed, consistent,
                         tuple(result.failed_devices), time.perf_counter() - start))  # fmt: skip
        if result.committed:
            old = new
        heal(runner)
    return out


def _accept_connections(runner: FleetThread) -> None:
    for router in runner.fleet.routers.values():
        router.faults.refuse_connections = False
