"""Benchmark: many randomized fault trials (more than the 200 the test suite runs).

    python bench/southbound_atomicity.py --trials 1000 --json

Prints how many trials committed, aborted, and ended mixed (must be 0), per fault action, and
the time per trial. Fleet: 4 simulated routers (ring:4), confirm timeout 1 s, RPC timeout 0.3 s.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import statistics
import tempfile
from pathlib import Path

from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import SessionOptions
from controller.southbound.transaction import TransactionOptions
from harness.chaos import run_trials
from harness.fleet import Fleet, FleetThread
from topologies.loader import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for name in ("paramiko", "ncclient"):  # refused connections are counted, not printed
        logging.getLogger(name).addHandler(logging.NullHandler())
    topo = load("ring:4")
    directory = Path(tempfile.mkdtemp(prefix="np-chaos-"))
    with FleetThread(lambda: Fleet(sorted(topo.nodes), directory)) as runner:
        inventory = runner.fleet.write_inventory(directory / "inventory.yaml")
        sb = NetconfSouthbound(
            load_inventory(inventory),
            session_options=SessionOptions(rpc_timeout_s=0.3, connect_attempts=2, backoff_s=0.05),
            transaction_options=TransactionOptions(confirm_timeout_s=1, unknown_margin_s=1.0),
            max_workers=8,
        )
        try:
            trials = run_trials(runner, sb, topo, args.trials, args.seed)
        finally:
            sb.close_sync()
    by_action: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for t in trials:
        outcome = "mixed" if not t.consistent else ("committed" if t.committed else "aborted")
        by_action[t.fault.split(":")[2]][outcome] += 1
    summary = {
        "bench": "southbound_atomicity",
        "trials": len(trials),
        "committed": sum(t.committed and t.consistent for t in trials),
        "aborted": sum(not t.committed and t.consistent for t in trials),
        "mixed": sum(not t.consistent for t in trials),
        "trial_s_median": round(statistics.median(t.seconds for t in trials), 3),
        "trial_s_max": round(max(t.seconds for t in trials), 3),
        # trials that outlived the 1 s confirm timeout: a router rolled back on its own timer
        "trials_over_confirm_timeout": sum(t.seconds > 1.0 for t in trials),
        "by_action": {k: dict(v) for k, v in sorted(by_action.items())},
    }
    print(json.dumps(summary, indent=2) if args.json else summary)


if __name__ == "__main__":
    main()
