"""The no-forecast hedge: one split that minimises the worst MLU over several recent matrices.

    minimise U  s.t.  sum_{p in d} x_p = 1                          (split of each pair)
                      sum_p A[p, e] * demand_k[pair(p)] * x_p <= U * c_e   for every k, e
                      x >= 0

It is a different LP from the per-matrix min-MLU (`controller.pathing.optimizer.min_mlu_lp`, which
this package uses for everything else): the split variables are shared by K sets of link rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from controller.errors import ValidationError
from controller.pathing.optimizer import TunnelSet, normalise_split


def hedge_split(ts: TunnelSet, demands: np.ndarray) -> tuple[np.ndarray, float]:
    """Split (P,) minimising the worst MLU over `demands` (K, D); returns it and that MLU."""
    demands = np.atleast_2d(np.asarray(demands, dtype=float))
    if demands.shape[1] != len(ts.pairs):
        raise ValidationError("hedge", [f"demands must have {len(ts.pairs)} columns"])
    num_p, num_d = ts.num_paths, len(ts.pairs)
    used = np.flatnonzero(np.asarray(ts.path_links.sum(axis=0)).ravel() > 0)
    caps = ts.capacities[used]
    scale = float(caps.max()) if caps.size else 1.0
    incidence = ts.path_links[:, used].T.tocsr()  # (E, P)
    blocks = [
        sp.hstack(
            [incidence @ sp.diags(d[ts.path_pair] / scale), sp.csr_matrix(-caps[:, None] / scale)]
        )
        for d in demands
    ]
    a_ub = sp.vstack(blocks).tocsc()
    a_eq = sp.hstack(
        [sp.csr_matrix((np.ones(num_p), (ts.path_pair, np.arange(num_p))), shape=(num_d, num_p)),
         sp.csr_matrix((num_d, 1))]
    ).tocsc()  # fmt: skip
    cost = np.r_[np.zeros(num_p), 1.0]
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=a_eq,
        b_eq=np.ones(num_d),
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        raise ValidationError("hedge LP", [f"HiGHS did not reach an optimum: {result.message}"])
    return normalise_split(ts, result.x[:-1]), float(result.x[-1])
