"""Virtual machines as the simulation sees them, and whether DPM can back one up online."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from hvsim.model.infrastructure import HyperVHost, Volume
from hvsim.scenario.schema import GUESTS_WITH_VSS

# The seven requirements for an online backup ("Backup Using Child Partition
# Snapshot"), in the seed article's order; every one that fails is a reason the VM
# is backed up in saved state (source: seed-article), listed in this order.
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
    # What its recovery points hold: application, file or crash; "none" for a VM in
    # no protection group (set by engine.build_world, see recovery_point_consistency).
    consistency: str = "application"

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

    def recovery_point_consistency(self, kept_running: bool) -> str:
        """What this protected VM's recovery points hold, "application", "file" or
        "crash", when its DPM server keeps VMs running whatever fails
        (``kept_running``: DPM 2012 R2 UR3+ on WS2012 R2, source: dpm-ur3-online) or not.

        - All seven requirements met: a child-partition snapshot; the VSS request goes
          through the Backup integration service to the guest's writers, which flush,
          so the point is application-consistent (source: seed-article).
        - A requirement fails and the VM is backed up in saved state: application.
          The VM is saved (memory, devices and disks at one instant) and resumes, so
          nothing is in flight; restored, it resumes where it was saved. The seed
          article: "the only way to ensure a good backup is to perform an offline
          backup". A stopped VM's disks are at rest: the same, with either DPM.
        - Kept running although a requirement fails (source: dpm-ur3-online: the offline
          rules no longer apply): a Linux guest is file-consistent ("Linux VMs (DPM
          2012 R2): file-consistent only", same source) when its
          Backup integration service is on, since that service's VSS daemon
          (hv_vss_daemon) freezes the guest's file systems for the snapshot; without
          it the host falls back to a standard snapshot (source:
          linux-hv-vss-daemon), crash-consistent. Any other failure (no VSS in the guest,
          integration service off, dynamic disks, a volume not NTFS, ...) leaves a
          snapshot of disks in use that nothing flushed: crash-consistent.
        """
        if not kept_running or not self.running or not self.failed_requirements():
            return "application"
        if self.guest_os == "linux" and self.backup_integration_service:
            return "file"
        return "crash"

    def changed_bytes_since(self, t0: float, now: float) -> float:
        """Bytes changed since ``t0`` at the daily rate, at most the used bytes."""
        return min(self.used_bytes, self.used_bytes * self.daily_change * (now - t0) / 86400.0)
