"""The iosxr flavour's per-router parts (issue 14): the SRv6 locator, the QoS and steering
policy maps attached to the router's interfaces, class-based steering into SR policies
(`auto-route` forward classes set by a pbr policy map), and operational state (interfaces,
counters, optics, queues, LLDP, SR policies) read into the same DeviceState as netpilot's.
Every rendered document is validated by libyang against the IOS-XR 6.6.3 modules (the vendor
ones from the PyPI sdist, in the ignored cache) and read back; docs/southbound-flavors.md."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from simnets import DIAMOND, static, topo
from southbound_support import driver, running

from controller.desired import CandidatePath, SegmentList, SrPolicy, SteeringRule
from controller.devicestate import Neighbor
from controller.southbound import vendor_yang
from controller.southbound.errors import InventoryError
from controller.southbound.flavors import get
from controller.southbound.flavors.iosxr import MODULES
from controller.southbound.flavors.iosxr_iface import read_locator
from controller.southbound.inventory import DeviceFacts, load_inventory
from controller.southbound.yang import Schema, ietf_modules_dir
from harness.fleet import Fleet, FleetThread
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.sample import ring, sample_network
from harness.simrun import SimRuntime
from harness.state import StaticStateProvider
from telemetry.netconf_collector import NetconfCollector

TOPO = ring(4)
WEIGHTED = [(a, b, c, d, 30 if "c" in (a, b) else 10) for a, b, c, d, _ in DIAMOND]  # all via b
SRV6 = "{http://cisco.com/ns/yang/Cisco-IOS-XR-segment-routing-srv6-cfg}"


@pytest.fixture(scope="module", autouse=True)
def vendor_modules() -> None:
    vendor_yang.fetch("iosxr")  # from PyPI on the first run, then from the cache


def _facts(name: str) -> DeviceFacts:
    links = sorted(lk.id for lk in TOPO.out_links(name))
    return DeviceFacts(TOPO.nodes[name].locator, tuple(links))


def _doc(config: etree._Element) -> bytes:
    return b"".join(etree.tostring(e) for e in config)


def _sets(config: etree._Element, pmap: str, leaf: str) -> dict[str, str]:
    rules = config.iterfind(f".//{{*}}policy-map[{{*}}name='{pmap}']/{{*}}policy-map-rule")
    return {r.findtext("{*}class-name"): r.findtext(f"{{*}}set/{{*}}{leaf}") for r in rules}


def test_locator_attachments_and_steering_render_valid_and_read_back() -> None:
    facts = _facts("r1")
    f = get("iosxr", facts)
    cfg = sample_network(TOPO, 1)["r1"]
    config = f.render(cfg)
    f.schema().validate(_doc(config), "iosxr config of r1")
    assert f.parse("r1", config) == f.carried(cfg)
    loc = config.find(f".//{SRV6}locator")
    assert loc.findtext(f"{SRV6}name") == "netpilot"
    assert loc.find(f"{SRV6}locator-enable") is not None
    assert f"{loc.findtext(f'{SRV6}prefix/{SRV6}prefix')}/48" == TOPO.nodes["r1"].locator
    for entry in config.iterfind(".//{*}interface-configuration"):
        assert entry.findtext("{*}qos/{*}input/{*}service-policy/{*}service-policy-name") == (
            "netpilot-qos-in"
        )
        assert entry.findtext("{*}qos/{*}output/{*}service-policy/{*}service-policy-name") == (
            "netpilot-qos"
        )
        assert entry.findtext("{*}pbr/{*}service-policy-in") == "netpilot-steer"
    entries = config.iterfind(".//{*}interface-configuration")
    assert sorted(e.findtext("{*}interface-name") for e in entries) == list(facts.interfaces)
    # QoS split as IOS-XR applies it: ingress marks the queue, egress schedules it
    assert _sets(config, "netpilot-qos-in", "traffic-class")["voice"] == "5"
    egress = config.find(".//{*}policy-map[{*}name='netpilot-qos']")
    voice = egress.find("{*}policy-map-rule[{*}class-name='netpilot-tc5-voice']")
    assert voice.findtext("{*}priority-level") == "1"
    # steering: each rule's pbr rule sets the forward class of its policy's autoroute
    steer = _sets(config, "netpilot-steer", "forward-class")
    policies = config.iterfind(".//{*}policies/{*}policy")
    by_color = {p.findtext("{*}policy-color-endpoint/{*}color"): p for p in policies}
    for rule in cfg.steering:
        policy = by_color[str(rule.color)]
        assert policy.findtext("{*}auto-route/{*}forward-class") == steer[rule.name] == "1"


def test_only_what_is_in_effect_reads_back_and_interfaces_are_never_replaced() -> None:
    f = get("iosxr", _facts("r1"))
    cfg = sample_network(TOPO, 1)["r1"]
    config = f.render(cfg)
    entry = config.find(".//{*}interface-configuration")
    entry.remove(entry.find("{*}pbr"))  # one interface without the steering policy
    assert f.parse("r1", config).steering == () and f.parse("r1", config).qos
    entry.find("{*}qos").remove(entry.find("{*}qos/{*}output"))
    assert f.parse("r1", config).qos == ()
    edit = f.edit(cfg, dataclasses.replace(cfg, qos=()), full=False)
    assert edit is not None
    op = "{urn:ietf:params:xml:ns:netconf:base:1.0}operation"
    for entry in edit.iterfind(".//{*}interface-configuration"):
        assert entry.get(op) is None  # entered, never replaced: the operator's addressing stays
        assert entry.find("{*}qos").get(op) == "replace" and len(entry.find("{*}qos")) == 0
    full = f.edit(cfg, cfg, full=True)
    assert full is not None and full.find(f".//{SRV6}locator").get(op) == "replace"
    empty = f.edit(cfg, dataclasses.replace(cfg, sr_policies=(), steering=(), qos=()), full=True)
    assert empty is not None and empty.find(f".//{SRV6}locator").get(op) == "remove"


def test_at_most_seven_policies_per_endpoint_are_steered() -> None:
    f = get("iosxr", _facts("r1"))
    base = sample_network(TOPO, 1)["r1"]
    sids = base.sr_policies[0].candidate_paths[0].segment_lists[0].sids
    endpoint = base.sr_policies[0].endpoint
    path = (CandidatePath("p", 100, (SegmentList("sl", sids),)),)
    policies = tuple(SrPolicy(200 + k, endpoint, f"many-{k}", path) for k in range(8))
    rules = tuple(SteeringRule(f"s{k}", 200 + k, endpoint, dscp=k) for k in range(8))
    cfg = dataclasses.replace(base, sr_policies=policies, steering=rules)
    config = f.render(cfg)
    f.schema().validate(_doc(config), "iosxr config, 8 policies to one endpoint")
    classes = _sets(config, "netpilot-steer", "forward-class")
    assert classes == {f"s{k}": str(k + 1) for k in range(7)}
    assert f.parse("r1", config) == f.carried(cfg)  # the eighth is carried, not steered


def test_inventory_facts_are_checked(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("x")
    entry = f"- {{name: r1, host: 127.0.0.1, username: u, key_file: {key}, host_key: ssh-rsa AAAA"
    (tmp_path / "inv.yaml").write_text(f"devices:\n{entry}, locator: fcbb:bb00:1::/20}}\n")
    with pytest.raises(InventoryError, match=r"device 'r1': `locator` is 'fcbb:bb00:1::/20'; give"):
        load_inventory(tmp_path / "inv.yaml")
    (tmp_path / "inv.yaml").write_text(f"devices:\n{entry}, interfaces: [a, b]}}\n")
    assert load_inventory(tmp_path / "inv.yaml").devices[0].facts == DeviceFacts(None, ("a", "b"))


def test_iosxr_fleet_pushes_reads_back_repairs_and_rejects_with_its_own_error(
    tmp_path: Path,
) -> None:
    names = ["r1", "r2"]
    provider = StaticStateProvider(TOPO)
    runner = FleetThread(lambda: Fleet(names, tmp_path, provider=provider, flavors="iosxr"))
    runner.start()
    sb = driver(runner, tmp_path, confirm_timeout_s=30)
    try:
        assert sb.sessions["r1"].entry.facts == _facts("r1")  # devices start wrote the facts
        # r2 runs an image without SRv6 (no Cisco-IOS-XR-segment-routing-srv6-cfg)
        search = f"{vendor_yang.modules_dir('iosxr')}:{ietf_modules_dir()}"
        older = Schema(search, tuple(m for m in MODULES if "srv6" not in m), "IOS-XR without SRv6")
        router = runner.fleet.routers["r2"]
        runner.call(lambda: setattr(router, "schema", older))
        rev1 = {n: c for n, c in sample_network(TOPO, 1).items() if n in names}
        result = sb.apply_sync(1, rev1, {})
        assert not result.committed and result.failed_devices == ["r2"]
        assert (result.devices["r2"].error or "").startswith(
            "unknown-element: no element <srv6> in namespace "
            "http://cisco.com/ns/yang/Cisco-IOS-XR-segment-routing-srv6-cfg at /sr"
        )  # the device's own rpc-error: tag, message and error-path
        assert all(not cfg.sr_policies and not cfg.qos for cfg in running(runner).values())
        runner.call(lambda: setattr(router, "schema", get("iosxr").schema()))
        assert sb.apply_sync(1, rev1, {}).committed
        assert not any(d.drifted for d in sb.drift(rev1))
        held = runner.call(lambda: copy.deepcopy(runner.fleet.routers["r1"].running))
        assert read_locator(held) == TOPO.nodes["r1"].locator == "fcbb:bb00:1::/48"
        assert len(held.findall(".//{*}pbr/{*}service-policy-in")) == 2

        # someone detaches the steering policy from one interface: drift, then repair
        def detach() -> None:
            pbr = runner.fleet.routers["r1"].running.find(".//{*}interface-configuration/{*}pbr")
            pbr.getparent().remove(pbr)

        runner.call(detach)
        drift = {d.device: d for d in sb.drift(rev1)}
        assert drift["r1"].drifted and not drift["r2"].drifted
        assert all(line.endswith(": missing") for line in drift["r1"].changes())
        repair = sb.apply_sync(2, rev1, rev1, full_replace=True)
        assert repair.committed, repair
        assert not any(d.drifted for d in sb.drift(rev1))
        # operational state: interfaces, LLDP neighbours and SR policies of the running config
        state = sb.sessions["r1"].get_state()
        links = sorted(TOPO.out_links("r1"), key=lambda lk: lk.id)
        assert [i.name for i in state.interfaces] == [lk.id for lk in links]
        assert state.neighbors == tuple(Neighbor(lk.id, lk.dst, lk.id) for lk in links)
        assert {(p.color, p.endpoint) for p in state.sr_policies} == {
            p.key for p in rev1["r1"].sr_policies
        }
        assert all(p.up and p.active_candidate_path == "r1" for p in state.sr_policies)
    finally:
        sb.close_sync()
        runner.stop()


def test_telemetry_polls_an_iosxr_fleet_like_a_netpilot_one(tmp_path: Path) -> None:
    """Counters, queues (by class) and optics read over NETCONF from iosxr routers backed by
    the simulator: the telemetry processor sees the same utilisation as on netpilot routers."""
    index = LinkIndex(topo("t", WEIGHTED))
    sim = NetworkSimulator(index, static(index, [("a", "d", "production", 4e9)]),
                           rng=np.random.default_rng(0))  # fmt: skip
    runner = FleetThread(lambda: Fleet(sim.devices(), tmp_path, provider=sim, flavors="iosxr"))
    runner.start()
    collector = NetconfCollector(load_inventory(runner.fleet.write_inventory(tmp_path / "i.yaml")))
    try:
        runtime = SimRuntime(sim, collector=collector)
        for _ in range(2):
            runtime.tick()
        lt = runtime.processor.links[("a", "a-b")]
        assert lt.utilisation == pytest.approx(0.4, rel=1e-6)
        assert lt.class_utilisation["production"] == pytest.approx(0.4, rel=1e-6)
        a_b = {i.name: i for i in sim.device_state("a").interfaces}["a-b"]
        assert lt.rx_power_dbm == pytest.approx(a_b.rx_power_dbm, abs=0.006)  # 0.01 dBm steps
        got = collector.collect().states
        assert {s.device: s.neighbors for s in got} == {
            n: sim.device_state(n).neighbors for n in sim.devices()
        }
    finally:
        collector.close()
        runner.stop()
