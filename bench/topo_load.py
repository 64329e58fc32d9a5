"""How long loading, analysing and exporting real topologies takes.

Run: .venv/bin/python bench/topo_load.py [--json]
Data: ../shared/data (Topology Zoo, TEAL, GEANT); see docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from topologies.datasets import data_dir
from topologies.export import export
from topologies.loader import load, load_file


def _timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best of `repeat` runs, seconds."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def zoo_all() -> dict[str, Any]:
    files = sorted((data_dir() / "topology-zoo").glob("*.gml"))
    per_file = []
    start = time.perf_counter()
    for path in files:
        t0 = time.perf_counter()
        load_file(path)
        per_file.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    return {
        "files": len(files),
        "total_s": total,
        "median_ms": statistics.median(per_file) * 1e3,
        "max_ms": max(per_file) * 1e3,
    }


def one(spec: str) -> dict[str, Any]:
    load_s, topo = _timed(lambda: load(spec))
    stats_s, stats = _timed(topo.stats, repeat=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yaml"
        export_s, text = _timed(lambda: export(topo, "yaml"))
        path.write_text(text)
        reload_s, _ = _timed(lambda: load_file(path))
    return {
        "spec": spec,
        "nodes": stats.nodes,
        "links": stats.links,
        "load_ms": load_s * 1e3,
        "stats_ms": stats_s * 1e3,
        "export_yaml_ms": export_s * 1e3,
        "reload_yaml_ms": reload_s * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = {
        "zoo_all": zoo_all(),
        "topologies": [
            one(s) for s in ("bank-wan", "geant", "zoo:Cogentco", "teal:UsCarrier", "teal:Kdl")
        ],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    z = result["zoo_all"]
    print(
        f"Topology Zoo: {z['files']} files in {z['total_s']:.2f} s "
        f"(median {z['median_ms']:.1f} ms, max {z['max_ms']:.1f} ms per file)"
    )
    heads = ("load", "stats", "export", "reload")
    print(f"{'topology':16} {'nodes':>6} {'links':>6} " + " ".join(f"{h:>9}" for h in heads))
    for r in result["topologies"]:
        print(
            f"{r['spec']:16} {r['nodes']:6} {r['links']:6} {r['load_ms']:7.1f}ms "
            f"{r['stats_ms']:7.1f}ms {r['export_yaml_ms']:7.1f}ms {r['reload_yaml_ms']:7.1f}ms"
        )


if __name__ == "__main__":
    main()
