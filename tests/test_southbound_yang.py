"""The netpilot YANG module: pyang --strict lints it; libyang validates instance data with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from controller.desired import DeviceConfig, QosQueue
from controller.errors import ValidationError
from controller.southbound.render import render_config
from controller.southbound.state_xml import render_state
from controller.southbound.yang import Schema, ietf_modules_dir, module_path
from harness.sample import ring, sample_network
from harness.state import StaticStateProvider


def _doc(cfg: DeviceConfig) -> bytes:
    return b"".join(etree.tostring(c) for c in render_config(cfg))


def test_pyang_strict_lints_the_module_clean() -> None:
    pyang = Path(sys.executable).parent / "pyang"
    result = subprocess.run(
        [str(pyang), "--strict", "-p", str(ietf_modules_dir()), str(module_path())],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_pyang_tree_shows_policy_keyed_by_color_and_endpoint() -> None:
    pyang = Path(sys.executable).parent / "pyang"
    result = subprocess.run(
        [str(pyang), "-f", "tree", "-p", str(ietf_modules_dir()), str(module_path())],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert "policy* [color endpoint]" in result.stdout
    assert "ro device-state" in result.stdout


def test_sample_configs_of_a_real_topology_validate(data: Path) -> None:
    from topologies.loader import load

    geant = load(str(data / "geant" / "topology.json"))
    schema = Schema()
    for cfg in sample_network(geant, 1).values():
        schema.validate(_doc(cfg), cfg.device)


def test_out_of_range_and_dangling_steering_are_named() -> None:
    schema = Schema()
    cfg = sample_network(ring(3), 1)["r1"]
    with pytest.raises(ValidationError, match="out of the allowed range"):
        schema.validate(_doc(DeviceConfig("r1", qos=(QosQueue("voice", 9, (46,)),))), "r1")
    dangling = DeviceConfig("r1", (), cfg.steering, cfg.qos)
    with pytest.raises(ValidationError, match="configure the policy"):
        schema.validate(_doc(dangling), "r1")


def test_duplicate_queue_is_refused_by_unique() -> None:
    schema = Schema()
    twice = DeviceConfig("r1", qos=(QosQueue("voice", 5, (46,)), QosQueue("video", 5, (26,))))
    with pytest.raises(ValidationError):
        schema.validate(_doc(twice), "r1")


def test_state_validates_as_config_false_data() -> None:
    schema = Schema()
    state = StaticStateProvider(ring(3), clock=lambda: 1.5).device_state("r1")
    xml = etree.tostring(render_state(state))
    schema.validate(xml, "state", state=True)
    with pytest.raises(ValidationError):
        schema.validate(xml, "state as config", state=False)
