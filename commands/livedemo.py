"""The demo as a bank would run it: the network and the controller as two OS processes that
share nothing but NETCONF.

    with LiveDemo(LiveSpec(work=tmp, models=models_dir)) as demo:
        demo.follow(on_tick)           # until the network's --until
        data = demo.result()

`netpilot network run` (bank-wan, the demo scenario: a fibre that degrades and fails, a branch
uplink cut, a traffic surge; the bank intents probed) runs free at `speed` x real time and logs
its ground truth; `netpilot controller run --inventory` (trained models, telemetry every
`sample_s` of network time) gets the intents through its REST API and is judged from outside:
fault times from the network's events, actions from the controller's events API.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from commands import demotimeline as tl
from commands.ports import listen_port
from controller.errors import NetpilotError
from controller.intentfile import load_intents

ROOT = Path(__file__).resolve().parent.parent
LIVE_SCENARIO = ROOT / "harness" / "scenarios" / "bank-wan-demo-live.yaml"
BANK_INTENTS = ROOT / "topologies" / "bank-wan.intents.yaml"
TRANSITIONAL = ("compiled", "installing", "withdrawing")
LIVE_STATES = ("installed", "verified", "degraded", "accepted")
"""States of an intent that is not lost (accepted: waiting for its time window)."""


@dataclass(frozen=True)
class LiveSpec:
    work: Path
    models: Path | None = None
    """Trained loop models; None: the controller's baseline stand-ins."""
    speed: float = 40.0
    until_s: float = 3600.0
    sample_s: float = 30.0
    """Network seconds between telemetry rounds: the step the models were trained for."""
    hold_time_s: float = 300.0
    """Network seconds a healthy intent keeps its path (the controller gets it in wall time)."""
    network_step_s: float = 5.0
    """The network's clock step: routers stamp their counters at step boundaries, so the
    controller's samples are `sample_s` apart give or take one step."""
    topology: str = "bank-wan"
    scenario: Path = LIVE_SCENARIO
    intents: Path = BANK_INTENTS
    startup_timeout_s: float = 90.0
    controller_args: tuple[str, ...] = ()
    network_args: tuple[str, ...] = ()
    controller_env: tuple[tuple[str, str], ...] = ()

    def wall(self, network_s: float) -> float:
        return network_s / self.speed


@dataclass
class Follow:
    truth: list[dict[str, Any]] = field(default_factory=list)
    controller: list[dict[str, Any]] = field(default_factory=list)
    truth_offset: int = 0
    last_at: float = 0.0


class LiveDemoError(NetpilotError):
    """A process of the demo failed to start or died; the message ends with its log's tail."""


def _netpilot(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


class LiveDemo:
    def __init__(self, spec: LiveSpec) -> None:
        self.spec = spec
        self.work = spec.work
        self.inventory = self.work / "inventory.yaml"
        self.events = self.work / "network-events.jsonl"
        self.port = listen_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[bytes]] = {}
        self.seen = Follow()
        self.intents = load_intents(spec.intents)
        self.applied_at = 0.0
        self.wall0 = time.time()

    # -- processes ---------------------------------------------------------------------------
    def __enter__(self) -> LiveDemo:
        try:
            self._start_network()
            self.start_controller()
            self._apply_intents()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = self.logs[name] = (self.work / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", **(env or {})},
        )

    def _start_network(self) -> None:
        s = self.spec
        self._spawn("network", _netpilot(
            "network", "run", "--topology", s.topology, "--inventory", str(self.inventory),
            "--scenario", str(s.scenario), "--intents", str(s.intents),
            "--speed", f"{s.speed:g}", "--events", str(self.events),
            "--step", f"{s.network_step_s:g}s", *s.network_args,
        ))  # fmt: skip
        self._wait("network", self.inventory.is_file)

    def start_controller(self) -> None:
        """Start (or restart) the controller on the same database, port and token."""
        s = self.spec
        models = ("--models", str(s.models)) if s.models is not None else ()
        self._spawn("controller", _netpilot(
            "controller", "run", "--topology", s.topology, "--db", str(self.work / "netpilot.db"),
            "--inventory", str(self.inventory), *models,
            "--listen", f"127.0.0.1:{self.port}", "--token-file", str(self.work / "token"),
            "--interval", f"{s.wall(s.sample_s):g}", "--hold-time", f"{s.wall(s.hold_time_s):g}",
            "--tick", f"{s.wall(600):g}", "--drift-interval", f"{s.wall(600):g}",
            *s.controller_args,
        ), env={"NETPILOT_API_TOKEN": self.token, **dict(s.controller_env)})  # fmt: skip
        self._wait("controller", self._ready)

    def stop(self, name: str) -> int | None:
        """SIGTERM one process and wait for it (SIGKILL after 15 s); its exit code."""
        proc = self.procs.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.logs[name].close()
        return proc.returncode

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait(self, name: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.spec.startup_timeout_s
        while not done():
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise LiveDemoError(f"the {name} process did not come up; {self.tail(name)}")
            time.sleep(0.1)

    def tail(self, name: str, lines: int = 5) -> str:
        path = self.work / f"{name}.log"
        text = path.read_text(errors="replace").strip().splitlines() if path.is_file() else []
        return f"its log ({path}) ends: " + " | ".join(text[-lines:])

    def close(self) -> None:
        for name in ("controller", "network"):
            self.stop(name)

    # -- the run -----------------------------------------------------------------------------
    def _apply_intents(self) -> None:
        body = {"intents": [i.model_dump(mode="json", exclude_none=True) for i in self.intents]}
        response = httpx.post(f"{self.base}/v1/apply", json=body, headers=self.auth, timeout=30)
        if response.status_code != 200:
            raise LiveDemoError(f"POST /v1/apply answered {response.status_code}: {response.text}")
        self.applied_at = time.time()

    def follow(self, on_tick: Callable[[float, list[dict[str, Any]]], None]) -> None:
        """Poll both sides until the network's clock reaches `until_s`; `on_tick(network_s,
        new controller events)` after each poll."""
        sim_s = 0.0
        while sim_s < self.spec.until_s:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise LiveDemoError(
                        f"the {name} process exited {proc.returncode}; {self.tail(name)}"
                    )
            new = self._poll()
            sim_s = self.seen.truth[-1]["sim_s"] if self.seen.truth else 0.0
            on_tick(sim_s, new)
            time.sleep(0.25)

    def _poll(self) -> list[dict[str, Any]]:
        if self.events.is_file():
            with self.events.open() as f:
                f.seek(self.seen.truth_offset)
                chunk = f.read()
                complete = chunk[: chunk.rfind("\n") + 1]
                self.seen.truth_offset += len(complete.encode())
            self.seen.truth += [json.loads(x) for x in complete.splitlines() if x.strip()]
        params = {"limit": 1000, "since": self.seen.last_at}
        try:
            got = httpx.get(f"{self.base}/v1/events", params=params, headers=self.auth, timeout=5)
        except httpx.HTTPError:
            return []
        new: list[dict[str, Any]] = got.json() if got.status_code == 200 else []
        if new:
            self.seen.last_at = new[-1]["at"]
            self.seen.controller += new
        return new

    # -- the outcome -------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        """GET `path` on the controller's API (authenticated); the decoded JSON."""
        response = httpx.get(f"{self.base}{path}", params=params, headers=self.auth, timeout=10)
        response.raise_for_status()
        return response.json()

    def truth(self) -> list[dict[str, Any]]:
        """The network's ground-truth events so far."""
        self._poll()
        return list(self.seen.truth)

    def controller_events(self) -> list[dict[str, Any]]:
        """The controller's events so far (accumulated across restarts)."""
        self._poll()
        return list(self.seen.controller)

    def settle(self, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """The intents once no round is mid-way (none installing, compiled or withdrawing):
        a fault at the very end (the demo's fibre comes back at 60 min) moves intents back
        while the run ends, and a snapshot taken mid-round would call them lost."""
        deadline = time.monotonic() + timeout_s
        while True:
            records: list[dict[str, Any]] = self.get("/v1/intents")
            busy = [r for r in records if r["state"] in TRANSITIONAL]
            if not busy or time.monotonic() > deadline:
                return records
            time.sleep(0.2)

    def result(self) -> dict[str, Any]:
        settled = self.settle()
        self._poll()
        spec, seen = self.spec, self.seen
        records = {r["name"]: r for r in settled}
        names = [i.name for i in self.intents]
        histories = {n: self.get(f"/v1/intents/{n}/status")["history"] for n in records}
        probes = [e for e in seen.truth if e["kind"] == "probes"]
        faults = tl.faults_from(seen.truth, spec.speed)
        moved = tl.moved_by_cause(histories)
        stopped = next((e for e in seen.truth if e["kind"] == "stopped"), {})
        classes = {i.name: i.service_class for i in self.intents}
        return {
            "events": tl.timeline(faults, seen.controller, probes, moved, spec.speed),
            "intents": len(names),
            "intents_lost": sum(
                n not in records or records[n]["state"] not in LIVE_STATES for n in names
            ),
            "states": {n: records[n]["state"] for n in sorted(records)},
            "sla_compliance": tl.compliance_by_class(probes, classes, self.applied_at),
            "actions": _actions(seen.controller, moved, self.wall0),
            "speed": spec.speed,
            "simulated_s": stopped.get("sim_s", probes[-1]["sim_s"] if probes else 0.0),
            "wall_s": time.time() - self.wall0,
            "southbound": "netconf",
            "processes": {
                "network": "netpilot network run",
                "controller": "netpilot controller run",
            },
            "telemetry": self.get("/v1/telemetry"),
            "controller_problems": _problems(seen.controller),
        }


def _actions(
    events: list[dict[str, Any]], moved: dict[str, list[str]], wall0: float
) -> list[dict[str, Any]]:
    """Reconciles that pushed a revision, with what triggered them."""
    out = []
    for e in events:
        if e["kind"] != "reconcile" or "revisions=[]" in str(e.get("detail", "")):
            continue
        cause = str(e["cause"])
        out.append({
            "at_s": round(e["at"] - wall0, 3), "signal": _signal_of(cause), "cause": cause,
            "moved": moved.get(cause, []), "detail": e.get("detail", ""),
        })  # fmt: skip
    return out


def _problems(events: list[dict[str, Any]]) -> dict[str, int]:
    """How many rounds raised, reads failed, devices went stale (0 everywhere on a good run)."""
    kinds = ("round-error", "signal-error", "telemetry-error", "verify-failed", "device-stale")
    return {k: sum(e["kind"] == k for e in events) for k in kinds}


def _signal_of(cause: str) -> str:
    if cause.startswith("telemetry:") and cause.endswith(" down"):
        return "link_down"
    if cause.startswith("telemetry:") and cause.endswith(" up"):
        return "link_up"
    if cause.startswith("fault risk"):
        return "risk"
    if cause.startswith("utilisation forecast"):
        return "forecast"
    if cause.startswith("drift"):
        return "drift"
    return cause.split(":", 1)[0].split(maxsplit=1)[0] if cause else "?"
