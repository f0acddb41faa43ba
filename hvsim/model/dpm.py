"""DPM: protection groups, their express-full schedule, job slots and the backup
jobs themselves (initial replica, express full; online or saved state)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import simpy

from hvsim.model.flows import FlowNetwork
from hvsim.model.infrastructure import DpmServerState, Network
from hvsim.model.trace import DowntimeRecord, JobRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.model.vss import VssCoordinator, WriterTimeout

DAY_S = 86400.0


class JobFailed(Exception):
    pass


@dataclass(slots=True, frozen=True)
class ProtectionGroupPlan:
    name: str
    dpm: DpmServerState
    express_full_times_s: tuple[float, ...]  # seconds after midnight, sorted
    retention_days: int
    window_start_s: float
    window_end_s: float
    initial_replica_over_network: bool

    def occurrences(self, horizon_s: float) -> Iterator[float]:
        """Scheduled express-full times from 0 up to the horizon."""
        day = 0
        while day * DAY_S < horizon_s:
            for t in self.express_full_times_s:
                at = day * DAY_S + t
                if at >= horizon_s:
                    return
                yield at
            day += 1

    def window_end_for(self, scheduled_s: float) -> float:
        """End of the backup window that the job scheduled at ``scheduled_s`` belongs to."""
        length = (self.window_end_s - self.window_start_s) % DAY_S or DAY_S
        day_start = (scheduled_s // DAY_S) * DAY_S
        start = day_start + self.window_start_s
        if scheduled_s < start:
            start -= DAY_S
        return start + length


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
        """The VM's life under protection: every scheduled express full, with re-runs."""
        env, dpm = self.env, plan.dpm
        needs_replica = plan.initial_replica_over_network
        if not needs_replica:
            # Removable media: the replica arrives by courier before the first job.
            dpm.store(0.0, vm.used_bytes, 0.0, 0.0)
            vm.last_recovery_point_s = 0.0
        for scheduled in plan.occurrences(self.horizon_s):
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
                plan.window_end_for(at),
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
        serial = host_slot = dpm_slot = None
        start = queued
        nbytes = 0.0
        reason = ""
        try:
            if not vm.host.dpm_agent:
                raise JobFailed(f"no DPM agent on host {vm.host.name}")
            # Slots one after another in a fixed order (CSV group, host, DPM server):
            # a job holds nothing while it queues for the first, so jobs never deadlock.
            if volume.serializer is not None:
                serial = volume.serializer.request()
                yield serial
            host_slot = vm.host.backup_slots.request()
            yield host_slot
            dpm_slot = dpm.job_slots.request()
            yield dpm_slot
            start = env.now
            if kind == "initial_replica":
                nbytes = vm.used_bytes
            else:
                nbytes = vm.changed_bytes_since(vm.last_recovery_point_s or 0.0, start)
            if vm.method == "online":
                yield from self.vss.freeze_writers(vm)
                snap = yield from self.vss.take_snapshot(vm, job_id)
            else:
                snap = yield from self._saved_state_snapshot(vm, job_id)
            route = (volume.read, *self._network_route(vm, dpm), dpm.pool_write)
            yield self.flows.transfer(nbytes, route)
            yield from self.vss.release(snap)
            expiry = env.now + plan.retention_days * DAY_S
            if kind == "initial_replica":
                stored = dpm.store(env.now, nbytes, 0.0, expiry)
            else:
                stored = dpm.store(env.now, 0.0, nbytes, expiry)
            if not stored:
                raise JobFailed("DPM storage pool full")
            vm.last_recovery_point_s = start
            outcome = "succeeded"
        except (WriterTimeout, JobFailed) as exc:
            outcome, reason = "failed", str(exc)
        finally:
            if dpm_slot is not None:
                dpm.job_slots.release(dpm_slot)
            if host_slot is not None:
                vm.host.backup_slots.release(host_slot)
            if serial is not None:
                volume.serializer.release(serial)  # type: ignore[union-attr]
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
                plan.window_end_for(scheduled),
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

    def _network_route(self, vm: VirtualMachine, dpm: DpmServerState):
        source = vm.volume.file_servers[0] if vm.volume.kind == "smb" else vm.host.name
        return self.network.route(source, dpm.name)

    def _saved_state_snapshot(self, vm: VirtualMachine, job_id: int) -> Generator:
        """Offline backup: save state (memory written to the VM's storage), host
        snapshot, resume (memory read back). The VM is down throughout (facts §4)."""
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
