"""A scenario played on the Linux data plane, and gNMI serving its kernel counters (root).

One ring:3 data plane for the module, run in this process with the bundled scenario
harness/scenarios/ring3-dataplane.yaml: the scenario's clock is driven by the test
(`play_scenario(t)`), the kernel's state is read back with `ip`/`tc`, and the routers' gNMI
server is asked by an independent client (pygnmi) with the inventory's credentials."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pygnmi.client import gNMIclient
from pyroute2 import netns

from controller.errors import UsageError
from harness.dataplane import shaped_bps
from harness.dataplane_run import LinuxNetworkRun
from harness.netrun import NetworkSpec
from telemetry.gnmi_inventory import load_gnmi
from tests.conftest import require_privilege

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "harness" / "scenarios" / "ring3-dataplane.yaml"


@pytest.fixture(autouse=True)
def _root() -> None:
    require_privilege(os.geteuid() == 0, "root, to create network namespaces")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinuxNetworkRun]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    work = tmp_path_factory.mktemp("dp-scenario")
    spec = NetworkSpec(topology="ring:3", inventory=work / "inv.yaml", scenario=SCENARIO,
                       events=work / "events.jsonl")  # fmt: skip
    net = LinuxNetworkRun(spec)
    net.start()
    try:
        yield net
    finally:
        net.stop()
    assert not [n for n in netns.listnetns() if n.startswith(f"np-{net.run_id}-")]


def _ip(run: LinuxNetworkRun, router: str, *args: str) -> str:
    cmd = ["ip", "-n", run.plane.plan.ns[router], *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _tbf_rate(run: LinuxNetworkRun, router: str, link_id: str) -> float:
    """bit/s of the veth's tbf, as `tc` shows it (e.g. 5Mbit)."""
    port = run.plane.plan.port_of_link[(router, link_id)]
    cmd = ["tc", "-n", run.plane.plan.ns[router], "qdisc", "show", "dev", port.ifname]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    text = out.split(" rate ", 1)[1].split()[0].removesuffix("bit")
    scale = {"K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1.0)
    return float(text.rstrip("KMG")) * scale


def _is_up(run: LinuxNetworkRun, router: str, link_id: str) -> bool:
    port = run.plane.plan.port_of_link[(router, link_id)]
    return "state DOWN" not in _ip(run, router, "link", "show", port.ifname)


def test_the_scenario_cuts_browns_out_and_surges_in_the_kernel(run: LinuxNetworkRun) -> None:
    port = run.plane.plan.port_of_link[("r1", "r1-r2")]
    assert _tbf_rate(run, "r1", "r1-r2") == shaped_bps(port) / 2  # the brownout
    assert run.traffic is not None and "surge-0" in run.traffic.flows
    run.play_scenario(3.0)  # the cut: both veths of r2-r3 down
    assert not _is_up(run, "r2", "r2-r3") and not _is_up(run, "r3", "r2-r3")
    assert run.step() == ["r2-r3"] and "r2-r3" not in run.plane.up  # the IGP reconverged
    state = run.provider.device_state("r3")
    rx = {i.name: i.rx_power_dbm for i in state.interfaces}
    assert rx["r3-r1"] == pytest.approx(-3.0 - 6.0 * 3 / 4)  # the degradation's drift so far
    run.play_scenario(6.0)  # repaired
    assert _is_up(run, "r2", "r2-r3") and run.step() == ["r2-r3"]
    sent = run.traffic.counts["surge-0"].packets
    assert sent > 0 and run.traffic.flows["surge-0"].rate_bps == pytest.approx(500e6 * 1e-3)


def _client(run: LinuxNetworkRun) -> gNMIclient:
    access = load_gnmi(run.spec.inventory)
    assert access is not None and set(access.devices) == {"r1", "r2", "r3"}
    device = access.devices["r1"]
    return gNMIclient(target=(device.host, device.port), username=access.username,
                      password=access.password, path_cert=str(access.ca_file))  # fmt: skip


def _leaf(gc: gNMIclient, target: str, path: str) -> Any:
    got = gc.get(path=[path], target=target)
    return got["notification"][0]["update"][0]["val"]


def test_gnmi_serves_the_kernel_counters_and_oper_status(run: LinuxNetworkRun) -> None:
    oper = "interfaces/interface[name=r3-r1]/state/oper-status"
    octets = "interfaces/interface[name=r1-r2]/state/counters/out-octets"
    assert run.gnmi is not None
    time.sleep(0.1)  # the scenario's surge sends over r1-r2 from the start
    run.gnmi.publish()
    with _client(run) as gc:
        assert _leaf(gc, "r1", oper) == "UP"
        kernel = {c.link_id: c.tx_bytes for c in run.plane.counters("r1")}["r1-r2"]
        first = _leaf(gc, "r1", octets)
        assert 0 < first <= kernel  # what the kernel had counted at the publish
        run.plane.set_link("r3-r1", up=False, reconverge=False)
        try:
            assert run.step() == ["r3-r1"]  # published at once: ON_CHANGE subscribers hear it
            assert _leaf(gc, "r1", oper) == "DOWN" and _leaf(gc, "r3", oper) == "DOWN"
        finally:
            run.plane.set_link("r3-r1", up=True, reconverge=False)
            run.step()
        time.sleep(0.2)  # the surge keeps sending
        run.gnmi.publish()
        assert _leaf(gc, "r1", octets) > first


def test_a_scenario_the_kernel_cannot_play_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "latency.yaml"
    bad.write_text("events:\n  - {kind: degrade, link: r1-r2, signal: latency, at: 0s, "
                   "ramp: 1m, amount: 20ms}\n")  # fmt: skip
    spec = NetworkSpec(topology="ring:3", inventory=tmp_path / "inv.yaml", scenario=bad)
    with pytest.raises(UsageError, match=r"events\[0\]: a degrade of latency needs netem"):
        LinuxNetworkRun(spec)
