"""A light trace: processes append plain tuples; results.py makes tables at the end."""

from __future__ import annotations

from typing import NamedTuple


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
    window_end_s: float
    queued_s: float
    start_s: float
    end_s: float
    bytes: float
    outcome: str
    failure_reason: str
    offline_reason: str


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
        "_next_job",
    )

    def __init__(self) -> None:
        self.checks: list[ConsistencyCheckRecord] = []
        self.on_demand: list[OnDemandRecord] = []
        self.migrations: list[MigrationRecord] = []
        self.breaks: list[ProtectionBreakRecord] = []
        # (time, slot name, kind host|dpm|csv-group, in use, queued) at each change
        self.slot_log: list[tuple[float, str, str, int, int]] = []
        self.scans: list[ScanRecord] = []
        self.jobs: list[JobRecord] = []
        self.downtime: list[DowntimeRecord] = []
        self.redirected_io: list[RedirectedIoRecord] = []
        self._next_job = 0

    def new_job_id(self) -> int:
        self._next_job += 1
        return self._next_job
