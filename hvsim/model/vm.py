"""Virtual machines as the simulation sees them, and whether DPM can back one up online."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from hvsim.model.infrastructure import HyperVHost, Volume
from hvsim.scenario.schema import GUESTS_WITH_VSS

# The seven requirements for an online backup ("Backup Using Child Partition
# Snapshot"), in the seed article's order; every one that fails is a reason the VM
# is backed up in saved state (facts §4), listed in this order.
REQUIREMENTS = (
    ("backup_integration_service", "Backup integration service is off"),
    ("guest_supports_vss", "guest OS does not support VSS"),
    ("no_dynamic_disks", "dynamic disks in the guest"),
    ("ntfs_only", "a volume is not NTFS"),
    ("running", "VM is not running"),
    ("vss_storage_unmodified", "VSS storage assignment modified"),
    ("cluster_group_online", "cluster resource group offline"),
)


@dataclass(slots=True, eq=False)
class VirtualMachine:
    name: str
    group: str
    host: HyperVHost
    volume: Volume
    memory_bytes: float
    io_rate_bps: float
    used_bytes: float
    daily_change: float  # fraction of used bytes per day, weighted over disks
    guest_os: str
    backup_integration_service: bool
    dynamic_disks: bool
    file_systems: tuple[str, ...]
    running: bool
    vss_storage_assignment_modified: bool
    cluster_group_online: bool
    writers: tuple[str, ...]
    rng: np.random.Generator
    dirty_rate_bps: float = 0.0
    method: str = "online"
    offline_reason: str = ""
    last_recovery_point_s: float | None = None
    # Change tracking: bytes changed since this time go in the next express full.
    last_sync_s: float = 0.0
    replica_bytes: float = 0.0  # size of the VM's replica on the DPM server (0: none yet)
    recovery_points_s: list[float] = field(default_factory=list)
    # Hyper-V runs one operation on a VM at a time: set while a backup snapshot, a
    # consistency check or a migration holds the VM; migrations and checks wait for it.
    busy: simpy.Event | None = None
    migrating: bool = False
    inconsistent: bool = False
    check_pending: bool = False
    broken_until_s: float = -1.0
    broken_reason: str = ""

    def failed_requirements(self) -> list[str]:
        """Every one of the seven online-backup requirements this VM fails, in the
        seed article's order (empty: it meets them all)."""
        checks = {
            "backup_integration_service": self.backup_integration_service,
            "guest_supports_vss": self.guest_os in GUESTS_WITH_VSS,
            "no_dynamic_disks": not self.dynamic_disks,
            "ntfs_only": all(fs == "NTFS" for fs in self.file_systems),
            "running": self.running,
            "vss_storage_unmodified": not self.vss_storage_assignment_modified,
            "cluster_group_online": self.cluster_group_online or self.host.cluster is None,
        }
        return [reason for key, reason in REQUIREMENTS if not checks[key]]

    def failed_requirement(self) -> str | None:
        """The failed requirements joined with "; " (the offline reason), or None."""
        return "; ".join(self.failed_requirements()) or None

    def changed_bytes_since(self, t0: float, now: float) -> float:
        """Bytes changed since ``t0`` at the daily rate, at most the used bytes."""
        return min(self.used_bytes, self.used_bytes * self.daily_change * (now - t0) / 86400.0)
