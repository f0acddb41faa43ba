"""VSS: in-guest writers, host snapshots by a software or hardware provider, and
the redirected I/O a snapshot causes on a Windows Server 2008 R2 CSV."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from hvsim.model.flows import Flow, FlowNetwork
from hvsim.model.infrastructure import CsvVolume
from hvsim.model.trace import RedirectedIoRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.scenario.distributions import Dist

if TYPE_CHECKING:
    from hvsim.scenario import schema


class WriterTimeout(Exception):
    """A guest writer did not freeze and flush within the window (source: vss-timeouts)."""


@dataclass(slots=True, frozen=True)
class VssSettings:
    flush_window_s: float
    writer_flush: dict[str, Dist]
    snapshot_software_s: float
    snapshot_hardware_s: float
    release_s: float

    @classmethod
    def build(cls, spec: schema.Vss) -> VssSettings:
        return cls(
            spec.flush_window,
            {k: w.flush_time for k, w in spec.writers.items()},
            spec.snapshot_time_software,
            spec.snapshot_time_hardware,
            spec.release_time,
        )


@dataclass(slots=True, eq=False)
class HostSnapshot:
    """A host-level shadow copy of the VM's volume, alive until released."""

    vm: VirtualMachine
    job_id: int
    redirect: RedirectedIo | None
    released: bool = False


@dataclass(slots=True, eq=False)
class RedirectedIo:
    """A CSV in redirected access: the VMs on every other node send their I/O over
    the cluster network to the coordinator (the node backing up, which owns the CSV
    for the backup, source: csv-redirected-access), and it hits the CSV with copy-on-write."""

    start_s: float
    demand_bps: float
    streams: list[Flow]


class VssCoordinator:
    """Takes and releases snapshots for backup jobs, and records redirected I/O."""

    def __init__(
        self, env: simpy.Environment, settings: VssSettings, trace: Trace, flows: FlowNetwork
    ):
        self.env = env
        self.settings = settings
        self.trace = trace
        self.flows = flows
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
        redirect = self._redirect(vm) if volume.redirects_on_snapshot else None
        yield self.env.timeout(
            self.settings.snapshot_hardware_s if hardware else self.settings.snapshot_software_s
        )
        volume.snapshots_alive += 1
        self.alive += 1
        if redirect is not None and hardware:
            # Hardware provider: redirected only while the snapshot is taken
            # (source: csv-redirected-access).
            self._end_redirect(vm, job_id, redirect)
            redirect = None
        # Software provider: redirected until the backup completes (source: csv-redirected-access).
        return HostSnapshot(vm, job_id, redirect)

    def release(self, snap: HostSnapshot) -> Generator[simpy.Event, None, None]:
        if self.settings.release_s > 0:
            yield self.env.timeout(self.settings.release_s)
        snap.released = True
        snap.vm.volume.snapshots_alive -= 1
        self.alive -= 1
        if snap.redirect is not None:
            self._end_redirect(snap.vm, snap.job_id, snap.redirect)

    def _redirect(self, vm: VirtualMachine) -> RedirectedIo:
        volume, coordinator = vm.volume, vm.host.name
        assert isinstance(volume, CsvVolume)  # only a CSV redirects its I/O
        net = volume.cluster.network
        specs = [
            ((net[node][0], net[coordinator][1], volume.read), d)
            for node, d in volume.io_demand_by_node.items()
            if node != coordinator and d > 0
        ]
        streams = self.flows.open_streams(specs)
        demand = sum(d for _, d in specs)
        return RedirectedIo(self.env.now, demand, streams)

    def _end_redirect(self, vm: VirtualMachine, job_id: int, redirect: RedirectedIo) -> None:
        moved = self.flows.close_streams(redirect.streams)
        duration = self.env.now - redirect.start_s
        achieved = moved / duration if duration > 0 else redirect.demand_bps
        self.trace.redirected_io.append(
            RedirectedIoRecord(
                vm.volume.name,
                vm.name,
                job_id,
                redirect.start_s,
                self.env.now,
                redirect.demand_bps,
                achieved,
            )
        )
