"""Simulated routers spread over several processes, one inventory for all of them.

One asyncio process serves a few hundred routers well; at a thousand it saturates one core and
a benchmark measures that process instead of the controller. `FleetProcesses` cuts the router
list into `processes` consecutive slices, each served by `python -m harness.fleet_procs SPEC`
(a `Fleet` on its own loop, its keys in its own directory), and merges their inventories into
one file in the routers' order. Flavours and host keys go round-robin over the whole list, as
with one `Fleet`; with a base port, router i listens on base_port + i.

    with FleetProcesses(names, directory, processes=4, flavors="mixed") as procs:
        procs.write_inventory(path)
        ...

Each child serves until its stdin closes (`stop()`, or the parent dying), then stops its
routers and exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class FleetProcesses:
    def __init__(
        self,
        names: list[str],
        directory: Path,
        *,
        processes: int = 2,
        flavors: str = "netpilot",
        host_keys: str = "ed25519",
        host: str = "127.0.0.1",
        base_port: int = 0,
        topology: str | None = None,
    ) -> None:
        """`topology`: a topology spec (`netpilot topo`) whose static state the routers
        report (None: empty state)."""
        self.names = list(names)
        self.directory = Path(directory)
        self.count = max(1, min(processes, len(self.names)))
        self.spec = {"flavors": flavors, "host_keys": host_keys, "host": host,
                     "base_port": base_port, "topology": topology}  # fmt: skip
        self.procs: list[subprocess.Popen[str]] = []
        self.parts: list[dict[str, Any]] = []

    def __enter__(self) -> FleetProcesses:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def slices(self) -> list[tuple[int, list[str]]]:
        """(index of the first router, routers) of each process."""
        size = -(-len(self.names) // self.count)
        return [(i, self.names[i : i + size]) for i in range(0, len(self.names), size)]

    def start(self) -> None:
        """Start every process, then wait until each has its routers listening."""
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
            "PYTHONPATH", "")])}  # fmt: skip
        try:
            for k, (first, names) in enumerate(self.slices()):
                spec = {**self.spec, "names": names, "first_index": first,
                        "keys": str(self.directory / f"keys-{k}")}  # fmt: skip
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "harness.fleet_procs", json.dumps(spec)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                ))  # fmt: skip
            for proc in self.procs:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                if not line.startswith("{"):
                    raise RuntimeError(f"a router process did not start (exit {proc.poll()})")
                self.parts.append(json.loads(line))
        except BaseException:
            self.stop()
            raise

    def inventory(self) -> dict[str, Any]:
        return {"devices": [d for part in self.parts for d in part["devices"]]}

    def write_inventory(self, path: Path) -> Path:
        """Write the merged inventory atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(yaml.safe_dump(self.inventory(), sort_keys=False))
        os.replace(tmp, path)
        return path

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self, timeout_s: float = 30.0) -> None:
        for proc in self.procs:
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        self.procs = []


def _serve(spec: dict[str, Any]) -> None:
    """A child: its routers on one loop; prints its inventory as one JSON line when they
    listen, serves until stdin closes."""
    import asyncio
    import logging

    from harness.fleet import Fleet

    logging.getLogger("asyncssh").setLevel(logging.WARNING)

    async def main() -> None:
        provider = None
        if spec["topology"]:
            from harness.state import StaticStateProvider
            from topologies.loader import load

            provider = StaticStateProvider(load(spec["topology"]))
        base = spec["base_port"]
        fleet = Fleet(
            spec["names"], Path(spec["keys"]), host=spec["host"], provider=provider,
            base_port=base + spec["first_index"] if base else 0, host_keys=spec["host_keys"],
            flavors=spec["flavors"], first_index=spec["first_index"],
        )  # fmt: skip
        await fleet.start()
        print(json.dumps(fleet.inventory()), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await fleet.stop()

    asyncio.run(main())


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
