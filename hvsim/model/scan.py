"""Protection scans: the protection-group wizard's enumeration of a cluster and
DPM's periodic discovery, as SimPy processes.

DPM asks the agent on every node at once. Each node pays a fixed overhead, then
enumerates VMs and their VSS writer metadata:

- Serialized mode (Windows Server 2008 R2 CSV v1, or DPM before 2012 SP1): every
  node enumerates every VM on every CSV it sees, and a CSV's enumeration happens
  one node at a time (a per-CSV lock; the CSV's ownership moves to the querying
  node, costing ``per_csv_coordination``). Nodes take their CSVs in rotated order,
  so the scan is a flow shop of nodes x CSVs.
- Parallel mode (Windows Server 2012 or later with DPM 2012 SP1 or later: "no
  longer need to enable serialization", source: seed-article; "cluster query
  improvements", source: dpm-2012sp1-csv): nodes work in parallel and each enumerates only the
  VMs it owns.

A node without the DPM agent contributes nothing; the VMs it owns are missed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from hvsim.model.infrastructure import HyperVHost, Volume
from hvsim.model.schedule import daily
from hvsim.model.slots import JobSlots
from hvsim.model.trace import ScanRecord
from hvsim.model.vm import VirtualMachine


@dataclass(slots=True, frozen=True)
class ScanCosts:
    per_vm_query_s: float
    per_writer_metadata_s: float
    per_node_overhead_s: float
    per_csv_coordination_s: float

    def vm_cost(self, vm: VirtualMachine) -> float:
        return self.per_vm_query_s + self.per_writer_metadata_s * len(vm.writers)


@dataclass(slots=True, eq=False)
class ClusterScanTarget:
    """What a scan of one cluster sees: its nodes, CSVs and the VMs on them."""

    name: str
    dpm_server: str
    serialized: bool
    nodes: list[HyperVHost]
    csvs: list[Volume]
    vms_by_csv: dict[str, list[VirtualMachine]] = field(default_factory=dict)
    vms_by_node: dict[str, list[VirtualMachine]] = field(default_factory=dict)
    # One node at a time enumerates a CSV in serialized mode (module docstring).
    csv_locks: dict[str, JobSlots] = field(default_factory=dict)
    # VMs of a node that are on no CSV (e.g. on an SMB share): always its own work.
    off_csv_by_node: dict[str, list[VirtualMachine]] = field(default_factory=dict)

    @property
    def vm_count(self) -> int:
        return sum(len(v) for v in self.vms_by_node.values())


def scan_mode_serialized(cluster_os: str, dpm_version: str) -> bool:
    """Serialization is needed unless WS2012+ and DPM 2012 SP1+ (source: seed-article)."""
    return cluster_os == "2008R2" or dpm_version == "2012"


class ProtectionScanner:
    """Runs scans of clusters and records one row per scan."""

    def __init__(self, env: simpy.Environment, costs: ScanCosts, records: list):
        self.env = env
        self.costs = costs
        self.records = records

    def scan(self, target: ClusterScanTarget, kind: str) -> Generator:
        env = self.env
        start = env.now
        workers = [
            env.process(self._node_work(target, i, node))
            for i, node in enumerate(target.nodes)
            if node.dpm_agent
        ]
        if workers:
            yield env.all_of(workers)
        found = sum(len(target.vms_by_node.get(n.name, ())) for n in target.nodes if n.dpm_agent)
        missed = [n for n in target.nodes if not n.dpm_agent and target.vms_by_node.get(n.name)]
        reason = "; ".join(
            f"no DPM agent on node {n.name} ({len(target.vms_by_node[n.name])} VMs)" for n in missed
        )
        self.records.append(
            ScanRecord(
                target.name,
                kind,
                target.dpm_server,
                "serialized" if target.serialized else "parallel",
                start,
                env.now,
                found,
                target.vm_count - found,
                reason,
            )
        )

    def _node_work(self, target: ClusterScanTarget, index: int, node: HyperVHost) -> Generator:
        env, costs = self.env, self.costs
        yield env.timeout(costs.per_node_overhead_s)
        if not target.serialized:
            work = sum(costs.vm_cost(vm) for vm in target.vms_by_node.get(node.name, ()))
            if work > 0:
                yield env.timeout(work)
            return
        own = sum(costs.vm_cost(vm) for vm in target.off_csv_by_node.get(node.name, ()))
        if own > 0:
            yield env.timeout(own)
        n = len(target.csvs)
        for k in range(n):
            csv = target.csvs[(index + k) % n]
            lock = target.csv_locks[csv.name]
            with lock.request() as req:
                yield req
                work = costs.per_csv_coordination_s + sum(
                    costs.vm_cost(vm) for vm in target.vms_by_csv.get(csv.name, ())
                )
                yield env.timeout(work)

    def schedule(
        self, target: ClusterScanTarget, horizon_s: float, discovery_at_s: float | None
    ) -> Generator:
        """The wizard's scan at time 0, then a discovery scan once a day."""
        yield from self.scan(target, "initial")
        if discovery_at_s is None:
            return
        for at in daily((discovery_at_s,), horizon_s):
            if at <= self.env.now:
                # Due while a scan was running, or at the very moment one started or
                # ended (the wizard's at time 0 stands for a discovery due then): that
                # scan covers it.
                continue
            yield self.env.timeout(at - self.env.now)
            yield from self.scan(target, "discovery")
