"""`netpilot sim run` and `netpilot telemetry top` end to end (JSON modes, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "harness" / "scenarios"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sim_run_json_replays_geant_with_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "sim",
        "run",
        "--topology",
        "geant",
        "--traffic",
        "geant",
        "--scenario",
        str(SCENARIOS / "geant-fibre-cut.yaml"),
        "--until",
        "2h",
        "--step",
        "60s",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["steps"] == 120 and data["simulated_s"] == 7200
    kinds = {(e["kind"], e["target"]) for e in data["events"]}
    assert {("link_down", "0-2"), ("link_up", "0-2"), ("link_down", "1-6")} <= kinds
    assert {i["name"] for i in data["intents"]} == {"trading-voice", "payments", "backups"}
    assert data["offered_bps"] > 1e9  # GEANT's measured matrices carry Gbit/s


def test_gravity_load_sets_the_busiest_link(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "sim", "run", "--until", "10m", "--load", "0.5", "--json")
    assert code == 0
    busiest = json.loads(out)["busiest_links"][0]
    assert 0.3 < busiest["mean_utilisation"] < 0.8  # diurnal shape and noise around 0.5


def test_telemetry_top_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "telemetry",
        "top",
        "--until",
        "2m",
        "--rows",
        "3",
        "--json",
        "--scenario",
        str(SCENARIOS / "router-reboot.yaml"),
    )
    assert code == 0
    data = json.loads(out)
    assert len(data["links"]) == 3
    utils = [r["utilisation"] for r in data["links"]]
    assert utils == sorted(utils, reverse=True)
    assert data["intents"][0]["name"] == "branch-office"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "run", "--until", "soon"], "--until"),
        (["sim", "run", "--traffic", "nowhere.hist"], "--traffic"),
        (["sim", "run", "--speed", "-1"], "--speed"),
        (["telemetry", "top", "--rows", "0", "--once"], "--rows"),
    ],
)
def test_bad_flags_get_one_clear_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_sim_run_with_netconf_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        "sim",
        "run",
        "--topology",
        "ring:4",
        "--devices",
        str(tmp_path),
        "--until",
        "1m",
        "--step",
        "20s",
        "--flows",
        "12",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["steps"] == 3
    inventory = (tmp_path / "inventory.yaml").read_text()
    assert inventory.count("host_key: ssh-ed25519") == 4
    assert "4 NETCONF routers up" in err


def test_sim_run_with_an_embedded_controller(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "cut.yaml"
    scenario.write_text('events:\n  - {kind: link_down, link: "BR1-P-SH", at: 2m, until: 4m}\n')
    code, out, err = _run(
        capsys,
        "sim",
        "run",
        "--topology",
        "bank-wan",
        "--intents",
        str(SCENARIOS.parent.parent / "topologies" / "bank-wan.intents.yaml"),
        "--scenario",
        str(scenario),
        "--until",
        "5m",
        "--step",
        "30s",
        "--flows",
        "120",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    control = data["controller"]
    assert control["intents"] == 17 and control["states"].get("verified", 0) >= 15
    assert control["telemetry_events"] == 2, "the link-down and link-up reached the engine"
    voice = next(i for i in data["intents"] if i["name"] == "br1-dc1-voice")
    assert voice["sla_met_ratio"] == 1.0  # still met while its access link is down


def test_closed_loop_over_netconf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Engine -> NETCONF transactions -> simulated routers -> simulator -> NETCONF telemetry ->
    engine: the whole loop in one command."""
    scenario = tmp_path / "cut.yaml"
    scenario.write_text('events:\n  - {kind: link_down, link: "BR1-P-SH", at: 1m}\n')
    code, out, err = _run(
        capsys,
        "sim",
        "run",
        "--topology",
        "bank-wan",
        "--intents",
        str(SCENARIOS.parent.parent / "topologies" / "bank-wan.intents.yaml"),
        "--devices",
        str(tmp_path / "devices"),
        "--scenario",
        str(scenario),
        "--until",
        "2m",
        "--step",
        "30s",
        "--flows",
        "60",
        "--json",
    )
    assert code == 0, err
    control = json.loads(out)["controller"]
    assert control["states"].get("verified", 0) >= 15, control
    assert control["telemetry_events"] == 1, "the link-down polled over NETCONF reached the engine"
