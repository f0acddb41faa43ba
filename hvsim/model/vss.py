"""VSS: in-guest writers, host snapshots by a software or hardware provider, and
the redirected I/O a snapshot causes on a Windows Server 2008 R2 CSV."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from hvsim.model.flows import Flow, FlowNetwork
from hvsim.model.infrastructure import CsvVolume, Volume
from hvsim.model.trace import RedirectedIoRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.scenario.distributions import Dist

if TYPE_CHECKING:
    from hvsim.scenario import schema


class WriterTimeout(Exception):
    """A guest writer did not freeze and flush within the window (source: vss-timeouts)."""


class _LateWriter(Exception):
    """A writer past the flush window: the attempt fails at the window's end."""

    def __init__(self, window_s: float, writer: str):
        super().__init__(writer)
        self.window_s = window_s
        self.writer = writer

    def error(self) -> WriterTimeout:
        return WriterTimeout(
            f"VSS writer '{self.writer}' did not flush within the {self.window_s:g} s window"
        )


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
        try:
            flush_s = self._flush_s(vm)
        except _LateWriter as late:
            yield self.env.timeout(late.window_s)
            raise late.error() from None
        yield self.env.timeout(flush_s)

    def _flush_s(self, vm: VirtualMachine) -> float:
        """How long the VM's writers take to freeze and flush (one draw per writer,
        in order): the slowest's time; WriterTimeout, at the window's end, past the
        window (_LateWriter: the caller waits out the window, then raises)."""
        window = self.settings.flush_window_s
        slowest_s, slowest = 0.0, ""
        for name in vm.writers:
            t = self.settings.writer_flush[name].sample(vm.rng)
            if t > slowest_s:
                slowest_s, slowest = t, name
        if slowest_s > window:
            raise _LateWriter(window, slowest)
        return slowest_s

    def freeze_and_snapshot(
        self, vm: VirtualMachine, job_id: int
    ) -> Generator[simpy.Event, None, HostSnapshot]:
        """freeze_writers, then take_snapshot. Unless the snapshot redirects the
        volume's I/O (a CSV v1, whose streams open when the snapshot starts), nothing
        happens between the two: the job holds the VM and changes nothing when its
        writers are flushed, so the two waits are one, to the same float instant,
        (now + flush) + snapshot. (Exact unless another event is scheduled during the
        flush for that very instant: with the writers' flush times drawn from
        continuous distributions, as the defaults are, two float sums would have to
        agree to the last bit.)"""
        env = self.env
        volume = vm.volume
        if volume.redirects_on_snapshot:
            yield from self.freeze_writers(vm)
            return (yield from self.take_snapshot(vm, job_id))
        try:
            flush_s = self._flush_s(vm)
        except _LateWriter as late:
            yield env.timeout(late.window_s)
            raise late.error() from None
        hardware = volume.vss_provider == "hardware"
        snapshot_s = (
            self.settings.snapshot_hardware_s if hardware else self.settings.snapshot_software_s
        )
        now = env._now
        end = (now + flush_s) + snapshot_s  # where the two timeouts would end
        if now + (end - now) == end:
            yield env.timeout(end - now)
        else:  # the difference does not add back exactly: wait twice, as before
            yield env.timeout(flush_s)
            yield env.timeout(snapshot_s)
        return self._snapshot_taken(vm, volume, job_id, None, hardware)

    def take_snapshot(
        self, vm: VirtualMachine, job_id: int
    ) -> Generator[simpy.Event, None, HostSnapshot]:
        volume = vm.volume
        hardware = volume.vss_provider == "hardware"
        redirect = self._redirect(vm) if volume.redirects_on_snapshot else None
        yield self.env.timeout(
            self.settings.snapshot_hardware_s if hardware else self.settings.snapshot_software_s
        )
        return self._snapshot_taken(vm, volume, job_id, redirect, hardware)

    def _snapshot_taken(
        self,
        vm: VirtualMachine,
        volume: Volume,
        job_id: int,
        redirect: RedirectedIo | None,
        hardware: bool,
    ) -> HostSnapshot:
        """The snapshot of ``vm``'s ``volume`` exists: count it, and end a hardware
        provider's redirected access."""
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
        """Release the snapshot: release_s, then released."""
        if self.settings.release_s > 0:
            yield self.env.timeout(self.settings.release_s)
        self.released(snap)

    def released(self, snap: HostSnapshot) -> None:
        """The snapshot is gone (after release_s): uncount it, end its redirected I/O."""
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
