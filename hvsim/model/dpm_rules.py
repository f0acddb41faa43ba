"""What DPM does differently by Windows Server version, DPM version and VSS provider:
each rule once, with its source. A scenario may set the first three itself (the
cluster's ``max_parallel_backups_per_node`` and ``scan_serialized``, the CSV's
``serialize_backups``); these are what DPM does when it does not."""

from __future__ import annotations

from collections.abc import Iterable


def default_parallel_backups_per_node(cluster_os: str, csv_providers: Iterable[str]) -> int:
    """MaxAllowedParallelBackups ('Microsoft Hyper-V') on each node of a cluster: 1 on
    a 2008 R2 cluster with any software-provider CSV (source: dpm-serialization),
    otherwise 3 (assumption: no published default, source: dpm-serialization)."""
    software_v1 = cluster_os == "2008R2" and any(p == "software" for p in csv_providers)
    return 1 if software_v1 else 3


def csv_backups_serialized(cluster_os: str, vss_provider: str) -> bool:
    """One backup at a time on a CSV (DataSourceGroups.xml): DPM requires it for a
    software provider on a Windows Server 2008 R2 cluster, whose snapshot puts the
    CSV in redirected access (sources: dpm-serialization, csv-redirected-access)."""
    return cluster_os == "2008R2" and vss_provider == "software"


def scan_mode_serialized(cluster_os: str, dpm_version: str) -> bool:
    """Protection scans enumerate each CSV one node at a time unless the nodes run
    WS2012+ and DPM is 2012 SP1+ (sources: seed-article, dpm-2012sp1-csv)."""
    return cluster_os == "2008R2" or dpm_version == "2012"


def keeps_vms_online(dpm_version: str, update_rollup: int, host_os: str) -> bool:
    """DPM 2012 R2 UR3 or later on WS2012 R2 backs a VM up while it keeps running,
    whatever it fails of the online requirements: no saved-state backups
    (source: dpm-ur3-online)."""
    return dpm_version == "2012R2" and update_rollup >= 3 and host_os == "2012R2"
