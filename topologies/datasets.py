"""Readers for the measured data in ../shared/data: traffic matrices, optimal MLU, tunnels.

Formats (see ../shared/data/README.md): `.hist` has one n x n matrix per line in bit/s, row-major,
row = source id, column = destination id; `.opt` one float per line; `tunnels.txt` lines of
`src dst:path,path,path` with paths as `a-b-c` node ids.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from controller.errors import NotFoundError, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

Tunnels = dict[tuple[int, int], list[list[int]]]


def data_dir() -> Path:
    """The shared data directory: env NETPILOT_DATA, else ../shared/data beside the project."""
    env = os.environ.get("NETPILOT_DATA")
    if env:
        path = Path(env)
        if not path.is_dir():
            raise NotFoundError(
                f"NETPILOT_DATA={env!r} is not a directory; point it at shared/data"
            )
        return path
    for candidate in (
        PROJECT_ROOT.parent / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
    ):
        if candidate.is_dir():
            return candidate
    raise NotFoundError(
        "no data directory: set NETPILOT_DATA to the folder holding topology-zoo/, teal/, geant/"
    )


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    return path


def read_tm_hist(path: Path, nodes: int | None = None) -> np.ndarray:
    """All matrices of a `.hist` file as an array of shape (T, n, n), bit/s."""
    rows = []
    for lineno, line in enumerate(_existing(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = np.array([float(x) for x in line.split()])
        except ValueError:
            raise ValidationError(str(path), [f"line {lineno}: not a list of numbers"]) from None
        n = math.isqrt(len(values))
        if n * n != len(values) or (nodes is not None and n != nodes):
            want = f"{nodes}x{nodes}" if nodes else "a square number of"
            raise ValidationError(str(path), [f"line {lineno}: {len(values)} values, want {want}"])
        if (values < 0).any() or not np.isfinite(values).all():
            raise ValidationError(str(path), [f"line {lineno}: demands must be finite and >= 0"])
        rows.append(values.reshape(n, n))
    if not rows:
        raise ValidationError(str(path), ["no traffic matrix in the file"])
    if len({r.shape for r in rows}) != 1:
        raise ValidationError(str(path), ["matrices of different sizes in one file"])
    return np.stack(rows)


def read_opt(path: Path) -> np.ndarray:
    """Optimal MLU per matrix, one float per line."""
    text = _existing(path).read_text().split()
    try:
        return np.array([float(x) for x in text])
    except ValueError:
        raise ValidationError(str(path), ["expected one number per line"]) from None


def read_tunnels(path: Path) -> Tunnels:
    """`src dst:a-b-c,a-d-c` lines -> {(src, dst): [[a, b, c], [a, d, c]]}."""
    tunnels: Tunnels = {}
    for lineno, line in enumerate(_existing(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            head, paths = line.split(":", 1)
            src, dst = (int(x) for x in head.split())
            parsed = [[int(n) for n in p.split("-")] for p in paths.split(",") if p.strip()]
        except ValueError:
            raise ValidationError(
                str(path), [f"line {lineno}: expected 'src dst:a-b-c,a-d-c', got {line!r}"]
            ) from None
        bad = [p for p in parsed if p[0] != src or p[-1] != dst]
        if bad:
            raise ValidationError(
                str(path), [f"line {lineno}: path {bad[0]} does not join {src}-{dst}"]
            )
        tunnels[(src, dst)] = parsed
    return tunnels
