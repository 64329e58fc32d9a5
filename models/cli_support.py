"""File loading for the model commands: matrices, topology, tunnels, optimum, checked once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from controller.errors import ValidationError
from models.evaluate import off_diagonal
from models.te_eval import TeContext
from topologies.datasets import read_opt, read_tm_hist, read_tunnels
from topologies.loader import load_file


def load_te_inputs(
    tm: Path, topology: Path, tunnels: Path, opt: Path | None
) -> tuple[np.ndarray, TeContext]:
    """Series (T, n(n-1)) of the OD pairs and the TE context (optimum from --opt or beside --tm)."""
    matrices = read_tm_hist(tm)
    steps, n = matrices.shape[0], matrices.shape[1]
    topo = load_file(topology)
    missing = [str(i) for i in range(n) if str(i) not in topo.nodes]
    if missing:
        raise ValidationError(
            str(topology),
            [f"the matrices have {n} nodes but node(s) {', '.join(missing[:5])} are not in "
             "the topology; give the topology that goes with --tm"],
        )  # fmt: skip
    optimum = None
    opt_path = opt or tm.with_suffix(".opt")
    if opt is not None or opt_path.is_file():
        optimum = read_opt(opt_path)
        if len(optimum) != steps:
            raise ValidationError(
                str(opt_path),
                [f"{len(optimum)} values for {steps} matrices; give the matching .opt"],
            )
    te = TeContext.build(topo, read_tunnels(tunnels), n, optimum)
    return off_diagonal(matrices), te


def load_te_files(
    tms: list[Path], topology: Path, tunnels: Path | None
) -> tuple[np.ndarray, list[int], TeContext | None]:
    """Several .hist files of one network (e.g. one a week) as one series, in the order given,
    with each file's length; the TE context when --tunnels is given (optimum from the .opt files
    beside each --tm when all exist, else from the LP)."""
    parts = [read_tm_hist(tm) for tm in tms]
    sizes = {p.shape[1] for p in parts}
    if len(sizes) != 1:
        raise ValidationError("--tm", ["the files hold matrices of different sizes: one network"])
    if tunnels is None:
        return np.vstack([off_diagonal(p) for p in parts]), [len(p) for p in parts], None
    _, te = load_te_inputs(tms[0], topology, tunnels, None)
    opts = [tm.with_suffix(".opt") for tm in tms]
    optimum = None
    if all(o.is_file() for o in opts):
        optimum = np.concatenate([read_opt(o) for o in opts])
        if len(optimum) != sum(len(p) for p in parts):
            raise ValidationError("--tm", ["an .opt file does not match its .hist: fix or remove"])
    te.optimum = optimum
    return np.vstack([off_diagonal(p) for p in parts]), [len(p) for p in parts], te
