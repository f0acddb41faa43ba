"""The planner's table: protection-scan duration across cluster sizes, in the
serialized (WS2008 R2 / DPM 2012) and the parallel (WS2012 + DPM 2012 SP1) mode.

Each cell is a real run of the scan process (``hvsim.model.scan``) on a cluster
shaped like the scenario's: its CSV count, its scan costs, and its VMs' VSS
writers, with N nodes and V VMs spread evenly over nodes and CSVs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd
import simpy

from hvsim.model.scan import ClusterScanTarget, ProtectionScanner, ScanCosts
from hvsim.model.slots import JobSlots
from hvsim.model.trace import SlotLog
from hvsim.scenario.schema import Scenario


@dataclass(slots=True, frozen=True)
class _Node:
    name: str
    dpm_agent: bool = True


@dataclass(slots=True, frozen=True)
class _Csv:
    name: str


@dataclass(slots=True, frozen=True)
class _Vm:
    name: str
    writers: tuple[str, ...]


def scan_duration_s(
    costs: ScanCosts,
    nodes: int,
    vms: int,
    csvs: int,
    serialized: bool,
    writer_lists: list[tuple[str, ...]],
) -> float:
    """Simulate one initial scan of a synthetic cluster and return its duration."""
    env = simpy.Environment()
    records: list = []
    scanner = ProtectionScanner(env, costs, records)
    node_objs = [_Node(f"n{i + 1}") for i in range(nodes)]
    csv_objs = [_Csv(f"csv{j + 1}") for j in range(csvs)]
    # The scanner reads only the names of nodes and CSVs and the writers of VMs: the
    # stand-ins above carry just those (arg-type below).
    target = ClusterScanTarget("table", "dpm", serialized, node_objs, csv_objs)  # type: ignore[arg-type]
    cycle = itertools.cycle(writer_lists or [("system",)])
    for i in range(vms):
        vm = _Vm(f"vm{i}", next(cycle))
        target.vms_by_node.setdefault(node_objs[i % nodes].name, []).append(vm)  # type: ignore[arg-type]
        target.vms_by_csv.setdefault(csv_objs[i % csvs].name, []).append(vm)  # type: ignore[arg-type]
    log = SlotLog()
    target.csv_locks = {c.name: JobSlots(env, 1, c.name, "csv-scan", log) for c in csv_objs}
    env.process(scanner.scan(target, "initial"))
    env.run()
    return float(records[0].end_s - records[0].start_s)


def scan_table(
    scenario: Scenario, nodes: list[int], vms: list[int], cluster: str | None = None
) -> pd.DataFrame:
    """Scan durations for every (nodes, VMs) pair, both modes."""
    clusters = [c for c in scenario.clusters if cluster is None or c.name == cluster]
    if not clusters:
        raise ValueError(f"no cluster named {cluster!r} in the scenario")
    c = clusters[0]
    costs = ScanCosts.build(scenario.scan)
    writer_lists = [
        tuple(spec.vss_writers)
        for spec in scenario.vms
        if spec.cluster == c.name
        for _ in range(spec.count)
    ]
    rows = []
    for n, v in itertools.product(nodes, vms):
        for mode, serialized in (("serialized", True), ("parallel", False)):
            d = scan_duration_s(costs, n, v, len(c.csvs), serialized, writer_lists)
            rows.append(
                {
                    "cluster": c.name,
                    "nodes": n,
                    "vms": v,
                    "csvs": len(c.csvs),
                    "mode": mode,
                    "duration_s": round(d, 3),
                    "duration_h": round(d / 3600, 3),
                }
            )
    return pd.DataFrame(rows)


def pivot_for_print(table: pd.DataFrame) -> pd.DataFrame:
    """Nodes x VMs, one column pair per mode, durations in hours."""
    wide = table.pivot_table(index=["nodes", "vms"], columns="mode", values="duration_h")
    return wide[["serialized", "parallel"]].rename(
        columns={
            "serialized": "serialized h (WS2008R2/DPM2012)",
            "parallel": "parallel h (WS2012+DPM2012SP1)",
        }
    )
