"""VM mobility: live migration in a cluster, shared-nothing live migration between
hosts (with a storage copy when the storage is not shared), storage migration, and
what each does to protection (sources: dpm-consistency-check, dpm-vmm-continuity,
hyperv-simultaneous-migrations, seed-article).

Every byte moves through the shared FlowNetwork: pre-copy rounds of memory over
the cluster network (in a cluster) or the host network (shared-nothing), disks
from source volume to target volume. Hosts limit simultaneous live and storage
migrations (2 and 2 by default, source: hyperv-simultaneous-migrations).

Nothing starts at or after the horizon; what started before it finishes:

- an explicit event (migration or consistency check) or a drain due at or after the
  horizon is not carried out;
- a drain that began before the horizon but whose return falls at or after it leaves
  its VMs on the other nodes: the return would be new migrations, and at the horizon
  the node is still drained;
- a migration requested before the horizon (a drain's moves included, even those
  waiting for a slot) runs to its end, and what it does to protection is recorded;
- a consistency check that would be triggered at or after the horizon (the repair of
  broken protection, the end of a storage migration) is not started: the replica
  stays inconsistent, which is the truth at the horizon.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hvsim.model.dpm import BackupJobs, Replica
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import HyperVHost, Network, SmbShareVolume, Volume
from hvsim.model.schedule import DAY_S, poisson_arrivals, starts_before
from hvsim.model.slots import SlotsInOrder
from hvsim.model.trace import MigrationRecord, ProtectionBreakRecord, Trace
from hvsim.model.vm import VirtualMachine

if TYPE_CHECKING:
    from hvsim.scenario import schema


@dataclass(slots=True, frozen=True)
class MigrationSettings:
    max_precopy_rounds: int
    stop_copy_bytes: float
    switchover_s: float
    # fixed cost of a live migration before its pre-copy (source: live-migration-ws2012-lab)
    setup_s: float = 0.0

    @classmethod
    def build(cls, spec: schema.LiveMigration) -> MigrationSettings:
        return cls(spec.max_precopy_rounds, spec.stop_copy, spec.switchover, spec.setup)


@dataclass(slots=True, frozen=True)
class VmmTopology:
    """Which VMM server manages each cluster and standalone host."""

    manager_of: dict[str, str]  # cluster or host name -> VMM server

    @classmethod
    def build(cls, servers: Sequence[schema.VmmServer]) -> VmmTopology:
        return cls({m: v.name for v in servers for m in v.manages})

    def manager(self, host: HyperVHost) -> str | None:
        return self.manager_of.get(host.cluster.name if host.cluster else host.name)


class MigrationManager:
    def __init__(
        self,
        env: simpy.Environment,
        flows: FlowNetwork,
        network: Network,
        jobs: BackupJobs,
        replicas: Mapping[VirtualMachine, Replica],
        settings: MigrationSettings,
        vmm: VmmTopology,
        trace: Trace,
        horizon_s: float,
        guest_protected: frozenset[str] = frozenset(),
    ):
        self.env = env
        self.flows = flows
        self.network = network
        self.jobs = jobs
        self.replicas = replicas  # of the VMs protected at host level
        # VMs whose data sources DPM's agent in the guest protects: the agent moves with
        # the guest, so a move does not touch that protection (source: dpm-hyperv-restore
        # on what host-level and guest-level protection each hold).
        self.guest_protected = guest_protected
        self.settings = settings
        self.vmm = vmm
        self._open_breaks: dict[str, int] = {}  # VM -> index of its latest break record
        self.trace = trace
        self.horizon_s = horizon_s
        self.running = 0

    # -- one migration -------------------------------------------------------
    def migrate(
        self,
        vm: VirtualMachine,
        kind: str,
        trigger: str,
        target_host: HyperVHost | None = None,
        target_volume: Volume | None = None,
    ) -> Generator[simpy.Event, object, None]:
        env = self.env
        requested = env.now
        self.running += 1
        try:
            while vm.busy is not None:
                # A VM being backed up cannot be live-migrated (Hyper-V's "Backing up"
                # state; Arcserve UDP troubleshooting, see check_protection in dpm.py);
                # the migration waits for the snapshot (or a check, or another
                # migration) to go (assumption: the admin or VMM retries rather than
                # giving up).
                yield vm.busy
            target_host = target_host or vm.host
            if kind == "shared_nothing" and target_volume is None:
                target_volume = self._shared_nothing_volume(vm, target_host)
            target_volume = target_volume or vm.volume
            if target_host is vm.host and target_volume is vm.volume:
                return
            vm.migrating = True
            busy = vm.busy = env.event()
            src_host, src_volume = vm.host, vm.volume
            storage_bytes = memory_bytes = 0.0
            rounds = 0
            blackout = 0.0
            # Simultaneous storage and live migrations per host (source:
            # hyperv-simultaneous-migrations); hosts are taken in name order so that two
            # opposite moves cannot deadlock.
            pools = []
            for h in sorted({src_host, target_host}, key=lambda h: h.name):
                if target_volume is not src_volume:
                    pools.append(h.storage_migration_slots)
                if target_host is not src_host:
                    pools.append(h.live_migration_slots)
            with SlotsInOrder(*pools) as slots:
                yield from slots.take()
                start = env.now
                if target_volume is not src_volume:
                    storage_bytes = yield from self._copy_storage(
                        vm, src_host, target_host, target_volume
                    )
                if target_host is not src_host:
                    memory_bytes, rounds, blackout = yield from self._copy_memory(
                        vm, src_host, target_host
                    )
            self._move(vm, target_host, target_volume)
            protection, reason = self._continuity(vm, kind, src_host, target_host)
            self.trace.migrations.append(
                MigrationRecord(
                    vm.name,
                    kind,
                    trigger,
                    src_host.name,
                    target_host.name,
                    src_volume.name,
                    target_volume.name,
                    requested,
                    start,
                    env.now,
                    memory_bytes,
                    storage_bytes,
                    rounds,
                    blackout,
                    protection,
                    reason,
                )
            )
            vm.migrating = False
            vm.busy = None
            busy.succeed()
            replica = self.replicas.get(vm)
            if replica is not None and env.now < vm.protected_from_s:
                replica = None  # onboarded later: nothing of DPM's to break or check yet
            if protection == "broken" and replica is not None:  # only a protected VM's
                self._break(replica, reason)
            if target_volume is not src_volume and replica is not None:
                # Storage moved: change tracking is lost, the replica needs a full
                # consistency check (source: dpm-consistency-check).
                self.jobs.mark_inconsistent(replica, "storage_migration")
        finally:
            self.running -= 1

    def _shared_nothing_volume(self, vm: VirtualMachine, target: HyperVHost) -> Volume:
        if isinstance(vm.volume, SmbShareVolume):
            return vm.volume  # both hosts reach the share: only memory and state move
        if target.local_volume is not None:
            return target.local_volume
        # A node of another cluster: its cluster's first CSV (assumption).
        assert target.cluster is not None  # a standalone host has its local volume
        return target.cluster.csvs[0]

    def _copy_storage(
        self, vm: VirtualMachine, src: HyperVHost, dst: HyperVHost, volume: Volume
    ) -> Generator[simpy.Event, object, float]:
        """Copy the disks, then the writes made meanwhile (assumption: no published
        storage-migration figure)."""
        env = self.env
        route = self._storage_route(vm.volume, src, dst, volume)
        t0 = env.now
        used = vm.used_bytes_at(t0)
        yield self.flows.transfer(used, route)
        mirror = vm.changed_bytes_since(t0, env.now)
        yield self.flows.transfer(mirror, route)
        return used + mirror

    def _storage_route(
        self, src_vol: Volume, src: HyperVHost, dst: HyperVHost, dst_vol: Volume
    ) -> tuple[BandwidthResource, ...]:
        hops: Sequence[BandwidthResource] = ()
        if src is not dst:
            hops = self._host_route(src, dst)
        return (src_vol.read, *hops, dst_vol.write)

    def _host_route(self, src: HyperVHost, dst: HyperVHost) -> tuple[BandwidthResource, ...]:
        if src.cluster is not None and src.cluster is dst.cluster:
            net = src.cluster.network
            return (net[src.name][0], net[dst.name][1])
        return self.network.route(src.name, dst.name)

    def _copy_memory(
        self, vm: VirtualMachine, src: HyperVHost, dst: HyperVHost
    ) -> Generator[simpy.Event, object, tuple[float, int, float]]:
        """Setup (negotiation, the VM's shell on the target), then pre-copy rounds: send
        memory, then what was dirtied meanwhile, until it is small enough (or rounds run
        out); then a blackout sends the rest."""
        env, st = self.env, self.settings
        route = self._host_route(src, dst)
        if st.setup_s > 0:
            # The VM runs on meanwhile, but nothing is copied yet, so nothing is dirtied
            # that the first round would not send anyway.
            yield env.timeout(st.setup_s)
        to_send = vm.memory_bytes
        sent = 0.0
        rounds = 0
        while True:
            t0 = env.now
            yield self.flows.transfer(to_send, route)
            sent += to_send
            rounds += 1
            dirty = min(vm.memory_bytes, vm.dirty_rate_bps * (env.now - t0))
            if dirty <= st.stop_copy_bytes or rounds >= st.max_precopy_rounds:
                break
            to_send = dirty
        b0 = env.now
        yield self.flows.transfer(dirty, route)
        if st.switchover_s > 0:
            yield env.timeout(st.switchover_s)
        return sent + dirty, rounds, env.now - b0

    def _move(self, vm: VirtualMachine, host: HyperVHost, volume: Volume) -> None:
        vm.volume.remove_io(vm.host.name, vm.io_rate_bps)
        vm.host, vm.volume = host, volume
        volume.add_io(host.name, vm.io_rate_bps)

    def _continuity(
        self, vm: VirtualMachine, kind: str, src: HyperVHost, dst: HyperVHost
    ) -> tuple[str, str]:
        """Does DPM keep protecting the VM after the move? (sources: seed-article,
        dpm-vmm-continuity)"""
        replica = self.replicas.get(vm)
        if self.env.now < vm.protected_from_s:
            # Onboarded later (protect_from or onboarding): not protected yet.
            return "unprotected", ""
        if replica is None:
            return ("guest level", "") if vm.name in self.guest_protected else ("unprotected", "")
        if src is dst:
            return "continues", ""  # storage only: same host, same agent
        dpm = replica.plan.dpm
        if src.cluster is not None and src.cluster is dst.cluster:
            missing = [n.name for n in src.cluster.nodes if not n.dpm_agent]
            if missing:
                return "broken", f"DPM agent not installed on node {missing[0]}"
            needs = self.vmm.manager(src)
        else:
            a, b = self.vmm.manager(src), self.vmm.manager(dst)
            if a is None or a != b:
                return "broken", "source and target hosts are not managed by the same VMM server"
            if not dst.dpm_agent:
                return "broken", f"DPM agent not installed on host {dst.name}"
            needs = a
        if not dpm.vmm_console_installed:
            return "broken", "VMM console not installed on the DPM server"
        if not dpm.vmm_console_version_matches:
            return "broken", "VMM console version differs from the VMM server"
        if dpm.vmm_server is None or dpm.vmm_server != needs:
            return "broken", "KnownVMMServers does not name the VMM server managing the hosts"
        if not dpm.vmm_helper_running:
            return "broken", "DPMVMMHelper service not running"
        return "continues", ""

    def _break(self, replica: Replica, reason: str) -> None:
        env, vm = self.env, replica.vm
        dpm = replica.plan.dpm
        start = env.now
        end = start + dpm.protection_repair_s
        open_break = self._open_breaks.get(vm.name)
        if open_break is not None and start < replica.broken_until_s:
            # Still broken: the same break lasts longer (one break, one repair).
            rec = self.trace.breaks[open_break]
            self.trace.breaks[open_break] = rec._replace(end_s=end)
        else:
            self._open_breaks[vm.name] = len(self.trace.breaks)
            self.trace.breaks.append(
                ProtectionBreakRecord(vm.name, replica.plan.name, start, end, reason)
            )
            replica.broken_reason = reason
        replica.broken_until_s = end
        if not starts_before(end, self.horizon_s):
            # Re-protected at or after the horizon: nothing starts then (module docstring).
            return

        def repaired() -> Generator[simpy.Event, object, None]:
            yield env.timeout(end - env.now)
            # Re-protected, the replica must be checked against the VM (a failed or
            # inconsistent replica, source: dpm-consistency-check).
            if env.now >= replica.broken_until_s:
                self.jobs.mark_inconsistent(replica, "protection_repaired")

        env.process(repaired())

    # -- sources of migrations -----------------------------------------------
    def drain(
        self, node: HyperVHost, at_s: float, duration_s: float, vms: list[VirtualMachine]
    ) -> Generator[simpy.Event, object, None]:
        """Move every VM off ``node`` to the other nodes (round-robin), then back; a
        drain due at or after the horizon does nothing, and one whose return falls at
        or after it leaves the VMs moved (module docstring)."""
        env = self.env
        if not starts_before(at_s, self.horizon_s):
            return
        yield env.timeout(max(at_s - env.now, 0.0))
        others = [n for n in node.cluster.nodes if n is not node] if node.cluster else []
        if not others:
            return
        moved = [vm for vm in vms if vm.host is node]
        procs = [
            env.process(self.migrate(vm, "live", "drain", others[i % len(others)]))
            for i, vm in enumerate(moved)
        ]
        if procs:
            yield env.all_of(procs)
        if not starts_before(env.now + duration_s, self.horizon_s):
            return  # not even a wake-up past the horizon: the run would wait for it
        yield env.timeout(duration_s)
        back = [
            env.process(self.migrate(vm, "live", "return", node))
            for vm in moved
            if vm.host.cluster is node.cluster and vm.host is not node
        ]
        if back:
            yield env.all_of(back)

    def poisson(
        self,
        vms: list[VirtualMachine],
        per_vm_per_day: float,
        kind: str,
        targets: list[HyperVHost],
        rng: np.random.Generator,
    ) -> Generator[simpy.Event, object, None]:
        """A superposed Poisson stream: one process, O(1) per migration."""
        env = self.env
        if not vms:
            return

        def arrive() -> None:
            vm = vms[int(rng.integers(len(vms)))]
            if kind == "live":
                if vm.host.cluster is None:
                    return
                choices = [n for n in vm.host.cluster.nodes if n is not vm.host]
            else:
                choices = [h for h in targets if h is not vm.host]
            if not choices:
                return
            target = choices[int(rng.integers(len(choices)))]
            env.process(self.migrate(vm, kind, "poisson", target))

        rate_per_s = per_vm_per_day * len(vms) / DAY_S
        yield from poisson_arrivals(env, rate_per_s, rng, self.horizon_s, arrive)

    def at(
        self, at_s: float, action: Callable[[], Generator[simpy.Event, object, None]]
    ) -> Generator[simpy.Event, object, None]:
        """``action`` at ``at_s``, if that starts before the horizon."""
        if not starts_before(at_s, self.horizon_s):
            return
        yield self.env.timeout(max(at_s - self.env.now, 0.0))
        yield from action()
