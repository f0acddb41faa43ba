"""DPM: protection groups, their express-full schedule, job slots and the backup
jobs themselves (initial replica, express full; online or saved state)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from hvsim.model.flows import FlowNetwork
from hvsim.model.infrastructure import DpmServerState, Network
from hvsim.model.schedule import DAY_S, daily
from hvsim.model.slots import SlotsInOrder
from hvsim.model.trace import ConsistencyCheckRecord, DowntimeRecord, JobRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.model.vss import VssCoordinator, WriterTimeout


class JobFailed(Exception):
    pass


def check_agents(vm: VirtualMachine) -> None:
    """What DPM needs on the machines that serve the VM (source: seed-article)."""
    if not vm.host.dpm_agent:
        raise JobFailed(f"no DPM agent on host {vm.host.name}")
    volume = vm.volume
    if volume.kind == "smb":
        if volume.file_servers_without_agent:
            raise JobFailed(
                f"no DPM agent on file server {volume.file_servers_without_agent[0]} "
                f"of share {volume.name}"
            )
        if not volume.file_server_vss_agent:
            raise JobFailed(f"File Server VSS Agent Service not enabled for share {volume.name}")


def check_vm_state(vm: VirtualMachine, now: float) -> None:
    if now < vm.broken_until_s:
        raise JobFailed(f"protection broken by a migration: {vm.broken_reason}")
    if vm.migrating:
        # Hyper-V runs one operation on a VM at a time. Source: a VM in Hyper-V's
        # "Backing up" state cannot be live-migrated (source: hyperv-backing-up-lock);
        # that the backup fails when the VM is migrating, and DPM's auto-rerun retries
        # it (source: dpm-auto-rerun), is our assumption from the same lock.
        raise JobFailed("VM is being migrated")
    if vm.inconsistent or vm.check_pending:
        raise JobFailed("replica inconsistent: consistency check required")


@dataclass(slots=True, frozen=True)
class ProtectionGroupPlan:
    name: str
    dpm: DpmServerState
    express_full_times_s: tuple[float, ...]  # seconds after midnight, sorted
    retention_days: int
    window_start_s: float
    window_end_s: float
    initial_replica_over_network: bool
    rpo_s: float = 93600.0
    auto_consistency_check: bool = True
    consistency_check_time_s: float | None = None

    def in_window(self, scheduled_s: float) -> bool:
        """Whether ``scheduled_s`` lies in one of the group's backup windows, [start, end)."""
        length = (self.window_end_s - self.window_start_s) % DAY_S
        return (scheduled_s - self.window_start_s) % DAY_S < length

    def deadline_for(self, scheduled_s: float) -> float:
        """By when the recovery point scheduled at ``scheduled_s`` must exist.

        Scheduled inside a backup window, by that window's end: the window is the
        time the planner gives backups. Scheduled outside any window (an 08:00 express
        full beside a 20:00-06:00 window), by the group's next scheduled express full:
        a point must exist before the next one is due, or the schedule falls behind.
        (Judged against the window that closed before it, such a point always counted
        as late.) A window with start equal to end is refused by the schema; here it
        holds no time, so every point gets the next express full as its deadline.
        """
        length = (self.window_end_s - self.window_start_s) % DAY_S
        offset = (scheduled_s - self.window_start_s) % DAY_S
        if offset < length:
            return scheduled_s - offset + length
        midnight = scheduled_s - scheduled_s % DAY_S
        clock = scheduled_s - midnight
        for t in self.express_full_times_s:
            if t > clock:
                return midnight + t
        return midnight + DAY_S + self.express_full_times_s[0]


@dataclass(slots=True, frozen=True)
class SavedStateSettings:
    save_overhead_s: float
    resume_overhead_s: float


class BackupJobs:
    """Runs each protected VM's schedule: one process per VM, one job at a time."""

    def __init__(
        self,
        env: simpy.Environment,
        flows: FlowNetwork,
        network: Network,
        vss: VssCoordinator,
        saved_state: SavedStateSettings,
        trace: Trace,
        horizon_s: float,
    ):
        self.env = env
        self.flows = flows
        self.network = network
        self.vss = vss
        self.saved_state = saved_state
        self.trace = trace
        self.horizon_s = horizon_s
        self.running = 0  # jobs queued or running; zero at the end of a run

    def protect(self, vm: VirtualMachine, plan: ProtectionGroupPlan) -> Generator:
        """The VM's life under protection: every express full scheduled before the
        horizon, with its automatic re-runs. A re-run may start after the horizon: it
        finishes an occurrence that started before it (DPM re-runs the failed job,
        source: dpm-auto-rerun), so whether that recovery point was made is known and the last
        night is judged like the others, not cut short by where the run ends."""
        env, dpm = self.env, plan.dpm
        needs_replica = plan.initial_replica_over_network
        if not needs_replica:
            # Removable media: the replica arrives by courier before the first job.
            dpm.store(0.0, vm.used_bytes, 0.0, 0.0)
            vm.last_recovery_point_s = vm.last_sync_s = 0.0
            vm.replica_bytes = vm.used_bytes
        for scheduled in daily(plan.express_full_times_s, self.horizon_s):
            if env.now > scheduled:
                self._record_skipped(vm, plan, scheduled)
                continue
            yield env.timeout(scheduled - env.now)
            for attempt in range(1, dpm.auto_rerun_attempts + 2):
                kind = "initial_replica" if needs_replica else "express_full"
                ok = yield from self.run_job(vm, plan, kind, attempt, scheduled)
                if ok:
                    needs_replica = False
                    break
                if attempt <= dpm.auto_rerun_attempts:
                    yield env.timeout(dpm.auto_rerun_delay_s)

    def _record_skipped(self, vm: VirtualMachine, plan: ProtectionGroupPlan, at: float) -> None:
        self.trace.jobs.append(
            JobRecord(
                self.trace.new_job_id(),
                "express_full",
                vm.name,
                plan.name,
                vm.host.name,
                vm.volume.name,
                plan.dpm.name,
                vm.method,
                0,
                at,
                plan.deadline_for(at),
                at,
                at,
                at,
                0.0,
                "skipped",
                "previous job of this VM still running",
                vm.offline_reason,
            )
        )

    def run_job(
        self,
        vm: VirtualMachine,
        plan: ProtectionGroupPlan,
        kind: str,
        attempt: int,
        scheduled: float,
    ) -> Generator[simpy.Event, object, bool]:
        env, dpm, volume = self.env, plan.dpm, vm.volume
        job_id = self.trace.new_job_id()
        queued = env.now
        self.running += 1
        busy = None
        start = queued
        nbytes = 0.0
        reason = ""
        try:
            check_agents(vm)
            with self.job_slots(vm, dpm) as slots:
                yield from slots.take()
                start = env.now
                volume = vm.volume
                check_vm_state(vm, start)
                busy = vm.busy = env.event()
                if kind == "initial_replica":
                    nbytes = vm.used_bytes
                else:
                    nbytes = vm.changed_bytes_since(vm.last_sync_s, start)
                if vm.method == "online":
                    yield from self.vss.freeze_writers(vm)
                    snap = yield from self.vss.take_snapshot(vm, job_id)
                else:
                    snap = yield from self._saved_state_snapshot(vm, job_id)
                yield self.flows.transfer(nbytes, self.backup_route(vm, dpm))
                yield from self.vss.release(snap)
                expiry = env.now + plan.retention_days * DAY_S
                if kind == "initial_replica":
                    stored = dpm.store(env.now, nbytes, 0.0, expiry)
                else:
                    stored = dpm.store(env.now, 0.0, nbytes, expiry)
                if not stored:
                    raise JobFailed("DPM storage pool full")
                if kind == "initial_replica":
                    vm.replica_bytes = nbytes
                vm.last_recovery_point_s = vm.last_sync_s = start
                vm.recovery_points_s.append(start)
                outcome = "succeeded"
        except (WriterTimeout, JobFailed) as exc:
            outcome, reason = "failed", str(exc)
        finally:
            if busy is not None:
                vm.busy = None
                busy.succeed()
        self.running -= 1
        self.trace.jobs.append(
            JobRecord(
                job_id,
                kind,
                vm.name,
                plan.name,
                vm.host.name,
                volume.name,
                dpm.name,
                vm.method,
                attempt,
                scheduled,
                plan.deadline_for(scheduled),
                queued,
                start,
                env.now,
                nbytes if outcome == "succeeded" else 0.0,
                outcome,
                reason,
                vm.offline_reason,
            )
        )
        return outcome == "succeeded"

    def backup_route(self, vm: VirtualMachine, dpm: DpmServerState) -> tuple:
        """Source volume read, the network to the DPM server, the pool's write. A VM on
        an SMB share is read by the file server, over its own links."""
        volume = vm.volume
        source = volume.file_servers[0] if volume.kind == "smb" else vm.host.name
        return (volume.read, *self.network.route(source, dpm.name), dpm.pool_write)

    @staticmethod
    def job_slots(vm: VirtualMachine, dpm: DpmServerState) -> SlotsInOrder:
        """The slots a DPM job on ``vm`` holds, in the order every job takes them: the
        CSV's group when its backups are serialized (DataSourceGroups.xml), the host's
        (MaxAllowedParallelBackups), the DPM server's."""
        return SlotsInOrder(vm.volume.serializer, vm.host.backup_slots, dpm.job_slots)

    def consistency_check(
        self, vm: VirtualMachine, plan: ProtectionGroupPlan, trigger: str
    ) -> Generator:
        """Read the whole source and the whole replica block by block (both reads share
        bandwidth with everything else), compare checksums, send the differing blocks
        (source: dpm-consistency-check). Runs as a DPM job in the same slots as backups."""
        env, dpm = self.env, plan.dpm
        if vm.replica_bytes <= 0:
            vm.inconsistent = False  # no replica yet: the initial replica will make one
            return
        self.running += 1
        vm.check_pending = True
        busy = None
        queued = env.now
        start = queued
        outcome, reason = "succeeded", ""
        read = sent = 0.0
        try:
            check_agents(vm)
            with self.job_slots(vm, dpm) as slots:
                yield from slots.take()
                while vm.busy is not None:
                    # A backup snapshot or a migration holds the VM: wait for it to finish.
                    yield vm.busy
                start = env.now
                busy = vm.busy = env.event()
                source = vm.used_bytes
                replica = vm.replica_bytes
                yield env.all_of(
                    [
                        self.flows.transfer(source, (vm.volume.read,)),
                        self.flows.transfer(replica, (dpm.pool_read,)),
                    ]
                )
                read = source + replica
                sent = vm.changed_bytes_since(vm.last_sync_s, start)
                yield self.flows.transfer(sent, self.backup_route(vm, dpm))
                vm.inconsistent = False
                vm.last_sync_s = start
                vm.replica_bytes = source
        except JobFailed as exc:
            outcome, reason = "failed", str(exc)
        finally:
            vm.check_pending = False
            if busy is not None:
                vm.busy = None
                busy.succeed()
            self.running -= 1
        self.trace.checks.append(
            ConsistencyCheckRecord(
                vm.name,
                plan.name,
                trigger,
                vm.host.name,
                vm.volume.name,
                dpm.name,
                queued,
                start,
                env.now,
                read,
                sent,
                outcome,
                reason,
            )
        )

    def _saved_state_snapshot(self, vm: VirtualMachine, job_id: int) -> Generator:
        """Offline backup: save state (memory written to the VM's storage), host
        snapshot, resume (memory read back). The VM is down throughout (source: saved-state)."""
        env, volume = self.env, vm.volume
        if not vm.running:
            # Nothing to save: the VM is already off, so the backup costs no downtime.
            return (yield from self.vss.take_snapshot(vm, job_id))
        down_from = env.now
        yield self.flows.transfer(vm.memory_bytes, (volume.write,))
        if self.saved_state.save_overhead_s > 0:
            yield env.timeout(self.saved_state.save_overhead_s)
        saved_at = env.now
        snap = yield from self.vss.take_snapshot(vm, job_id)
        snapped_at = env.now
        yield self.flows.transfer(vm.memory_bytes, (volume.read,))
        if self.saved_state.resume_overhead_s > 0:
            yield env.timeout(self.saved_state.resume_overhead_s)
        up_at = env.now
        self.trace.downtime.append(
            DowntimeRecord(
                vm.name,
                job_id,
                down_from,
                up_at,
                up_at - down_from,
                saved_at - down_from,
                snapped_at - saved_at,
                up_at - snapped_at,
                vm.offline_reason,
            )
        )
        return snap
