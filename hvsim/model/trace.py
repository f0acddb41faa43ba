"""A light trace: processes append plain tuples (slot occupancy goes to typed arrays);
results.py makes tables at the end (no pandas in the model)."""

from __future__ import annotations

from array import array
from typing import Generic, NamedTuple, TypeVar

import simpy

_Row = TypeVar("_Row")


class JobRecord(NamedTuple):
    job_id: int
    kind: str
    vm: str
    protection_group: str
    host: str
    storage: str
    dpm_server: str
    method: str
    attempt: int
    scheduled_s: float
    # The occurrence's deadline: the end of the backup window it was scheduled in, or
    # for one scheduled outside the window the group's next express full
    # (ProtectionGroupPlan.deadline_for).
    window_end_s: float
    queued_s: float
    start_s: float
    end_s: float
    bytes: float
    outcome: str
    failure_reason: str
    offline_reason: str
    # Guest-level jobs: the data source ("<vm>/sql1") and its workload (sql, exchange,
    # sharepoint, files); a host-level job's data source is its VM (filled in by the
    # results) and its workload hyperv.
    data_source: str = ""
    workload: str = "hyperv"


class DowntimeRecord(NamedTuple):
    vm: str
    job_id: int
    start_s: float
    end_s: float
    seconds: float
    save_s: float
    snapshot_s: float
    resume_s: float
    offline_reason: str


class RedirectedIoRecord(NamedTuple):
    csv: str
    vm: str  # the VM whose backup snapshot redirected the CSV
    job_id: int
    start_s: float
    end_s: float
    demand_bps: float  # I/O the other nodes' VMs on the CSV wanted
    achieved_bps: float  # what they got, on average, through the coordinator


class ScanRecord(NamedTuple):
    cluster: str
    kind: str  # initial | discovery
    dpm_server: str
    mode: str  # serialized | parallel
    start_s: float
    end_s: float
    vms_found: int
    vms_missed: int
    missed_reason: str


class ConsistencyCheckRecord(NamedTuple):
    vm: str
    protection_group: str
    trigger: str  # storage_migration | protection_repaired | schedule | request
    host: str
    storage: str
    dpm_server: str
    queued_s: float
    start_s: float
    end_s: float
    bytes_read: float  # source + replica, block by block
    bytes_sent: float  # the differing blocks
    outcome: str
    failure_reason: str


class MigrationRecord(NamedTuple):
    vm: str
    kind: str  # live | shared_nothing | storage
    trigger: str  # poisson | drain | return | event
    from_host: str
    to_host: str
    from_storage: str
    to_storage: str
    requested_s: float
    start_s: float
    end_s: float
    memory_bytes: float
    storage_bytes: float
    precopy_rounds: int
    blackout_s: float
    protection: str  # continues | broken | unprotected
    reason: str


class ProtectionBreakRecord(NamedTuple):
    vm: str
    protection_group: str
    start_s: float
    end_s: float
    reason: str


class OnDemandRecord(NamedTuple):
    number: int
    dpm_server: str
    arrival_s: float
    start_s: float
    end_s: float


class RestoreRecord(NamedTuple):
    restore_id: int
    kind: str  # as requested: whole_vm | item_level
    restored_as: str  # what was done: the kind, or whole_vm when the kind fell back
    trigger: str  # drill | poisson | event
    vm: str
    data_source: str  # the VM for a host-level restore
    protection_group: str  # empty for an unprotected VM
    dpm_server: str
    target_host: str
    target_storage: str
    original_location: bool  # the VM's VHDs replaced in place
    requested_s: float
    start_s: float  # slot held (and the VM, for an original-location restore)
    end_s: float
    rto_s: float  # end - requested; NaN when the restore failed
    rto_target_s: float  # NaN when none
    bytes: float
    recovery_point_s: float  # NaN when there was none
    recovery_point_age_s: float  # requested - recovery point: the data lost
    vm_unavailable_s: float  # an original-location whole-VM restore: start to end
    fallback: str  # empty, or why a coarser restore was done
    outcome: str  # succeeded | failed
    failure_reason: str


class TapeJobRecord(NamedTuple):
    """One long-term backup of one data source to tape (hvsim.model.tape)."""

    data_source: str  # the VM for a host-level data source, "<vm>/sql1" for a guest one
    vm: str
    workload: str  # hyperv | sql | exchange | sharepoint | files
    protection_group: str
    dpm_server: str
    drive: str  # empty when the job was skipped
    scheduled_s: float
    start_s: float  # a drive held
    end_s: float
    bytes: float  # the replica read from the pool and written to tape
    tapes: int  # a tape for each full backup job, more when it does not fit on one
    outcome: str  # succeeded | skipped
    reason: str


class OnlineJobRecord(NamedTuple):
    """An online job to Azure (hvsim.model.online) of one data source."""

    online_job_id: int
    kind: str  # seed | offline_seed | backup
    data_source: str  # the VM for a host-level data source
    vm: str
    protection_group: str
    dpm_server: str
    scheduled_s: float
    queued_s: float
    start_s: float  # slot held (an offline seed: shipped)
    end_s: float  # uploaded (an offline seed: in the vault)
    recovery_point_s: float  # the disk recovery point it copies; NaN when none
    bytes: float  # uploaded (compressed); 0 unless it succeeded
    outcome: str  # succeeded | failed | skipped
    reason: str


class OnlineDayRecord(NamedTuple):
    """A DPM server's online protection at the end of a simulated day."""

    day: int  # 1 = the end of the first day
    time_s: float  # that end (the horizon for the last, partial day)
    dpm_server: str
    upload_backlog_bytes: float  # online jobs scheduled and not yet uploaded
    vault_bytes: float
    vault_points: int


class SlotLog:
    """Job-slot occupancy at each request, grant and release: (time, slot, kind, in
    use, queued); of several rows at one time the last is the state from then on.
    Kept as typed arrays (about 32 bytes an entry, where a tuple cost about 100 and
    dominated memory on long runs). Slots register once for an index."""

    __slots__ = ("names", "kinds", "time_s", "slot", "in_use", "queued")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.kinds: list[str] = []
        self.time_s = array("d")
        self.slot = array("q")
        self.in_use = array("q")
        self.queued = array("q")

    def register(self, name: str, kind: str) -> int:
        self.names.append(name)
        self.kinds.append(kind)
        return len(self.names) - 1

    def add(self, time_s: float, slot: int, in_use: int, queued: int) -> None:
        self.time_s.append(time_s)
        self.slot.append(slot)
        self.in_use.append(in_use)
        self.queued.append(queued)

    def __len__(self) -> int:
        return len(self.time_s)


class Rows(list[_Row], Generic[_Row]):
    """A table's records in the order they were appended, and the simulated time of
    each append (``times``): the key that merges the traces of independent parts
    into the order one environment gives (hvsim.merge)."""

    __slots__ = ("_env", "times")

    def __init__(self, env: simpy.Environment | None) -> None:
        super().__init__()
        self._env = env
        self.times = array("d")

    def append(self, row: _Row) -> None:
        list.append(self, row)
        env = self._env
        self.times.append(env._now if env is not None else 0.0)


class Trace:
    __slots__ = (
        "jobs",
        "downtime",
        "redirected_io",
        "scans",
        "slot_log",
        "checks",
        "migrations",
        "breaks",
        "on_demand",
        "restores",
        "tape_jobs",
        "online_jobs",
        "online_days",
        "_next_job",
        "_env",
        "job_id_times",
    )

    def __init__(self, env: simpy.Environment | None = None) -> None:
        self._env = env
        self.checks: Rows[ConsistencyCheckRecord] = Rows(env)
        self.on_demand: Rows[OnDemandRecord] = Rows(env)
        self.restores: Rows[RestoreRecord] = Rows(env)
        self.tape_jobs: Rows[TapeJobRecord] = Rows(env)
        self.online_jobs: Rows[OnlineJobRecord] = Rows(env)
        self.online_days: Rows[OnlineDayRecord] = Rows(env)
        self.migrations: Rows[MigrationRecord] = Rows(env)
        self.breaks: Rows[ProtectionBreakRecord] = Rows(env)
        # (time, slot name, kind host|dpm|csv-group|..., in use, queued) at each request,
        # grant and release
        self.slot_log = SlotLog()
        self.scans: Rows[ScanRecord] = Rows(env)
        self.jobs: Rows[JobRecord] = Rows(env)
        self.downtime: Rows[DowntimeRecord] = Rows(env)
        self.redirected_io: Rows[RedirectedIoRecord] = Rows(env)
        self._next_job = 0
        # When each job id was handed out (id n at index n - 1).
        self.job_id_times = array("d")

    def new_job_id(self) -> int:
        self._next_job += 1
        env = self._env
        self.job_id_times.append(env._now if env is not None else 0.0)
        return self._next_job
