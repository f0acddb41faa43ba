"""KPI names a planner reads: a label per dotted KPI name of kpis.json (flattened, as
sweeps and comparisons name their columns), and which way is better.

``kpi_label("backups.makespan_max_s")`` is "longest night (per schedule)"; a name with
no label is shown as it is. The reports keep the dotted name beside the label (a small
secondary label, or the title of a cell) so a planner can find it in kpis.json.
``kpi_direction`` says whether a lower or a higher value is the better one (None:
neither, e.g. how many VMs the scenario has).
"""

from __future__ import annotations

import re

# Exact names. The unit is in the value (formatted by hvsim.report.text.format_kpi,
# or on a plot's axis), so labels do not repeat it.
KPI_LABELS: dict[str, str] = {
    # backups
    "backups.jobs": "backup jobs",
    "backups.succeeded": "backup jobs that succeeded",
    "backups.failed": "backup attempts that failed",
    "backups.skipped": "backup jobs skipped",
    "backups.online": "backups with the VM running (online)",
    "backups.offline": "backups in saved state (offline)",
    "backups.outside_window": "jobs scheduled outside their backup window",
    "backups.window_compliance": "jobs in their backup window",
    "backups.makespan_p50_s": "typical night (median, per schedule)",
    "backups.makespan_max_s": "longest night (per schedule)",
    "backups.night_span_max_s": "longest night (first to last job)",
    "backups.mean_wait_s": "mean wait for a job slot",
    "backups.bytes": "bytes backed up",
    # saved-state downtime
    "downtime.vms_offline": "VMs backed up in saved state",
    "downtime.total_s": "saved-state downtime, all VMs",
    "downtime.per_backup_p50_s": "saved-state downtime per backup (median)",
    "downtime.per_backup_p95_s": "saved-state downtime per backup (p95)",
    "downtime.per_backup_max_s": "longest saved-state downtime per backup",
    # CSV redirected I/O
    "redirected_io.intervals": "CSV redirected-I/O intervals",
    "redirected_io.total_s": "time CSVs ran in redirected I/O",
    "redirected_io.degraded_vm_minutes": "VM-minutes slowed by redirected I/O",
    "redirected_io.vms_degraded": "VMs slowed by redirected I/O",
    "redirected_io.throughput_ratio": "CSV throughput kept in redirected I/O",
    # consistency checks
    "consistency_checks.count": "consistency checks",
    "consistency_checks.succeeded": "consistency checks that succeeded",
    "consistency_checks.total_s": "time in consistency checks",
    "consistency_checks.bytes_read": "bytes read by consistency checks",
    "consistency_checks.bytes_sent": "bytes sent by consistency checks",
    "consistency_checks.window_makespan_max_with_checks_s": "longest night with checks",
    "consistency_checks.window_makespan_max_without_checks_s": "longest night without checks",
    # migrations
    "migrations.live": "live migrations",
    "migrations.shared_nothing": "shared-nothing migrations",
    "migrations.storage": "storage migrations",
    "migrations.protection_breaks": "protection broken by migrations",
    "migrations.unprotected_s": "time unprotected after migrations",
    "migrations.duration_mean_s": "mean migration duration",
    "migrations.blackout_p95_s": "migration blackout (p95)",
    # RPO
    "rpo.target_s": "RPO target",
    "rpo.violations": "RPO violations",
    "rpo.worst_gap_s": "worst gap between recovery points",
    "rpo.recovery_points": "recovery points made",
    "rpo.recovery_points_missed": "recovery points missed",
    # on-demand backups
    "on_demand.jobs": "on-demand backups",
    "on_demand.mean_wait_s": "mean wait of on-demand backups",
    "on_demand.p95_wait_s": "wait of on-demand backups (p95)",
    # restores
    "restores.count": "restores",
    "restores.succeeded": "restores that succeeded",
    "restores.failed": "restores that failed",
    "restores.degraded": "restores that fell back to a coarser one",
    "restores.over_rto_target": "restores over their RTO target",
    "restores.under_6h": "restores under 6 h",
    "restores.from_6h_to_24h": "restores of 6 to 24 h",
    "restores.over_24h": "restores over 24 h",
    "restores.bytes": "bytes restored",
    "restores.recovery_point_age_p95_s": "data lost by a restore (point age p95)",
    # storage
    "storage.pool_peak_bytes": "DPM pool peak (used)",
    "storage.allocated_peak_bytes": "DPM pool peak (allocated)",
    "storage.steady_state_bytes": "DPM pool for the retention range (used)",
    "storage.steady_state_allocated_bytes": "DPM pool for the retention range (allocated)",
    "storage.needed_bytes": "DPM pool needed for the retention range",
    "storage.capacity_bytes": "DPM pool capacity",
    "storage.end_bytes": "DPM pool used at the end",
    "storage.replica_bytes": "replica volumes",
    "storage.recovery_point_bytes": "recovery point volumes",
    "storage.pool_full_failures": "jobs failed on a full DPM pool",
    "storage.days_until_full": "days until the DPM pool is full",
    "storage.alerts": "DPM storage alerts",
    "storage.volumes": "DPM pool volumes",
    "storage.disk_snapshots": "DPM disk snapshots",
    "storage.protected_bytes_start": "protected data at the start",
    "storage.protected_bytes_end": "protected data at the end",
    # coverage
    "coverage.vms": "VMs",
    "coverage.protected_vms": "VMs protected",
    "coverage.unprotected_vms": "VMs not protected",
    "coverage.onboarded_after_horizon": "VMs onboarded after the horizon",
    "coverage.application_consistent_vms": "VMs with application-consistent points",
    "coverage.file_consistent_vms": "VMs with file-consistent points",
    "coverage.crash_consistent_vms": "VMs with crash-consistent points only",
    # host or guest level
    "decision.best_rpo_s": "best RPO achieved",
    "decision.jobs_per_day": "jobs a day",
    "decision.bytes_per_day": "bytes a day",
    "decision.nightly_jobs_per_day": "nightly jobs a day",
    "decision.nightly_makespan_p50_s": "typical night (median)",
    "decision.nightly_window_compliance": "nightly jobs in their backup window",
    "decision.dpm_servers_needed": "DPM servers needed",
    "decision.pool_peak_bytes": "DPM pool peak (used)",
    # guest level
    "guest.data_sources": "guest data sources",
    "guest.vms": "VMs protected in the guest",
    "guest.jobs": "guest-level jobs",
    "guest.succeeded": "guest-level jobs that succeeded",
    "guest.failed": "guest-level jobs that failed",
    "guest.skipped": "guest-level jobs skipped",
    "guest.bytes": "guest-level bytes transferred",
    "guest.rpo_p50_s": "guest RPO achieved (median)",
    "guest.rpo_max_s": "guest RPO achieved (max)",
    "guest.worst_gap_s": "guest worst gap between recovery points",
    "guest.agent_cpu_s": "DPM agent CPU time in guests",
    "guest.agent_cpu_s_per_vm_day": "DPM agent CPU time per VM-day",
    "admission.dpm_servers": "DPM servers",
    "admission.dpm_servers_needed": "DPM servers needed",
    # tape
    "tape.jobs": "tape jobs",
    "tape.skipped": "tape jobs skipped",
    "tape.bytes": "bytes written to tape",
    "tape.sessions": "tape sessions",
    "tape.session_makespan_p50_s": "tape session (median)",
    "tape.session_makespan_max_s": "longest tape session",
    "tape.sessions_overlapping_window": "tape sessions in the backup window",
    "tape.window_overlap_h": "tape time in the backup window (h)",
    "tape.window_overlap_max_h": "longest tape overlap with a window (h)",
    "tape.drive_utilisation": "tape drive utilisation",
    "tape.drive_utilisation_horizon": "tape drive utilisation over the horizon",
    "tape.drive_busy_s": "tape drive busy time",
    "tape.tapes_written": "tapes written",
    "tape.tapes_per_year": "tapes a year",
    "tape.tapes_in_rotation": "tapes in rotation",
    # online (Azure)
    "online.jobs": "online (Azure) jobs",
    "online.succeeded": "online jobs that succeeded",
    "online.failed": "online jobs that failed",
    "online.skipped": "online jobs skipped",
    "online.data_sources": "data sources protected online",
    "online.data_sources_seeded": "online data sources seeded",
    "online.days_to_seed": "days to seed Azure",
    "online.rpo_target_s": "online RPO target",
    "online.rpo_violations": "online RPO violations",
    "online.worst_gap_s": "online worst gap between points",
    "online.bytes_uploaded": "bytes uploaded to Azure",
    "online.bytes_shipped": "bytes shipped to Azure (offline seeding)",
    "online.upload_backlog_max_bytes": "largest upload backlog",
    "online.upload_backlog_end_bytes": "upload backlog at the end",
    "online.vault_bytes_peak": "Azure vault peak",
    "online.vault_bytes_end": "Azure vault at the end",
    "online.vault_points_end": "Azure recovery points at the end",
}

# Names with a part that varies (a cluster, a DPM server, a restore kind, a resource):
# (pattern, label with {0} for that part), the first that matches.
KPI_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"scan\.(.+)\.duration_s", "protection scan of {0}"),
    (r"scan\.(.+)\.vms_found", "VMs found by the scan of {0}"),
    (r"scan\.(.+)\.vms_missed", "VMs missed by the scan of {0}"),
    (r"scan\.(.+)\.discovery_mean_s", "mean discovery time in {0}"),
    (r"scan\.(.+)\.discovery_scans", "discovery scans in {0}"),
    (r"restores\.per_kind\.(.+)\.rto_p95_s", "time to restore: {0} (p95)"),
    (r"restores\.per_kind\.(.+)\.rto_p50_s", "time to restore: {0} (median)"),
    (r"restores\.per_kind\.(.+)\.rto_max_s", "longest restore: {0}"),
    (r"restores\.per_kind\.(.+)\.count", "restores: {0}"),
    (r"decision\.(.+)_rto_p95_s", "time to restore: {0} (p95)"),
    (r"storage\.servers\.(.+)\.pool_full_failures", "jobs failed on a full pool: {0}"),
    (r"storage\.servers\.(.+)\.pool_peak_bytes", "pool peak (used): {0}"),
    (r"storage\.servers\.(.+)\.needed_bytes", "pool needed for the retention range: {0}"),
    (r"storage\.servers\.(.+)\.capacity_bytes", "pool capacity: {0}"),
    (r"storage\.servers\.(.+)\.days_until_full", "days until the pool is full: {0}"),
    (r"redirected_io\.per_csv_s\.(.+)", "redirected I/O time of {0}"),
    (r"bottleneck\.(.+)", "share of flow time with {0} the bottleneck"),
)

# Which way is better, by the name's words (the first rule that matches wins); None
# for a KPI that says what the scenario is, not how well it does.
_HIGHER = (
    r"\.window_compliance$",
    r"nightly_window_compliance$",
    r"\.succeeded$",
    r"^coverage\.(protected_vms|application_consistent_vms)$",
    r"throughput_ratio$",
    r"days_until_full$",
    r"data_sources_seeded$",
)
_NEUTRAL = (
    r"^horizon_days$",
    r"^coverage\.vms$",
    r"^coverage\.(file_consistent_vms|onboarded_after_horizon)$",
    r"target_s$",
    r"capacity_bytes$",
    r"^admission\.dpm_servers$",
    r"^(admission|guest|online|tape)\.(databases|volumes|data_sources|vms|groups|drives)$",
    r"^guest\.(sql_databases|exchange_databases|sharepoint_farms|file_volumes)$",
    r"^migrations\.(live|shared_nothing|storage)$",
    r"\.(jobs|count|sessions)$",
    r"_jobs$",
    r"^(backups|restores|tape|online|guest|consistency_checks)\.bytes",
    r"^online\.bytes_",
    r"^storage\.(protected_bytes_start|protected_bytes_end|volumes|disk_snapshots)$",
    r"^storage\.servers\..*\.(volumes|disk_snapshots)$",
    r"^backups\.online$",
    r"^on_demand\.jobs$",
    r"^rpo\.recovery_points$",
    r"^decision\.(jobs_per_day|nightly_jobs_per_day|bytes_per_day)$",
    r"^restores\.(under_6h|from_6h_to_24h)$",
    r"^restores\.per_kind\..*\.count$",
    r"^bottleneck\.",
    r"^tape\.(tapes_written|tapes_per_year|tapes_in_rotation|drive_busy_s)$",
    r"^tape\.drive_utilisation",
    r"^online\.vault_points_end$",
    r"^guest\.recovery_points$",
    r"^scan\..*\.(vms_found|discovery_scans)$",
)
_LOWER = (
    r"_s$",
    r"_h$",
    r"_minutes$",
    r"bytes$",
    r"_per_vm_day$",
    r"\.(failed|skipped|offline|violations|degraded|over_rto_target|over_24h)$",
    r"\.(outside_window|intervals|vms_degraded|vms_offline|protection_breaks)$",
    r"\.(pool_full_failures|alerts|recovery_points_missed|unprotected_vms)$",
    r"\.(crash_consistent_vms|vms_missed|dpm_servers_needed)$",
    r"\.sessions_overlapping_window$",
    r"\.days_to_seed$",
    r"violations$",
)


def kpi_label(name: str) -> str:
    """The words for a dotted KPI name; the name itself when it has none."""
    label = KPI_LABELS.get(name)
    if label is not None:
        return label
    for pattern, words in KPI_PATTERNS:
        m = re.fullmatch(pattern, name)
        if m:
            return words.format(m.group(1).replace("_", " "))
    return name


def has_label(name: str) -> bool:
    """Whether ``kpi_label`` gives words other than the name."""
    return kpi_label(name) != name


def kpi_direction(name: str) -> str | None:
    """'lower' or 'higher': which value of the KPI is the better one; None when
    neither is (it describes the scenario, or more is neither good nor bad)."""
    for rules, answer in ((_HIGHER, "higher"), (_NEUTRAL, None), (_LOWER, "lower")):
        if any(re.search(r, name) for r in rules):
            return answer
    return None


def better(name: str, diff: float | None, significant: bool = True) -> str:
    """Whether B is 'better' or 'worse' than A by B - A = ``diff``: 'same' for no
    difference, 'better?' / 'worse?' when the interval of the difference includes
    zero (not significant), 'n/a' when neither direction is better or nothing was
    measured."""
    direction = kpi_direction(name)
    if direction is None or diff is None or diff != diff:
        return "n/a"
    if diff == 0:
        return "same"
    word = "better" if (diff < 0) == (direction == "lower") else "worse"
    return word if significant else word + "?"
