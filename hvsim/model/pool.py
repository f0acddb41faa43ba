"""The DPM storage pool as DPM 2012 manages it: per data source (or per protection
group when the server co-locates) a replica volume and a recovery point volume,
allocated when protection starts by DPM's default formulas, grown automatically when
a store does not fit, with the 90 % alert; retention counted in days with a
successful recovery point; and the pool full, which fails the job.

Every store is O(1) amortised: a data source keeps its retained days in deques
(one entry per day with a point), and each (protection group, volume kind) keeps
running totals, so the storage table costs one row per group and kind a day, whatever
the number of data sources. The table is written lazily: before the pool changes,
the day boundaries passed since the last change are recorded with the state as it
stood (nothing changed in between), so no event is scheduled and the run's end time
is not moved (see hvsim.simulation._run_reporting_days)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from hvsim.model.schedule import DAY_S
from hvsim.scenario.guest import LIMITS

MIB = float(2**20)
GIB = float(2**30)
# DPM's default allocation (source: dpm-allocation-formulas).
FORMULA_CONSTANT_BYTES = 1600 * MIB
MIN_REPLICA_BYTES = 1.5 * GIB
ALERT_FRACTION = 0.9
LOG_CHANGE = {"sql": 0.06, "exchange": 0.06, "sharepoint": 0.10}
RP_MULTIPLIER = {"sql": 2.5, "exchange": 4.0, "sharepoint": 1.5}
# Auto-grow (source: dpm-auto-grow).
GROW_MIN_BYTES = 10 * GIB
GROW_FRACTION = 0.25
GROW_SPACING_S = 900.0
LDM_SLOTS = 2960
LDM_SLOTS_PER_VOLUME = 3
# Per-server caps, as admission states them (source: dpm-server-limits).
_CAPS = {name: limit for name, _, limit, _ in LIMITS}
MAX_VOLUMES = int(_CAPS["volumes"])
MAX_DISK_SNAPSHOTS = int(_CAPS["disk_snapshots"])

POOL_FULL = "DPM storage pool full"
# What co-location puts in one volume pair per protection group: Hyper-V VMs and SQL
# databases (as admission counts volumes: source: dpm-sql-protection); Exchange,
# SharePoint and file volumes keep their own (assumption).
COLOCATED_WORKLOADS = frozenset({"hyperv", "sql"})
# Points that are disk snapshots (counted against the 9,000): express fulls and file
# recovery points, not synchronizations (source: dpm-server-limits).
SNAPSHOT_KINDS = frozenset({"initial_replica", "express_full", "file_point"})


def default_allocation(
    workload: str, size_bytes: float, retention_days: int
) -> tuple[float, float]:
    """DPM's default (replica, recovery point) volume sizes for one data source of
    ``workload`` (hyperv | files | sql | exchange | sharepoint) holding ``size_bytes``
    kept ``retention_days`` (source: dpm-allocation-formulas)."""
    ds, rr = size_bytes, retention_days
    if workload in LOG_CHANGE:
        log = LOG_CHANGE[workload]
        replica = ds * (1 + log) / (ALERT_FRACTION - 0.05)
        points = RP_MULTIPLIER[workload] * rr * log * ds + FORMULA_CONSTANT_BYTES
    elif workload == "files":
        replica = ds * 3 / 2
        points = ds * rr * 2 / 100 + FORMULA_CONSTANT_BYTES
    else:  # hyperv
        replica = ds * 1.5
        points = ds * rr * 0.1 + FORMULA_CONSTANT_BYTES
    return max(replica, MIN_REPLICA_BYTES), points


def grown_to_fit(allocated: float, used: float) -> float:
    """The size auto-grow takes a volume of ``allocated`` bytes to so that it holds
    ``used``: steps of max(10 GB, 25 %) (source: dpm-auto-grow)."""
    while used > allocated:
        allocated += max(GROW_MIN_BYTES, GROW_FRACTION * allocated)
    return allocated


@dataclass(slots=True, eq=False)
class GroupTotals:
    """Running totals of one (protection group, volume kind) on one DPM server: a row
    of the storage table."""

    group: str
    kind: str  # replica | recovery_point
    used_bytes: float = 0.0
    allocated_bytes: float = 0.0


@dataclass(slots=True, eq=False)
class PoolVolume:
    """A replica or recovery point volume in the pool."""

    totals: GroupTotals
    allocated_bytes: float = 0.0
    used_bytes: float = 0.0
    last_growth_s: float = -math.inf
    above_alert: bool = False

    @property
    def kind(self) -> str:
        return self.totals.kind


@dataclass(slots=True, eq=False)
class DataSourceStorage:
    """One data source's place in the pool: its volumes (shared with its group when
    co-located), its retained recovery points by day, and what it has made (for the
    steady-state projection). ``refusal`` is why it has no volumes (every job fails
    with it), empty when it has."""

    pool: StoragePool
    workload: str
    size_bytes: float
    retention_days: int
    # Its expected recovery point bytes a day, for the projection of a data source
    # that made no point in the run.
    daily_bytes: float = 0.0
    replica: PoolVolume | None = None
    points: PoolVolume | None = None
    refusal: str = ""
    replica_bytes: float = 0.0
    # Retained days with a successful point, oldest first, and per day its bytes on
    # the recovery point volume and its disk snapshots.
    days: deque[int] = field(default_factory=deque)
    day_bytes: deque[float] = field(default_factory=deque)
    day_snapshots: deque[int] = field(default_factory=deque)
    point_bytes: float = 0.0  # retained, on the recovery point volume
    # Recovery point bytes made by the run (not the initial replica), and the days
    # that made them: the mean a day for the steady state.
    made_bytes: float = 0.0
    made_days: int = 0
    _last_made_day: int = -1
    _first_day_bytes: float = 0.0  # the first day's may be part of a day

    def store(
        self,
        now: float,
        kind: str,
        replica_bytes: float,
        point_bytes: float,
        point_s: float | None = None,
    ) -> str:
        """Keep a successful job's bytes: ``replica_bytes`` on the replica volume (the
        initial replica), ``point_bytes`` on the recovery point volume, as a point of
        ``kind`` made at ``point_s`` (default now), whose day is the point's day. ""
        when kept, else why not (the job fails). Before it is kept, the day that would
        fall out of the retention range (the oldest, once ``retention_days`` days with
        a point are kept and the point's day is a new one) is pruned: retention counts
        days with a successful point (source: dpm-auto-grow)."""
        if self.refusal:
            return self.refusal
        pool = self.pool
        pool.observe(now)
        day = int((now if point_s is None else point_s) // DAY_S)
        if self.days and day < self.days[-1]:
            day = self.days[-1]  # a late point joins the latest day kept (deques in order)
        new_day = not self.days or self.days[-1] != day
        prune = new_day and len(self.days) >= self.retention_days
        freed = self.day_bytes[0] if prune else 0.0
        freed_snaps = self.day_snapshots[0] if prune else 0
        snaps = 1 if kind in SNAPSHOT_KINDS else 0
        if snaps and pool.disk_snapshots - freed_snaps + snaps > MAX_DISK_SNAPSHOTS:
            return f"DPM disk snapshot limit reached ({MAX_DISK_SNAPSHOTS:,} on {pool.name})"
        assert self.replica is not None and self.points is not None
        if replica_bytes > 0:
            why = pool.fit(self.replica, now, self.replica.used_bytes + replica_bytes)
            if why:
                return why
        why = pool.fit(self.points, now, self.points.used_bytes - freed + point_bytes)
        if why:
            return why
        if prune:
            self.days.popleft()
            self.day_bytes.popleft()
            self.day_snapshots.popleft()
            pool.disk_snapshots -= freed_snaps
        if new_day:
            self.days.append(day)
            self.day_bytes.append(point_bytes)
            self.day_snapshots.append(snaps)
        else:
            self.day_bytes[-1] += point_bytes
            self.day_snapshots[-1] += snaps
        pool.disk_snapshots += snaps
        pool.peak_disk_snapshots = max(pool.peak_disk_snapshots, pool.disk_snapshots)
        self.replica_bytes += replica_bytes
        self.point_bytes += point_bytes - freed
        if kind != "initial_replica":
            self.made_bytes += point_bytes
            if day != self._last_made_day:
                self.made_days += 1
                self._last_made_day = day
            if self.made_days == 1:
                self._first_day_bytes += point_bytes
        if replica_bytes > 0:
            pool.add_used(self.replica, replica_bytes)
        pool.add_used(self.points, point_bytes - freed)
        return ""

    def keeps(self, point_s: float) -> bool:
        """Whether the recovery point made at ``point_s`` is kept now: its day is among
        the retained days, i.e. not before the first (every later day with a point is
        retained). O(1). The pool holds its state as of now, so a restore asks at its
        request, which the simulation runs at its time. A point's day is the day of its
        time: one data source's jobs run one at a time and store in the order of their
        points, so none joins a later day (store's late point)."""
        return bool(self.days) and int(point_s // DAY_S) >= self.days[0]

    def grow_replica(self, now: float, nbytes: float) -> str:
        """The replica volume takes ``nbytes`` more (the data source grew and a
        consistency check copied it), with no recovery point. "" when it fits, else
        why not (the job fails)."""
        if self.refusal:
            return self.refusal
        assert self.replica is not None
        pool = self.pool
        pool.observe(now)
        why = pool.fit(self.replica, now, self.replica.used_bytes + nbytes)
        if why:
            return why
        self.replica_bytes += nbytes
        pool.add_used(self.replica, nbytes)
        return ""

    def steady_state(self) -> tuple[float, float]:
        """(replica, recovery points) this data source holds once its retention range
        is full: its replica and retention_days x the mean recovery point bytes of a
        day with points after its first (the run's own points, so a run shorter than
        the range projects the same; one that made none: its expected change a day)."""
        if self.made_days > 1:
            # The first day is left out: protection may have started part-way through it.
            per_day = (self.made_bytes - self._first_day_bytes) / (self.made_days - 1)
        elif self.made_days == 1:
            per_day = self.made_bytes
        else:
            per_day = self.daily_bytes
        return self.replica_bytes or self.size_bytes, self.retention_days * per_day


@dataclass(slots=True, eq=False, kw_only=True)
class StoragePool:
    """One DPM server's storage pool: capacity, volumes, their totals and peaks,
    alerts, disk snapshots, and when it first refused (the day the pool is full)."""

    name: str  # the DPM server
    capacity_bytes: float
    thin: bool = False
    colocate: bool = False
    used_bytes: float = 0.0
    allocated_bytes: float = 0.0
    peak_used_bytes: float = 0.0
    peak_allocated_bytes: float = 0.0
    volumes: int = 0
    peak_volumes: int = 0
    ldm_slots: int = 0
    disk_snapshots: int = 0
    peak_disk_snapshots: int = 0
    alerts: int = 0
    full_at_s: float | None = None
    sources: list[DataSourceStorage] = field(default_factory=list)
    totals: dict[tuple[str, str], GroupTotals] = field(default_factory=dict)
    shared: dict[str, tuple[PoolVolume, PoolVolume]] = field(default_factory=dict)
    # The storage table: (day, group, kind, used, allocated), and the next day
    # boundary (end of day ``_next_day``) to record.
    rows: list[tuple[int, str, str, float, float]] = field(default_factory=list)
    _next_day: int = 0
    horizon_s: float = 0.0  # set by the world: the table's last day ends here
    # Used and allocated at the horizon (recorded with the last day's rows).
    horizon_used_bytes: float = 0.0
    horizon_allocated_bytes: float = 0.0

    # -- allocation --------------------------------------------------------------
    def allocate(
        self,
        now: float,
        group: str,
        workload: str,
        size_bytes: float,
        retention_days: int,
        daily_bytes: float = 0.0,
    ) -> DataSourceStorage:
        """Volumes for a data source whose protection starts now: its own pair by
        DPM's formulas, or with co-location its group's pair, extended by its share
        (a thin pool allocates nothing ahead). Refused (``refusal`` set) when the
        server has no volumes left (600) or the pool cannot give the allocation."""
        self.observe(now)
        ds = DataSourceStorage(self, workload, size_bytes, retention_days, daily_bytes)
        self.sources.append(ds)
        replica_alloc, points_alloc = default_allocation(workload, size_bytes, retention_days)
        if self.thin:
            replica_alloc = points_alloc = 0.0
        shared = self.colocate and workload in COLOCATED_WORKLOADS
        pair = self.shared.get(group) if shared else None
        if pair is None and self.volumes + 2 > MAX_VOLUMES:
            ds.refusal = (
                f"DPM volume limit reached ({MAX_VOLUMES} volumes on {self.name}, "
                "source: dpm-server-limits)"
            )
            return ds
        if self.allocated_bytes + replica_alloc + points_alloc > self.capacity_bytes:
            self._full(now)
            ds.refusal = POOL_FULL
            return ds
        if pair is None:
            pair = (
                PoolVolume(self._totals(group, "replica")),
                PoolVolume(self._totals(group, "recovery_point")),
            )
            self.volumes += 2
            self.peak_volumes = max(self.peak_volumes, self.volumes)
            self.ldm_slots += 2 * LDM_SLOTS_PER_VOLUME
            if shared:
                self.shared[group] = pair
        ds.replica, ds.points = pair
        self._extend(ds.replica, replica_alloc)
        self._extend(ds.points, points_alloc)
        return ds

    def _totals(self, group: str, kind: str) -> GroupTotals:
        totals = self.totals.get((group, kind))
        if totals is None:
            totals = self.totals[(group, kind)] = GroupTotals(group, kind)
        return totals

    def _extend(self, volume: PoolVolume, nbytes: float) -> None:
        volume.allocated_bytes += nbytes
        volume.totals.allocated_bytes += nbytes
        self.allocated_bytes += nbytes
        self.peak_allocated_bytes = max(self.peak_allocated_bytes, self.allocated_bytes)
        self._alert(volume)

    def _full(self, now: float) -> None:
        if self.full_at_s is None:
            self.full_at_s = now

    # -- stores ------------------------------------------------------------------
    def fit(self, volume: PoolVolume, now: float, used_after: float) -> str:
        """Whether ``volume`` can hold ``used_after`` bytes: "" if it does (a thin pool:
        if the pool does), growing it once by max(10 GB, 25 %) if it does not and its
        last growth is 15 minutes past (source: dpm-auto-grow); else why not."""
        if self.thin:
            if self.used_bytes + used_after - volume.used_bytes > self.capacity_bytes:
                self._full(now)
                return POOL_FULL
            return ""
        if used_after <= volume.allocated_bytes:
            return ""
        kind = volume.kind.replace("_", " ")
        if now - volume.last_growth_s < GROW_SPACING_S:
            return f"DPM {kind} volume full (auto-grow waits 15 minutes after a growth)"
        if self.ldm_slots + 1 > LDM_SLOTS:
            return f"DPM {kind} volume full (no LDM slot left to extend it)"
        step = max(GROW_MIN_BYTES, GROW_FRACTION * volume.allocated_bytes)
        if self.allocated_bytes + step > self.capacity_bytes:
            self._full(now)
            return POOL_FULL
        volume.last_growth_s = now
        self.ldm_slots += 1
        self._extend(volume, step)
        if used_after > volume.allocated_bytes:
            return f"DPM {kind} volume full (one growth of {step / GIB:,.0f} GB is not enough)"
        return ""

    def add_used(self, volume: PoolVolume, nbytes: float) -> None:
        volume.used_bytes += nbytes
        volume.totals.used_bytes += nbytes
        self.used_bytes += nbytes
        self.peak_used_bytes = max(self.peak_used_bytes, self.used_bytes)
        if self.thin:
            volume.allocated_bytes += nbytes
            volume.totals.allocated_bytes += nbytes
            self.allocated_bytes += nbytes
            self.peak_allocated_bytes = max(self.peak_allocated_bytes, self.allocated_bytes)
        else:
            self._alert(volume)

    def _alert(self, volume: PoolVolume) -> None:
        """Count a threshold alert each time a volume crosses 90 % of its allocation
        upwards (source: dpm-auto-grow); a thin volume is always full, so has none."""
        if self.thin:
            return
        above = volume.used_bytes >= ALERT_FRACTION * volume.allocated_bytes > 0
        if above and not volume.above_alert:
            self.alerts += 1
        volume.above_alert = above

    # -- the storage table ---------------------------------------------------------
    def observe(self, now: float) -> None:
        """Record the rows of every day that ended at or before ``now`` (the state
        has not changed since the last change, which is the state then); the last
        day ends at the horizon."""
        while self._next_day < self._days and self._day_end(self._next_day) <= now:
            self._record(self._next_day)

    def finish(self) -> None:
        """Record the days up to the horizon not yet recorded (nothing changed since:
        the state at the end is the state then)."""
        while self._next_day < self._days:
            self._record(self._next_day)

    @property
    def _days(self) -> int:
        """Days in the table: each day started before the horizon."""
        return math.ceil(self.horizon_s / DAY_S - 1e-9)

    def _day_end(self, day: int) -> float:
        return min((day + 1) * DAY_S, self.horizon_s)

    def _record(self, day: int) -> None:
        for t in self.totals.values():
            self.rows.append((day, t.group, t.kind, t.used_bytes, t.allocated_bytes))
        self._next_day = day + 1
        if self._next_day == self._days:  # the horizon
            self.horizon_used_bytes = self.used_bytes
            self.horizon_allocated_bytes = self.allocated_bytes

    # -- the projection --------------------------------------------------------------
    def steady_state(self) -> tuple[float, float]:
        """(used, allocated) once every data source's retention range is full:
        used per data source as DataSourceStorage.steady_state; allocated as DPM's
        default formulas for the same estate, each volume (each group's pair when
        co-located) grown as auto-grow would to hold its steady state."""
        used = 0.0
        volumes: dict[object, list[float]] = {}
        for i, ds in enumerate(self.sources):
            replica, points = ds.steady_state()
            used += replica + points
            r_alloc, p_alloc = default_allocation(ds.workload, ds.size_bytes, ds.retention_days)
            shared = self.colocate and ds.workload in COLOCATED_WORKLOADS and ds.replica
            key: object = ds.replica.totals.group if shared and ds.replica else i
            acc = volumes.setdefault(key, [0.0, 0.0, 0.0, 0.0])
            acc[0] += replica
            acc[1] += r_alloc
            acc[2] += points
            acc[3] += p_alloc
        allocated = sum(
            grown_to_fit(r_alloc, r_used) + grown_to_fit(p_alloc, p_used)
            for r_used, r_alloc, p_used, p_alloc in volumes.values()
        )
        return used, allocated
