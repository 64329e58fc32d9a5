"""Scenario files: validation with clear messages, and fault shapes over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simnets import LINE, topo

from controller.errors import NotFoundError, ValidationError
from harness.routing import LinkIndex
from harness.scenario import FaultPlan, check_against, load_scenario, parse_scenario
from topologies.loader import load as load_topology

SCENARIOS = Path(__file__).resolve().parent.parent / "harness" / "scenarios"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"events": [{"kind": "link_down", "at": "1m"}]}, "events[0].link: Field required"),
        ({"events": [{"kind": "explode", "at": 1}]}, "events[0]: unknown kind"),
        ({"events": [{"kind": "link_down", "link": "x", "at": "soon"}]}, "events[0].at: "),
        ({"evnts": []}, "evnts: Extra inputs are not permitted"),
        (
            {"events": [{"kind": "flap", "link": "x", "at": 0, "period": "0s"}]},
            "events[0].period",
        ),
        (
            {
                "events": [
                    {
                        "kind": "degrade",
                        "link": "x",
                        "at": 0,
                        "ramp": "1m",
                        "signal": "crc",
                        "amount": 3,
                    }
                ]
            },
            "events[0].amount: a crc amount is a packet error ratio",
        ),
        ({"intents": [{"name": "i", "src": "a"}]}, "intents[0].dst: Field required"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_scenarios_name_the_field(doc: object, expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_scenario(doc, "s.yaml")
    assert expected in str(info.value) or any(expected in p for p in info.value.problems)
    assert str(info.value).startswith("s.yaml: ")


def test_unknown_link_and_node_are_rejected_against_the_topology() -> None:
    index = LinkIndex(topo("t", LINE))
    scenario = parse_scenario(
        {
            "events": [
                {"kind": "link_down", "link": "a-z", "at": 0},
                {"kind": "node_down", "node": "q", "at": 0},
            ]
        }
    )
    with pytest.raises(ValidationError) as info:
        check_against(scenario, index)
    assert info.value.problems[0].startswith("events[0].link: unknown link 'a-z'")
    assert info.value.problems[1].startswith("events[1].node: unknown node 'q'")


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_scenario(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("events: [\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_scenario(bad)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_scenarios_fit_their_topology(path: Path) -> None:
    """geant-* and router-reboot fit GEANT; bank-wan-* (the closed-loop suite) fit bank-wan;
    branch-* (issue 20) fit the generated bank-wan:4; ring3-* (the data plane's) fit ring:3."""
    name = "bank-wan" if path.name.startswith("bank-wan-") else "geant"
    name = "bank-wan:4" if path.name.startswith("branch-") else name
    name = "ring:3" if path.name.startswith("ring3-") else name
    check_against(load_scenario(path), LinkIndex(load_topology(name)))


def test_precursor_shapes_over_time() -> None:
    index = LinkIndex(topo("t", LINE))
    plan = FaultPlan(
        parse_scenario(
            {
                "events": [
                    {
                        "kind": "degrade",
                        "link": "a-b",
                        "signal": "rx_power",
                        "at": "10m",
                        "ramp": "10m",
                        "amount": 6,
                        "fail_at": "25m",
                    },
                    {
                        "kind": "degrade",
                        "link": "a-b",
                        "signal": "tx_bias",
                        "at": "10m",
                        "ramp": "10m",
                        "amount": 20,
                        "shape": "plateau",
                    },
                    {
                        "kind": "decoy",
                        "link": "b-c",
                        "signal": "latency",
                        "at": "10m",
                        "ramp": "10m",
                        "amount": "4ms",
                    },
                    {"kind": "flap", "link": "b-c", "at": "1h", "period": "1m", "count": 2},
                    {"kind": "capacity_loss", "link": "b-c", "at": "2h", "fraction": 0.25},
                ]
            }
        ),
        index,
    )
    ab = index.links_of_id("a-b")
    bc = index.links_of_id("b-c")
    assert plan.at(0).rx_power_offset_db[ab].tolist() == [0, 0]
    assert plan.at(900).rx_power_offset_db[ab] == pytest.approx([-3, -3])
    assert plan.at(1200).rx_power_offset_db[ab] == pytest.approx([-6, -6])
    assert plan.at(1499).link_up[ab].all() and not plan.at(1500).link_up[ab].any()
    bias = [plan.at(t).tx_bias_offset_ma[ab[0]] for t in (600, 900, 1200, 3000)]
    assert bias == sorted(bias) and bias[-1] == pytest.approx(20, rel=1e-3)
    decoy = [plan.at(t).extra_delay_s[bc[0]] for t in (600, 900, 1200, 1500)]
    assert decoy[1] == pytest.approx(4e-3) and decoy[0] == decoy[2] == decoy[3] == 0
    assert [bool(plan.at(t).link_up[bc[0]]) for t in (3600, 3630, 3660, 3690, 3720)] == [
        False,
        True,
        False,
        True,
        True,
    ]
    assert plan.at(7200).capacity_factor[bc] == pytest.approx([0.75, 0.75])
    assert np.all(plan.at(7200).capacity_factor[ab] == 1)
