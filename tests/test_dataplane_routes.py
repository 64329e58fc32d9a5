"""What the Linux data plane writes into the kernel, computed without a kernel (no root)."""

from __future__ import annotations

from controller.desired import CandidatePath, DeviceConfig, SegmentList, SrPolicy, SteeringRule
from harness.dataplane import parse_proc_net_dev, route_line
from harness.dataplane_routes import (
    CLASS_TABLE,
    DEFAULT_TABLE,
    Plan,
    decap_sid,
    desired,
    tunnel_segments,
)
from topologies.loader import load


def _policy(endpoint: str, sids: tuple[str, ...], color: int = 7) -> SrPolicy:
    return SrPolicy(
        color, endpoint, f"p{color}", (CandidatePath("cp", 100, (SegmentList("s", sids),)),)
    )


def test_the_tunnel_ends_on_the_endpoints_decap_sid() -> None:
    topo = load("ring:4")
    node = topo.node("r3").node_sid
    assert tunnel_segments(topo, "r3", [node]) == (decap_sid(topo, "r3"),)
    adj = topo.adjacency_sid(topo.link(("r2", "r3", "r2-r3")))
    assert tunnel_segments(topo, "r3", [adj]) == (adj, decap_sid(topo, "r3"))


def test_every_router_gets_igp_routes_and_its_sids_on_a_veth() -> None:
    topo = load("ring:4")
    plan = Plan(topo, "abcdef")
    want = desired(plan, {lk.id for lk in topo.links}, {})
    r1 = want["r1"].routes
    others = [n for n in topo.nodes if n != "r1"]
    assert all((254, 6, topo.node(n).locator) in r1 for n in others)
    sids = [r for r in r1.values() if r.seg6local]
    assert {dict(r.seg6local)["action"] for r in sids} == {"End", "End.DT6", "End.X"}
    assert all(r.ifname.startswith("e") for r in sids)  # never lo: a reject route there
    assert plan.ns["r1"] == "np-abcdef-1"


def test_policies_go_to_the_class_table_and_a_cut_link_leaves_the_igp() -> None:
    topo = load("ring:4")
    plan = Plan(topo, "abcdef")
    ep = topo.node("r3").loopback.split("/")[0]
    cfg = DeviceConfig(
        "r1",
        (_policy(ep, (topo.node("r2").node_sid, topo.node("r3").node_sid)),),
        (SteeringRule("voice", 7, ep, dscp=46), SteeringRule("v4", 7, ep, prefix="10.3.0.0/16")),
    )
    up = {lk.id for lk in topo.links}
    state = desired(plan, up, {"r1": cfg})["r1"]
    tunnel = state.routes[(CLASS_TABLE + 46, 6, topo.node("r3").loopback)]
    assert tunnel.segs == (topo.node("r2").node_sid, decap_sid(topo, "r3"))
    assert "segs " + ",".join(tunnel.segs) in route_line(tunnel)  # iproute2: travel order
    assert (DEFAULT_TABLE, 4, "10.3.0.0/16") in state.routes  # IPv4: per prefix, no DSCP
    assert {(r.table, r.dscp) for r in state.rules} == {
        (CLASS_TABLE + 46, 46),
        (DEFAULT_TABLE, None),
    }
    cut = desired(plan, up - {"r1-r2"}, {})["r1"].routes[(254, 6, topo.node("r2").locator)]
    assert all(ifname != plan.port_of_link[("r1", "r1-r2")].ifname for _, ifname in cut.hops)


def test_a_head_end_pops_its_own_adjacency_sid_and_pins_the_link() -> None:
    topo = load("ring:4")
    plan = Plan(topo, "abcdef")
    ep = topo.node("r2").loopback.split("/")[0]
    adj = topo.adjacency_sid(topo.link(("r1", "r2", "r1-r2")))
    cfg = DeviceConfig("r1", (_policy(ep, (adj,)),), (SteeringRule("v", 7, ep, dscp=34),))
    state = desired(plan, {lk.id for lk in topo.links}, {"r1": cfg})["r1"]
    table = CLASS_TABLE + 34
    port = plan.port_of_link[("r1", "r1-r2")]
    assert state.routes[(table, 6, topo.node("r2").loopback)].segs == (decap_sid(topo, "r2"),)
    pin = state.routes[(table, 6, f"{decap_sid(topo, 'r2')}/128")]
    assert pin.hops == ((port.peer_addr, port.ifname),)


def test_proc_net_dev_rows_become_counters() -> None:
    text = (
        "Inter-|   Receive |  Transmit\n face |bytes packets ...\n"
        "    e0:  1500  10 1 2 0 0 0 0   3000  20 3 4 0 0 0 0\n"
    )
    assert parse_proc_net_dev(text) == {"e0": (1500, 3000, 10, 20, 1, 3, 2, 4)}
