"""Helpers shared by the southbound tests: a running fleet and a driver pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from controller.desired import DeviceConfig
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.render import canonical
from controller.southbound.session import SessionOptions
from controller.southbound.transaction import TransactionOptions
from harness.device import RouterOptions
from harness.fleet import Fleet, FleetThread


def start_fleet(
    names: list[str], directory: Path, options: Callable[[str], RouterOptions] | None = None
) -> FleetThread:
    runner = FleetThread(lambda: Fleet(names, directory, options=options))
    runner.start()
    return runner


def driver(
    runner: FleetThread,
    directory: Path,
    *,
    confirm_timeout_s: int = 1,
    rpc_timeout_s: float = 5.0,
    connect_attempts: int = 2,
    margin_s: float = 2.0,
) -> NetconfSouthbound:
    inventory = runner.fleet.write_inventory(directory / "inventory.yaml")
    from controller.southbound.inventory import load_inventory

    return NetconfSouthbound(
        load_inventory(inventory),
        session_options=SessionOptions(
            rpc_timeout_s=rpc_timeout_s, connect_attempts=connect_attempts, backoff_s=0.05
        ),
        transaction_options=TransactionOptions(
            confirm_timeout_s=confirm_timeout_s, unknown_margin_s=margin_s
        ),
        max_workers=16,
    )


def running(runner: FleetThread) -> dict[str, DeviceConfig]:
    """Each router's running config, read straight from its datastore (not over NETCONF)."""
    return runner.call(lambda: {n: r.running_config() for n, r in runner.fleet.routers.items()})


def wait_settled(runner: FleetThread, timeout_s: float = 10.0) -> None:
    """Wait until no router has an unconfirmed commit pending and every router is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = runner.call(
            lambda: any(r.pending is not None or not r.alive for r in runner.fleet.routers.values())
        )
        if not busy:
            return
        time.sleep(0.05)
    raise AssertionError("routers did not settle (pending confirmed commit or still down)")


def same(configs: dict[str, DeviceConfig], network: dict[str, DeviceConfig]) -> bool:
    return all(configs[n] == canonical(cfg) for n, cfg in network.items())
