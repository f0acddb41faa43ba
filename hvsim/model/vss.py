"""VSS: in-guest writers, host snapshots by a software or hardware provider, and
the redirected I/O a snapshot causes on a Windows Server 2008 R2 CSV."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from hvsim.model.trace import RedirectedIoRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.scenario.distributions import Dist


class WriterTimeout(Exception):
    """A guest writer did not freeze and flush within the window (facts §8)."""


@dataclass(slots=True, frozen=True)
class VssSettings:
    flush_window_s: float
    writer_flush: dict[str, Dist]
    snapshot_software_s: float
    snapshot_hardware_s: float
    release_s: float


@dataclass(slots=True, eq=False)
class HostSnapshot:
    """A host-level shadow copy of the VM's volume, alive until released."""

    vm: VirtualMachine
    job_id: int
    redirect_from_s: float | None
    released: bool = False


class VssCoordinator:
    """Takes and releases snapshots for backup jobs, and records redirected I/O."""

    def __init__(self, env: simpy.Environment, settings: VssSettings, trace: Trace):
        self.env = env
        self.settings = settings
        self.trace = trace
        self.alive = 0

    def freeze_writers(self, vm: VirtualMachine) -> Generator[simpy.Event, None, None]:
        """Writers freeze and flush in parallel; the slowest decides. Past the
        window the attempt fails at the window's end."""
        window = self.settings.flush_window_s
        slowest_s, slowest = 0.0, ""
        for name in vm.writers:
            t = self.settings.writer_flush[name].sample(vm.rng)
            if t > slowest_s:
                slowest_s, slowest = t, name
        if slowest_s > window:
            yield self.env.timeout(window)
            raise WriterTimeout(
                f"VSS writer '{slowest}' did not flush within the {window:g} s window"
            )
        yield self.env.timeout(slowest_s)

    def take_snapshot(
        self, vm: VirtualMachine, job_id: int
    ) -> Generator[simpy.Event, None, HostSnapshot]:
        volume = vm.volume
        hardware = volume.vss_provider == "hardware"
        start = self.env.now
        yield self.env.timeout(
            self.settings.snapshot_hardware_s if hardware else self.settings.snapshot_software_s
        )
        volume.snapshots_alive += 1
        self.alive += 1
        redirect_from = None
        if volume.redirects_on_snapshot:
            if hardware:
                # Hardware provider: redirected only while the snapshot is taken (facts §3).
                self.trace.redirected_io.append(
                    RedirectedIoRecord(volume.name, vm.name, job_id, start, self.env.now)
                )
            else:
                # Software provider: redirected until the backup completes (facts §3).
                redirect_from = start
        return HostSnapshot(vm, job_id, redirect_from)

    def release(self, snap: HostSnapshot) -> Generator[simpy.Event, None, None]:
        if self.settings.release_s > 0:
            yield self.env.timeout(self.settings.release_s)
        snap.released = True
        snap.vm.volume.snapshots_alive -= 1
        self.alive -= 1
        if snap.redirect_from_s is not None:
            self.trace.redirected_io.append(
                RedirectedIoRecord(
                    snap.vm.volume.name,
                    snap.vm.name,
                    snap.job_id,
                    snap.redirect_from_s,
                    self.env.now,
                )
            )
