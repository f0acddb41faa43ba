"""Hyper-V's virtual machines as the simulation sees them, and the seven requirements
a VM must meet for an online backup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hvsim.model.infrastructure import HyperVHost, Volume
from hvsim.model.schedule import DAY_S
from hvsim.scenario.schema import GUESTS_WITH_VSS, YEAR_DAYS

if TYPE_CHECKING:
    from hvsim.scenario.schema import VmSpec

# A year of growth: 365 days (source: veeam-rps).
YEAR_S = YEAR_DAYS * DAY_S

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


@dataclass(slots=True, eq=False, kw_only=True)
class VirtualMachine:
    """A Hyper-V VM: where it runs and lives, what it holds, how it changes, and what
    its guest offers a backup. What DPM keeps of it is its Replica (hvsim.model.dpm)."""

    name: str
    host: HyperVHost
    volume: Volume
    memory_bytes: float
    io_rate_bps: float
    used_bytes: float  # at the start of the run; used_bytes_at(t) as it grows
    daily_change: float  # fraction of used bytes per day, weighted over disks
    guest_os: str
    backup_integration_service: bool
    dynamic_disks: bool
    file_systems: tuple[str, ...]
    running: bool
    vss_storage_assignment_modified: bool
    cluster_group_online: bool
    writers: tuple[str, ...]
    rng: np.random.Generator  # the VM's own draws during the run (VSS writer times)
    dirty_rate_bps: float = 0.0
    # Hyper-V runs one operation on a VM at a time: set while a backup snapshot, a
    # consistency check or a migration holds the VM; migrations and checks wait for it.
    busy: simpy.Event | None = None
    migrating: bool = False
    # Its data's yearly growth, compounded (source: veeam-rps), and when DPM starts
    # protecting it (seconds from the start; host and guest level alike).
    growth_per_year: float = 0.0
    protected_from_s: float = 0.0

    @classmethod
    def build(
        cls,
        spec: VmSpec,
        name: str,
        host: HyperVHost,
        volume: Volume,
        attributes: np.random.Generator,
        jobs: np.random.Generator,
        dirty: np.random.Generator,
        protected_from_s: float = 0.0,
    ) -> VirtualMachine:
        """The VM ``name`` of ``spec`` on ``host`` and ``volume``, its attributes drawn
        from ``attributes`` in a fixed order (disks, then the rest as listed; io_rate
        last, so that adding it left the earlier draws unchanged), its dirty rate
        from ``dirty``; ``jobs`` is its stream for the run. Its I/O lands on the
        volume."""
        used_total = 0.0
        changed = 0.0
        for disk in spec.disks:
            size = disk.size.sample(attributes)
            used = min(size, disk.used.sample(attributes)) if disk.used is not None else size
            used_total += used
            changed += used * disk.daily_change.sample(attributes)
        vm = cls(
            name=name,
            host=host,
            volume=volume,
            memory_bytes=spec.memory.sample(attributes),
            used_bytes=used_total,
            daily_change=changed / used_total if used_total > 0 else 0.0,
            guest_os=spec.guest_os.sample(attributes),
            backup_integration_service=spec.backup_integration_service.sample(attributes),
            dynamic_disks=spec.dynamic_disks.sample(attributes),
            file_systems=tuple(spec.file_systems),
            running=spec.running.sample(attributes),
            vss_storage_assignment_modified=spec.vss_storage_assignment_modified.sample(attributes),
            cluster_group_online=spec.cluster_group_online.sample(attributes),
            writers=tuple(spec.vss_writers),
            rng=jobs,
            dirty_rate_bps=spec.dirty_rate.sample(dirty),
            io_rate_bps=spec.io_rate.sample(attributes),
            growth_per_year=spec.growth_per_year,
            protected_from_s=protected_from_s,
        )
        volume.add_io(host.name, vm.io_rate_bps)
        return vm

    def hold(self, env: simpy.Environment) -> simpy.Event:
        """Hold the VM for an operation (a backup snapshot, a consistency check): a
        new ``busy`` event, which ``unhold`` fires for whatever waits on it."""
        busy = self.busy = simpy.Event(env)
        return busy

    def unhold(self, busy: simpy.Event) -> None:
        """The operation holding the VM with ``busy`` is over: the VM is free, and
        ``busy`` fires only when something waits on it (a process yielded it, so it
        has a callback). Unwaited, it would be an event that runs nothing: leaving it
        out shifts the ids of the events scheduled after it down by one, all alike,
        so no two events change order."""
        self.busy = None
        if busy.callbacks:
            busy.succeed()

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

    def growth_factor(self, now: float) -> float:
        """How much the VM's data has grown by ``now`` (seconds from the start):
        (1 + growth_per_year)^(now / 365 days), compounded as Veeam's Restore Point
        Simulator does (source: veeam-rps); 1 without growth."""
        if self.growth_per_year == 0.0:
            return 1.0
        factor: float = (1.0 + self.growth_per_year) ** (now / YEAR_S)
        return factor

    def used_bytes_at(self, now: float) -> float:
        """The disks' used bytes at ``now``, grown from the start's."""
        return self.used_bytes * self.growth_factor(now)

    def changed_bytes_since(self, t0: float, now: float) -> float:
        """Bytes changed since ``t0`` at the daily rate of the used bytes at ``now``,
        at most those used bytes."""
        used = self.used_bytes_at(now)
        return min(used, used * self.daily_change * (now - t0) / 86400.0)
