"""The simulated estate of one run: ``World`` holds it, ``build_world`` assembles it
from a scenario, ``stream`` gives each part its named random stream. The assembly
wires; the domain objects and their processes decide."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import simpy

from hvsim.model.dpm import BackupJobs, ProtectionGroupPlan, SavedStateSettings
from hvsim.model.flows import FlowNetwork
from hvsim.model.infrastructure import DpmServerState, HyperVHost, Network, Volume
from hvsim.model.migration import MigrationManager, MigrationSettings, VmmTopology
from hvsim.model.on_demand import OnDemandStream
from hvsim.model.scan import ClusterScanTarget, ProtectionScanner, ScanCosts, scan_mode_serialized
from hvsim.model.slots import JobSlots
from hvsim.model.trace import SlotLog, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.model.vss import VssCoordinator, VssSettings
from hvsim.scenario.patterns import VmNames
from hvsim.scenario.schema import Scenario, VmSpec


def stream(seed: int, name: str) -> np.random.Generator:
    """A named random stream: the same (seed, name) gives the same draws in any
    process, and adding a stream never changes another's."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(key,)))


@dataclass(slots=True, kw_only=True)
class World:
    """Everything a run simulates, built by build_world."""

    env: simpy.Environment
    flows: FlowNetwork
    network: Network
    hosts: dict[str, HyperVHost]
    volumes: dict[str, Volume]
    dpm_servers: dict[str, DpmServerState]
    vms: list[VirtualMachine]
    plans: dict[str, ProtectionGroupPlan]
    vss: VssCoordinator
    jobs: BackupJobs
    scanner: ProtectionScanner
    migrations: MigrationManager
    on_demand: list[OnDemandStream]
    seed: int
    scenario: Scenario
    scan_targets: list[ClusterScanTarget]
    discovery_at_s: float | None
    trace: Trace
    horizon_s: float


def build_world(scenario: Scenario, seed: int) -> World:
    env = simpy.Environment()
    flows = FlowNetwork(env)
    trace = Trace()
    network = Network(flows)
    horizon_s = scenario.horizon_days * 86400.0

    hosts: dict[str, HyperVHost] = {}
    volumes: dict[str, Volume] = {}
    lm = scenario.live_migration

    def migration_slots(host: HyperVHost) -> None:
        host.live_migration_slots = JobSlots(
            env, lm.simultaneous_per_host, host.name, "live-migration", trace.slot_log
        )
        host.storage_migration_slots = JobSlots(
            env, lm.simultaneous_storage_per_host, host.name, "storage-migration", trace.slot_log
        )

    for c in scenario.clusters:
        software_v1 = c.os == "2008R2" and any(v.vss_provider == "software" for v in c.csvs)
        per_node = c.max_parallel_backups_per_node or (1 if software_v1 else 3)
        for n in c.node_list():
            hosts[n.name] = HyperVHost(
                n.name,
                c.os,
                c.name,
                n.dpm_agent,
                JobSlots(env, per_node, n.name, "host", trace.slot_log),
            )
            migration_slots(hosts[n.name])
        cluster_net = {
            n.name: (
                flows.add_resource(f"clusternet:{n.name}->{c.name}", "network", c.cluster_network),
                flows.add_resource(f"clusternet:{c.name}->{n.name}", "network", c.cluster_network),
            )
            for n in c.node_list()
        }
        for v in c.csvs:
            name = f"{c.name}/{v.name}"
            serialize = v.serialize_backups
            if serialize is None:
                serialize = c.os == "2008R2" and v.vss_provider == "software"
            volumes[name] = Volume(
                name,
                "csv",
                flows.add_resource(f"{name}:read", "storage", v.read),
                flows.add_resource(f"{name}:write", "storage", v.write),
                v.vss_provider,
                c.os,
                v.capacity,
                JobSlots(env, 1, name, "csv-group", trace.slot_log) if serialize else None,
                cluster=c.name,
                cluster_net=cluster_net,
            )
    for h in scenario.hosts:
        hosts[h.name] = HyperVHost(
            h.name,
            h.os,
            None,
            h.dpm_agent,
            JobSlots(env, h.max_parallel_backups, h.name, "host", trace.slot_log),
        )
        name = f"{h.name}/local"
        volumes[name] = Volume(
            name,
            "local",
            flows.add_resource(f"{name}:read", "storage", h.storage.read),
            flows.add_resource(f"{name}:write", "storage", h.storage.write),
            h.storage.vss_provider,
            h.os,
            h.storage.capacity,
        )
        hosts[h.name].local_volume = volumes[name]
        migration_slots(hosts[h.name])
    for sh in scenario.smb_shares:
        volumes[sh.name] = Volume(
            sh.name,
            "smb",
            flows.add_resource(f"{sh.name}:read", "storage", sh.read),
            flows.add_resource(f"{sh.name}:write", "storage", sh.write),
            sh.vss_provider,
            "2012",
            sh.capacity,
            file_servers=tuple(sh.file_servers),
            file_server_vss_agent=sh.file_server_vss_agent,
            file_servers_without_agent=tuple(
                fs.name
                for fs in scenario.file_servers
                if fs.name in sh.file_servers and not fs.dpm_agent
            ),
        )
    for i, link in enumerate(scenario.links):
        # Transfers reach bandwidth x efficiency (protocol overhead, schema.Link).
        network.add_link(link.between[0], link.between[1], link.bandwidth * link.efficiency, i)

    dpm_servers: dict[str, DpmServerState] = {}
    for d in scenario.dpm_servers:
        dpm_servers[d.name] = DpmServerState(
            d.name,
            d.version,
            d.update_rollup,
            flows.add_resource(f"{d.name}:pool-write", "pool", d.pool.write),
            flows.add_resource(f"{d.name}:pool-read", "pool", d.pool.read or d.pool.write),
            d.pool.capacity,
            JobSlots(env, d.max_parallel_jobs, d.name, "dpm", trace.slot_log),
            d.auto_rerun_delay,
            d.auto_rerun_attempts,
            vmm_server=d.vmm.vmm_server,
            vmm_console_installed=d.vmm.console_installed,
            vmm_console_version_matches=d.vmm.console_version_matches,
            vmm_helper_running=d.vmm.helper_service_running,
            protection_repair_s=d.protection_repair_time,
        )

    plans = {
        g.name: ProtectionGroupPlan(
            g.name,
            dpm_servers[g.dpm_server],
            tuple(sorted(g.express_full_times)),
            g.retention_days,
            g.backup_window.start,
            g.backup_window.end,
            g.initial_replica == "network",
            g.rpo,
            g.auto_consistency_check,
            g.consistency_check_time,
        )
        for g in scenario.protection_groups
    }
    group_of = _group_membership(scenario)

    vms: list[VirtualMachine] = []
    round_robin: dict[str, int] = {}
    for spec in scenario.vms:
        for name in spec.names():
            vm = _expand_vm(scenario, spec, name, seed, hosts, volumes, round_robin)
            vm.group = group_of.get(name, "")
            vms.append(vm)
            demand = vm.volume.io_demand_by_node
            demand[vm.host.name] = demand.get(vm.host.name, 0.0) + vm.io_rate_bps

    vss = VssCoordinator(
        env,
        VssSettings(
            scenario.vss.flush_window,
            {k: w.flush_time for k, w in scenario.vss.writers.items()},
            scenario.vss.snapshot_time_software,
            scenario.vss.snapshot_time_hardware,
            scenario.vss.release_time,
        ),
        trace,
        flows,
    )
    jobs = BackupJobs(
        env,
        flows,
        network,
        vss,
        SavedStateSettings(
            scenario.saved_state.save_overhead, scenario.saved_state.resume_overhead
        ),
        trace,
        horizon_s,
    )
    for vm in vms:
        if not vm.group:
            # In no protection group: never backed up, no recovery points; every output
            # lists it as unprotected (its method and consistency read "none").
            vm.method, vm.offline_reason, vm.consistency = "none", "", "none"
            continue
        kept_running = plans[vm.group].dpm.keeps_vms_online(vm.host.os)
        vm.consistency = vm.recovery_point_consistency(kept_running)
        reason = vm.failed_requirement()
        if reason is not None and kept_running:
            # DPM 2012 R2 UR3+ on WS2012 R2 backs the VM up while it keeps running
            # (source: dpm-ur3-online); Linux and VSS-less guests are then file/crash consistent.
            vm.method, vm.offline_reason = "online", ""
        elif reason is not None:
            vm.method, vm.offline_reason = "offline", reason
    sc = scenario.scan
    scanner = ProtectionScanner(
        env,
        ScanCosts(
            sc.per_vm_query, sc.per_writer_metadata, sc.per_node_overhead, sc.per_csv_coordination
        ),
        trace.scans,
    )
    targets = build_scan_targets(scenario, env, hosts, volumes, vms, plans, trace.slot_log)
    manager = MigrationManager(
        env,
        flows,
        network,
        jobs,
        plans,
        MigrationSettings(lm.max_precopy_rounds, lm.stop_copy, lm.switchover, lm.setup),
        VmmTopology({m: v.name for v in scenario.vmm_servers for m in v.manages}),
        {c.name: [hosts[n.name] for n in c.node_list()] for c in scenario.clusters},
        list(volumes.values()),
        trace,
        horizon_s,
    )
    return World(
        env=env,
        flows=flows,
        network=network,
        hosts=hosts,
        volumes=volumes,
        dpm_servers=dpm_servers,
        vms=vms,
        plans=plans,
        vss=vss,
        jobs=jobs,
        scanner=scanner,
        migrations=manager,
        on_demand=[
            OnDemandStream(
                env,
                dpm_servers[o.dpm_server],
                o.per_hour,
                o.mean_duration,
                o.duration == "exponential",
                stream(seed, f"on-demand:{i}"),
                trace,
                horizon_s,
            )
            for i, o in enumerate(scenario.on_demand)
        ],
        seed=seed,
        scenario=scenario,
        scan_targets=targets,
        discovery_at_s=sc.discovery_time,
        trace=trace,
        horizon_s=horizon_s,
    )


def build_scan_targets(
    scenario: Scenario,
    env: simpy.Environment,
    hosts: dict[str, HyperVHost],
    volumes: dict[str, Volume],
    vms: list[VirtualMachine],
    plans: dict[str, ProtectionGroupPlan],
    slot_log: SlotLog,
) -> list[ClusterScanTarget]:
    """One scan target per cluster that holds a protected VM, scanned by that VM's DPM."""
    targets = []
    for c in scenario.clusters:
        members = [vm for vm in vms if vm.host.cluster == c.name]
        protected = [vm for vm in members if vm.group]
        if not protected:
            continue
        dpm = plans[protected[0].group].dpm
        serialized = c.scan_serialized
        if serialized is None:
            serialized = scan_mode_serialized(c.os, dpm.version)
        nodes = [hosts[n.name] for n in c.node_list()]
        csvs = [volumes[f"{c.name}/{v.name}"] for v in c.csvs]
        t = ClusterScanTarget(c.name, dpm.name, serialized, nodes, csvs)
        for vm in members:
            t.vms_by_node.setdefault(vm.host.name, []).append(vm)
            if vm.volume.kind == "csv":
                t.vms_by_csv.setdefault(vm.volume.name, []).append(vm)
            else:
                t.off_csv_by_node.setdefault(vm.host.name, []).append(vm)
        t.csv_locks = {v.name: JobSlots(env, 1, v.name, "csv-scan", slot_log) for v in csvs}
        targets.append(t)
    return targets


def _group_membership(scenario: Scenario) -> dict[str, str]:
    names = VmNames(n for spec in scenario.vms for n in spec.names())
    group_of: dict[str, str] = {}
    for g in scenario.protection_groups:
        for m in g.members:
            for n in names.matching(m):
                group_of.setdefault(n, g.name)
    return group_of


def _expand_vm(
    scenario: Scenario,
    spec: VmSpec,
    name: str,
    seed: int,
    hosts: dict[str, HyperVHost],
    volumes: dict[str, Volume],
    round_robin: dict[str, int],
) -> VirtualMachine:
    rng = stream(seed, f"vm-attributes:{name}")
    if spec.csv is not None:
        cluster = next(c for c in scenario.clusters if c.name == spec.cluster)
        if spec.node is not None:
            host = hosts[spec.node]
        else:
            nodes = cluster.node_list()
            k = round_robin.get(cluster.name, 0)
            round_robin[cluster.name] = k + 1
            host = hosts[nodes[k % len(nodes)].name]
        volume = volumes[f"{spec.cluster}/{spec.csv}"]
    elif spec.host is not None:
        host = hosts[spec.host]
        volume = volumes[f"{spec.host}/local"]
    else:
        host = hosts[spec.smb_host]  # type: ignore[index]
        volume = volumes[spec.share]  # type: ignore[index]
    used_total = 0.0
    changed = 0.0
    for disk in spec.disks:
        size = disk.size.sample(rng)
        used = min(size, disk.used.sample(rng)) if disk.used is not None else size
        used_total += used
        changed += used * disk.daily_change.sample(rng)
    return VirtualMachine(
        name=name,
        group="",
        host=host,
        volume=volume,
        memory_bytes=spec.memory.sample(rng),
        used_bytes=used_total,
        daily_change=changed / used_total if used_total > 0 else 0.0,
        guest_os=spec.guest_os.sample(rng),
        backup_integration_service=spec.backup_integration_service.sample(rng),
        dynamic_disks=spec.dynamic_disks.sample(rng),
        file_systems=tuple(spec.file_systems),
        running=spec.running.sample(rng),
        vss_storage_assignment_modified=spec.vss_storage_assignment_modified.sample(rng),
        cluster_group_online=spec.cluster_group_online.sample(rng),
        writers=tuple(spec.vss_writers),
        rng=stream(seed, f"vm-jobs:{name}"),
        dirty_rate_bps=spec.dirty_rate.sample(stream(seed, f"vm-dirty:{name}")),
        # Drawn last so that adding this field left the earlier draws unchanged.
        io_rate_bps=spec.io_rate.sample(rng),
    )
