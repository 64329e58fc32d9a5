"""The intent CLI on an etcd store (issue 16): `--store etcd://...` (or NETPILOT_STORE) reads and
writes the cluster's intents directly, as a follower replica does, and the cluster's leader (a
full `controller run --store` runtime here) installs what it wrote."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from bench.etcd_proc import EtcdServer
from tests.cli_inprocess import run_cli
from tests.ha_support import InProcessReplica

ROOT = Path(__file__).resolve().parent.parent
INTENTS = """intents:
  - {name: east, src: r1, dst: r3, bandwidth: 5M, service_class: production}
  - {name: west, src: r3, dst: r1, bandwidth: 5M}
  - {name: across, src: r2, dst: r4, bandwidth: 2M, service_class: office}
"""


def test_intent_cli_on_an_etcd_store_with_a_leader(tmp_path: Path) -> None:
    etcd = EtcdServer(tmp_path / "etcd" / "data")
    etcd.start()
    store = etcd.store_url()
    leader = InProcessReplica(store, "r0", "cli-token", "ring:4", ttl=5)  # alone: no failover
    example = tmp_path / "intents.yaml"
    example.write_text(INTENTS)
    try:
        leader.start()
        out = run_cli("intent", "apply", "-f", str(example), "--store", store, "--json")
        assert out.returncode == 0, out.stderr
        applied = {r["name"]: r for r in json.loads(out.stdout)}
        assert set(applied) == {"east", "west", "across"}
        assert {r["action"] for r in applied.values()} == {"create"}
        # the leader heard of the writes through its watch and installed them
        assert {r["state"] for r in applied.values()} <= {"installed", "verified"}, applied

        env = {"NETPILOT_STORE": store}  # the variable alone selects the store
        listed = run_cli("intent", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert {r["name"] for r in json.loads(listed.stdout)} == set(applied)
        shown = run_cli("intent", "status", "east", "--json", env=env)
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        assert status["primary"]["nodes"][0] == "r1" and status["version"] == 1
        assert status["primary"]["nodes"][-1] == "r3"
        plan = run_cli("intent", "plan", "-f", str(example), "--json", env=env)
        assert plan.returncode == 0, plan.stderr
        assert {c["action"] for c in json.loads(plan.stdout)["changes"]} == {"unchanged"}

        gone = run_cli("intent", "delete", "east", "--store", store, "--json")
        assert gone.returncode == 0, gone.stderr
        assert json.loads(gone.stdout)["version"] == 2
        both = run_cli("intent", "list", "--store", store, "--db", str(tmp_path / "x.db"))
        assert both.returncode == 2 and "not several" in both.stderr
    finally:
        leader.stop()
        etcd.stop()


def test_intent_cli_on_an_unreachable_store_is_one_line() -> None:
    from bench.etcd_proc import free_port

    url = f"etcd://127.0.0.1:{free_port()}"
    out = run_cli("intent", "list", "--store", url, "--topology", "bank-wan")
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and url.removeprefix("etcd://") in out.stderr


def test_the_docs_commands_run_as_written() -> None:
    """Every ```sh command of docs/ha.md, as written (in this process). Nothing is expected to
    listen at the addresses they name: each answers with rows or one line saying so."""
    text = (ROOT / "docs" / "ha.md").read_text()
    commands = [shlex.split(b) for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]
    assert [c[:3] for c in commands] == [
        ["netpilot", "controller", "status"], ["netpilot", "intent", "list"]
    ]  # fmt: skip
    status = run_cli(*commands[0][1:])
    assert status.returncode in (0, 1) and "Traceback" not in status.stderr, status.stderr
    rows = json.loads(status.stdout)
    assert [r["server"] for r in rows] == [f"http://127.0.0.1:{p}" for p in (8080, 8081, 8082)]
    assert all(r["reachable"] or r["cause"].startswith("unreachable:") for r in rows), rows
    listed = run_cli(*commands[1][1:])
    assert "Traceback" not in listed.stderr, listed.stderr
    if listed.returncode != 0:  # no etcd there: one line naming it
        assert len(listed.stderr.strip().splitlines()) == 1 and "127.0.0.1:2379" in listed.stderr


def test_help_shows_the_status_command_and_the_store_flag() -> None:
    status = run_cli("controller", "status", "--help")
    assert status.returncode == 0, status.stderr
    for text in ("--server", "--json", "--token-file", "Example: netpilot controller status"):
        assert text in status.stdout, text
    listing = run_cli("intent", "list", "--help")
    assert listing.returncode == 0, listing.stderr
    assert "--store" in listing.stdout and "NETPILOT_STORE" in listing.stdout, listing.stdout
