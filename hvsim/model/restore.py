"""Restores: DPM recovering a protected VM (or files from it) out of a recovery point.

A restore is a DPM job like a backup, run backwards. It takes one of the DPM
server's job slots, spends its fixed steps (``setup_s``: preparing the target, or
mounting the recovery point's VHD for item-level recovery), then moves its bytes
from the DPM server's pool (read side) over the network to the target host and
onto the target storage (write side), through the one FlowNetwork, so it shares
every resource max-min with the night's backups and checks, and the link
efficiency applies to it as to them.

Which limits a restore holds: the DPM server's job slots (``max_parallel_jobs``),
as every DPM job in hvsim does (an assumption: DPM publishes no limit of its own on
concurrent recoveries, and its task controller runs recoveries beside backups).
Not the host's ``MaxAllowedParallelBackups`` nor a CSV's backup serialization: both
limit backups, which take VSS snapshots of the source; a restore takes none.

What is restored (source: dpm-hyperv-restore):

- ``whole_vm`` to the original location: "the original VHD is deleted", and DPM
  recovers the VHDs and configuration through the Hyper-V VSS writer. Bytes = the
  VM's disks in use (no delta restore). The VM is unavailable from the restore's
  start to its end (recorded as the restore's ``vm_unavailable_s``; the saved-state
  downtime of backups is another thing and is not changed), and it is held the way
  a backup holds it (``vm.busy``): migrations and checks wait, its backups fail.
- ``whole_vm`` to another host (``target_host``, DPM's "any host"): the same bytes,
  the original VM keeps running.
- ``item_level``: files copied out of the recovery point (``item_bytes``); DPM
  mounts the point's VHD, which needs the Hyper-V role on the DPM server. Without
  it the restore falls back to a whole VM to an alternate location (``target_host``
  or, when none is given, a copy beside the VM on its own host and storage), and
  the record says so.

The recovery point restored is the latest complete one at the request (a point
exists once its job has ended); its age at the request is the data lost. A VM in
no protection group, or whose first backup has not finished, cannot be restored:
the request is recorded as failed, not dropped. Nothing is requested at or after
the horizon (``starts_before``); a restore requested before it runs to its end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import simpy

from hvsim.model.dpm import Replica
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import CsvVolume, HyperVHost, Network, SmbShareVolume, Volume
from hvsim.model.schedule import DAY_S, poisson_arrivals, starts_before
from hvsim.model.trace import RestoreRecord, Trace
from hvsim.model.vm import VirtualMachine

if TYPE_CHECKING:
    from hvsim.scenario import schema

WHOLE_VM = "whole_vm"
ITEM_LEVEL = "item_level"


class RestoreFailed(Exception):
    pass


@dataclass(slots=True, frozen=True)
class RestoreCost:
    """What one restore of a kind costs besides its transfer, and its RTO target."""

    setup_s: float
    rto_target_s: float | None
    item_bytes: float = 0.0

    @classmethod
    def build_all(cls, spec: schema.RestoreKinds) -> dict[str, RestoreCost]:
        return {
            WHOLE_VM: cls(spec.whole_vm.setup, spec.whole_vm.rto_target),
            ITEM_LEVEL: cls(
                spec.item_level.setup, spec.item_level.rto_target, spec.item_level.item_bytes
            ),
        }


@dataclass(slots=True, frozen=True)
class RestoreRequest:
    """One restore asked for: its kind, the VM, where to (None: the original
    location), its RTO target (None: the kind's), and what asked for it."""

    kind: str
    vm: VirtualMachine
    target_host: HyperVHost | None
    rto_target_s: float | None
    trigger: str  # drill | poisson | event


@dataclass(slots=True)
class _Plan:
    """How a request is carried out, once its recovery point and fallback are known."""

    restored_as: str
    host: HyperVHost
    volume: Volume
    original: bool
    nbytes: float
    setup_s: float
    fallback: str


class RestoreJobs:
    """Runs restore requests (one SimPy process per restore) and records each one."""

    def __init__(
        self,
        env: simpy.Environment,
        flows: FlowNetwork,
        network: Network,
        replicas: Mapping[VirtualMachine, Replica],
        costs: Mapping[str, RestoreCost],
        trace: Trace,
        horizon_s: float,
    ) -> None:
        self.env = env
        self.flows = flows
        self.network = network
        self.replicas = replicas
        self.costs = costs
        self.trace = trace
        self.horizon_s = horizon_s
        self.running = 0  # restores requested and not yet ended
        self._requested = 0  # restores numbered in order of request

    # -- sources of requests ---------------------------------------------------
    def request(self, req: RestoreRequest) -> None:
        """Start the restore ``req`` now."""
        self._requested += 1
        self.env.process(self.restore(self._requested, req))

    def drill(
        self,
        times_s: Sequence[float],
        every_days: int,
        first_day: int,
        requests: Sequence[RestoreRequest],
    ) -> Generator[simpy.Event, object, None]:
        """A scheduled drill: at each of ``times_s`` (seconds after midnight) on days
        ``first_day``, ``first_day + every_days``, ..., every request of ``requests``,
        while the drills start before the horizon."""
        env = self.env
        times = sorted(times_s)
        day = first_day
        while True:
            for t in times:
                at = day * DAY_S + t
                if not starts_before(at, self.horizon_s):
                    return
                if at > env.now:
                    yield env.timeout(at - env.now)
                for req in requests:
                    self.request(req)
            day += every_days

    def poisson(
        self,
        requests: Sequence[RestoreRequest],
        per_vm_per_day: float,
        rng: np.random.Generator,
    ) -> Generator[simpy.Event, object, None]:
        """Random failures: a Poisson stream of ``per_vm_per_day`` restores for each VM
        of ``requests`` (one request per VM), as one superposed stream, each arrival a
        VM drawn uniformly: O(1) per restore."""
        if not requests:
            return

        def arrive() -> None:
            self.request(requests[int(rng.integers(len(requests)))])

        rate_per_s = per_vm_per_day * len(requests) / DAY_S
        yield from poisson_arrivals(self.env, rate_per_s, rng, self.horizon_s, arrive)

    def at(self, at_s: float, req: RestoreRequest) -> Generator[simpy.Event, object, None]:
        """``req`` at ``at_s``, if that is before the horizon."""
        if not starts_before(at_s, self.horizon_s):
            return
        if at_s > self.env.now:
            yield self.env.timeout(at_s - self.env.now)
        self.request(req)

    # -- one restore -------------------------------------------------------------
    def restore(self, restore_id: int, req: RestoreRequest) -> Generator[simpy.Event, object, None]:
        env, vm = self.env, req.vm
        self.running += 1
        requested = start = env.now
        replica = self.replicas.get(vm)
        cost = self.costs[req.kind]
        target = req.rto_target_s if req.rto_target_s is not None else cost.rto_target_s
        point = math.nan
        plan: _Plan | None = None
        nbytes = 0.0
        outcome, reason = "succeeded", ""
        busy: simpy.Event | None = None
        try:
            if replica is None:
                raise RestoreFailed("no recovery point: the VM is in no protection group")
            if not replica.recovery_points_s:
                raise RestoreFailed("no recovery point yet: the VM's first backup has not ended")
            # Points are appended when their job ends, in time order: the last one is
            # the latest complete at the request.
            point = replica.recovery_points_s[-1]
            dpm = replica.plan.dpm
            with dpm.job_slots.request() as slot:
                yield slot
                if req.kind == WHOLE_VM and req.target_host is None:  # in place
                    while vm.busy is not None:
                        # A backup snapshot, a check or a migration holds the VM.
                        yield vm.busy
                    busy = vm.busy = env.event()
                    replica.restoring = True
                # Where the VM is now: a migration may have moved it since the request.
                plan = self._plan(req, dpm.name, dpm.hyper_v_role)
                if not plan.host.dpm_agent:
                    raise RestoreFailed(f"no DPM agent on host {plan.host.name}")
                route = self._route(dpm.name, dpm.pool_read, plan.host, plan.volume)
                start = env.now
                if plan.setup_s > 0:
                    yield env.timeout(plan.setup_s)
                yield self.flows.transfer(plan.nbytes, route)
                nbytes = plan.nbytes
        except RestoreFailed as exc:
            outcome, reason = "failed", str(exc)
            start = env.now
        finally:
            if busy is not None:
                assert replica is not None
                replica.restoring = False
                vm.busy = None
                busy.succeed()
            self.running -= 1
        end = env.now
        ok = outcome == "succeeded"
        self.trace.restores.append(
            RestoreRecord(
                restore_id,
                req.kind,
                plan.restored_as if plan is not None else req.kind,
                req.trigger,
                vm.name,
                vm.name,
                replica.plan.name if replica is not None else "",
                replica.plan.dpm.name if replica is not None else "",
                plan.host.name if plan is not None else "",
                plan.volume.name if plan is not None else "",
                plan.original if plan is not None else False,
                requested,
                start,
                end,
                end - requested if ok else math.nan,
                target if target is not None else math.nan,
                nbytes,
                point,
                requested - point,
                end - start if ok and plan is not None and plan.original else 0.0,
                plan.fallback if plan is not None else "",
                outcome,
                reason,
            )
        )

    def _plan(self, req: RestoreRequest, dpm_name: str, hyper_v_role: bool) -> _Plan:
        vm = req.vm
        restored_as, fallback = req.kind, ""
        if req.kind == ITEM_LEVEL and not hyper_v_role:
            restored_as = WHOLE_VM
            where = req.target_host.name if req.target_host is not None else vm.host.name
            fallback = (
                f"item-level recovery needs the Hyper-V role on DPM server {dpm_name}: "
                f"whole VM restored to an alternate location (host {where})"
            )
        host = req.target_host or vm.host
        volume = self._target_volume(vm, host)
        # In place only when the whole VM is asked for with no target: a fallback
        # restores a copy beside the running VM.
        original = req.kind == WHOLE_VM and req.target_host is None
        cost = self.costs[restored_as]
        nbytes = vm.used_bytes if restored_as == WHOLE_VM else cost.item_bytes
        return _Plan(restored_as, host, volume, original, nbytes, cost.setup_s, fallback)

    @staticmethod
    def _target_volume(vm: VirtualMachine, host: HyperVHost) -> Volume:
        """The VM's own storage on its host or on a node of its CSV's cluster; else the
        target host's local storage, or its cluster's first CSV (assumption, as a
        shared-nothing move without a named volume)."""
        volume = vm.volume
        if host is vm.host:
            return volume
        if isinstance(volume, CsvVolume) and host.cluster is volume.cluster:
            return volume
        if host.local_volume is not None:
            return host.local_volume
        assert host.cluster is not None  # a standalone host has its local volume
        return host.cluster.csvs[0]

    def _route(
        self, dpm_name: str, pool_read: BandwidthResource, host: HyperVHost, volume: Volume
    ) -> tuple[BandwidthResource, ...]:
        """The backup route reversed: the pool's read side, the network from the DPM
        server to the machine that writes the storage (the file server of an SMB
        share, else the host), the storage's write side."""
        writer = volume.file_servers[0] if isinstance(volume, SmbShareVolume) else host.name
        try:
            hops = self.network.route(dpm_name, writer)
        except nx.NetworkXException:
            raise RestoreFailed(
                f"no network route from DPM server {dpm_name} to {writer}"
            ) from None
        return (pool_read, *hops, volume.write)


def restore_processes(
    jobs: RestoreJobs,
    spec: schema.Restores,
    vms: Mapping[str, VirtualMachine],
    hosts: Mapping[str, HyperVHost],
    matching: Callable[[str], list[str]],
    stream: Callable[[str], np.random.Generator],
) -> list[Generator[simpy.Event, object, None]]:
    """The processes that request the scenario's restores: one per drill, per Poisson
    stream (its random stream named ``restores:<index>``) and per explicit event.
    ``matching`` gives the VM names a member pattern stands for."""

    def requests(
        item: schema.RestoreDrill | schema.PoissonRestores, trigger: str
    ) -> list[RestoreRequest]:
        names = dict.fromkeys(n for m in item.members for n in matching(m))
        target = hosts[item.target_host] if item.target_host is not None else None
        return [RestoreRequest(item.kind, vms[n], target, item.rto_target, trigger) for n in names]

    procs = [
        jobs.drill(d.times, d.every_days, d.first_day, requests(d, "drill")) for d in spec.drills
    ]
    procs += [
        jobs.poisson(requests(p, "poisson"), p.per_vm_per_day, stream(f"restores:{i}"))
        for i, p in enumerate(spec.poisson)
    ]
    for e in spec.events:
        target = hosts[e.target_host] if e.target_host is not None else None
        req = RestoreRequest(e.kind, vms[e.vm], target, e.rto_target, "event")
        procs.append(jobs.at(e.day * DAY_S + e.time, req))
    return procs
