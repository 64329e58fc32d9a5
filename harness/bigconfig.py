"""Big device configs for tests and benchmarks of the simulated routers: n SR policies on one
head end, every policy different, valid against the netpilot YANG module."""

from __future__ import annotations

from controller.desired import CandidatePath, DeviceConfig, SegmentList, SrPolicy


def big_config(device: str, policies: int, revision: int = 1) -> DeviceConfig:
    """`policies` SR policies (colors 1000.., endpoints fc00::i) whose bandwidth and candidate
    path name change with `revision`, so that two revisions differ on every policy."""
    return DeviceConfig(
        device,
        tuple(
            SrPolicy(
                color=1000 + i,
                endpoint=f"fc00::{i + 1:x}",
                name=f"{device}-p{i}",
                candidate_paths=(
                    CandidatePath(
                        f"r{revision}",
                        100 + revision % 50,
                        (SegmentList("sl1", (f"fcbb:bb00:{i % 65535 + 1:x}::", "fcbb:bb00:1::")),),
                    ),
                ),
                bandwidth_bps=float(1_000_000 * (revision + i % 7)),
            )
            for i in range(policies)
        ),
    )
