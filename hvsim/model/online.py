"""Online protection to Azure Backup from DPM: each DPM server's Internet uplink with
its throttling schedule and online job slots, each protected data source's online
jobs (a seed, then at each online time the change since its last online point up to
its latest disk recovery point), and the vault that keeps online recovery points by
daily, weekly, monthly and yearly counts.

An online job reads the replica from the DPM server's pool and crosses the uplink:
one transfer through the FlowNetwork, so online jobs share the uplink max-min fair
and share the pool's read with consistency checks and restores. It holds one of the
server's online job slots (8 by default, source: dpm-task-controller-8), not the
server's backup job slots. The uplink's capacity follows the throttling schedule:
one process per uplink wakes at the work-hour boundaries and changes it
(FlowNetwork.set_capacity), and at the end of each simulated day records the upload
backlog and the vault.

Simplifications (README, "What is modelled"): a job's transfer is its uploaded
(compressed) bytes on both the pool read and the uplink; the vault holds the seed
for good plus the uploaded bytes of the points it keeps (Azure keeps the base and
merges expired increments into it, so vault bytes are counted as that base plus the
increments kept); a point's time for the online RPO is when it is in the vault
(its upload's end, or an offline seed's arrival)."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from hvsim.model.dpm import DpmServerState, GuestReplica, Replica
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import Parts
from hvsim.model.schedule import DAY_S, daily, starts_before
from hvsim.model.slots import JobSlots
from hvsim.model.trace import OnlineDayRecord, OnlineJobRecord, Trace
from hvsim.model.vm import VirtualMachine

if TYPE_CHECKING:
    from hvsim.scenario import schema

# The local cache must hold 5 % of the data backed up (source: azure-dpm-introduction).
CACHE_SHARE = 0.05
# Largest data source Azure Backup protects from DPM: 54,400 GB (source:
# azure-dpm-introduction).
MAX_DATA_SOURCE_BYTES = 54_400e9
# Offline seeding: at most 80 TB per protection group (source: azure-offline-seeding).
MAX_OFFLINE_SEED_BYTES = 80e12

SKIPPED_BUSY = "previous online job of this data source still running"
SKIPPED_NO_DISK_POINT = "no disk recovery point yet"
SKIPPED_NO_NEW_POINT = "no new disk recovery point since the last online point"
SKIPPED_IN_TRANSIT = "offline seed in transit"


@dataclass(slots=True, frozen=True)
class Throttle:
    """DPM's throttling setting: ``work_bps`` in work hours [start, end) of work days,
    ``non_work_bps`` at all other times (source: azure-throttling)."""

    work_start_s: float
    work_end_s: float
    work_weekdays: frozenset[int]  # 0 = Monday
    work_bps: float
    non_work_bps: float

    @classmethod
    def build(cls, spec: schema.Throttling) -> Throttle:
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        return cls(
            spec.work_hours_start,
            spec.work_hours_end,
            frozenset(names.index(d) for d in spec.work_days),
            spec.work_hours_rate,
            spec.non_work_hours_rate,
        )

    def rate_at(self, t: float, first_weekday: int) -> float:
        day = math.floor(t / DAY_S)
        clock = t - day * DAY_S
        work = (first_weekday + day) % 7 in self.work_weekdays
        if work and self.work_start_s <= clock < self.work_end_s:
            return self.work_bps
        return self.non_work_bps

    def boundaries(self, first_weekday: int) -> Iterator[float]:
        """The times after 0 at which the rate may change: each work day's start and
        end of work hours, in order, without end."""
        for day in itertools.count():
            if (first_weekday + day) % 7 in self.work_weekdays:
                midnight = day * DAY_S
                for t in (midnight + self.work_start_s, midnight + self.work_end_s):
                    if t > 0:
                        yield t


# The vault's heap is compacted past twice its points plus this many entries.
COMPACT_MIN = 64


class VaultPoint:
    """An online recovery point of one data source in the vault, with the calendar
    periods it belongs to and when the retention rules let it go."""

    __slots__ = ("bytes", "day", "week", "month", "year", "daily_until", "kept", "expiry_s")

    def __init__(self, nbytes: float, day: int, week: int, month: int, year: int):
        self.bytes = nbytes
        self.day = day
        self.week = week
        self.month = month
        self.year = year
        self.daily_until = 0.0
        # Until when each of the weekly, monthly and yearly rules keeps it: while it is
        # the last point of its period (inf: forever, -inf: not kept by that rule).
        self.kept = [-math.inf, -math.inf, -math.inf]
        self.expiry_s = 0.0


@dataclass(slots=True, frozen=True)
class VaultRetention:
    """Points of the last ``daily`` days, and the last point of each of the last
    ``weekly`` weeks, ``monthly`` months and ``yearly`` years (source:
    azure-mabs-sql-policy)."""

    daily: int
    weekly: int
    monthly: int
    yearly: int

    @classmethod
    def build(cls, spec: schema.VaultRetention) -> VaultRetention:
        return cls(spec.daily, spec.weekly, spec.monthly, spec.yearly)


class Vault:
    """A DPM server's online recovery points in Azure (its data sources' vault): the
    bytes and points kept, each point deleted when no retention rule keeps it. The
    calendar (weeks Monday to Sunday, months, years) is the run's, from its start
    date."""

    def __init__(self, start_date: dt.date):
        self.start_date = start_date
        self.first_weekday = start_date.weekday()
        self.bytes = 0.0  # the seeds plus the kept points' bytes
        self.peak_bytes = 0.0
        self.points = 0
        self._heap: list[tuple[float, int, VaultPoint]] = []
        self._seq = itertools.count()

    def _day_of(self, date: dt.date) -> float:
        """Seconds from the run's start to midnight of ``date``."""
        return (date - self.start_date).days * DAY_S

    def _month_start(self, months: int) -> float:
        year, month = divmod(months, 12)
        if year > dt.MAXYEAR:
            return math.inf
        return self._day_of(dt.date(year, month + 1, 1))

    def _year_start(self, year: int) -> float:
        return math.inf if year > dt.MAXYEAR else self._day_of(dt.date(year, 1, 1))

    def add(
        self,
        at_s: float,
        nbytes: float,
        seed_bytes: float,
        previous: VaultPoint | None,
        keep: VaultRetention,
    ) -> VaultPoint:
        """A new point at ``at_s`` holding ``nbytes`` (plus ``seed_bytes`` of a seed,
        kept for good); the data source's ``previous`` point is no longer the last of
        a period they share, and goes when no other rule keeps it."""
        day = math.floor(at_s / DAY_S)
        date = self.start_date + dt.timedelta(days=day)
        point = VaultPoint(
            nbytes,
            day,
            (day + self.first_weekday) // 7,
            date.year * 12 + date.month - 1,
            date.year,
        )
        point.daily_until = (day + keep.daily) * DAY_S
        week_start = (point.week * 7 - self.first_weekday) * DAY_S
        point.kept = [
            week_start + keep.weekly * 7 * DAY_S if keep.weekly else -math.inf,
            self._month_start(point.month + keep.monthly) if keep.monthly else -math.inf,
            self._year_start(point.year + keep.yearly) if keep.yearly else -math.inf,
        ]
        self._schedule(point)
        self.bytes += nbytes + seed_bytes
        self.points += 1
        if previous is not None and previous.expiry_s > at_s:
            same = (
                previous.week == point.week,
                previous.month == point.month,
                previous.year == point.year,
            )
            if any(same):
                previous.kept = [
                    -math.inf if s else k for s, k in zip(same, previous.kept, strict=True)
                ]
                self._schedule(previous)
        self.purge(at_s)
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        return point

    def _schedule(self, point: VaultPoint) -> None:
        expiry = max(point.daily_until, *point.kept)
        if expiry == point.expiry_s:
            return  # its entry stands: a second one would delete it twice
        point.expiry_s = expiry
        heap = self._heap
        heapq.heappush(heap, (expiry, next(self._seq), point))
        # A rescheduled point leaves a stale entry behind, kept until its old expiry
        # (years with the yearly rule): drop them when they are half the heap, so the
        # heap holds the points kept, not every point made in the run. Expiries only
        # move earlier, so a stale entry never becomes current again.
        if len(heap) > 2 * self.points + COMPACT_MIN:
            heap[:] = [e for e in heap if e[0] == e[2].expiry_s]
            heapq.heapify(heap)

    def purge(self, now: float) -> None:
        """Delete the points no rule keeps at ``now`` (stale heap entries skipped)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            expiry, _, point = heapq.heappop(heap)
            if expiry != point.expiry_s:
                continue  # rescheduled: a later entry is current
            self.bytes -= point.bytes
            self.points -= 1


@dataclass(slots=True, eq=False, kw_only=True)
class Uplink:
    """A DPM server's Internet uplink to Azure, its online job slots, its local cache
    and its vault; what is waiting to be uploaded."""

    dpm: DpmServerState
    resource: BandwidthResource
    line_bps: float  # the uplink's rate times its efficiency
    throttle: Throttle | None
    first_weekday: int
    slots: JobSlots
    cache_bytes: float | None  # None: sized to the 5 % rule
    vault: Vault
    cache_used: float = 0.0
    queued_bytes: float = 0.0  # bytes of online jobs scheduled and not yet uploading
    running: int = 0  # online jobs scheduled and not yet ended

    @classmethod
    def build(
        cls, dpm: DpmServerState, spec: schema.OnlineUplink, start_date: dt.date, parts: Parts
    ) -> Uplink:
        throttle = Throttle.build(spec.throttling) if spec.throttling is not None else None
        line = spec.uplink * spec.efficiency
        first = start_date.weekday()
        rate = min(line, throttle.rate_at(0.0, first)) if throttle is not None else line
        uplink = cls(
            dpm=dpm,
            resource=parts.bandwidth(f"{dpm.name}:uplink", "network", rate, ""),
            line_bps=line,
            throttle=throttle,
            first_weekday=first,
            slots=parts.slots(spec.max_parallel_jobs, f"{dpm.name}:online", "online"),
            cache_bytes=spec.cache_volume,
            vault=Vault(start_date),
        )
        uplink.resource.path = uplink.field_at(0.0)
        return uplink

    def rate_at(self, t: float) -> float:
        """What uploads share at ``t``: the uplink, or the throttled rate if lower."""
        if self.throttle is None:
            return self.line_bps
        return min(self.line_bps, self.throttle.rate_at(t, self.first_weekday))

    def field_at(self, t: float) -> str:
        """The scenario field that sets the rate at ``t`` (for messages): the uplink,
        or the throttling rate in force when it is lower."""
        path = f"{self.dpm.path}.online"
        throttle = self.throttle
        rate = throttle.rate_at(t, self.first_weekday) if throttle is not None else math.inf
        if throttle is None or rate >= self.line_bps:
            return f"{path}.uplink"
        name = "work_hours_rate" if rate == throttle.work_bps else "non_work_hours_rate"
        return f"{path}.throttling.{name}"

    def backlog_bytes(self, now: float) -> float:
        """Bytes of online jobs scheduled and not yet uploaded: those waiting, and what
        the uploads under way have left (read from their flows, not settled)."""
        left = sum(f.remaining - f.rate * (now - f.updated) for f in self.resource.flows.values())
        return self.queued_bytes + max(left, 0.0)


@dataclass(slots=True, eq=False, kw_only=True)
class OnlineGroup:
    """A protection group's online protection (schema.OnlineProtection)."""

    name: str
    uplink: Uplink
    times_s: tuple[float, ...]  # seconds after midnight, sorted
    compression: float
    offline_seeding: bool
    transit_s: float
    retention: VaultRetention
    rpo_s: float
    shipped_bytes: float = 0.0  # offline seeds of this group so far

    @classmethod
    def build(cls, name: str, spec: schema.OnlineProtection, uplink: Uplink) -> OnlineGroup:
        return cls(
            name=name,
            uplink=uplink,
            times_s=tuple(sorted(spec.times)),
            compression=spec.compression_factor,
            offline_seeding=spec.seeding == "offline",
            transit_s=spec.offline_transit,
            retention=VaultRetention.build(spec.retention),
            rpo_s=spec.rpo,
        )


@dataclass(slots=True, eq=False, kw_only=True)
class OnlineSource:
    """One data source protected online: a host-level VM's Replica or a guest data
    source's GuestReplica, and what its online protection has done so far."""

    name: str
    vm: VirtualMachine
    group: OnlineGroup
    replica: Replica | GuestReplica
    seeded_s: float | None = None  # when its seed was in the vault
    last_data_s: float = 0.0  # the disk point the latest online point copies
    cache_reserved: bool = False
    transit_until_s: float | None = None  # an offline seed on its way
    last_point: VaultPoint | None = None
    points_s: list[float] = field(default_factory=list)  # online points, in the vault

    def latest_disk_point(self) -> float | None:
        """The latest recovery point on disk (None before the first)."""
        r = self.replica
        times = r.recovery_points_s if isinstance(r, Replica) else r.point_time_s
        return times[-1] if times else None

    def size_bytes(self) -> float:
        return self.replica.size_bytes

    def changed_bytes(self, t0: float, t1: float) -> float:
        r = self.replica
        if isinstance(r, Replica):
            return r.vm.changed_bytes_since(t0, t1)
        return r.source.changed_bytes_since(t0, t1)


class OnlineJobs:
    """Runs each online data source's schedule (one process per data source, one job
    at a time) and each uplink's throttling and daily records (one process each)."""

    def __init__(
        self,
        env: simpy.Environment,
        flows: FlowNetwork,
        trace: Trace,
        horizon_s: float,
        uplinks: dict[str, Uplink],
        sources: list[OnlineSource],
    ):
        self.env = env
        self.flows = flows
        self.trace = trace
        self.horizon_s = horizon_s
        self.uplinks = uplinks
        self.sources = sources
        self._ids = itertools.count(1)

    @property
    def running(self) -> int:
        """Online jobs scheduled and not yet ended (zero at the end of a run)."""
        return sum(u.running for u in self.uplinks.values())

    def start(self, wanted: Callable[[str, str | None], bool] | None = None) -> None:
        """The uplinks' clocks and each source's protection; ``wanted(dpm, vm)`` (vm
        None for an uplink) picks which start (all by default)."""
        for uplink in self.uplinks.values():
            if wanted is None or wanted(uplink.dpm.name, None):
                self.env.process(self.uplink_clock(uplink))
        for src in self.sources:
            if wanted is None or wanted(src.group.uplink.dpm.name, src.vm.name):
                self.env.process(self.protect(src))

    # -- the uplink ------------------------------------------------------------
    def uplink_clock(self, uplink: Uplink) -> Generator[simpy.Event, object, None]:
        """Wake at each throttling boundary (change the uplink's capacity) and at the
        end of each simulated day up to the horizon (record the backlog and the
        vault). After the horizon it wakes only at boundaries, while online jobs that
        started before it still run."""
        env, horizon = self.env, self.horizon_s
        changes = uplink.throttle.boundaries(uplink.first_weekday) if uplink.throttle else None
        change_at = next(changes) if changes is not None else math.inf
        day = 1
        sample_at = min(DAY_S, horizon)
        while True:
            if sample_at == math.inf and (changes is None or uplink.running == 0):
                return
            at = min(change_at, sample_at)
            yield env.timeout(at - env.now)
            if at == change_at and changes is not None:
                uplink.resource.path = uplink.field_at(at)
                self.flows.set_capacity(uplink.resource, uplink.rate_at(at))
                change_at = next(changes)
            if at == sample_at:
                self._record_day(uplink, day, at)
                day += 1
                sample_at = min(day * DAY_S, horizon) if at < horizon else math.inf

    def _record_day(self, uplink: Uplink, day: int, at: float) -> None:
        vault = uplink.vault
        vault.purge(at)
        self.trace.online_days.append(
            OnlineDayRecord(
                day, at, uplink.dpm.name, uplink.backlog_bytes(at), vault.bytes, vault.points
            )
        )

    # -- a data source's online jobs -------------------------------------------
    def protect(self, src: OnlineSource) -> Generator[simpy.Event, object, None]:
        """Every online time before the horizon: an online job, or a skipped one when
        the previous is still running or an offline seed is on its way."""
        env = self.env
        for at in daily(src.group.times_s, self.horizon_s):
            if src.transit_until_s is not None and at < src.transit_until_s:
                self._not_run(src, "backup", at, math.nan, "skipped", "")
                continue
            if env.now > at:
                self._not_run(src, "backup", at, math.nan, "skipped", SKIPPED_BUSY)
                continue
            yield env.timeout(at - env.now)
            yield from self.run_job(src, at)

    def run_job(self, src: OnlineSource, at: float) -> Generator[simpy.Event, object, None]:
        """The online job due at ``at``: the seed (the whole replica, online or
        shipped) or the change since the last online point up to the latest disk
        recovery point, compressed, through the pool's read and the uplink."""
        env, group = self.env, src.group
        uplink = group.uplink
        latest = src.latest_disk_point()
        if latest is None or src.size_bytes() <= 0:
            self._record(
                src, "backup", at, at, at, at, math.nan, 0.0, "skipped", SKIPPED_NO_DISK_POINT
            )
            return
        if src.seeded_s is None:
            kind = "seed"
            size = src.size_bytes()
            problem = self._seed_problem(src, size)
            if problem:
                self._not_run(src, kind, at, latest, "failed", problem)
                return
            nbytes = size / group.compression
            if group.offline_seeding:
                if group.shipped_bytes + nbytes <= MAX_OFFLINE_SEED_BYTES:
                    yield from self._ship(src, at, latest, nbytes)
                    return
                # Beyond the limit the seed goes over the uplink (recorded, then sent).
                self._not_run(
                    src,
                    "offline_seed",
                    at,
                    latest,
                    "failed",
                    "offline seeding takes at most 80 TB per protection group: seeded online",
                )
        else:
            if latest <= src.last_data_s:
                self._not_run(src, "backup", at, math.nan, "skipped", SKIPPED_NO_NEW_POINT)
                return
            kind = "backup"
            nbytes = src.changed_bytes(src.last_data_s, latest) / group.compression
        uplink.running += 1
        uplink.queued_bytes += nbytes
        with uplink.slots.request() as slot:
            yield slot
            start = env.now
            uplink.queued_bytes -= nbytes
            yield self.flows.transfer(nbytes, (uplink.dpm.pool_read, uplink.resource))
        uplink.running -= 1
        self._made(src, kind, env.now, latest, nbytes)
        self._record(src, kind, at, at, start, env.now, latest, nbytes, "succeeded", "")

    def _seed_problem(self, src: OnlineSource, size: float) -> str:
        """Why the data source cannot be seeded (empty if it can): too large for Azure
        Backup, or its share of the local cache does not fit (reserved once)."""
        if size > MAX_DATA_SOURCE_BYTES:
            return "data source larger than Azure Backup's 54,400 GB"
        if not src.cache_reserved:
            uplink = src.group.uplink
            need = CACHE_SHARE * size
            cap = uplink.cache_bytes
            if cap is not None and uplink.cache_used + need > cap:
                return (
                    f"Azure cache volume full: {need:.4g} B more needed (5 % of the data "
                    f"source), {cap - uplink.cache_used:.4g} B free of {cap:.4g} B"
                )
            uplink.cache_used += need
            src.cache_reserved = True
        return ""

    def _ship(
        self, src: OnlineSource, at: float, latest: float, nbytes: float
    ) -> Generator[simpy.Event, object, None]:
        """Offline seeding: the seed is copied to disks and shipped; it is in the vault
        ``transit_s`` later (no upload). Online jobs until then are skipped. A seed
        that would arrive at or after the horizon is not carried out in the run."""
        group = src.group
        group.shipped_bytes += nbytes
        arrival = at + group.transit_s
        src.transit_until_s = arrival
        if not starts_before(arrival, self.horizon_s):
            self._not_run(
                src,
                "offline_seed",
                at,
                latest,
                "skipped",
                f"offline seed arrives after the horizon (day {arrival / DAY_S:.2f})",
            )
            return
        yield self.env.timeout(group.transit_s)
        self._made(src, "offline_seed", arrival, latest, nbytes)
        self._record(src, "offline_seed", at, at, at, arrival, latest, nbytes, "succeeded", "")

    def _made(self, src: OnlineSource, kind: str, at: float, latest: float, nbytes: float) -> None:
        """A new online point in the vault at ``at``, copying the disk point ``latest``."""
        seed = kind != "backup"
        if seed:
            src.seeded_s = at
        src.last_data_s = latest
        src.last_point = src.group.uplink.vault.add(
            at,
            0.0 if seed else nbytes,
            nbytes if seed else 0.0,
            src.last_point,
            src.group.retention,
        )
        src.points_s.append(at)

    def _not_run(
        self, src: OnlineSource, kind: str, at: float, latest: float, outcome: str, reason: str
    ) -> None:
        """A job due at ``at`` that moved nothing: skipped or failed before its upload."""
        self._record(src, kind, at, at, at, at, latest, 0.0, outcome, reason)

    def _record(
        self,
        src: OnlineSource,
        kind: str,
        scheduled: float,
        queued: float,
        start: float,
        end: float,
        point_s: float,
        nbytes: float,
        outcome: str,
        reason: str,
    ) -> None:
        if outcome == "skipped" and not reason and src.transit_until_s is not None:
            reason = f"{SKIPPED_IN_TRANSIT} (arrives day {src.transit_until_s / DAY_S:.2f})"
        self.trace.online_jobs.append(
            OnlineJobRecord(
                next(self._ids),
                kind,
                src.name,
                src.vm.name,
                src.group.name,
                src.group.uplink.dpm.name,
                scheduled,
                queued,
                start,
                end,
                point_s,
                nbytes,
                outcome,
                reason,
            )
        )
