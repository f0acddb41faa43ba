"""Guest-level protection: the data sources inside a VM that DPM's agent in the guest
protects (SQL Server and Exchange databases, SharePoint farms, file volumes), the
guest-level protection group's schedule, and the jobs (initial replica, log
synchronization, express full, file recovery point, SharePoint catalog, Exchange
eseutil check), each holding its job slots and moving its bytes through the same
flow sharing as host-level jobs.

What DPM keeps of each data source is its GuestReplica (hvsim.model.dpm), with its
recovery points. The agent runs inside the guest: a job reads the VM's storage and
crosses the network from the VM's host to the DPM server, into its pool. It takes
no Hyper-V snapshot, so it holds neither the host's MaxAllowedParallelBackups slots
nor the CSV's serialization, and does not hold the VM against migrations."""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from hvsim.model.dpm import FULL_POINTS, DpmServerState, GuestReplica, JobFailed, offset_times
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import Network, Parts
from hvsim.model.schedule import DAY_S, starts_before
from hvsim.model.slots import JobSlots, SlotsInOrder
from hvsim.model.trace import JobRecord, Trace
from hvsim.model.vm import VirtualMachine

if TYPE_CHECKING:
    from hvsim.scenario import schema

# SharePoint catalog: "for every 10 million items in the farm, there must be at least
# 2 GB of space" (source: dpm-sharepoint-protection): 200 bytes an item.
CATALOG_BYTES_PER_ITEM = 2e9 / 10e6
SKIPPED_BUSY = "previous job of this data source still running"
# "Any synchronization job for the selected recovery item is canceled while the
# recovery is in progress" (source: dpm-exchange-protection); applied to every kind.
SKIPPED_RESTORING = "cancelled: a recovery of this data source is running"
# Exchange 2013/2016: up to eight parallel database backups, one per protection
# group (source: dpm-exchange-protection).
EXCHANGE_PARALLEL_BACKUPS = 8


@dataclass(slots=True, eq=False, kw_only=True)
class GuestDataSource:
    """One data source in a VM's guest: what it holds, how fast it changes and what
    log it writes, and which DPM jobs protect it."""

    name: str  # "<vm>/sql1", "<vm>/exchange2", "<vm>/sharepoint1", "<vm>/files1"
    kind: str  # sql | exchange | sharepoint | files
    vm: VirtualMachine
    size_bytes: float
    daily_change: float  # fraction of size changed per day
    log_bytes_per_s: float = 0.0  # transaction log written (0: none synchronized)
    # Synchronizations between express fulls: SQL in the full recovery model and
    # Exchange (logs), file volumes (changed blocks). Each makes a recovery point for
    # SQL and Exchange (sources: dpm-sql-protection, dpm-exchange-protection); SQL in
    # the simple model and SharePoint have express fulls only (sources:
    # dpm-sql-protection, dpm-sharepoint-protection).
    synchronized: bool = False
    point_per_sync: bool = False
    databases: int = 1  # counted against the DPM server's database limit
    recovery_model: str = ""  # SQL: full | simple
    catalog_bytes: float = 0.0  # SharePoint: the catalog DPM writes for item recovery
    eseutil: str = ""  # Exchange: "" (off), "database" or "logs" (DAG copy)
    agent_cpu: float = 0.0  # share of the VM's CPU the agent uses while its job sends

    @classmethod
    def for_vm(cls, spec: schema.VmSpec, vm: VirtualMachine) -> list[GuestDataSource]:
        """The data sources of ``vm``'s guest, as its entry ``spec`` lists them,
        numbered per kind: <vm>/sql1, <vm>/sql2, ..."""
        out: list[GuestDataSource] = []
        numbered: dict[str, int] = {}

        def add(kind: str, count: int, **fields: Any) -> None:
            # ``count`` alike data sources of one entry, numbered on from the kind's last.
            for _ in range(count):
                n = numbered[kind] = numbered.get(kind, 0) + 1
                out.append(
                    cls(
                        name=f"{vm.name}/{kind}{n}",
                        kind=kind,
                        vm=vm,
                        agent_cpu=spec.agent_cpu,
                        **fields,
                    )
                )

        for s in spec.sql:
            log = s.log_per_day if s.log_per_day is not None else s.size * s.daily_change
            full = s.recovery_model == "full"
            add(
                "sql",
                s.databases,
                size_bytes=s.size,
                daily_change=s.daily_change,
                log_bytes_per_s=log / DAY_S if full else 0.0,
                synchronized=full,
                point_per_sync=full,
                recovery_model=s.recovery_model,
            )
        for e in spec.exchange:
            log = e.log_per_day if e.log_per_day is not None else e.size * e.daily_change
            add(
                "exchange",
                e.databases,
                size_bytes=e.size,
                daily_change=e.daily_change,
                log_bytes_per_s=log / DAY_S,
                synchronized=True,
                point_per_sync=True,
                eseutil=("logs" if e.dag_copies > 1 else "database") if e.eseutil else "",
            )
        for sp in spec.sharepoint:
            add(
                "sharepoint",
                sp.farms,
                size_bytes=sp.size * sp.content_databases,
                daily_change=sp.daily_change,
                databases=sp.content_databases,
                catalog_bytes=sp.items * CATALOG_BYTES_PER_ITEM,
            )
        for f in spec.files:
            add(
                "files",
                f.volumes,
                size_bytes=f.size,
                daily_change=f.daily_change,
                synchronized=True,
                databases=0,
            )
        return out

    def size_bytes_at(self, now: float) -> float:
        """Its size at ``now``, grown with its VM's data (VirtualMachine.growth_factor)."""
        return self.size_bytes * self.vm.growth_factor(now)

    def changed_bytes_since(self, t0: float, now: float) -> float:
        """Blocks changed since ``t0`` at the daily rate of the size at ``now``, at most
        that size."""
        size = self.size_bytes_at(now)
        return min(size, size * self.daily_change * (now - t0) / DAY_S)

    def log_bytes_since(self, t0: float, now: float) -> float:
        """Log written since ``t0``, at the rate of the size at ``now``."""
        return self.log_bytes_per_s * (now - t0) * self.vm.growth_factor(now)

    def catalog_bytes_at(self, now: float) -> float:
        """SharePoint's catalog at ``now``: its items grow with the data (assumption)."""
        return self.catalog_bytes * self.vm.growth_factor(now)


@dataclass(slots=True, frozen=True, eq=False)
class GuestProtectionPlan:
    """A guest-level protection group: its DPM server, its express fulls (days of the
    week and times; for file volumes, their recovery points), its synchronization
    frequency, its retention range, and for Exchange the one-backup-at-a-time slot."""

    name: str
    dpm: DpmServerState
    full_times_s: tuple[float, ...]  # seconds after midnight, sorted
    full_weekdays: frozenset[int]  # 0 = Monday
    first_weekday: int  # weekday of day 0 of the run
    sync_s: float
    retention_days: int
    initial_replica_over_network: bool
    catalog_offset_s: float
    # Exchange: one database backup at a time per group (source: dpm-exchange-protection).
    exchange_slot: JobSlots | None
    # The group's start offset modulo its sync frequency: where its synchronizations'
    # grid starts after midnight of day 0 (source: dpm-offset-start). full_times_s
    # hold the offset already.
    sync_shift_s: float = 0.0

    @classmethod
    def build(
        cls,
        spec: schema.ProtectionGroup,
        dpm: DpmServerState,
        sync_s: float,
        first_weekday: int,
        has_exchange: bool,
        parts: Parts,
    ) -> GuestProtectionPlan:
        days = spec.express_full_days or ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        return cls(
            name=spec.name,
            dpm=dpm,
            full_times_s=offset_times(set(spec.express_full_times), spec.start_offset),
            full_weekdays=frozenset(names.index(d) for d in days),
            first_weekday=first_weekday,
            sync_s=float(sync_s),
            retention_days=spec.retention_days,
            initial_replica_over_network=spec.initial_replica == "network",
            catalog_offset_s=spec.catalog_offset,
            exchange_slot=parts.slots(1, f"{spec.name}:exchange", "exchange-group")
            if has_exchange
            else None,
            sync_shift_s=spec.start_offset % float(sync_s),
        )

    def full_days(self, horizon_s: float, first_day: int = 0) -> Iterator[float]:
        """Midnight of each day with express fulls, from ``first_day``, before the
        horizon."""
        day = first_day
        while starts_before(day * DAY_S, horizon_s):
            if (self.first_weekday + day) % 7 in self.full_weekdays:
                yield day * DAY_S
            day += 1

    def occurrences(
        self, source: GuestDataSource, horizon_s: float, from_s: float = 0.0
    ) -> Iterator[tuple[float, str]]:
        """The data source's scheduled jobs, (time, kind), in time order, from its
        protection's start ``from_s`` to the horizon: express fulls (file volumes: file
        recovery points), synchronizations every sync_s from midnight of day 0 (plus
        the group's start offset modulo sync_s) for a synchronized source (one due at
        an express full's time is that express full), and for SharePoint the catalog,
        catalog_offset after each day's first express full."""
        full_kind = "file_point" if source.kind == "files" else "express_full"
        sync_kind = "sync" if source.kind == "files" else "log_sync"
        times = self.full_times_s

        def fulls() -> Iterator[tuple[float, int, str]]:
            for midnight in self.full_days(horizon_s, int(from_s // DAY_S)):
                for t in times:
                    if from_s <= midnight + t and starts_before(midnight + t, horizon_s):
                        yield midnight + t, 0, full_kind
                if source.catalog_bytes > 0 and times:
                    at = midnight + times[0] + self.catalog_offset_s
                    if from_s <= at and starts_before(at, horizon_s):
                        yield at, 2, "catalog"

        def syncs() -> Iterator[tuple[float, int, str]]:
            # Over the network, the first job (midnight of day 0, or the first sync time
            # from the protection's start) makes the replica; by removable media the
            # replica is there at the start, so the first sync is one interval later.
            shift = self.sync_shift_s
            if self.initial_replica_over_network:
                k = math.ceil((from_s - shift) / self.sync_s)
            else:
                k = math.floor((from_s - shift) / self.sync_s) + 1
            while starts_before(k * self.sync_s + shift, horizon_s):
                yield k * self.sync_s + shift, 1, sync_kind
                k += 1

        streams = [fulls(), syncs()] if source.synchronized else [fulls()]
        last_full = -1.0
        for at, _, kind in heapq.merge(*streams):
            if kind == full_kind:
                last_full = at
            elif kind == sync_kind and at == last_full:
                continue  # the express full at this time is this synchronization
            yield at, kind


# The guest-level jobs a longest_first DPM server orders by predicted duration: the
# scheduled full backups (and the first, the initial replica); synchronizations, the
# SharePoint catalog and Eseutil's checks keep arrival order (source: hp-labs-lbf
# orders backups, not the log shipping between them).
RANKED_KINDS = frozenset({"initial_replica", "express_full", "file_point"})


class GuestJobs:
    """Runs each guest data source's schedule (one process per data source, one job
    at a time), each job in its slots: the group's Exchange slot and the DPM
    server's Exchange parallelism for an Exchange database, then the DPM server's
    job slots."""

    def __init__(
        self,
        env: simpy.Environment,
        flows: FlowNetwork,
        network: Network,
        trace: Trace,
        horizon_s: float,
        parts: Parts,
    ):
        self.env = env
        self.flows = flows
        self.network = network
        self.trace = trace
        self.horizon_s = horizon_s
        self.parts = parts
        self.running = 0  # jobs queued or running; zero at the end of a run
        self._exchange_slots: dict[str, JobSlots] = {}

    def exchange_slots(self, dpm: DpmServerState) -> JobSlots:
        """The DPM server's Exchange parallelism: eight database backups at once, one
        per group (source: dpm-exchange-protection)."""
        slots = self._exchange_slots.get(dpm.name)
        if slots is None:
            slots = self._exchange_slots[dpm.name] = self.parts.slots(
                EXCHANGE_PARALLEL_BACKUPS, f"{dpm.name}:exchange", "exchange-parallel"
            )
        return slots

    def route(self, vm: VirtualMachine, dpm: DpmServerState) -> tuple[BandwidthResource, ...]:
        """The agent in the guest reads the VM's storage and sends over the network
        from the VM's host (where it runs now) to the DPM server, into its pool."""
        return (vm.volume.read, *self.network.route(vm.host.name, dpm.name), dpm.pool_write)

    def protect(self, replica: GuestReplica) -> Generator[simpy.Event, object, None]:
        """The data source's life under protection: every scheduled job before the
        horizon. A job due while the previous one still runs is skipped (its bytes go
        with the next), except the SharePoint catalog, which runs late; a
        synchronization due while a recovery of the data source runs
        (``replica.restoring``) is cancelled. A failed
        express full, file point or initial replica is re-run as DPM's auto re-run
        does (source: dpm-auto-rerun); a failed synchronization waits for the next."""
        env, plan, source = self.env, replica.plan, replica.source
        dpm = plan.dpm
        protected_from = source.vm.protected_from_s
        if protected_from > 0.0:
            # Onboarded later: no replica and no jobs before then, none at all when
            # that is at or after the horizon.
            if not starts_before(protected_from, self.horizon_s):
                return
            yield env.timeout(protected_from - env.now)
        # Protection starts: DPM allocates the data source's volumes in the pool, for
        # its data as it is now.
        now = env.now
        storage = replica.storage = dpm.storage.allocate(
            now,
            plan.name,
            source.kind,
            source.size_bytes_at(now),
            plan.retention_days,
            source.changed_bytes_since(now, now + DAY_S) + source.log_bytes_since(now, now + DAY_S),
        )
        needs_replica = plan.initial_replica_over_network
        if not needs_replica and not storage.refusal:
            # Removable media: the replica arrives by courier before the first job.
            size = source.size_bytes_at(env.now)
            storage.store(env.now, "initial_replica", size, 0.0)
            replica.size_bytes = size
            replica.last_sync_s = replica.last_full_s = env.now
            replica.add_point(env.now, "initial_replica", 0.0)
        schedule = plan.occurrences(source, self.horizon_s, protected_from)
        upcoming = next(schedule, None)
        while upcoming is not None:
            at, kind = upcoming
            upcoming = next(schedule, None)
            deadline = upcoming[0] if upcoming is not None else at + plan.sync_s
            if kind == "catalog":
                if not replica.point_time_s or replica.size_bytes <= 0:
                    continue  # the catalog follows the first recovery point
                if env.now < at:
                    yield env.timeout(at - env.now)
                yield from self.run_job(replica, kind, 1, at, deadline)
                continue
            if env.now > at:
                self._record_skipped(replica, kind, at, deadline, SKIPPED_BUSY)
                continue
            yield env.timeout(at - env.now)
            if replica.restoring and kind in ("log_sync", "sync"):
                self._record_skipped(replica, kind, at, deadline, SKIPPED_RESTORING)
                continue
            if needs_replica:
                kind = "initial_replica"
            reruns = dpm.auto_rerun_attempts if kind in FULL_POINTS else 0
            for attempt in range(1, reruns + 2):
                ok = yield from self.run_job(replica, kind, attempt, at, deadline)
                if ok:
                    needs_replica = needs_replica and kind != "initial_replica"
                    break
                if attempt <= reruns:
                    yield env.timeout(dpm.auto_rerun_delay_s)

    def run_job(
        self, replica: GuestReplica, kind: str, attempt: int, scheduled: float, deadline: float
    ) -> Generator[simpy.Event, object, bool]:
        env, plan, source = self.env, replica.plan, replica.source
        dpm, vm = plan.dpm, source.vm
        exchange = source.kind == "exchange"
        job_id = self.trace.new_job_id()
        queued = start = env.now
        self.running += 1
        nbytes = 0.0
        outcome, reason = "succeeded", ""
        verify: tuple[int, float, float, float] | None = None  # (id, start, end, bytes)
        try:
            if replica.storage is not None and replica.storage.refusal:
                raise JobFailed(replica.storage.refusal)  # no volumes in the pool
            priority = None
            if dpm.job_order == "longest_first" and kind in RANKED_KINDS:
                priority = self.predicted_duration(replica, kind)
            with SlotsInOrder(
                plan.exchange_slot,
                self.exchange_slots(dpm) if exchange else None,
                dpm.job_slots,
                priority=priority,
            ) as slots:
                # The job's own yields, no generator between (events per job, issue 18).
                req = slots.next_request()
                while req is not None:
                    yield req
                    req = slots.next_request()
                start = env.now
                nbytes = self._job_bytes(replica, kind, start)
                yield self.flows.transfer(nbytes, self.route(vm, dpm))
                if kind == "catalog":  # DPM's work, not the agent's: no agent CPU
                    replica.catalog_s = start
                else:
                    replica.agent_cpu_s += (env.now - start) * source.agent_cpu
                    assert replica.storage is not None  # allocated when protection started
                    first = kind == "initial_replica"
                    # The replica grows with the data source (0 without growth).
                    grown = 0.0 if first else source.size_bytes_at(start) - replica.size_bytes
                    refused = replica.storage.store(
                        env.now, kind, nbytes if first else grown, 0.0 if first else nbytes, start
                    )
                    if refused:
                        raise JobFailed(refused)
                    verify = yield from self._eseutil(replica, kind, nbytes, start)
                    self._made(replica, kind, start, nbytes)
                    if kind in RANKED_KINDS:
                        replica.last_full_duration_s = env.now - start
        except JobFailed as exc:
            outcome, reason = "failed", str(exc)
        self.running -= 1
        self._record(
            replica,
            job_id,
            kind,
            attempt,
            scheduled,
            deadline,
            queued,
            start,
            nbytes,
            outcome,
            reason,
        )
        if verify is not None:
            vid, vstart, vend, vbytes = verify
            self._record(
                replica,
                vid,
                "eseutil",
                1,
                scheduled,
                deadline,
                vstart,
                vstart,
                vbytes,
                "succeeded",
                "",
                end=vend,
            )
        return outcome == "succeeded"

    def predicted_duration(self, replica: GuestReplica, kind: str) -> float:
        """A longest_first server's prediction of a guest-level express full's (file
        point's, initial replica's) duration, as for host-level backups (source:
        hp-labs-lbf): the data source's last successful one's, start to end; before
        one, the bytes it would send if it started now over the pool's write rate
        (assumption)."""
        if replica.last_full_duration_s is not None:
            return replica.last_full_duration_s
        nbytes = self._job_bytes(replica, kind, self.env.now)
        return nbytes / replica.plan.dpm.pool_write.capacity_bps

    def _job_bytes(self, replica: GuestReplica, kind: str, now: float) -> float:
        """What a job sends: the whole data source (initial replica); the log since the
        last synchronization (log sync); the blocks changed since the last express full
        (express full), for Exchange with the log since the last synchronization, which
        the full backup takes and truncates; a file volume's blocks changed since its
        last synchronization (sync, file point); the SharePoint catalog."""
        source = replica.source
        if kind == "initial_replica":
            return source.size_bytes_at(now)
        if kind == "log_sync":
            return source.log_bytes_since(replica.last_sync_s, now)
        if kind in ("sync", "file_point"):
            return source.changed_bytes_since(replica.last_sync_s, now)
        if kind == "catalog":
            return source.catalog_bytes_at(now)
        full = source.changed_bytes_since(replica.last_full_s, now)
        if source.kind == "exchange":
            full += source.log_bytes_since(replica.last_sync_s, now)
        return full

    def _made(self, replica: GuestReplica, kind: str, start: float, nbytes: float) -> None:
        """A successful job: DPM's change clocks move to its start, and it makes a
        recovery point (each synchronization for SQL in full recovery and Exchange)."""
        source = replica.source
        # The replica holds the data source as of this job's start.
        replica.size_bytes = source.size_bytes_at(start)
        if kind == "initial_replica":
            replica.last_sync_s = replica.last_full_s = start
            replica.add_point(start, kind, nbytes)
        elif kind in ("log_sync", "sync"):
            replica.last_sync_s = start
            if source.point_per_sync:
                replica.add_point(start, kind, nbytes)
        elif kind == "file_point":
            replica.last_sync_s = start
            replica.add_point(start, kind, nbytes)
        else:  # express_full
            replica.last_full_s = start
            if source.kind == "exchange":
                replica.last_sync_s = start
            replica.add_point(start, kind, nbytes)

    def _eseutil(
        self, replica: GuestReplica, kind: str, nbytes: float, start: float
    ) -> Generator[simpy.Event, object, tuple[int, float, float, float] | None]:
        """Exchange with 'Run Eseutil': DPM checks the replica on the DPM server after
        the transfer, inside the same job and its slots, reading the pool at most at
        eseutil_rate (source: eseutil-throughput). After an express full or initial
        replica it reads the database (a DAG copy: log files only, source:
        dpm-exchange-protection); after a synchronization, the log it brought."""
        source = replica.source
        if not source.eseutil:
            return None
        dpm = replica.plan.dpm
        if kind in ("express_full", "initial_replica") and source.eseutil == "database":
            read = source.size_bytes_at(start)
        elif kind == "initial_replica":
            read = 0.0
        elif kind == "express_full":
            read = source.log_bytes_since(replica.last_sync_s, start)
        else:
            read = nbytes
        job_id = self.trace.new_job_id()
        begin = self.env.now
        yield self.flows.transfer(read, (dpm.pool_read,), cap_bps=dpm.eseutil_rate_bps)
        return job_id, begin, self.env.now, read

    def _record_skipped(
        self, replica: GuestReplica, kind: str, at: float, deadline: float, reason: str
    ) -> None:
        self._record(
            replica,
            self.trace.new_job_id(),
            kind,
            0,
            at,
            deadline,
            at,
            at,
            0.0,
            "skipped",
            reason,
            end=at,
        )

    def _record(
        self,
        replica: GuestReplica,
        job_id: int,
        kind: str,
        attempt: int,
        scheduled: float,
        deadline: float,
        queued: float,
        start: float,
        nbytes: float,
        outcome: str,
        reason: str,
        end: float | None = None,
    ) -> None:
        source, plan = replica.source, replica.plan
        vm = source.vm
        self.trace.jobs.append(
            JobRecord(
                job_id,
                kind,
                vm.name,
                plan.name,
                vm.host.name,
                vm.volume.name,
                plan.dpm.name,
                "guest",
                attempt,
                scheduled,
                deadline,
                queued,
                start,
                self.env.now if end is None else end,
                nbytes if outcome == "succeeded" else 0.0,
                outcome,
                reason,
                "",
                source.name,
                source.kind,
            )
        )
