"""`load(spec)`: one entry point for every topology netpilot knows.

A spec is, in the order tried:
- a generator: `leaf-spine:SPINES,LEAVES`, `fat-tree:K`, `ring:N`, `grid:ROWS,COLS`,
  `bank-wan:BRANCHES`;
- a dataset name: `zoo:NAME` (Topology Zoo, case-insensitive), `teal:NAME` (B4, UsCarrier,
  Kdl), `geant`, `facebook:pod_a` / `facebook:pod_b`, resolved in `datasets.data_dir()`;
- an existing file: `.yaml`/`.yml` (native), `.gml` (Topology Zoo), `.json` (node-link);
- a bundled name: `bank-wan`, `dc-fabric` (the YAML files beside this module).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from controller.errors import NotFoundError, UsageError
from controller.topology import Topology
from topologies import datasets
from topologies.generators import GENERATORS, from_spec
from topologies.native import load_yaml
from topologies.nodelink import load_json
from topologies.zoo import load_gml

BUNDLED_DIR = Path(__file__).resolve().parent
SPEC_HELP = (
    "a file (.yaml, .gml, .json), a bundled name (bank-wan, dc-fabric), zoo:NAME, teal:NAME, "
    "geant, facebook:pod_a, or leaf-spine:S,L, fat-tree:K, ring:N, grid:R,C, bank-wan:N"
)


def load(spec: str | Path) -> Topology:
    """Load the topology `spec` names; NotFoundError/UsageError/TopologyError say what is wrong."""
    if isinstance(spec, Path):
        if spec.is_file():
            return load_file(spec)
        raise _not_found(str(spec), spec)
    spec = spec.strip()
    if not spec:
        raise UsageError(f"empty topology name; give {SPEC_HELP}")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in GENERATORS:
        return from_spec(prefix, rest)
    if sep and prefix in _DATASETS:
        return _DATASETS[prefix](rest.strip())
    if spec == "geant":
        return _geant()
    path = Path(spec).expanduser()
    if path.is_file():
        return load_file(path)
    if spec in bundled_names():
        return load_file(BUNDLED_DIR / f"{spec}.yaml")
    raise _not_found(spec, path)


def load_file(path: Path, name: str | None = None) -> Topology:
    """Load a file by its extension."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return load_yaml(path)
    if suffix == ".gml":
        return load_gml(path, name)
    if suffix == ".json":
        return load_json(path, name)
    raise UsageError(f"{path}: unknown topology file type {suffix!r}; use .yaml, .gml or .json")


def bundled_names() -> list[str]:
    """Bundled topology files; companions such as `bank-wan.intents.yaml` are not topologies."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if "." not in p.stem)


def catalogue() -> dict[str, list[str]]:
    """Every name `load` knows, by kind (datasets only when the data directory exists)."""
    names: dict[str, list[str]] = {
        "bundled": bundled_names(),
        "generators": [
            "leaf-spine:SPINES,LEAVES",
            "fat-tree:K",
            "ring:N",
            "grid:ROWS,COLS",
            "bank-wan:BRANCHES",
        ],
    }
    try:
        root = datasets.data_dir()
    except NotFoundError:
        return names
    names["zoo"] = [f"zoo:{p.stem}" for p in sorted((root / "topology-zoo").glob("*.gml"))]
    names["teal"] = [f"teal:{p.stem}" for p in sorted((root / "teal").glob("*.json"))]
    names["geant"] = ["geant"] if (root / "geant" / "topology.json").is_file() else []
    pods = sorted((root / "facebook-dc").glob("*/topology.json"))
    names["facebook"] = [f"facebook:{p.parent.name}" for p in pods]
    return names


def _zoo(name: str) -> Topology:
    return load_gml(_pick(name, datasets.data_dir() / "topology-zoo", ".gml", "zoo"))


def _teal(name: str) -> Topology:
    path = _pick(name, datasets.data_dir() / "teal", ".json", "teal")
    return load_json(path, f"teal-{path.stem}")


def _facebook(name: str) -> Topology:
    folder = datasets.data_dir() / "facebook-dc"
    pods = sorted(p.name for p in folder.iterdir() if (p / "topology.json").is_file())
    match = _closest(name, pods)
    if match is None:
        raise NotFoundError(_unknown("facebook", name, pods))
    return load_json(folder / match / "topology.json", f"facebook-{match}")


def _geant() -> Topology:
    return load_json(datasets.data_dir() / "geant" / "topology.json", "geant")


_DATASETS: dict[str, Callable[[str], Topology]] = {
    "zoo": _zoo,
    "teal": _teal,
    "facebook": _facebook,
}


def _pick(name: str, folder: Path, suffix: str, kind: str) -> Path:
    """Case-insensitive file lookup; unknown names get close matches suggested."""
    if not folder.is_dir():
        raise NotFoundError(f"{folder} is missing: set NETPILOT_DATA to the shared data folder")
    known = sorted(p.stem for p in folder.glob(f"*{suffix}"))
    match = _closest(name, known)
    if match is None:
        raise NotFoundError(_unknown(kind, name, known))
    return folder / f"{match}{suffix}"


def _closest(name: str, known: list[str]) -> str | None:
    lowered = {k.lower(): k for k in known}
    return lowered.get(name.lower())


def _unknown(kind: str, name: str, known: list[str]) -> str:
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(f'{kind}:{lowered[c]}' for c in close)}?" if close else ""
    if not hint:
        sample = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
        hint = f"known: {sample}"
    return f"unknown {kind} topology {name!r}; {hint}"


def _not_found(spec: str, path: Path) -> NotFoundError:
    if path.is_dir():
        return NotFoundError(f"{spec} is a directory; give a topology file in it")
    if path.suffix or "/" in spec:
        return NotFoundError(f"file not found: {spec}")
    close = difflib.get_close_matches(spec, [*bundled_names(), "geant"], n=2, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return NotFoundError(f"unknown topology {spec!r}{hint}; give {SPEC_HELP}")
