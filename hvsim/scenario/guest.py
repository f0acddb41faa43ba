"""Guest-level protection in the scenario: DPM's schedule rules for guest-level
protection groups (checked, never clamped) and what a design asks of each DPM
server against its published limits (admission).

Both are arithmetic on the scenario, shared by validation (rules: exit 2), warnings
(limits: a named warning) and the run's KPIs (``admission``: how many DPM servers
the design needs, and which limit decides it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hvsim.scenario.patterns import group_membership, scenario_vm_names

if TYPE_CHECKING:
    from hvsim.scenario.patterns import VmNames
    from hvsim.scenario.schema import ProtectionGroup, Scenario, VmSpec

DAY_S = 86400
WEEK_S = 7 * DAY_S
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# DPM's recovery-point rules (source: dpm-recovery-point-caps).
MAX_EXPRESS_FULLS = 448
MAX_INCREMENTALS_PER_FULL = 96
MAX_FILE_POINTS = 64
MAX_FILE_POINTS_PER_DAY = 8
# Exchange: "greater than 15 minutes", 2 h "a sound approach" (source: dpm-exchange-protection).
EXCHANGE_MIN_SYNC_S = 900
EXCHANGE_DEFAULT_SYNC_S = 7200
# SQL "as frequently as every 15 minutes", DPM's default (sources: dpm-sql-protection,
# dpm-hyperv-recovery-points).
DEFAULT_SYNC_S = 900


def sync_frequency_s(group: ProtectionGroup, kinds: set[str]) -> int:
    """The group's synchronization frequency: as given, else 2 h for a guest-level
    group protecting Exchange databases (``kinds``: what the group protects, from
    guest_kinds), else 15 min."""
    if group.sync_frequency is not None:
        return round(group.sync_frequency)
    if group.level == "guest" and "exchange" in kinds:
        return EXCHANGE_DEFAULT_SYNC_S
    return DEFAULT_SYNC_S


def guest_kinds(scenario: Scenario) -> dict[str, set[str]]:
    """The kinds of guest data source (sql, sql_simple, exchange, sharepoint, files)
    each guest-level group protects, by group name."""
    spec_of = {n: spec for spec in scenario.vms for n in spec.names()}
    kinds: dict[str, set[str]] = {
        g.name: set() for g in scenario.protection_groups if g.level == "guest"
    }
    for name, group in group_membership(scenario, level="guest").items():
        kinds[group].update(spec_kinds(spec_of[name]))
    return kinds


def spec_kinds(spec: VmSpec) -> set[str]:
    """The kinds of guest data source a VM entry holds; a SQL database in the simple
    recovery model is 'sql_simple' (no incremental synchronizations)."""
    kinds = {"sql" if g.recovery_model == "full" else "sql_simple" for g in spec.sql}
    if spec.exchange:
        kinds.add("exchange")
    if spec.sharepoint:
        kinds.add("sharepoint")
    if spec.files:
        kinds.add("files")
    return kinds


def data_source_names(spec: VmSpec, vm_name: str) -> list[tuple[str, str]]:
    """The guest data sources of the VM ``vm_name`` of entry ``spec``, (name,
    workload), named as hvsim.model.guest numbers them per workload: <vm>/sql1,
    <vm>/sql2, ..., <vm>/exchange1, <vm>/sharepoint1, <vm>/files1. Declared data
    sources have these names whatever the VM's protection."""
    out: list[tuple[str, str]] = []
    for workload, entries in (
        ("sql", [g.databases for g in spec.sql]),
        ("exchange", [g.databases for g in spec.exchange]),
        ("sharepoint", [g.farms for g in spec.sharepoint]),
        ("files", [g.volumes for g in spec.files]),
    ):
        out += [(f"{vm_name}/{workload}{n}", workload) for n in range(1, sum(entries) + 1)]
    return out


def point_days(group: ProtectionGroup) -> tuple[int, ...]:
    """Weekdays (0 = Monday) with express fulls (file recovery points)."""
    days = group.express_full_days or WEEKDAYS
    return tuple(sorted({WEEKDAYS.index(d) for d in days}))


def week_points_s(group: ProtectionGroup) -> list[int]:
    """The group's express fulls (file recovery points) in one week, seconds from
    Monday 00:00, sorted."""
    times = sorted({round(t) for t in group.express_full_times})
    return [d * DAY_S + t for d in point_days(group) for t in times]


def incrementals_between(week_points: list[int], sync_s: int) -> tuple[int, int, int]:
    """The most synchronizations strictly between two consecutive express fulls of a
    weekly schedule (synchronizations every ``sync_s`` from midnight; one due at an
    express full's time is that express full), with that gap (start, end) in seconds
    from Monday 00:00."""
    worst = (-1, 0, 0)
    n = len(week_points)
    for i, a in enumerate(week_points):
        b = week_points[i + 1] if i + 1 < n else week_points[0] + WEEK_S
        # Multiples k * sync_s with a < k * sync_s < b.
        count = (b - 1) // sync_s - a // sync_s
        if count > worst[0]:
            worst = (count, a, b)
    return worst


def points_in_retention(week_points: list[int], retention_days: int, every_day: bool = True) -> int:
    """The most recovery points of a weekly schedule that a retention range of
    ``retention_days`` holds at once. Retention counts days with a successful point,
    not calendar days (source: dpm-auto-grow: "a 30-day range with Monday-to-Friday
    backups spans six weeks"), as the pool keeps them (hvsim.model.pool): the range
    holds the points of the latest ``retention_days`` days with a job that stored
    data. That is every day for a data source that synchronizes (``every_day``), else
    the days of the schedule's points; the most over where the range ends."""
    per_day = [0] * 7
    for p in week_points:
        per_day[p // DAY_S % 7] += 1
    counts = per_day if every_day else [c for c in per_day if c]
    if not counts:
        return 0
    weeks, rest = divmod(retention_days, len(counts))
    doubled = counts + counts
    most = max(sum(doubled[i : i + rest]) for i in range(len(counts))) if rest else 0
    return weeks * len(week_points) + most


def retention_span_days(week_points: list[int], retention_days: int, every_day: bool = True) -> int:
    """The calendar days of change a retention range of ``retention_days`` holds (the
    most over where it ends): the range itself for a data source that stores every
    day (``every_day``); else its days with points, each holding the change since
    the one before (source: dpm-auto-grow: Monday-to-Friday backups kept 30 days span
    six weeks)."""
    days = sorted({p // DAY_S % 7 for p in week_points})
    if every_day or not days:
        return retention_days
    gaps = [(d - days[i - 1]) % 7 or 7 for i, d in enumerate(days)]
    weeks, rest = divmod(retention_days, len(gaps))
    doubled = gaps + gaps
    most = max(sum(doubled[i : i + rest]) for i in range(len(gaps))) if rest else 0
    return weeks * 7 + most


def _clock(week_s: int) -> str:
    day, t = divmod(week_s % WEEK_S, DAY_S)
    return f"{WEEKDAYS[day].capitalize()} {t // 3600:02d}:{t % 3600 // 60:02d}"


def check_host_groups(scenario: Scenario) -> list[str]:
    """A host-level group keeps at most 448 express fulls of each VM, an application
    data source (source: dpm-recovery-point-caps): express fulls a day x retention
    days (retention counts days with a point, so failed days never keep more)."""
    problems = []
    for i, g in enumerate(scenario.protection_groups):
        if g.level != "host":
            continue
        kept = len({round(t) for t in g.express_full_times}) * g.retention_days
        if kept > MAX_EXPRESS_FULLS:
            problems.append(
                f"protection_groups[{i}].retention_days: {kept} express fulls kept in the "
                f"retention range, more than DPM's {MAX_EXPRESS_FULLS} (source: "
                f"dpm-recovery-point-caps) ({g.retention_days})"
            )
    return problems


def check_guest_groups(scenario: Scenario) -> list[str]:
    """DPM's rules for each guest-level group's schedule, one line per broken rule,
    ``path: what (source: NAME) (given)``."""
    problems: list[str] = []
    kinds_of = guest_kinds(scenario)
    for i, g in enumerate(scenario.protection_groups):
        p = f"protection_groups[{i}]"
        if g.level == "host":
            if g.express_full_days is not None:
                problems.append(
                    f"{p}.express_full_days: applies to guest-level groups; a host-level "
                    f"group makes its express fulls every day ({g.express_full_days!r})"
                )
            continue
        kinds = kinds_of.get(g.name, set())
        sync_s = sync_frequency_s(g, kinds)
        points = week_points_s(g)
        if "exchange" in kinds and sync_s <= EXCHANGE_MIN_SYNC_S:
            problems.append(
                f"{p}.sync_frequency: a group protecting Exchange databases synchronizes "
                "less often than every 15 min, 2 h recommended (source: "
                f"dpm-exchange-protection) ({sync_s // 60} min)"
            )
        if kinds & {"sql", "exchange"}:
            count, a, b = incrementals_between(points, sync_s)
            if count > MAX_INCREMENTALS_PER_FULL:
                problems.append(
                    f"{p}.express_full_days: {count} synchronizations between the express "
                    f"fulls of {_clock(a)} and {_clock(b)} (every {sync_s // 60} min), more "
                    f"than DPM's {MAX_INCREMENTALS_PER_FULL} incrementals per express full "
                    "(source: dpm-recovery-point-caps) "
                    f"({list(g.express_full_days or WEEKDAYS)!r})"
                )
        if kinds & {"sql", "sql_simple", "exchange", "sharepoint"}:
            # SQL in full recovery and Exchange synchronize (store) every day; SQL in
            # simple recovery and SharePoint on their express full days only, which
            # keeps the most (hvsim.model.guest).
            daily = not kinds & {"sql_simple", "sharepoint"}
            kept = points_in_retention(points, g.retention_days, daily)
            if kept > MAX_EXPRESS_FULLS:
                problems.append(
                    f"{p}.retention_days: {kept} express fulls kept in the retention range, "
                    f"more than DPM's {MAX_EXPRESS_FULLS} (source: dpm-recovery-point-caps) "
                    f"({g.retention_days})"
                )
        if "files" in kinds:
            per_day = len({round(t) for t in g.express_full_times})
            if per_day > MAX_FILE_POINTS_PER_DAY:
                problems.append(
                    f"{p}.express_full_times: {per_day} file recovery points a day, more "
                    f"than DPM's {MAX_FILE_POINTS_PER_DAY} scheduled per protection group "
                    "each day (source: dpm-recovery-point-caps) "
                    f"({[_clock(round(t))[4:] for t in g.express_full_times]!r})"
                )
            kept = points_in_retention(points, g.retention_days)
            if kept > MAX_FILE_POINTS:
                problems.append(
                    f"{p}.retention_days: {kept} file recovery points kept in the retention "
                    f"range, more than DPM's {MAX_FILE_POINTS} per volume (source: "
                    f"dpm-recovery-point-caps) ({g.retention_days})"
                )
    return problems


def check_guest_vms(scenario: Scenario, all_vms: VmNames) -> list[str]:
    """Each VM's protection against its data sources and its groups: guest protection
    needs data sources, data sources need guest protection, a group names VMs whose
    protection fits its level."""
    problems: list[str] = []
    for i, v in enumerate(scenario.vms):
        p = f"vms[{i}]"
        if v.protection == "host":
            for kind in ("sql", "exchange", "sharepoint", "files"):
                if getattr(v, kind):
                    problems.append(
                        f"{p}.{kind}: guest data sources are protected only with protection "
                        "guest or both; this VM's protection is host"
                    )
        elif v.guest_sources() == 0:
            problems.append(
                f"{p}.protection: protection {v.protection} needs guest data sources "
                f"(sql, exchange, sharepoint or files) ({v.protection!r})"
            )
    protection = {n: spec.protection for spec in scenario.vms for n in spec.names()}
    fits = {"host": ("host", "both"), "guest": ("guest", "both")}
    covered: dict[str, set[str]] = {"host": set(), "guest": set()}
    for i, g in enumerate(scenario.protection_groups):
        for j, m in enumerate(g.members):
            matched = all_vms.matching(m)
            taken = [n for n in matched if protection.get(n) in fits[g.level]]
            if matched and not taken:
                problems.append(
                    f"protection_groups[{i}].members[{j}]: names no VM with protection "
                    f"{' or '.join(fits[g.level])}, which a {g.level}-level group protects "
                    f"({m!r})"
                )
            if g.level == "guest":
                for n in taken:
                    if n in covered["guest"]:
                        problems.append(
                            f"protection_groups[{i}].members[{j}]: VM {n} is already in "
                            f"another guest-level protection group ({m!r})"
                        )
                        break
                covered["guest"].update(taken)
    return problems


# -- admission: what each DPM server is asked to protect against its limits -----
# (name, words, limit, limit with co-location or None); source: dpm-server-limits
# (databases: dpm-sql-protection).
REPLICA_LIMIT_BYTES = 80e12
RECOVERY_POINT_LIMIT_BYTES = 40e12
LIMITS: tuple[tuple[str, str, float, float | None], ...] = (
    ("protected_servers", "protected servers", 100, None),
    ("databases", "databases", 300, 2000),
    ("volumes", "volumes", 600, None),
    ("disk_snapshots", "disk-based snapshots", 9000, None),
    ("replica_bytes", "of replica volumes", REPLICA_LIMIT_BYTES, None),
    (
        "recovery_point_bytes",
        "of recovery point volumes",
        RECOVERY_POINT_LIMIT_BYTES,
        None,
    ),
)
LIMIT_SOURCE = {name: "dpm-server-limits" for name, *_ in LIMITS}
LIMIT_SOURCE["databases"] = "dpm-server-limits, dpm-sql-protection"


@dataclass
class ServerLoad:
    """What one DPM server is asked to protect (expected sizes for distributions)."""

    dpm: str
    colocate: bool
    protected_servers: int = 0
    databases: int = 0
    volumes: int = 0
    disk_snapshots: int = 0
    replica_bytes: float = 0.0
    recovery_point_bytes: float = 0.0
    servers: set[str] = field(default_factory=set)
    # Co-located: the groups whose Hyper-V VMs and SQL databases share a volume pair.
    colocated_groups: set[str] = field(default_factory=set)

    def limit(self, name: str) -> float:
        for key, _, plain, colocated in LIMITS:
            if key == name:
                return colocated if (self.colocate and colocated is not None) else plain
        raise KeyError(name)


def admission(scenario: Scenario) -> list[ServerLoad]:
    """Each DPM server's load against DPM's limits (source: dpm-server-limits):

    - protected servers: each VM with DPM's agent in its guest; at host level each
      Hyper-V host that may run a protected VM (every node of its cluster: protection
      needs the agent on all of them, source: seed-article), and the file servers of
      its SMB share;
    - databases: SQL and Exchange databases and SharePoint content databases; 300,
      2,000 with co-location (source: dpm-sql-protection);
    - volumes: a replica and a recovery point volume per data source (a host-level VM
      or a guest data source), as the pool allocates them (hvsim.model.pool); with
      co-location one pair per protection group for its Hyper-V VMs and SQL
      databases. One DPM server protects 800 VMs (source: dpm-scale-out) only with
      co-located volumes: 800 VMs' own pairs would be 1,600 of the 600 allowed;
    - disk snapshots: express fulls and file recovery points kept in the retention
      range, not incremental synchronizations;
    - replica and recovery point bytes of guest data sources: each one's size; its
      daily change (and log) over the retention range. Host-level VMs are held to
      the storage pool's capacity (pool.capacity) as before: a scenario's pool may be
      larger than DPM 2012's 120 TB.
    """
    names = scenario_vm_names(scenario)
    spec_of = {n: spec for spec in scenario.vms for n in spec.names()}
    loads = {d.name: ServerLoad(d.name, d.colocate) for d in scenario.dpm_servers}
    groups = {g.name: g for g in scenario.protection_groups}
    clusters = {c.name: c for c in scenario.clusters}
    shares = {sh.name: sh for sh in scenario.smb_shares}
    week_cache: dict[tuple[str, bool], tuple[int, int]] = {}

    def kept(g: ProtectionGroup, every_day: bool) -> tuple[int, int]:
        # (points kept in the retention range, calendar days of change they hold) by a
        # data source that stores every day (synchronizes) or on its express full days.
        key = (g.name, every_day)
        if key not in week_cache:
            pts = week_points_s(g)
            week_cache[key] = (
                points_in_retention(pts, g.retention_days, every_day),
                retention_span_days(pts, g.retention_days, every_day),
            )
        return week_cache[key]

    for name, gname in group_membership(scenario, names, level="host").items():
        g = groups[gname]
        load = loads.get(g.dpm_server)
        if load is None:
            continue
        spec = spec_of[name]
        if spec.host is not None:
            load.servers.add(spec.host)
        elif spec.share is not None:
            load.servers.add(spec.smb_host or "")
            sh = shares.get(spec.share)
            load.servers.update(sh.file_servers if sh else ())
        elif spec.cluster in clusters:
            load.servers.update(n.name for n in clusters[spec.cluster].node_list())
        if load.colocate:
            load.colocated_groups.add(g.name)
        else:
            load.volumes += 2
        load.disk_snapshots += len(g.express_full_times) * g.retention_days
    for name, gname in group_membership(scenario, names, level="guest").items():
        g = groups[gname]
        load = loads.get(g.dpm_server)
        if load is None:
            continue
        spec = spec_of[name]
        load.servers.add(f"vm:{name}")
        for s in spec.sql:
            n = s.databases
            load.databases += n
            if load.colocate:
                load.colocated_groups.add(g.name)
            else:
                load.volumes += 2 * n
            points, days = kept(g, s.recovery_model == "full")
            load.disk_snapshots += n * points
            log = s.log_per_day if s.log_per_day is not None else s.size * s.daily_change
            load.replica_bytes += n * s.size
            log_kept = log if s.recovery_model == "full" else 0.0
            load.recovery_point_bytes += n * (s.size * s.daily_change + log_kept) * days
        for e in spec.exchange:
            n = e.databases
            load.databases += n
            load.volumes += 2 * n
            points, days = kept(g, True)
            load.disk_snapshots += n * points
            log = e.log_per_day if e.log_per_day is not None else e.size * e.daily_change
            load.replica_bytes += n * e.size
            load.recovery_point_bytes += n * (e.size * e.daily_change + log) * days
        for sp in spec.sharepoint:
            n = sp.farms
            size = sp.content_databases * sp.size
            load.databases += n * sp.content_databases
            load.volumes += 2 * n
            points, days = kept(g, False)
            load.disk_snapshots += n * points
            load.replica_bytes += n * size
            load.recovery_point_bytes += n * size * sp.daily_change * days
        for f in spec.files:
            n = f.volumes
            load.volumes += 2 * n
            points, days = kept(g, True)
            load.disk_snapshots += n * points
            load.replica_bytes += n * f.size
            load.recovery_point_bytes += n * f.size * f.daily_change * days
    for load in loads.values():
        load.protected_servers = len(load.servers)
        load.volumes += 2 * len(load.colocated_groups)
    return list(loads.values())


@dataclass(frozen=True)
class Need:
    """How many DPM servers the design needs, and the limit that decides it."""

    dpm_servers: int
    dpm_servers_needed: int
    decided_by: str
    totals: dict[str, float]


def servers_needed(loads: list[ServerLoad]) -> Need:
    """The fewest DPM servers that hold the whole design's load within every limit,
    were the data sources spread evenly: the largest of total / limit, rounded up
    (at least 1). ``decided_by`` names that limit."""
    totals: dict[str, float] = {}
    best, decided = 1, "none"
    ratio_best = 0.0
    for key, _, plain, colocated in LIMITS:
        total = float(sum(getattr(load, key) for load in loads))
        totals[key] = total
        everyone_colocates = bool(loads) and all(load.colocate for load in loads)
        limit = colocated if (everyone_colocates and colocated is not None) else plain
        ratio = total / limit
        if ratio > ratio_best:
            ratio_best, decided = ratio, key
        best = max(best, math.ceil(ratio - 1e-12))
    return Need(len(loads), best, decided, totals)


def admission_warnings(scenario: Scenario, source: str) -> list[str]:
    """One warning per DPM server and limit it is over, naming the limit and its
    source; only for a scenario with guest-level protection (a host-only scenario's
    output stays as it was: its load is in the run's admission KPIs)."""
    if not any(g.level == "guest" for g in scenario.protection_groups):
        return []
    lines = []
    loads = admission(scenario)
    for i, load in enumerate(loads):
        for key, words, _, _ in LIMITS:
            value = getattr(load, key)
            limit = load.limit(key)
            if value > limit:
                shown = f"{value / 1e12:,.1f} TB" if key.endswith("_bytes") else f"{int(value):,}"
                cap = f"{limit / 1e12:,.0f} TB" if key.endswith("_bytes") else f"{int(limit):,}"
                lines.append(
                    f"{source}: dpm_servers[{i}]: warning: {shown} {words}, "
                    f"more than the {cap} one DPM server protects (source: "
                    f"{LIMIT_SOURCE[key]}); the design needs "
                    f"{servers_needed(loads).dpm_servers_needed} DPM servers"
                )
    return lines


def guest_job_count(scenario: Scenario) -> int:
    """The guest-level jobs a run schedules, by arithmetic (for the run's estimate):
    per data source its express fulls (file points), its synchronizations, a
    SharePoint farm's catalogs, and an eseutil check after each Exchange job."""
    groups = {g.name: g for g in scenario.protection_groups if g.level == "guest"}
    if not groups:
        return 0
    horizon_s = scenario.horizon_days * DAY_S
    kinds = guest_kinds(scenario)
    spec_of = {n: spec for spec in scenario.vms for n in spec.names()}
    total = 0.0
    for name, gname in group_membership(scenario, level="guest").items():
        g = groups[gname]
        fulls = horizon_s / WEEK_S * len(week_points_s(g)) + len(g.express_full_times)
        syncs = horizon_s / sync_frequency_s(g, kinds[gname]) + 1
        days = horizon_s / DAY_S + 1
        spec = spec_of[name]
        for s in spec.sql:
            total += s.databases * (fulls + (syncs if s.recovery_model == "full" else 0))
        for e in spec.exchange:
            total += e.databases * (fulls + syncs) * (2 if e.eseutil else 1)
        for sp in spec.sharepoint:
            total += sp.farms * (fulls + days)
        for f in spec.files:
            total += f.volumes * (fulls + syncs)
    return math.ceil(total)
