"""Device flavours (controller/southbound/flavors/): every rendered config and state document is
validated by libyang against the flavour's modules (the vendor ones from the PyPI sdists, in
the ignored cache) and read back; a mixed fleet commits as one all-or-nothing transaction; a
device that rejects the vendor XML fails it with its own rpc-error and error-path."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
from lxml import etree
from southbound_support import driver, running, start_fleet

from controller.desired import DeviceConfig, SegmentList, SteeringRule
from controller.devicestate import DeviceState, InterfaceState, Neighbor, PolicyState, QueueStats
from controller.errors import ValidationError
from controller.southbound import vendor_yang
from controller.southbound.errors import DeviceError, InventoryError
from controller.southbound.flavors import FLAVORS, flavor_at, get
from controller.southbound.flavors.iosxr import MODULES as IOSXR_MODULES
from controller.southbound.flavors.iosxr_sids import label_to_sid, sid_to_label
from controller.southbound.inventory import load_inventory
from controller.southbound.yang import Schema, ietf_modules_dir
from harness.sample import ring, sample_network

TOPO = ring(5)
BENCH = Path(__file__).resolve().parent.parent / "bench" / "southbound.py"
NC_DATA = "{urn:ietf:params:xml:ns:netconf:base:1.0}data"


@pytest.fixture(scope="module", autouse=True)
def vendor_modules() -> None:
    for flavor in ("iosxr", "openconfig"):
        vendor_yang.fetch(flavor)  # from PyPI on the first run, then from the cache


def _doc(elements: list[object]) -> bytes:
    return b"".join(etree.tostring(e) for e in elements)


def _state() -> DeviceState:
    queue = QueueStats("voice", 5, 10, 2, 1, 300, 0.0005)
    interfaces = (
        InterfaceState("r1-r2", True, 1e10, 1, 2, 3, 4, 5, 6, 7, 8, 9, -2.5, 6.25, 0.001, (queue,)),
        InterfaceState("r1-r5", False, 4e10),
    )
    policies = (PolicyState(100, "fc00:0:3::1", True, "r1"),)
    lldp = (Neighbor("r1-r2", "r2", "r1-r2"), Neighbor("r1-r5", "r5", "r1-r5"))
    return DeviceState("r1", 1700000000.5, 7, interfaces, policies, neighbors=lldp)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_rendered_configs_and_state_validate_and_read_back(flavor: str) -> None:
    f = get(flavor)
    schema = f.schema()
    for revision in (1, 2):
        for name, cfg in sample_network(TOPO, revision).items():
            config = f.render(cfg)
            schema.validate(_doc(list(config)), f"{flavor} config of {name}")
            assert f.parse(name, config) == f.carried(cfg)
    first, second = sample_network(TOPO, 1)["r1"], sample_network(TOPO, 2)["r1"]
    for edit in (f.edit(first, second, full=False), f.edit(second, second, full=True)):
        assert edit is not None and len(edit) > 0
    assert f.edit(first, first, full=False) is None
    elements = f.render_state(_state())
    schema.validate(_doc(elements), f"{flavor} state", state=True)
    data = etree.Element(NC_DATA)
    data.extend(elements)
    back = f.parse_state("r1", data)
    assert {i.name: i.oper_up for i in back.interfaces} == {"r1-r2": True, "r1-r5": False}
    assert back.interfaces[0].in_octets == 1 and back.interfaces[0].out_packets == 4
    assert back.interfaces[0].rx_power_dbm == -2.5 and back.sr_policies == _state().sr_policies
    assert dataclasses.astuple(back.interfaces[0].queues[0])[:5] == ("voice", 5, 10, 2, 1)
    if flavor != "netpilot":  # LLDP: openconfig-lldp, Cisco-IOS-XR-ethernet-lldp-oper
        assert back.neighbors == _state().neighbors


@pytest.mark.parametrize("flavor", FLAVORS)
def test_application_match_renders_valid_and_reads_back(flavor: str) -> None:
    """Protocol, destination ports and source prefixes (both families) on each flavour; on
    iosxr as class-map `match` lines of Cisco-IOS-XR-infra-policymgr-cfg."""
    f = get(flavor)
    cfg = sample_network(TOPO, 1)["r1"]
    p = cfg.sr_policies[0]
    rules = (
        SteeringRule("app#0", p.color, p.endpoint, None, "10.1.20.0/24", 17,
                     ("16384-32767", "5060"), ("2001:db8:8::/48", "10.8.1.0/24")),
        SteeringRule("app#1", p.color, p.endpoint, 46, "2001:db8:1::/48", 6, ("443",)),
        SteeringRule("app#2", p.color, p.endpoint, None, None, 50),
    )  # fmt: skip
    cfg = dataclasses.replace(cfg, steering=cfg.steering + rules)
    config = f.render(cfg)
    f.schema().validate(_doc(list(config)), f"{flavor} config with application match")
    back = {r.name: r for r in f.parse("r1", config).steering}
    assert back["app#0"] == dataclasses.replace(
        rules[0], ports=("5060", "16384-32767"), src_prefixes=("10.8.1.0/24", "2001:db8:8::/48")
    )
    assert back["app#1"] == rules[1] and back["app#2"] == rules[2]
    if flavor == "iosxr":
        match = config.find(".//{*}class-map[{*}name='app#0']/{*}match")
        lines = [(etree.QName(el).localname, el.findtext("{*}address") or el.text) for el in match]
        assert lines == [
            ("protocol", "17"),
            ("destination-address-ipv4", "10.1.20.0"),
            ("destination-port", "5060"),
            ("destination-port", "16384-32767"),
            ("source-address-ipv4", "10.8.1.0"),
            ("source-address-ipv6", "2001:db8:8::"),
        ]


def test_iosxr_maps_srv6_sids_to_labels_and_refuses_what_it_cannot_carry() -> None:
    for sid in ("fcbb:bb00:2::1", "fcbb:bb00:1f:e3::"):
        label = sid_to_label(sid)
        assert label is not None and label_to_sid(label) == sid
    assert sid_to_label("fcbb:bb00:2::1") == 16002  # SRGB base + the node's index
    cfg = sample_network(TOPO, 1)["r1"]
    policy = cfg.sr_policies[0]
    path = policy.candidate_paths[0]
    odd = dataclasses.replace(path, segment_lists=(SegmentList("sl1", ("2001:db8::7",)),))
    bad = DeviceConfig("r1", (dataclasses.replace(policy, candidate_paths=(odd,)),))
    with pytest.raises(ValidationError, match="SID 2001:db8::7 has no SR-MPLS label"):
        get("iosxr").render(bad)


def test_inventory_flavor_is_checked(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("x")
    entry = (
        f"- {{name: r1, host: 127.0.0.1, username: u, key_file: {key}, host_key: ssh-ed25519 AAAA"
    )
    (tmp_path / "inv.yaml").write_text(f"devices:\n{entry}, flavor: junos}}\n")
    with pytest.raises(InventoryError, match=r"device 'r1': `flavor` is 'junos'; use one of"):
        load_inventory(tmp_path / "inv.yaml")
    (tmp_path / "inv.yaml").write_text(f"devices:\n{entry}}}\n")
    assert load_inventory(tmp_path / "inv.yaml").devices[0].flavor == "netpilot"
    assert [flavor_at("mixed", i) for i in range(4)] == [*FLAVORS, FLAVORS[0]]


def test_mixed_fleet_is_one_transaction_and_a_vendor_rejection_keeps_every_old_config(
    tmp_path: Path,
) -> None:
    names = ["r1", "r2", "r3"]  # netpilot, iosxr, openconfig
    runner = start_fleet(names, tmp_path, flavors="mixed")
    sb = driver(runner, tmp_path, confirm_timeout_s=30)
    try:
        assert [runner.fleet.routers[n].options.flavor for n in names] == list(FLAVORS)
        rev1 = {n: c for n, c in sample_network(TOPO, 1).items() if n in names}
        assert sb.apply_sync(1, rev1, {}).committed
        held = {n: sb.sessions[n].expected(c) for n, c in rev1.items()}
        assert running(runner) == held
        assert sb.drift(rev1) and not any(d.drifted for d in sb.drift(rev1))
        # r2 runs an image without Cisco-IOS-XR-infra-policymgr-cfg: it rejects QoS edits
        search = f"{vendor_yang.modules_dir('iosxr')}:{ietf_modules_dir()}"
        modules = tuple(m for m in IOSXR_MODULES if "policymgr" not in m)
        older = Schema(search, modules, "IOS-XR 6.6.3 image without infra-policymgr-cfg")
        router = runner.fleet.routers["r2"]
        runner.call(lambda: setattr(router, "schema", older))
        rev2 = {
            n: dataclasses.replace(
                sample_network(TOPO, 2)[n],
                qos=tuple(dataclasses.replace(c, weight=c.weight + 1) for c in rev1[n].qos),
            )
            for n in names
        }
        result = sb.apply_sync(2, rev2, rev1)
        assert not result.committed and result.failed_devices == ["r2"]
        error = result.devices["r2"].error or ""
        # the device's own rpc-error: tag, message, and where (error-path: the top, "/")
        assert error.startswith(
            "unknown-element: no element <policy-manager> in namespace "
            "http://cisco.com/ns/yang/Cisco-IOS-XR-infra-policymgr-cfg at /"
        )
        assert result.devices["r1"].phase == result.devices["r3"].phase == "rolled back"
        assert running(runner) == held  # every device kept its old config
        # a bad value: the device's message and error-path (vendor module names as prefixes)
        bad = get("iosxr").render(DeviceConfig("r2", rev1["r2"].sr_policies))
        bad.find(".//{*}mpls-label").text = "label-x"
        session = sb.sessions["r2"]
        with pytest.raises(DeviceError) as caught:
            session.rpc("edit", lambda m: m.edit_config(bad, target="candidate"))
        session.rpc("discard", lambda m: m.discard_changes())
        assert caught.value.reason.startswith("invalid-value: ")
        where = "at /Cisco-IOS-XR-segment-routing-ms-cfg:sr/Cisco-IOS-XR-infra-xtc-agent-cfg:"
        assert where + "traffic-engineering/segments/segment[" in caught.value.reason
        assert "/mpls-label (IOS-XR 6.6.3 image without" in caught.value.reason
    finally:
        sb.close_sync()
        runner.stop()


def test_bench_big_configs_render_valid_in_every_flavour() -> None:
    """bench/southbound.py's big configs (item 5: thousands of policies per router), tiny."""
    spec = importlib.util.spec_from_file_location("bench_southbound", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = bench.big_config(TOPO, "r1", 1, 70)
    assert len(cfg.sr_policies) == len(cfg.steering) == 70
    for flavor in FLAVORS:
        f = get(flavor)
        config = f.render(cfg)
        f.schema().validate(_doc(list(config)), f"big {flavor} config")
        assert f.parse("r1", config) == f.carried(cfg)
