"""The intent CLI on the bundled bank-wan: embedded (`--db`) and against a running controller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import cli
from commands.ports import listen_port
from tests.intents_support import wait_for

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "topologies" / "bank-wan.intents.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def settled(rows: list[dict[str, Any]]) -> bool:
    return all(
        r["state"] == "verified" or (r["state"] == "accepted" and "window" in r["reason"])
        for r in rows
    )


def test_embedded_apply_plan_status_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "np.db")
    code, out, err = run(
        capsys,
        "intent",
        "apply",
        "-f",
        str(EXAMPLE),
        "--db",
        db,
        "--topology",
        "bank-wan",
        "--json",
    )
    assert code == 0, err
    applied = json.loads(out)
    assert {r["action"] for r in applied} == {"create"} and settled(applied)
    code, out, _ = run(capsys, "intent", "apply", "-f", str(EXAMPLE), "--db", db, "--json")
    assert {r["action"] for r in json.loads(out)} == {"unchanged"}  # idempotent
    code, out, _ = run(capsys, "intent", "plan", "-f", str(EXAMPLE), "--db", db, "--json")
    plan = json.loads(out)
    assert {c["action"] for c in plan["changes"]} == {"unchanged"} and plan["devices"] == {}
    code, out, _ = run(capsys, "intent", "list", "--db", db, "--json")
    rows = json.loads(out)
    assert len(rows) == len(applied) and all({"name", "state"} <= r.keys() for r in rows)
    code, out, _ = run(capsys, "intent", "status", "br1-dc1-voice", "--db", db, "--json")
    status = json.loads(out)
    assert status["primary"]["nodes"][0] == "BR1" and status["primary"]["sids"]
    assert status["backup"] is not None  # path protection
    code, out, _ = run(capsys, "intent", "status", "br1-dc1-voice", "--db", db)
    assert code == 0 and "SLA asked" in out and "history" in out
    code, out, _ = run(capsys, "intent", "delete", "br6-dc2-test", "--db", db, "--json")
    assert code == 0 and json.loads(out)["state"] == "withdrawn"
    code, _, err = run(capsys, "intent", "show", "br6-dc2-test", "--db", db)
    assert code == 2 and "br6-dc2-test" in err


def test_prune_and_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "np.db")
    run(capsys, "intent", "apply", "-f", str(EXAMPLE), "--db", db, "--topology", "bank-wan")
    small = tmp_path / "small.yaml"
    small.write_text(
        "intents:\n  - {name: hq-dc1-production, src: HQ, dst: DC1, service_class: production,"
        " bandwidth: 2G, protection: '1+1'}\n"
    )
    code, out, err = run(
        capsys, "intent", "apply", "-f", str(small), "--db", db, "--prune", "--json"
    )
    assert code == 0, err
    actions = {r["name"]: r["action"] for r in json.loads(out)}
    assert actions["hq-dc1-production"] == "unchanged"
    assert sum(a == "delete" for a in actions.values()) == 16
    code, out, _ = run(capsys, "intent", "list", "--db", db, "--json")
    assert [r["name"] for r in json.loads(out)] == ["hq-dc1-production"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("intents:\n  - {name: x, src: HQ, dst: DC1, bandwidht: 1G}\n")
    code, _, err = run(capsys, "intent", "apply", "-f", str(bad), "--db", db)
    assert code == 1 and "bandwidht" in err and "Traceback" not in err
    bad.write_text("intents:\n  - {name: x, src: HQ, dst: NOWHERE}\n")
    code, _, err = run(capsys, "intent", "apply", "-f", str(bad), "--db", db)
    assert code == 1 and "NOWHERE" in err
    code, _, err = run(capsys, "intent", "list", "--db", str(tmp_path / "fresh.db"))
    assert code == 2 and "--topology" in err


def _free_port() -> int:
    return listen_port()


@pytest.fixture()
def controller(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = os.environ | {"NETPILOT_API_TOKEN": "cli-test-token", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "controller",
            "run",
            "--topology",
            "bank-wan",
            "--db",
            str(tmp_path / "ctl.db"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(ready, timeout=30), (
            proc.stderr.read() if proc.poll() is not None else "not ready"
        )
        yield base, env
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        assert "cli-test-token" not in out + err  # the token is never logged


def test_cli_against_a_running_controller(
    controller: tuple[str, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, env = controller
    monkeypatch.setenv("NETPILOT_API_TOKEN", env["NETPILOT_API_TOKEN"])
    code, out, err = run(capsys, "intent", "apply", "-f", str(EXAMPLE), "--server", base, "--json")
    assert code == 0, err
    assert settled(json.loads(out))
    code, out, _ = run(capsys, "intent", "status", "hq-dc1-production", "--server", base, "--json")
    status = json.loads(out)
    assert status["state"] == "verified" and status["backup"] is not None  # 1+1
    code, out, _ = run(
        capsys, "intent", "plan", "-f", str(EXAMPLE), "--server", base, "--prune", "--json"
    )
    assert {c["action"] for c in json.loads(out)["changes"]} == {"unchanged"}
    code, out, _ = run(capsys, "intent", "delete", "dc1-dc2-test", "--server", base, "--json")
    assert code == 0 and json.loads(out)["state"] == "withdrawing"
    monkeypatch.setenv("NETPILOT_API_TOKEN", "wrong")
    code, _, err = run(capsys, "intent", "list", "--server", base)
    assert code == 2 and "refused the token" in err and "wrong" not in err
    code, _, err = run(capsys, "intent", "list", "--server", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach" in err
