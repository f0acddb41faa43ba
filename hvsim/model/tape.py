"""Long-term protection to tape (D2D2T): a DPM server's tape library (drives, each
writing at its own rate), each protection group's long-term schedule and retention
range, and the tape jobs.

A long-term backup from disk is taken from the replica on the DPM pool, not from the
protected server (source: dpm-tape-planning): a tape job reads the replica through
the pool's read side, shared with consistency checks, restores and the other tape
jobs, and writes to one drive of the library, so its rate is the smaller of its
drive's rate and its share of the pool's read (one FlowNetwork transfer over both).
A job holds a drive from its start to its end: first one of the group's allocated
drives (Set-DPMTapeBackupOption -DrivesAllocated), then one of the library's, as
job slots taken in that order.

Tapes: "Long-term backups to tape allocate a tape for each full backup job", and
"to plan for the number of tapes required for a protection group, multiply the
required backup frequency by the retention range" (source: dpm-tape-planning). hvsim
counts per data source: a full that does not fit on one tape takes
ceil(bytes / tape capacity) tapes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import heapq
import math
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import simpy

from hvsim.model.dpm import DpmServerState, GuestReplica, Replica
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import Parts
from hvsim.model.schedule import DAY_S, daily, starts_before
from hvsim.model.slots import JobSlots, SlotsInOrder
from hvsim.model.trace import TapeJobRecord, Trace

if TYPE_CHECKING:
    from hvsim.scenario import schema

# Long-term fulls a year at each frequency, and retention units a year: DPM's rule
# multiplies the one by the retention range in the other (source: dpm-tape-planning).
FULLS_PER_YEAR = {"weekly": 52, "monthly": 12, "yearly": 1}
UNITS_PER_YEAR = {"weeks": 52, "months": 12, "years": 1}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
SKIPPED_NO_REPLICA = "no replica on the DPM server yet"


def fulls_kept(frequency: str, unit: str, value: int) -> int:
    """Long-term fulls of one data source kept at once: the backup frequency times the
    retention range (source: dpm-tape-planning), rounded up to whole fulls. Weekly
    kept 12 weeks: 52/year x 12/52 year = 12; monthly kept 7 years: 12 x 7 = 84."""
    return math.ceil(Fraction(FULLS_PER_YEAR[frequency]) * value / UNITS_PER_YEAR[unit])


def tapes_per_full(nbytes: float, tape_bytes: float) -> int:
    """Tapes one long-term full of ``nbytes`` takes: a tape for each full backup job
    (source: dpm-tape-planning), or as many as it needs when it does not fit on one."""
    return max(1, math.ceil(nbytes / tape_bytes))


def tapes_in_rotation(
    frequency: str, unit: str, value: int, sizes: Sequence[float], tape_bytes: float
) -> int:
    """Tapes a group's long-term protection holds at once: per data source (sizes in
    bytes), the fulls kept times the tapes per full."""
    kept = fulls_kept(frequency, unit, value)
    return sum(kept * tapes_per_full(size, tape_bytes) for size in sizes)


@dataclass(slots=True, eq=False)
class TapeDrive:
    """One drive of a library: it writes at its native rate x the compression."""

    name: str
    index: int
    write: BandwidthResource


class TapeLibrary:
    """A DPM server's tape library: its drives, the job slots that hand them out (one
    job a drive), the free drives (the lowest-numbered free drive is taken first, so a
    run is the same every time) and the bytes a tape holds."""

    __slots__ = ("name", "drives", "slots", "tape_bytes", "_free")

    def __init__(self, name: str, drives: list[TapeDrive], slots: JobSlots, tape_bytes: float):
        self.name = name
        self.drives = drives
        self.slots = slots
        self.tape_bytes = tape_bytes
        self._free = [d.index for d in drives]

    @classmethod
    def build(cls, spec: schema.TapeLibrary, dpm: DpmServerState, parts: Parts) -> TapeLibrary:
        rate = spec.drive_rate * spec.compression
        path = f"{dpm.path}.tape_library.drive_rate"
        drives = [
            TapeDrive(
                f"{dpm.name}:drive{i + 1}",
                i,
                parts.bandwidth(f"{dpm.name}:tape-drive{i + 1}", "tape", rate, path),
            )
            for i in range(spec.drives)
        ]
        slots = parts.slots(spec.drives, f"{dpm.name}:tape-library", "tape-library")
        return cls(f"{dpm.name}:tape-library", drives, slots, spec.tape_capacity * spec.compression)

    def take_drive(self) -> TapeDrive:
        """A free drive, for a job that holds one of the library's slots."""
        return self.drives[heapq.heappop(self._free)]

    def give_back(self, drive: TapeDrive) -> None:
        heapq.heappush(self._free, drive.index)


@dataclass(slots=True, frozen=True, eq=False)
class LongTermPlan:
    """A protection group's long-term protection to tape: its schedule (on the
    calendar from the run's start date), its retention range, its allocated drives
    and its backup window (to judge overlap)."""

    group: str
    dpm: DpmServerState
    library: TapeLibrary
    drives: JobSlots  # the group's allocated drives
    frequency: str
    time_s: float
    weekday: int  # 0 = Monday (weekly)
    day_of_month: int  # monthly, yearly
    month: int  # 1 = January (yearly)
    start_date: dt.date
    retention_unit: str
    retention_value: int

    @classmethod
    def build(
        cls,
        spec: schema.ProtectionGroup,
        dpm: DpmServerState,
        library: TapeLibrary,
        start_date: dt.date,
        parts: Parts,
    ) -> LongTermPlan:
        lt = spec.long_term
        assert lt is not None  # only groups with long-term protection have a plan
        unit, value = lt.retention
        return cls(
            group=spec.name,
            dpm=dpm,
            library=library,
            drives=parts.slots(lt.drives_allocated, f"{spec.name}:tape-drives", "tape-group"),
            frequency=lt.frequency,
            time_s=lt.time,
            weekday=WEEKDAYS.index(lt.weekday or "sat"),
            day_of_month=lt.day_of_month or 1,
            month=MONTHS.index(lt.month or "jan") + 1,
            start_date=start_date,
            retention_unit=unit,
            retention_value=value,
        )

    @property
    def fulls_kept(self) -> int:
        return fulls_kept(self.frequency, self.retention_unit, self.retention_value)

    @property
    def fulls_per_year(self) -> int:
        return FULLS_PER_YEAR[self.frequency]

    def times(self, horizon_s: float) -> Iterator[float]:
        """Each long-term backup's time (seconds from the run's start), before the
        horizon: weekly on the weekday; monthly on the day of the month; yearly on the
        month's day (a day past a short month's end: its last day)."""
        if self.frequency == "weekly":
            first = (self.weekday - self.start_date.weekday()) % 7
            yield from daily((self.time_s,), horizon_s, first_day=first, every_days=7)
            return
        year, month = self.start_date.year, self.start_date.month
        if self.frequency == "yearly":
            month = self.month
        while True:
            last = calendar.monthrange(year, month)[1]
            day = (dt.date(year, month, min(self.day_of_month, last)) - self.start_date).days
            if day >= 0:
                at = day * DAY_S + self.time_s
                if not starts_before(at, horizon_s):
                    return
                yield at
            if self.frequency == "yearly":
                year += 1
            else:
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@dataclass(slots=True, frozen=True, eq=False)
class TapeSource:
    """A data source a group writes to tape: a host-level VM's Replica or a guest data
    source's GuestReplica."""

    name: str
    vm: str
    workload: str
    replica: Replica | GuestReplica

    @classmethod
    def of_vm(cls, replica: Replica) -> TapeSource:
        vm = replica.vm
        return cls(vm.name, vm.name, "hyperv", replica)

    @classmethod
    def of_guest(cls, replica: GuestReplica) -> TapeSource:
        src = replica.source
        return cls(src.name, src.vm.name, src.kind, replica)

    def protected_bytes_at(self, now: float) -> float:
        """The bytes it protects at ``now``, grown (vms[].growth_per_year): what a
        long-term full of its replica then writes, for the projection of tapes."""
        r = self.replica
        if isinstance(r, Replica):
            return r.vm.used_bytes_at(now)
        return r.source.size_bytes_at(now)


class TapeJobs:
    """The long-term schedules of the groups with tape protection (one process per
    group) and their tape jobs (one process per data source and occurrence)."""

    def __init__(
        self,
        env: simpy.Environment,
        flows: FlowNetwork,
        trace: Trace,
        horizon_s: float,
        plans: dict[str, LongTermPlan],
        sources: dict[str, list[TapeSource]],
    ):
        self.env = env
        self.flows = flows
        self.trace = trace
        self.horizon_s = horizon_s
        self.plans = plans  # by group, only the groups with long-term protection
        self.sources = sources  # by group, in the replicas' order
        self.running = 0  # jobs holding or waiting for a drive; zero at the end of a run

    @classmethod
    def build(
        cls,
        scenario: schema.Scenario,
        dpm_servers: dict[str, DpmServerState],
        replicas: Sequence[Replica],
        guest_replicas: Sequence[GuestReplica],
        parts: Parts,
        trace: Trace,
        horizon_s: float,
    ) -> TapeJobs:
        """The libraries of the DPM servers that have one, the plans of the groups with
        long_term (the scenario checks each has a library) and their data sources."""
        libraries = {
            d.name: TapeLibrary.build(d.tape_library, dpm_servers[d.name], parts)
            for d in scenario.dpm_servers
            if d.tape_library is not None
        }
        plans: dict[str, LongTermPlan] = {}
        sources: dict[str, list[TapeSource]] = {}
        # Each group's data sources, in the replicas' order (one pass, not one a group).
        taped = {g.name for g in scenario.protection_groups if g.long_term is not None}
        of_group: dict[str, list[TapeSource]] = {}
        for r in replicas:
            if r.plan.name in taped:
                of_group.setdefault(r.plan.name, []).append(TapeSource.of_vm(r))
        of_guest_group: dict[str, list[TapeSource]] = {}
        for gr in guest_replicas:
            if gr.plan.name in taped:
                of_guest_group.setdefault(gr.plan.name, []).append(TapeSource.of_guest(gr))
        for g in scenario.protection_groups:
            if g.long_term is None:
                continue
            dpm = dpm_servers[g.dpm_server]
            plans[g.name] = LongTermPlan.build(
                g, dpm, libraries[g.dpm_server], scenario.start_date, parts
            )
            if g.level == "guest":
                sources[g.name] = of_guest_group.get(g.name, [])
            else:
                sources[g.name] = of_group.get(g.name, [])
        return cls(parts.env, parts.flows, trace, horizon_s, plans, sources)

    def start(self, wanted: Callable[[str], bool] | None = None) -> None:
        """A process for each group's long-term schedule (of the groups whose DPM
        server is ``wanted``, all by default)."""
        for name, plan in self.plans.items():
            if wanted is None or wanted(plan.dpm.name):
                self.env.process(self.long_term(plan, self.sources[name]))

    def long_term(
        self, plan: LongTermPlan, sources: Sequence[TapeSource]
    ) -> Generator[simpy.Event, object, None]:
        """At each long-term time before the horizon, a tape job per data source."""
        env = self.env
        for at in plan.times(self.horizon_s):
            yield env.timeout(at - env.now)
            for source in sources:
                env.process(self.tape_job(plan, source, at))

    def tape_job(
        self, plan: LongTermPlan, source: TapeSource, scheduled: float
    ) -> Generator[simpy.Event, object, None]:
        """A long-term full of one data source: a drive of the group's and of the
        library's, the replica read from the pool and written to the drive."""
        env, lib = self.env, plan.library
        if source.replica.size_bytes <= 0:
            self._record(plan, source, "", scheduled, scheduled, 0.0, 0, SKIPPED_NO_REPLICA)
            return
        self.running += 1
        with SlotsInOrder(plan.drives, lib.slots) as slots:
            yield from slots.take()
            start = env.now
            # The replica as it is when the drive starts writing.
            nbytes = source.replica.size_bytes
            drive = lib.take_drive()
            try:
                yield self.flows.transfer(nbytes, (plan.dpm.pool_read, drive.write))
            finally:
                lib.give_back(drive)
        self.running -= 1
        tapes = tapes_per_full(nbytes, lib.tape_bytes)
        self._record(plan, source, drive.name, scheduled, start, nbytes, tapes, "")

    def _record(
        self,
        plan: LongTermPlan,
        source: TapeSource,
        drive: str,
        scheduled: float,
        start: float,
        nbytes: float,
        tapes: int,
        reason: str,
    ) -> None:
        self.trace.tape_jobs.append(
            TapeJobRecord(
                source.name,
                source.vm,
                source.workload,
                plan.group,
                plan.dpm.name,
                drive,
                scheduled,
                start,
                self.env.now,
                nbytes,
                tapes,
                "skipped" if reason else "succeeded",
                reason,
            )
        )


def window_overlap_s(
    start_s: float, end_s: float, window_start_s: float, window_end_s: float
) -> float:
    """Seconds of [start_s, end_s] inside a daily backup window [start, end) (times of
    day; a window past midnight ends the next day): the sum over every day's window."""
    length = (window_end_s - window_start_s) % DAY_S
    if end_s <= start_s or length <= 0:
        return 0.0
    total = 0.0
    day = math.floor((start_s - window_start_s - length) / DAY_S)
    last = math.floor((end_s - window_start_s) / DAY_S)
    while day <= last:
        opens = day * DAY_S + window_start_s
        total += max(0.0, min(end_s, opens + length) - max(start_s, opens))
        day += 1
    return total
