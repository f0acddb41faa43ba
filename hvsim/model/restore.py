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
  VM's disks in use as of the recovery point (no delta restore). The VM is
  unavailable from the restore's start to its end (recorded as the restore's
  ``vm_unavailable_s``; the saved-state downtime of backups is another thing and is
  not changed), and it is held the way a backup holds it (``vm.busy``): migrations
  and checks wait, its backups fail.
- ``whole_vm`` to another host (``target_host``, DPM's "any host"): the same bytes,
  the original VM keeps running.
- ``item_level``: files copied out of the recovery point (``item_bytes``); DPM
  mounts the point's VHD, which needs the Hyper-V role on the DPM server. Without
  it the restore falls back to a whole VM to an alternate location (``target_host``
  or, when none is given, a copy beside the VM on its own host and storage), and
  the record says so.

Guest data sources (DPM's agent in the guest; their GuestReplica in
hvsim.model.dpm) are restored into their VM, from the pool over the network to the
VM's storage, the same way, while DPM cancels the data source's synchronizations
(``GuestReplica.restoring``; source: dpm-exchange-restore, applied to every kind):

- ``sql_database`` and ``exchange_database`` to the latest recovery point: the
  whole database as of the express full (or initial replica) before it, then every
  log synchronization since, in order (``restore_chain``); then the database server
  replays that log at ``replay_rate`` (source: dpm-sql-restore), still in DPM's job.
- ``exchange_mailbox``: the database restored the same way into a recovery
  database, then, once DPM's job has ended, Exchange copies the mailbox
  (``mailbox_bytes``) inside the VM's storage at most at ``copy_rate`` (source:
  dpm-exchange-restore). "Latest" (the log still on the server) is not offered for
  mailboxes; hvsim restores no database past its latest recovery point, so both
  start from that point.
- ``sharepoint_item``: ``item_bytes`` from the latest point the farm's catalog
  lists (made before the latest catalog job). Before the first catalog has ended,
  item-level recovery is impossible (source: dpm-sharepoint-protection): one content
  database of the farm is restored instead, and the record says so.
- ``guest_file``: ``item_bytes`` from the file volume's latest recovery point.

A guest kind for a data source not protected at guest level (its VM has host-level
protection only) falls back to the finest restore the host level serves, and says
so: files by item-level recovery (``guest_file``; which itself needs the Hyper-V
role), anything else as a whole VM restored to an alternate location beside the VM
(not in place, which would also roll back everything else in it). A whole VM or
item-level restore of a VM protected at guest level only fails: there is no
host-level recovery point.

The recovery point restored is the latest complete one at the request (a point
exists once its job has ended) that the DPM storage pool still keeps then: its day is
among the data source's retained days (hvsim.model.pool: retention counts days with a
successful point, not calendar days, so failed days keep older points longer); its
age at the request is the data lost. A VM in
no protection group, not protected yet (onboarded later), or whose first backup has
not finished, cannot be restored: the request is recorded as failed, not dropped.
Nothing is requested at or after the horizon (``starts_before``); a restore
requested before it runs to its end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import simpy

from hvsim.model.dpm import GuestReplica, Replica
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.infrastructure import CsvVolume, HyperVHost, Network, SmbShareVolume, Volume
from hvsim.model.schedule import DAY_S, daily, poisson_arrivals, starts_before
from hvsim.model.trace import RestoreRecord, Trace
from hvsim.model.vm import VirtualMachine
from hvsim.scenario.patterns import VmNames
from hvsim.scenario.schema import GUEST_RESTORE_SOURCES

if TYPE_CHECKING:
    from hvsim.scenario import schema

WHOLE_VM = "whole_vm"
ITEM_LEVEL = "item_level"
SQL_DATABASE = "sql_database"
EXCHANGE_DATABASE = "exchange_database"
EXCHANGE_MAILBOX = "exchange_mailbox"
SHAREPOINT_ITEM = "sharepoint_item"
GUEST_FILE = "guest_file"
# What a SharePoint item restore does before the farm's first catalog.
CONTENT_DATABASE = "content_database"
# Kinds restored from a database's chain (the whole point and the log since).
DATABASE_KINDS = frozenset({SQL_DATABASE, EXCHANGE_DATABASE, EXCHANGE_MAILBOX})
_WHAT = {
    SQL_DATABASE: "SQL database",
    EXCHANGE_DATABASE: "Exchange database",
    EXCHANGE_MAILBOX: "a mailbox of Exchange database",
    SHAREPOINT_ITEM: "an item of SharePoint farm",
    GUEST_FILE: "files of volume",
}


class RestoreFailed(Exception):
    pass


@dataclass(slots=True, frozen=True)
class RestoreCost:
    """What one restore of a kind costs besides its transfer, and its RTO target."""

    setup_s: float
    rto_target_s: float | None
    item_bytes: float = 0.0
    replay_rate_bps: float = 0.0  # databases: log replayed after the transfer
    copy_bytes: float = 0.0  # a mailbox: copied inside Exchange after DPM's job
    copy_rate_bps: float = 0.0

    @classmethod
    def build_all(cls, spec: schema.RestoreKinds) -> dict[str, RestoreCost]:
        mailbox = spec.exchange_mailbox
        return {
            WHOLE_VM: cls(spec.whole_vm.setup, spec.whole_vm.rto_target),
            ITEM_LEVEL: cls(
                spec.item_level.setup, spec.item_level.rto_target, spec.item_level.item_bytes
            ),
            SQL_DATABASE: cls(
                spec.sql_database.setup,
                spec.sql_database.rto_target,
                replay_rate_bps=spec.sql_database.replay_rate,
            ),
            EXCHANGE_DATABASE: cls(
                spec.exchange_database.setup,
                spec.exchange_database.rto_target,
                replay_rate_bps=spec.exchange_database.replay_rate,
            ),
            EXCHANGE_MAILBOX: cls(
                mailbox.setup,
                mailbox.rto_target,
                replay_rate_bps=mailbox.replay_rate,
                copy_bytes=mailbox.mailbox_bytes,
                copy_rate_bps=mailbox.copy_rate,
            ),
            SHAREPOINT_ITEM: cls(
                spec.sharepoint_item.setup,
                spec.sharepoint_item.rto_target,
                spec.sharepoint_item.item_bytes,
            ),
            GUEST_FILE: cls(
                spec.guest_file.setup, spec.guest_file.rto_target, spec.guest_file.item_bytes
            ),
        }


@dataclass(slots=True, frozen=True)
class RestoreRequest:
    """One restore asked for: its kind, the VM, where to (None: the original
    location), its RTO target (None: the kind's), what asked for it, and for a guest
    kind the data source ('<vm>/sql1')."""

    kind: str
    vm: VirtualMachine
    target_host: HyperVHost | None
    rto_target_s: float | None
    trigger: str  # drill | poisson | event
    data_source: str = ""


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
        guest_replicas: Mapping[str, GuestReplica] | None = None,
    ) -> None:
        self.env = env
        self.flows = flows
        self.network = network
        self.replicas = replicas
        self.costs = costs
        self.trace = trace
        self.horizon_s = horizon_s
        # Guest data sources protected at guest level, by name ('<vm>/sql1').
        self.guest_replicas: Mapping[str, GuestReplica] = guest_replicas or {}
        self._guest_vms = {r.source.vm for r in self.guest_replicas.values()}
        # Recoveries running per data source: its syncs are cancelled while any runs.
        self._recovering: dict[str, int] = {}
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
        for at in daily(times, self.horizon_s, first_day=first_day, every_days=every_days):
            if at > env.now:
                yield env.timeout(at - env.now)
            for req in requests:
                self.request(req)

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
        guest = self.guest_replicas.get(req.data_source) if req.data_source else None
        if guest is not None:
            yield from self._guest_restore(restore_id, req, guest)
            return
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
                if vm in self._guest_vms:
                    raise RestoreFailed(
                        "no host-level recovery point: the VM is protected at guest level only"
                    )
                raise RestoreFailed("no recovery point: the VM is in no protection group")
            if requested < vm.protected_from_s:
                raise RestoreFailed(_not_yet(vm.protected_from_s))
            if not replica.recovery_points_s:
                raise RestoreFailed("no recovery point yet: the VM's first backup has not ended")
            # Points are appended when their job ends, in time order: the latest
            # complete at the request, if the pool keeps it (retention counts days with
            # a point, so the latest always is).
            latest = replica.latest_point_s(requested)
            if latest is None:
                raise RestoreFailed("no recovery point kept at the request")
            point = latest
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
                plan = self._plan(req, dpm.name, dpm.hyper_v_role, point)
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
        original = plan is not None and plan.original
        self._record(
            restore_id,
            req,
            restored_as=plan.restored_as if plan is not None else req.kind,
            data_source=req.data_source or vm.name,
            group=replica.plan.name if replica is not None else "",
            dpm_server=replica.plan.dpm.name if replica is not None else "",
            target_host=plan.host.name if plan is not None else "",
            target_storage=plan.volume.name if plan is not None else "",
            original=original,
            times_s=(requested, start, end),
            target_s=target,
            nbytes=nbytes,
            point_s=point,
            fallback=plan.fallback if plan is not None else "",
            outcome=outcome,
            reason=reason,
        )

    def _plan(
        self, req: RestoreRequest, dpm_name: str, hyper_v_role: bool, point_s: float
    ) -> _Plan:
        """What the host level does for ``req`` from the recovery point made at
        ``point_s``: the kind asked for, or for a kind it cannot serve the finest one it
        can, with the reason."""
        vm = req.vm
        restored_as, fallback = req.kind, ""
        where = req.target_host.name if req.target_host is not None else vm.host.name
        alternate = f"whole VM restored to an alternate location (host {where})"
        no_role = f"item-level recovery needs the Hyper-V role on DPM server {dpm_name}"
        if req.kind in GUEST_RESTORE_SOURCES:
            # Protected at host level only: files by item-level recovery, the rest (or
            # files without the Hyper-V role) as a whole VM beside the running one.
            lead = (
                f"{_WHAT[req.kind]} {req.data_source} is not protected at guest level "
                f"(VM {vm.name} has host-level protection only)"
            )
            if req.kind == GUEST_FILE and hyper_v_role:
                restored_as = ITEM_LEVEL
                fallback = f"{lead}: files restored by item-level recovery"
            else:
                restored_as = WHOLE_VM
                extra = f"; {no_role}" if req.kind == GUEST_FILE else ""
                fallback = f"{lead}{extra}: {alternate}"
        elif req.kind == ITEM_LEVEL and not hyper_v_role:
            restored_as = WHOLE_VM
            fallback = f"{no_role}: {alternate}"
        host = req.target_host or vm.host
        volume = self._target_volume(vm, host)
        # In place only when the whole VM is asked for with no target: a fallback
        # restores a copy beside the running VM.
        original = req.kind == WHOLE_VM and req.target_host is None
        cost = self.costs[restored_as]
        # Item-level recovery copies the files asked for (guest_file's or item_level's).
        # A whole VM as it was at its recovery point (its data grows, VirtualMachine).
        nbytes = (
            vm.used_bytes_at(point_s)
            if restored_as == WHOLE_VM
            else self.costs[req.kind].item_bytes
        )
        return _Plan(restored_as, host, volume, original, nbytes, cost.setup_s, fallback)

    # -- one restore of a guest data source -------------------------------------
    def _guest_restore(
        self, restore_id: int, req: RestoreRequest, guest: GuestReplica
    ) -> Generator[simpy.Event, object, None]:
        """A guest kind for a data source protected at guest level: its recovery
        point's bytes from the pool to the VM's storage in one of the DPM server's job
        slots, the database's log replayed, then for a mailbox Exchange's copy."""
        env, source = self.env, guest.source
        vm, plan = source.vm, guest.plan
        dpm = plan.dpm
        self.running += 1
        requested = start = env.now
        cost = self.costs[req.kind]
        target = req.rto_target_s if req.rto_target_s is not None else cost.rto_target_s
        restored_as, fallback, point = req.kind, "", math.nan
        host_name = volume_name = ""
        nbytes = 0.0
        outcome, reason = "succeeded", ""
        recovering = False
        try:
            restored_as, fallback, point, transfer_bytes, replay_bytes = self._guest_point(
                req.kind, guest, requested
            )
            with dpm.job_slots.request() as slot:
                yield slot
                recovering = True
                self._recovering[source.name] = self._recovering.get(source.name, 0) + 1
                guest.restoring = True
                # Into the VM where it runs now (a migration may have moved it).
                host, volume = vm.host, vm.volume
                host_name, volume_name = host.name, volume.name
                route = self._route(dpm.name, dpm.pool_read, host, volume)
                start = env.now
                if cost.setup_s > 0:
                    yield env.timeout(cost.setup_s)
                yield self.flows.transfer(transfer_bytes, route)
                nbytes = transfer_bytes
                if replay_bytes > 0:
                    # The database server replays the restored log: DPM's job ends with it.
                    yield env.timeout(replay_bytes / cost.replay_rate_bps)
            recovering = False
            self._end_recovery(guest)
            if cost.copy_bytes > 0:
                # The mailbox from the recovery database into its mailbox database,
                # inside Exchange: read and write the VM's storage.
                route = (vm.volume.read, vm.volume.write)
                yield self.flows.transfer(cost.copy_bytes, route, cap_bps=cost.copy_rate_bps)
        except RestoreFailed as exc:
            outcome, reason = "failed", str(exc)
            start = env.now
        finally:
            if recovering:
                self._end_recovery(guest)
            self.running -= 1
        self._record(
            restore_id,
            req,
            restored_as=restored_as,
            data_source=source.name,
            group=plan.name,
            dpm_server=dpm.name,
            target_host=host_name,
            target_storage=volume_name,
            original=False,
            times_s=(requested, start, env.now),
            target_s=target,
            nbytes=nbytes,
            point_s=point,
            fallback=fallback,
            outcome=outcome,
            reason=reason,
        )

    def _record(
        self,
        restore_id: int,
        req: RestoreRequest,
        *,
        restored_as: str,
        data_source: str,
        group: str,
        dpm_server: str,
        target_host: str,
        target_storage: str,
        original: bool,
        times_s: tuple[float, float, float],
        target_s: float | None,
        nbytes: float,
        point_s: float,
        fallback: str,
        outcome: str,
        reason: str,
    ) -> None:
        """One restore's row, host or guest level, with the derived fields computed in
        one place: the RTO (a failed restore has none), the data lost, and the VM's
        unavailability (only an original-location whole VM that succeeded)."""
        requested, start, end = times_s
        ok = outcome == "succeeded"
        self.trace.restores.append(
            RestoreRecord(
                restore_id,
                req.kind,
                restored_as,
                req.trigger,
                req.vm.name,
                data_source,
                group,
                dpm_server,
                target_host,
                target_storage,
                original,
                requested,
                start,
                end,
                end - requested if ok else math.nan,
                target_s if target_s is not None else math.nan,
                nbytes,
                point_s,
                requested - point_s,
                end - start if ok and original else 0.0,
                fallback,
                outcome,
                reason,
            )
        )

    def _end_recovery(self, guest: GuestReplica) -> None:
        """One recovery of ``guest`` over: its syncs resume when none is left."""
        name = guest.source.name
        left = self._recovering[name] - 1
        self._recovering[name] = left
        guest.restoring = left > 0

    def _guest_point(
        self, kind: str, guest: GuestReplica, at_s: float
    ) -> tuple[str, str, float, float, float]:
        """What a guest restore requested at ``at_s`` restores: (restored as, fallback
        reason, the recovery point's time, bytes moved, log bytes to replay)."""
        source = guest.source
        if at_s < source.vm.protected_from_s:
            raise RestoreFailed(_not_yet(source.vm.protected_from_s))
        if not guest.point_time_s:
            raise RestoreFailed(
                "no recovery point yet: the data source's first backup has not ended"
            )
        times = guest.point_time_s
        if kind in DATABASE_KINDS:
            chain = guest.restore_chain(at_s)
            if chain is None:
                raise RestoreFailed("no recovery point kept at the request")
            full, logs = chain
            # The whole database as of its express full (the replica holds it all),
            # then the log of each synchronization since, in order.
            log_bytes = sum(guest.point_bytes[i] for i in logs)
            last = logs[-1] if logs else full
            whole = source.size_bytes_at(times[full])
            return kind, "", times[last], whole + log_bytes, log_bytes
        latest = guest.latest_point(at_s)
        if latest is None:
            raise RestoreFailed("no recovery point kept at the request")
        if kind == SHAREPOINT_ITEM:
            if guest.catalog_s is None:
                # One content database of the farm, from its latest express full.
                return (
                    CONTENT_DATABASE,
                    f"no catalog of SharePoint farm {source.name} yet (its first catalog job "
                    "has not ended) and item-level recovery needs one: a content database "
                    "restored instead",
                    times[latest],
                    source.size_bytes_at(times[latest]) / source.databases,
                    0.0,
                )
            listed = guest.latest_made(min(guest.catalog_s, at_s))
            if listed < 0 or not guest.kept(listed):
                raise RestoreFailed("no recovery point listed in the farm's catalog is kept")
            latest = listed
        return kind, "", times[latest], self.costs[kind].item_bytes, 0.0

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


def _not_yet(protected_from_s: float) -> str:
    """Why a VM onboarded later has nothing to restore yet."""
    return (
        f"not protected yet: its protection starts on day {protected_from_s / DAY_S:g} "
        "(protect_from or onboarding)"
    )


def restore_processes(
    jobs: RestoreJobs,
    spec: schema.Restores,
    vms: Mapping[str, VirtualMachine],
    hosts: Mapping[str, HyperVHost],
    matching: Callable[[str], list[str]],
    stream: Callable[[str], np.random.Generator],
    data_sources: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> list[Generator[simpy.Event, object, None]]:
    """The processes that request the scenario's restores: one per drill, per Poisson
    stream (its random stream named ``restores:<index>``) and per explicit event.
    ``matching`` gives the VM names a member pattern stands for; ``data_sources`` each
    VM's guest data sources, (name, workload), protected or not (a guest kind for a
    source not protected at guest level falls back). ``wanted``: whether to start the
    processes for a VM (those of a drill or stream are one part, hvsim.parts: the
    first VM decides; one with no request starts anyway, and does nothing)."""
    sources = data_sources or {}
    keep = wanted or (lambda vm: True)

    def kept(reqs: list[RestoreRequest]) -> bool:
        return keep(reqs[0].vm.name) if reqs else True

    def requests(
        item: schema.RestoreDrill | schema.PoissonRestores, trigger: str
    ) -> list[RestoreRequest]:
        members = item.members if item.members is not None else ["*"]
        names = dict.fromkeys(n for m in members for n in matching(m))
        target = hosts[item.target_host] if item.target_host is not None else None
        workload = GUEST_RESTORE_SOURCES.get(item.kind)
        if workload is None:
            return [
                RestoreRequest(item.kind, vms[n], target, item.rto_target, trigger) for n in names
            ]
        # A guest kind: one request per data source of the workload in those VMs that
        # the patterns match (all of them without patterns).
        # Matched as validation matches them (scenario.patterns), so a pattern the
        # checks accepted finds the same data sources here.
        held = [(n, ds) for n in names for ds, w in sources.get(n, ()) if w == workload]
        names_held = VmNames(ds for _, ds in held)
        wanted = {ds for p in item.data_sources or ["*"] for ds in names_held.matching(p)}
        return [
            RestoreRequest(item.kind, vms[n], None, item.rto_target, trigger, ds)
            for n, ds in held
            if ds in wanted
        ]

    procs = []
    for d in spec.drills:
        reqs = requests(d, "drill")
        if kept(reqs):
            procs.append(jobs.drill(d.times, d.every_days, d.first_day, reqs))
    for i, p in enumerate(spec.poisson):
        reqs = requests(p, "poisson")
        if kept(reqs):
            procs.append(jobs.poisson(reqs, p.per_vm_per_day, stream(f"restores:{i}")))
    for e in spec.events:
        if not keep(e.vm):
            continue
        target = hosts[e.target_host] if e.target_host is not None else None
        ds = ""
        if e.data_source is not None:
            ds = e.data_source if "/" in e.data_source else f"{e.vm}/{e.data_source}"
        req = RestoreRequest(e.kind, vms[e.vm], target, e.rto_target, "event", ds)
        procs.append(jobs.at(e.day * DAY_S + e.time, req))
    return procs
