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

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from hvsim.model.dpm import Replica
from hvsim.model.dpm_rules import scan_mode_serialized
from hvsim.model.infrastructure import CsvVolume, HyperVCluster, HyperVHost, Parts, Volume
from hvsim.model.schedule import daily
from hvsim.model.slots import JobSlots
from hvsim.model.trace import ScanRecord
from hvsim.model.vm import VirtualMachine

if TYPE_CHECKING:
    from hvsim.scenario import schema


@dataclass(slots=True, frozen=True)
class ScanCosts:
    per_vm_query_s: float
    per_writer_metadata_s: float
    per_node_overhead_s: float
    per_csv_coordination_s: float

    @classmethod
    def build(cls, spec: schema.ScanSettings) -> ScanCosts:
        return cls(
            spec.per_vm_query,
            spec.per_writer_metadata,
            spec.per_node_overhead,
            spec.per_csv_coordination,
        )

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

    @classmethod
    def build(
        cls,
        cluster: HyperVCluster,
        serialized: bool | None,
        vms: Sequence[VirtualMachine],
        replicas: Mapping[VirtualMachine, Replica],
        parts: Parts,
    ) -> ClusterScanTarget | None:
        """The scan of ``cluster`` (of those of ``vms`` its nodes run) by the DPM server
        of its first protected VM, None when none is protected; ``serialized`` as the
        scenario sets it, or by DPM's rule (scan_mode_serialized)."""
        vms = [vm for vm in vms if vm.host.cluster is cluster]
        first = next((replicas[vm] for vm in vms if vm in replicas), None)
        if first is None:
            return None
        dpm = first.plan.dpm
        if serialized is None:
            serialized = scan_mode_serialized(cluster.os, dpm.version)
        target = cls(cluster.name, dpm.name, serialized, cluster.nodes, list(cluster.csvs))
        for vm in vms:
            target.vms_by_node.setdefault(vm.host.name, []).append(vm)
            if isinstance(vm.volume, CsvVolume):
                target.vms_by_csv.setdefault(vm.volume.name, []).append(vm)
            else:
                target.off_csv_by_node.setdefault(vm.host.name, []).append(vm)
        target.csv_locks = {v.name: parts.slots(1, v.name, "csv-scan") for v in cluster.csvs}
        return target

    @property
    def vm_count(self) -> int:
        return sum(len(v) for v in self.vms_by_node.values())


class ProtectionScanner:
    """Runs scans of clusters and records one row per scan."""

    def __init__(
        self,
        env: simpy.Environment,
        costs: ScanCosts,
        records: list[ScanRecord],
        discovery_at_s: float | None = None,
        horizon_s: float = 0.0,
    ):
        self.env = env
        self.costs = costs
        self.records = records
        self.discovery_at_s = discovery_at_s  # daily discovery, seconds after midnight
        self.horizon_s = horizon_s

    def scan(self, target: ClusterScanTarget, kind: str) -> Generator[simpy.Event, object, None]:
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

    def _node_work(
        self, target: ClusterScanTarget, index: int, node: HyperVHost
    ) -> Generator[simpy.Event, object, None]:
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

    def schedule(self, target: ClusterScanTarget) -> Generator[simpy.Event, object, None]:
        """The wizard's scan at time 0, then a discovery scan once a day."""
        yield from self.scan(target, "initial")
        if self.discovery_at_s is None:
            return
        for at in daily((self.discovery_at_s,), self.horizon_s):
            if at <= self.env.now:
                # Due while a scan was running, or at the very moment one started or
                # ended (the wizard's at time 0 stands for a discovery due then): that
                # scan covers it.
                continue
            yield self.env.timeout(at - self.env.now)
            yield from self.scan(target, "discovery")
