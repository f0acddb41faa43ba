"""DPM: its servers and their storage pools, protection groups and their schedules,
the Replica it keeps of each protected VM, when a replica needs a consistency check,
and the jobs themselves (initial replica, express full, online or in saved state;
consistency check), each holding its job slots."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from hvsim.model.dpm_rules import keeps_vms_online
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import Network, Parts, SmbShareVolume
from hvsim.model.pool import DataSourceStorage, StoragePool
from hvsim.model.schedule import DAY_S, daily, starts_before
from hvsim.model.slots import JobSlots, SlotsInOrder
from hvsim.model.trace import ConsistencyCheckRecord, DowntimeRecord, JobRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.model.vss import HostSnapshot, VssCoordinator, WriterTimeout

if TYPE_CHECKING:
    from hvsim.model.guest import GuestDataSource, GuestProtectionPlan
    from hvsim.scenario import schema


class JobFailed(Exception):
    pass


def check_agents(vm: VirtualMachine) -> None:
    """What DPM needs on the machines that serve the VM (source: seed-article)."""
    if not vm.host.dpm_agent:
        raise JobFailed(f"no DPM agent on host {vm.host.name}")
    volume = vm.volume
    if isinstance(volume, SmbShareVolume):
        if volume.file_servers_without_agent:
            raise JobFailed(
                f"no DPM agent on file server {volume.file_servers_without_agent[0]} "
                f"of share {volume.name}"
            )
        if not volume.file_server_vss_agent:
            raise JobFailed(f"File Server VSS Agent Service not enabled for share {volume.name}")


def check_protection(replica: Replica, now: float) -> None:
    """Whether DPM can back the VM up now: protection not broken, the VM not being
    migrated, the replica consistent."""
    if now < replica.broken_until_s:
        raise JobFailed(f"protection broken by a migration: {replica.broken_reason}")
    if replica.vm.migrating:
        # Hyper-V runs one operation on a VM at a time. Source: a VM in Hyper-V's
        # "Backing up" state cannot be live-migrated (source: hyperv-backing-up-lock);
        # that the backup fails when the VM is migrating, and DPM's auto-rerun retries
        # it (source: dpm-auto-rerun), is our assumption from the same lock.
        raise JobFailed("VM is being migrated")
    if replica.inconsistent or replica.check_pending:
        raise JobFailed("replica inconsistent: consistency check required")
    if replica.restoring:
        # DPM cancels the synchronization of a data source while it is recovered
        # (published for Exchange, source: dpm-exchange-restore; applied to a VM whose
        # VHDs a restore is replacing).
        raise JobFailed("VM is being restored to its original location")


@dataclass(slots=True, eq=False, kw_only=True)
class DpmServerState:
    """A DPM server: its version, its storage pool (bandwidth and the bytes it
    holds), its job slots, its automatic re-runs and its integration with VMM."""

    name: str
    path: str  # its place in the scenario, e.g. "dpm_servers[0]"
    version: str
    update_rollup: int
    pool_write: BandwidthResource
    pool_read: BandwidthResource
    pool_capacity_bytes: float
    job_slots: JobSlots
    auto_rerun_delay_s: float
    auto_rerun_attempts: int
    # DPM-VMM integration (what protection across migrations needs)
    vmm_server: str | None = None
    vmm_console_installed: bool = False
    vmm_console_version_matches: bool = True
    vmm_helper_running: bool = False
    protection_repair_s: float = 86400.0
    # Item-level recovery mounts a recovery point's VHD on the DPM server, which needs
    # the Hyper-V role there (source: dpm-hyperv-restore).
    hyper_v_role: bool = False
    # The pool's volumes and what they hold (hvsim.model.pool); build makes it.
    storage: StoragePool = field(default_factory=lambda: StoragePool(name="", capacity_bytes=0.0))
    # Guest-level protection: Eseutil's rate per check on this server, and whether
    # data sources share volumes (co-location).
    eseutil_rate_bps: float = 225e6  # (source: eseutil-throughput); build sets the scenario's
    colocate: bool = False
    # The order of its waiting backup jobs: "dpm" (first come, first served) or
    # "longest_first" (the longest predicted first, source: hp-labs-lbf).
    job_order: str = "dpm"

    def __post_init__(self) -> None:
        if not self.storage.name:  # built without one: a pool of the server's capacity
            self.storage = StoragePool(
                name=self.name, capacity_bytes=self.pool_capacity_bytes, colocate=self.colocate
            )

    @classmethod
    def build(
        cls, spec: schema.DpmServer, index: int, parts: Parts, horizon_s: float = 0.0
    ) -> DpmServerState:
        path = f"dpm_servers[{index}]"
        pool = spec.pool
        # Without a read rate of its own, the pool reads as fast as it writes.
        read_field = f"{path}.pool.read" if pool.read is not None else f"{path}.pool.write"
        return cls(
            name=spec.name,
            path=path,
            version=spec.version,
            update_rollup=spec.update_rollup,
            pool_write=parts.bandwidth(
                f"{spec.name}:pool-write", "pool", pool.write, f"{path}.pool.write"
            ),
            pool_read=parts.bandwidth(
                f"{spec.name}:pool-read", "pool", pool.read or pool.write, read_field
            ),
            pool_capacity_bytes=pool.capacity,
            job_slots=parts.slots(spec.max_parallel_jobs, spec.name, "dpm"),
            auto_rerun_delay_s=spec.auto_rerun_delay,
            auto_rerun_attempts=spec.auto_rerun_attempts,
            vmm_server=spec.vmm.vmm_server,
            vmm_console_installed=spec.vmm.console_installed,
            vmm_console_version_matches=spec.vmm.console_version_matches,
            vmm_helper_running=spec.vmm.helper_service_running,
            protection_repair_s=spec.protection_repair_time,
            hyper_v_role=spec.hyper_v_role,
            eseutil_rate_bps=spec.eseutil_rate,
            colocate=spec.colocate,
            job_order=spec.job_order,
            storage=StoragePool(
                name=spec.name,
                capacity_bytes=pool.capacity,
                thin=pool.allocation == "thin",
                colocate=spec.colocate,
                horizon_s=horizon_s,
            ),
        )

    def used_bytes(self, now: float) -> float:
        """Bytes the pool holds (replicas and retained recovery points)."""
        return self.storage.used_bytes

    @property
    def pool_peak_bytes(self) -> float:
        return self.storage.peak_used_bytes

    @property
    def replica_bytes(self) -> float:
        return sum(t.used_bytes for t in self.storage.totals.values() if t.kind == "replica")

    @property
    def recovery_point_bytes(self) -> float:
        return self.storage.used_bytes - self.replica_bytes


def offset_times(times_s: Iterable[float], offset_s: float) -> tuple[float, ...]:
    """A group's times of day moved ``offset_s`` later (DPM's "Offset start time by",
    source: dpm-offset-start), a time pushed past midnight to that clock time, sorted.
    Without an offset, the times sorted, as they always were."""
    if not offset_s:
        return tuple(sorted(times_s))
    return tuple(sorted((t + offset_s) % DAY_S for t in times_s))


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

    @classmethod
    def build(cls, spec: schema.ProtectionGroup, dpm: DpmServerState) -> ProtectionGroupPlan:
        return cls(
            spec.name,
            dpm,
            offset_times(spec.express_full_times, spec.start_offset),
            spec.retention_days,
            spec.backup_window.start,
            spec.backup_window.end,
            spec.initial_replica == "network",
            spec.rpo,
            spec.auto_consistency_check,
            spec.consistency_check_time,
        )

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


@dataclass(slots=True, eq=False, kw_only=True)
class Replica:
    """DPM's copy of one protected VM on its DPM server, and what DPM knows of it:
    how it backs the VM up, when it last synchronised, the recovery points made, and
    whether the replica is consistent or its protection broken. One per protected VM
    (a host-level data source)."""

    vm: VirtualMachine
    plan: ProtectionGroupPlan
    method: str  # "online" (child partition snapshot) or "offline" (saved state)
    offline_reason: str  # why offline: every failed online requirement
    consistency: str  # what its recovery points hold: application, file or crash
    size_bytes: float = 0.0  # on the DPM server (0: no replica yet)
    # Change tracking: bytes changed since this time go in the next express full.
    last_sync_s: float = 0.0
    recovery_points_s: list[float] = field(default_factory=list)
    inconsistent: bool = False
    check_pending: bool = False
    broken_until_s: float = -1.0
    broken_reason: str = ""
    # A whole-VM restore to the original location is replacing the VM's VHDs
    # (hvsim.model.restore): its backups fail meanwhile.
    restoring: bool = False
    # Its volumes in the DPM server's pool, allocated when its protection starts.
    storage: DataSourceStorage | None = None
    # How long its last successful backup took, start to end (None before one): a
    # longest_first DPM server's prediction of its next (source: hp-labs-lbf).
    last_job_duration_s: float | None = None

    def latest_point_s(self, at_s: float) -> float | None:
        """When the latest recovery point made at or before ``at_s`` was made, if the
        pool keeps it now (``DataSourceStorage.keeps``: retention counts days with a
        point, source: dpm-auto-grow), else None. ``at_s`` is now: a restore asks at
        its request. O(log n)."""
        times = self.recovery_points_s
        i = bisect_right(times, at_s) - 1
        if i < 0 or self.storage is None or not self.storage.keeps(times[i]):
            return None
        return times[i]

    @classmethod
    def for_vm(cls, vm: VirtualMachine, plan: ProtectionGroupPlan) -> Replica:
        """``vm`` protected in ``plan``'s group: online when it meets the seven
        requirements or its DPM server keeps VMs running, otherwise in saved state
        with every failed requirement as the reason."""
        dpm = plan.dpm
        kept_running = keeps_vms_online(dpm.version, dpm.update_rollup, vm.host.os)
        reason = vm.failed_requirement()
        offline = reason is not None and not kept_running
        # DPM 2012 R2 UR3+ on WS2012 R2 backs the VM up while it keeps running
        # (source: dpm-ur3-online); Linux and VSS-less guests are then file/crash consistent.
        return cls(
            vm=vm,
            plan=plan,
            method="offline" if offline else "online",
            offline_reason=reason if offline and reason is not None else "",
            consistency=cls.recovery_point_consistency(vm, kept_running),
        )

    @staticmethod
    def recovery_point_consistency(vm: VirtualMachine, kept_running: bool) -> str:
        """What a protected VM's recovery points hold, "application", "file" or
        "crash", when its DPM server keeps VMs running whatever fails
        (``kept_running``: DPM 2012 R2 UR3+ on WS2012 R2, source: dpm-ur3-online) or not.

        - All seven requirements met: a child-partition snapshot; the VSS request goes
          through the Backup integration service to the guest's writers, which flush,
          so the point is application-consistent (source: seed-article).
        - A requirement fails and the VM is backed up in saved state: application.
          The VM is saved (memory, devices and disks at one instant) and resumes, so
          nothing is in flight; restored, it resumes where it was saved. The seed
          article: "the only way to ensure a good backup is to perform an offline
          backup". A stopped VM's disks are at rest: the same, with either DPM.
        - Kept running although a requirement fails (source: dpm-ur3-online: the offline
          rules no longer apply): a Linux guest is file-consistent ("Linux VMs (DPM
          2012 R2): file-consistent only", same source) when its
          Backup integration service is on, since that service's VSS daemon
          (hv_vss_daemon) freezes the guest's file systems for the snapshot; without
          it the host falls back to a standard snapshot (source:
          linux-hv-vss-daemon), crash-consistent. Any other failure (no VSS in the guest,
          integration service off, dynamic disks, a volume not NTFS, ...) leaves a
          snapshot of disks in use that nothing flushed: crash-consistent.
        """
        if not kept_running or not vm.running or not vm.failed_requirements():
            return "application"
        if vm.guest_os == "linux" and vm.backup_integration_service:
            return "file"
        return "crash"


# Recovery points a restore starts from, with no log to replay before them.
FULL_POINTS = frozenset({"initial_replica", "express_full", "file_point"})


@dataclass(slots=True, eq=False, kw_only=True)
class GuestReplica:
    """DPM's copy of one guest data source (a SQL or Exchange database, a SharePoint
    farm, a file volume) on its DPM server: its size there, DPM's change clocks, and
    its recovery points, oldest first, each (time, kind, bytes). Kinds:
    initial_replica, express_full and file_point are whole points; log_sync points
    (SQL in full recovery, Exchange) need the whole point before them and every
    log_sync since, replayed in order (source: dpm-sql-protection)."""

    source: GuestDataSource
    plan: GuestProtectionPlan
    size_bytes: float = 0.0  # on the DPM server (0: no replica yet)
    last_sync_s: float = 0.0  # log (or, for files, changed blocks) sent up to here
    last_full_s: float = 0.0  # changed blocks sent by express fulls up to here
    point_time_s: list[float] = field(default_factory=list)
    point_kind: list[str] = field(default_factory=list)
    point_bytes: list[float] = field(default_factory=list)
    # Set while a recovery of this data source runs: DPM cancels its synchronizations
    # meanwhile (source: dpm-exchange-protection). Set and cleared by restores.
    restoring: bool = False
    # SharePoint: the start of the latest catalog job that has ended (None: none yet);
    # item-level recovery needs the catalog and finds the points made before it
    # (source: dpm-sharepoint-protection).
    catalog_s: float | None = None
    # CPU-seconds of the VM's CPU that DPM's agent spent sending this data source's
    # jobs (the job's transfer time x its VM's agent_cpu share).
    agent_cpu_s: float = 0.0
    # Its volumes in the DPM server's pool, allocated when its protection starts.
    storage: DataSourceStorage | None = None
    # How long its last successful express full (file point, initial replica) took,
    # start to end (None before one): a longest_first server's prediction of its next
    # (source: hp-labs-lbf).
    last_full_duration_s: float | None = None

    def add_point(self, time_s: float, kind: str, nbytes: float) -> None:
        self.point_time_s.append(time_s)
        self.point_kind.append(kind)
        self.point_bytes.append(nbytes)

    def latest_made(self, at_s: float) -> int:
        """The index of the latest recovery point made at or before ``at_s``, kept or
        not (-1: none). O(log n)."""
        return bisect_right(self.point_time_s, at_s) - 1

    def kept(self, i: int) -> bool:
        """Whether the pool keeps recovery point ``i`` now (``DataSourceStorage.keeps``:
        retention counts days with a point, not calendar days, source: dpm-auto-grow).
        O(1)."""
        storage = self.storage
        # Allocated when protection starts, before the first point.
        assert storage is not None, "a data source with recovery points has pool volumes"
        return storage.keeps(self.point_time_s[i])

    def latest_point(self, at_s: float) -> int | None:
        """The index of the latest recovery point made at or before ``at_s`` that the
        pool keeps now, or None. ``at_s`` is now: a restore asks at its request."""
        i = self.latest_made(at_s)
        if i < 0 or not self.kept(i):
            return None
        return i

    def restore_chain(self, at_s: float) -> tuple[int, list[int]] | None:
        """What restoring the latest point at ``at_s`` (now) reads: (the whole point at
        or before it, the log_sync points after that whole point up to the latest one,
        in order). None without a kept point or a whole point under it.

        The whole point need not be kept itself (assumption: each recovery point is a
        shadow copy of the replica, which holds the database files as of the last
        express full and the log since, so DPM expires points one by one with no
        chain between them, and a kept log_sync point restores without the older
        point). With 1-day retention the first sync of a day makes yesterday's express
        full expire; the morning's points still restore from yesterday's full and
        today's log."""
        latest = self.latest_point(at_s)
        if latest is None:
            return None
        kinds = self.point_kind
        i = latest
        while i >= 0 and kinds[i] not in FULL_POINTS:
            i -= 1
        if i < 0:
            return None
        return i, list(range(i + 1, latest + 1))


@dataclass(slots=True, frozen=True)
class SavedStateSettings:
    save_overhead_s: float
    resume_overhead_s: float

    @classmethod
    def build(cls, spec: schema.SavedState) -> SavedStateSettings:
        return cls(spec.save_overhead, spec.resume_overhead)


class BackupJobs:
    """Runs each protected VM's schedule (one process per VM, one job at a time) and
    its consistency checks, when DPM's policy calls for one."""

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

    def protect(self, replica: Replica) -> Generator[simpy.Event, object, None]:
        """The VM's life under protection: every express full scheduled before the
        horizon, with its automatic re-runs. A re-run may start after the horizon: it
        finishes an occurrence that started before it (DPM re-runs the failed job,
        source: dpm-auto-rerun), so whether that recovery point was made is known and the last
        night is judged like the others, not cut short by where the run ends."""
        env, vm, plan = self.env, replica.vm, replica.plan
        dpm = plan.dpm
        protected_from = vm.protected_from_s
        if protected_from > 0.0:
            # Onboarded later: no replica and no jobs before then, none at all when
            # that is at or after the horizon.
            if not starts_before(protected_from, self.horizon_s):
                return
            yield env.timeout(protected_from - env.now)
        # Protection starts: DPM allocates the VM's volumes in the pool, for its data
        # as it is now.
        storage = replica.storage = dpm.storage.allocate(
            env.now,
            plan.name,
            "hyperv",
            vm.used_bytes_at(env.now),
            plan.retention_days,
            vm.changed_bytes_since(env.now, env.now + DAY_S),
        )
        needs_replica = plan.initial_replica_over_network
        if not needs_replica and not storage.refusal:
            # Removable media: the replica arrives by courier before the first job.
            size = vm.used_bytes_at(env.now)
            storage.store(env.now, "initial_replica", size, 0.0)
            replica.last_sync_s = env.now
            replica.size_bytes = size
        first_day = int(protected_from // DAY_S)
        for scheduled in daily(plan.express_full_times_s, self.horizon_s, first_day=first_day):
            if scheduled < protected_from:
                continue  # before its protection started: not an occurrence of it
            if env.now > scheduled:
                self._record_skipped(replica, scheduled)
                continue
            yield env.timeout(scheduled - env.now)
            for attempt in range(1, dpm.auto_rerun_attempts + 2):
                kind = "initial_replica" if needs_replica else "express_full"
                ok = yield from self.run_job(replica, kind, attempt, scheduled)
                if ok:
                    needs_replica = False
                    break
                if attempt <= dpm.auto_rerun_attempts:
                    yield env.timeout(dpm.auto_rerun_delay_s)

    def _record_skipped(self, replica: Replica, at: float) -> None:
        vm, plan = replica.vm, replica.plan
        self.trace.jobs.append(
            JobRecord(
                self.trace.new_job_id(),
                "express_full",
                vm.name,
                plan.name,
                vm.host.name,
                vm.volume.name,
                plan.dpm.name,
                replica.method,
                0,
                at,
                plan.deadline_for(at),
                at,
                at,
                at,
                0.0,
                "skipped",
                "previous job of this VM still running",
                replica.offline_reason,
            )
        )

    def run_job(
        self, replica: Replica, kind: str, attempt: int, scheduled: float
    ) -> Generator[simpy.Event, object, bool]:
        env, vm, plan = self.env, replica.vm, replica.plan
        dpm, volume = plan.dpm, vm.volume
        job_id = self.trace.new_job_id()
        queued = env.now
        self.running += 1
        busy = None
        start = queued
        nbytes = 0.0
        reason = ""
        try:
            check_agents(vm)
            if replica.storage is not None and replica.storage.refusal:
                raise JobFailed(replica.storage.refusal)  # no volumes in the pool
            priority = None
            if dpm.job_order == "longest_first":
                priority = self.predicted_duration(replica, kind)
            with self.job_slots(vm, dpm, priority) as slots:
                # The job's own yields, no generator between (events per job, issue 18).
                req = slots.next_request()
                while req is not None:
                    yield req
                    req = slots.next_request()
                start = env.now
                volume = vm.volume
                check_protection(replica, start)
                busy = vm.hold(env)
                # The replica will hold the VM as of this job's snapshot.
                size = vm.used_bytes_at(start)
                if kind == "initial_replica":
                    nbytes = size
                else:
                    nbytes = vm.changed_bytes_since(replica.last_sync_s, start)
                if replica.method == "online":
                    snap = yield from self.vss.freeze_and_snapshot(vm, job_id)
                else:
                    snap = yield from self._saved_state_snapshot(replica, job_id)
                yield self.flows.transfer(nbytes, self.backup_route(vm, dpm))
                release_s = self.vss.settings.release_s
                if release_s > 0:
                    yield env.timeout(release_s)
                self.vss.released(snap)
                assert replica.storage is not None  # allocated when protection started
                first = kind == "initial_replica"
                # An express full's replica grows with the VM's data (0 without growth).
                grown = size - replica.size_bytes
                refused = replica.storage.store(
                    env.now, kind, nbytes if first else grown, 0.0 if first else nbytes, start
                )
                if refused:
                    raise JobFailed(refused)
                replica.size_bytes = size
                replica.last_sync_s = start
                replica.recovery_points_s.append(start)
                replica.last_job_duration_s = env.now - start
                outcome = "succeeded"
        except (WriterTimeout, JobFailed) as exc:
            outcome, reason = "failed", str(exc)
        finally:
            if busy is not None:
                vm.unhold(busy)
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
                replica.method,
                attempt,
                scheduled,
                plan.deadline_for(scheduled),
                queued,
                start,
                env.now,
                nbytes if outcome == "succeeded" else 0.0,
                outcome,
                reason,
                replica.offline_reason,
            )
        )
        return outcome == "succeeded"

    def backup_route(
        self, vm: VirtualMachine, dpm: DpmServerState
    ) -> tuple[BandwidthResource, ...]:
        """Source volume read, the network to the DPM server, the pool's write. A VM on
        an SMB share is read by the file server, over its own links."""
        volume = vm.volume
        if isinstance(volume, SmbShareVolume):
            source = volume.file_servers[0]
        else:
            source = vm.host.name
        return (volume.read, *self.network.route(source, dpm.name), dpm.pool_write)

    @staticmethod
    def job_slots(
        vm: VirtualMachine, dpm: DpmServerState, priority: float | None = None
    ) -> SlotsInOrder:
        """The slots a DPM job on ``vm`` holds, in the order every job takes them: the
        CSV's group when its backups are serialized (DataSourceGroups.xml), the host's
        (MaxAllowedParallelBackups), the DPM server's; ``priority``, a backup's
        predicted duration on a longest_first server, goes to each."""
        return SlotsInOrder(
            vm.volume.serializer, vm.host.backup_slots, dpm.job_slots, priority=priority
        )

    def predicted_duration(self, replica: Replica, kind: str) -> float:
        """A longest_first server's prediction of a backup's duration, from history as
        LBF's (source: hp-labs-lbf): the data source's previous successful job's, start
        to end; before it has one, the bytes the job would move if it started now over
        the pool's write rate (assumption: the pool is the server's common
        bottleneck, and the only rate the server knows of every job)."""
        if replica.last_job_duration_s is not None:
            return replica.last_job_duration_s
        vm, now = replica.vm, self.env.now
        if kind == "initial_replica":
            nbytes = vm.used_bytes_at(now)
        else:
            nbytes = vm.changed_bytes_since(replica.last_sync_s, now)
        return nbytes / replica.plan.dpm.pool_write.capacity_bps

    # -- consistency checks ----------------------------------------------------
    def mark_inconsistent(self, replica: Replica, trigger: str) -> None:
        """The replica needs a consistency check (its VM's storage moved, its
        protection was repaired); with auto consistency check on, one starts now,
        unless now is at or after the horizon: the replica then stays inconsistent,
        the truth at the horizon (source: dpm-consistency-check)."""
        replica.inconsistent = True
        if (
            replica.plan.auto_consistency_check
            and not replica.check_pending
            and starts_before(self.env.now, self.horizon_s)
        ):
            self.env.process(self.consistency_check(replica, trigger))

    def scheduled_checks(
        self, plan: ProtectionGroupPlan, replicas: Sequence[Replica]
    ) -> Generator[simpy.Event, object, None]:
        """The group's daily consistency check: only inconsistent replicas
        (source: dpm-consistency-check)."""
        env = self.env
        for at in daily((plan.consistency_check_time_s or 0.0,), self.horizon_s):
            if at < env.now:
                continue
            yield env.timeout(at - env.now)
            for replica in replicas:
                if replica.inconsistent and not replica.check_pending:
                    env.process(self.consistency_check(replica, "schedule"))

    def consistency_check(
        self, replica: Replica, trigger: str
    ) -> Generator[simpy.Event, object, None]:
        """Read the whole source and the whole replica block by block (both reads share
        bandwidth with everything else), compare checksums, send the differing blocks
        (source: dpm-consistency-check). Runs as a DPM job in the same slots as backups."""
        env, vm, plan = self.env, replica.vm, replica.plan
        dpm = plan.dpm
        if replica.size_bytes <= 0:
            replica.inconsistent = False  # no replica yet: the initial replica will make one
            return
        self.running += 1
        replica.check_pending = True
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
                busy = vm.hold(env)
                source = vm.used_bytes_at(start)
                size = replica.size_bytes
                yield env.all_of(
                    [
                        self.flows.transfer(source, (vm.volume.read,)),
                        self.flows.transfer(size, (dpm.pool_read,)),
                    ]
                )
                read = source + size
                sent = vm.changed_bytes_since(replica.last_sync_s, start)
                yield self.flows.transfer(sent, self.backup_route(vm, dpm))
                if source > size and replica.storage is not None:
                    # The VM's data grew since the replica's last job: so does the
                    # replica on the pool (never without growth).
                    refused = replica.storage.grow_replica(env.now, source - size)
                    if refused:
                        raise JobFailed(refused)
                replica.inconsistent = False
                replica.last_sync_s = start
                replica.size_bytes = source
        except JobFailed as exc:
            outcome, reason = "failed", str(exc)
        finally:
            replica.check_pending = False
            if busy is not None:
                vm.unhold(busy)
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

    def _saved_state_snapshot(
        self, replica: Replica, job_id: int
    ) -> Generator[simpy.Event, object, HostSnapshot]:
        """Offline backup: save state (memory written to the VM's storage), host
        snapshot, resume (memory read back). The VM is down throughout (source: saved-state)."""
        env, vm = self.env, replica.vm
        volume = vm.volume
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
                replica.offline_reason,
            )
        )
        return snap
