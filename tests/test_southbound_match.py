"""Application classification on the wire (issue 20, item 3): a compiled intent with `match`
(protocol, destination ports, source prefixes) pushed over NETCONF to a router of each flavour
reads back exactly, and `devices drift` finds nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from southbound_support import driver, running, start_fleet
from typer.testing import CliRunner

from cli import app
from controller.compiler import CompileItem, compile_network
from controller.desired import DeviceConfig
from controller.intents import Intent, to_path_request
from controller.pathing.placement import place
from controller.southbound import vendor_yang
from controller.southbound.flavors import FLAVORS
from controller.southbound.serialize import write_revision
from topologies.loader import load


def _branch_config() -> DeviceConfig:
    """BR1's config for a voice intent classified by protocol, ports and source prefixes."""
    bank = load("bank-wan:2")
    spec = {
        "name": "sip", "src": "BR1", "dst": "DC1", "service_class": "voice",
        "match": {"protocols": ["udp", "tcp"], "ports": [5060, "16384-32767"],
                  "src_prefixes": ["10.8.1.0/24", "2001:db8:8::/48"],
                  "dst_prefixes": ["10.1.20.0/24", "2001:db8:1:20::/64"]},
    }  # fmt: skip
    intent = Intent.model_validate(spec)
    placement = place(bank, [to_path_request(intent, lambda e, _: str(e.node))]).placed["sip"]
    return compile_network(bank, [CompileItem(intent, placement, 1000)])["BR1"]


def test_matched_steering_round_trips_on_every_flavour_and_shows_no_drift(
    tmp_path: Path,
) -> None:
    for flavor in ("iosxr", "openconfig"):
        vendor_yang.fetch(flavor)  # from the cache after the first run
    branch = _branch_config()
    assert len(branch.steering) == 4 and all(r.protocol in (6, 17) for r in branch.steering)
    names = ["r1", "r2", "r3"]  # netpilot, iosxr, openconfig
    want = {n: dataclasses.replace(branch, device=n) for n in names}
    runner = start_fleet(names, tmp_path, flavors="mixed")
    sb = driver(runner, tmp_path, confirm_timeout_s=30)
    try:
        assert [runner.fleet.routers[n].options.flavor for n in names] == list(FLAVORS)
        assert sb.apply_sync(1, want, {}).committed
        held = running(runner)  # each router's datastore, validated by libyang on every edit
        for n in names:
            assert held[n] == sb.sessions[n].expected(want[n])
            assert held[n].steering == sb.sessions[n].expected(want[n]).steering
            got = {r.name: (r.protocol, r.ports, r.src_prefixes) for r in held[n].steering}
            assert got["sip#0"] == (17, ("5060", "16384-32767"), ("10.8.1.0/24", "2001:db8:8::/48"))
    finally:
        sb.close_sync()
    try:
        inventory = runner.fleet.write_inventory(tmp_path / "inv.yaml")
        write_revision(tmp_path / "rev.json", 1, want)
        args = ["devices", "drift", "-i", str(inventory), "--expected", str(tmp_path / "rev.json")]
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)["devices"]
        assert [(r["device"], r["drifted"]) for r in rows] == [(n, False) for n in names]
    finally:
        runner.stop()
