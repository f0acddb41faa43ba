"""The simulated estate of one run: ``World`` holds it, ``build_world`` assembles it
from a scenario, ``stream`` gives each part its named random stream.

The assembly reads like the estate: Hyper-V's clusters (nodes, CSVs), standalone
hosts and SMB shares, the network; DPM's servers and protection groups; the VMs on
their hosts and volumes, and a replica for each protected one. Each object builds its
own parts from its slice of the scenario; the assembly wires, it does not decide."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import simpy

from hvsim.model.dpm import (
    BackupJobs,
    DpmServerState,
    GuestReplica,
    ProtectionGroupPlan,
    Replica,
    SavedStateSettings,
)
from hvsim.model.flows import FlowNetwork
from hvsim.model.guest import GuestDataSource, GuestJobs, GuestProtectionPlan
from hvsim.model.infrastructure import (
    HyperVCluster,
    HyperVHost,
    Network,
    Parts,
    SmbShareVolume,
    Volume,
)
from hvsim.model.migration import MigrationManager, MigrationSettings, VmmTopology
from hvsim.model.on_demand import OnDemandStream
from hvsim.model.online import OnlineGroup, OnlineJobs, OnlineSource, Uplink
from hvsim.model.restore import RestoreCost, RestoreJobs
from hvsim.model.scan import ClusterScanTarget, ProtectionScanner, ScanCosts
from hvsim.model.schedule import DAY_S
from hvsim.model.tape import TapeJobs
from hvsim.model.trace import Trace
from hvsim.model.vm import VirtualMachine
from hvsim.model.vss import VssCoordinator, VssSettings
from hvsim.scenario.guest import guest_kinds, sync_frequency_s
from hvsim.scenario.patterns import group_membership
from hvsim.scenario.schema import Scenario, VmSpec


def stream(seed: int, name: str) -> np.random.Generator:
    """A named random stream: the same (seed, name) gives the same draws in any
    process, and adding a stream never changes another's."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(key,)))


@dataclass(slots=True, kw_only=True)
class World:
    """Everything a run simulates, built by build_world."""

    scenario: Scenario
    seed: int
    horizon_s: float
    env: simpy.Environment
    flows: FlowNetwork
    trace: Trace
    # Hyper-V
    clusters: list[HyperVCluster]
    hosts: dict[str, HyperVHost]
    volumes: dict[str, Volume]
    network: Network
    vms: list[VirtualMachine]
    # DPM
    dpm_servers: dict[str, DpmServerState]
    plans: dict[str, ProtectionGroupPlan]
    replicas: dict[VirtualMachine, Replica]  # of the protected VMs, in the VMs' order
    # Guest level: each guest-level group's plan, each protected guest data source's
    # replica (in the VMs' order, then the data sources'), and the jobs that run them.
    guest_plans: dict[str, GuestProtectionPlan]
    guest_replicas: list[GuestReplica]
    guest_jobs: GuestJobs
    # The processes' owners
    vss: VssCoordinator
    jobs: BackupJobs
    scanner: ProtectionScanner
    scan_targets: list[ClusterScanTarget]
    migrations: MigrationManager
    on_demand: list[OnDemandStream]
    restores: RestoreJobs
    # Long-term protection to tape: the libraries, the groups' plans, their jobs.
    tape: TapeJobs
    # Online protection to Azure: None when no protection group has an online block.
    online: OnlineJobs | None = None


def build_world(scenario: Scenario, seed: int) -> World:
    env = simpy.Environment()
    flows = FlowNetwork(env)
    trace = Trace(env)
    parts = Parts(
        env,
        flows,
        trace.slot_log,
        ranked=any(d.job_order != "dpm" for d in scenario.dpm_servers),
    )
    horizon_s = scenario.horizon_days * DAY_S
    moves = scenario.live_migration

    # Hyper-V: cluster -> node -> CSV; standalone hosts; SMB shares; the network.
    # (Built in this order, which is the order of the resources in every table.)
    clusters = [HyperVCluster.build(c, i, moves, parts) for i, c in enumerate(scenario.clusters)]
    standalone = [HyperVHost.standalone(h, i, moves, parts) for i, h in enumerate(scenario.hosts)]
    shares = [
        SmbShareVolume.build(sh, i, scenario.file_servers, parts)
        for i, sh in enumerate(scenario.smb_shares)
    ]
    network = Network.build(scenario.links, flows)
    hosts = _by_name(itertools.chain((n for c in clusters for n in c.nodes), standalone))
    volumes: dict[str, Volume] = _by_name(
        itertools.chain(
            (v for c in clusters for v in c.csvs),
            (h.local_volume for h in standalone if h.local_volume is not None),
            shares,
        )
    )

    # DPM: servers and their pools, protection groups.
    dpm_servers = {
        d.name: DpmServerState.build(d, i, parts, horizon_s)
        for i, d in enumerate(scenario.dpm_servers)
    }
    plans = {
        g.name: ProtectionGroupPlan.build(g, dpm_servers[g.dpm_server])
        for g in scenario.protection_groups
    }

    # The VMs, and a replica of each protected one.
    placed = _Placement(clusters, hosts, volumes)
    vms = [
        VirtualMachine.build(
            spec,
            name,
            *placed(spec),
            attributes=stream(seed, f"vm-attributes:{name}"),
            jobs=stream(seed, f"vm-jobs:{name}"),
            dirty=stream(seed, f"vm-dirty:{name}"),
            protected_from_s=start_day * DAY_S,
        )
        for spec in scenario.vms
        for name, start_day in zip(
            spec.names(), spec.protection_start_days(scenario.start_date), strict=True
        )
    ]
    group_of = group_membership(scenario)
    replicas = {
        vm: Replica.for_vm(vm, plans[group_of[vm.name]]) for vm in vms if vm.name in group_of
    }

    # Guest level: the data sources of VMs in a guest-level group, a replica of each.
    guest_plans, guest_replicas = _guest_protection(scenario, dpm_servers, vms, parts)

    # The processes' owners: VSS, backup jobs and checks, scans, migrations, on-demand.
    vss = VssCoordinator(env, VssSettings.build(scenario.vss), trace, flows)
    jobs = BackupJobs(
        env, flows, network, vss, SavedStateSettings.build(scenario.saved_state), trace, horizon_s
    )
    scanner = ProtectionScanner(
        env, ScanCosts.build(scenario.scan), trace.scans, scenario.scan.discovery_time, horizon_s
    )
    on_cluster: dict[str, list[VirtualMachine]] = {}
    for vm in vms:
        if vm.host.cluster is not None:
            on_cluster.setdefault(vm.host.cluster.name, []).append(vm)
    scan_targets = [
        target
        for c, spec in zip(clusters, scenario.clusters, strict=True)
        if (
            target := ClusterScanTarget.build(
                c, spec.scan_serialized, on_cluster.get(c.name, []), replicas, parts
            )
        )
    ]
    migrations = MigrationManager(
        env,
        flows,
        network,
        jobs,
        replicas,
        MigrationSettings.build(moves),
        VmmTopology.build(scenario.vmm_servers),
        trace,
        horizon_s,
        frozenset(r.source.vm.name for r in guest_replicas),
    )
    on_demand = [
        OnDemandStream.build(
            o, i, env, dpm_servers[o.dpm_server], stream(seed, f"on-demand:{i}"), trace, horizon_s
        )
        for i, o in enumerate(scenario.on_demand)
    ]
    restores = RestoreJobs(
        env,
        flows,
        network,
        replicas,
        RestoreCost.build_all(scenario.restores.kinds),
        trace,
        horizon_s,
        {r.source.name: r for r in guest_replicas},
    )
    tape = TapeJobs.build(
        scenario, dpm_servers, list(replicas.values()), guest_replicas, parts, trace, horizon_s
    )
    return World(
        scenario=scenario,
        seed=seed,
        horizon_s=horizon_s,
        env=env,
        flows=flows,
        trace=trace,
        clusters=clusters,
        hosts=hosts,
        volumes=volumes,
        network=network,
        vms=vms,
        dpm_servers=dpm_servers,
        plans=plans,
        replicas=replicas,
        guest_plans=guest_plans,
        guest_replicas=guest_replicas,
        guest_jobs=GuestJobs(env, flows, network, trace, horizon_s, parts),
        vss=vss,
        jobs=jobs,
        scanner=scanner,
        scan_targets=scan_targets,
        migrations=migrations,
        on_demand=on_demand,
        restores=restores,
        tape=tape,
        online=_online_protection(
            scenario, env, flows, trace, horizon_s, parts, dpm_servers, replicas, guest_replicas
        ),
    )


def _online_protection(
    scenario: Scenario,
    env: simpy.Environment,
    flows: FlowNetwork,
    trace: Trace,
    horizon_s: float,
    parts: Parts,
    dpm_servers: dict[str, DpmServerState],
    replicas: dict[VirtualMachine, Replica],
    guest_replicas: list[GuestReplica],
) -> OnlineJobs | None:
    """The uplinks of DPM servers with online protection and each data source of a
    group protected online (None, and nothing built, when no group is)."""
    groups = [g for g in scenario.protection_groups if g.online is not None]
    if not groups:
        return None
    uplinks = {
        d.name: Uplink.build(dpm_servers[d.name], d.online, scenario.start_date, parts)
        for d in scenario.dpm_servers
        if d.online is not None and any(g.dpm_server == d.name for g in groups)
    }
    online = {
        g.name: OnlineGroup.build(g.name, g.online, uplinks[g.dpm_server])
        for g in groups
        if g.online is not None
    }
    sources = [
        OnlineSource(name=r.vm.name, vm=r.vm, group=online[r.plan.name], replica=r)
        for r in replicas.values()
        if r.plan.name in online
    ]
    sources += [
        OnlineSource(name=r.source.name, vm=r.source.vm, group=online[r.plan.name], replica=r)
        for r in guest_replicas
        if r.plan.name in online
    ]
    return OnlineJobs(env, flows, trace, horizon_s, uplinks, sources)


def _guest_protection(
    scenario: Scenario,
    dpm_servers: dict[str, DpmServerState],
    vms: list[VirtualMachine],
    parts: Parts,
) -> tuple[dict[str, GuestProtectionPlan], list[GuestReplica]]:
    """Each guest-level group's plan, and a replica of each data source of the VMs
    in one (none when no group is guest-level: nothing is built for a host-only
    scenario)."""
    groups = [g for g in scenario.protection_groups if g.level == "guest"]
    if not groups:
        return {}, []
    kinds = guest_kinds(scenario)
    first_weekday = scenario.start_date.weekday()
    plans = {
        g.name: GuestProtectionPlan.build(
            g,
            dpm_servers[g.dpm_server],
            sync_frequency_s(g, kinds[g.name]),
            first_weekday,
            "exchange" in kinds[g.name],
            parts,
        )
        for g in groups
    }
    group_of = group_membership(scenario, level="guest")
    spec_of = {name: spec for spec in scenario.vms for name in spec.names()}
    replicas = [
        GuestReplica(source=source, plan=plans[group_of[vm.name]])
        for vm in vms
        if vm.name in group_of
        for source in GuestDataSource.for_vm(spec_of[vm.name], vm)
    ]
    return plans, replicas


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_NamedT = TypeVar("_NamedT", bound=_Named)


def _by_name(items: Iterable[_NamedT]) -> dict[str, _NamedT]:
    return {item.name: item for item in items}


class _Placement:
    """Where each VM of a spec runs and lives: a CSV of its cluster on the node named
    or the next node in turn (round-robin per cluster), a standalone host's local
    volume, or an SMB share from the host named."""

    def __init__(
        self,
        clusters: list[HyperVCluster],
        hosts: dict[str, HyperVHost],
        volumes: dict[str, Volume],
    ):
        self.clusters = _by_name(clusters)
        self.hosts = hosts
        self.volumes = volumes

    def __call__(self, spec: VmSpec) -> tuple[HyperVHost, Volume]:
        # The scenario checks these pairs (VmSpec and load_scenario): a CSV comes with
        # its cluster, a host is a standalone one (with local storage), a share with
        # the host running the VM.
        if spec.csv is not None:
            assert spec.cluster is not None
            cluster = self.clusters[spec.cluster]
            host = self.hosts[spec.node] if spec.node is not None else cluster.next_node()
            return host, cluster.csv(spec.csv)
        if spec.host is not None:
            host = self.hosts[spec.host]
            assert host.local_volume is not None
            return host, host.local_volume
        assert spec.smb_host is not None and spec.share is not None
        return self.hosts[spec.smb_host], self.volumes[spec.share]
