"""Hyper-V's estate: failover clusters of nodes sharing Cluster Shared Volumes,
standalone hosts with their local volume, SMB 3.0 shares on file servers, and the
network between machines.

Each object builds its own parts (bandwidth resources, job slots) from its slice of
the scenario, names them, and knows its place in the scenario (``path``), so a
message can name the field to change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx
import simpy

from hvsim.model.dpm_rules import csv_backups_serialized, default_parallel_backups_per_node
from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.slots import JobSlots, RankedJobSlots
from hvsim.model.trace import SlotLog

if TYPE_CHECKING:
    from hvsim.scenario import schema


@dataclass(slots=True, frozen=True)
class Parts:
    """What the estate's objects build their parts with: job slots, all logged in one
    SlotLog, and bandwidth resources, all in one FlowNetwork, on one environment.
    ``ranked``: a DPM server orders its backups other than first come, first served
    (``job_order: longest_first``), so every slot is a RankedJobSlots (a job takes
    the CSV group's, the host's and the DPM server's slots, and its order holds at
    each); otherwise JobSlots, the faster."""

    env: simpy.Environment
    flows: FlowNetwork
    slot_log: SlotLog
    ranked: bool = False

    def slots(self, capacity: int, name: str, kind: str) -> JobSlots:
        if self.ranked:
            return RankedJobSlots(self.env, capacity, name, kind, self.slot_log)
        return JobSlots(self.env, capacity, name, kind, self.slot_log)

    def bandwidth(self, name: str, kind: str, capacity_bps: float, path: str) -> BandwidthResource:
        return self.flows.add_resource(name, kind, capacity_bps, path)


@dataclass(slots=True, eq=False, kw_only=True)
class Volume:
    """Where VM files live: a CsvVolume, a LocalVolume or an SmbShareVolume."""

    name: str
    path: str  # its place in the scenario, e.g. "clusters[0].csvs[1]"
    read: BandwidthResource
    write: BandwidthResource
    vss_provider: str
    host_os: str
    capacity_bytes: float
    # One backup at a time (DataSourceGroups.xml): CSVs only (CsvVolume.build).
    serializer: JobSlots | None = None
    snapshots_alive: int = 0
    # The I/O the VMs each node runs on this volume want (bytes/s).
    io_demand_by_node: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def _sides(
        name: str, path: str, spec: schema.Storage, parts: Parts
    ) -> tuple[BandwidthResource, BandwidthResource]:
        return (
            parts.bandwidth(f"{name}:read", "storage", spec.read, f"{path}.read"),
            parts.bandwidth(f"{name}:write", "storage", spec.write, f"{path}.write"),
        )

    @property
    def redirects_on_snapshot(self) -> bool:
        """Whether a snapshot switches the volume to redirected access (CSV v1 only)."""
        return False

    def add_io(self, node: str, bps: float) -> None:
        """A VM on ``node`` now does ``bps`` of I/O on this volume."""
        demand = self.io_demand_by_node
        demand[node] = demand.get(node, 0.0) + bps

    def remove_io(self, node: str, bps: float) -> None:
        """A VM on ``node`` no longer does ``bps`` of I/O on this volume."""
        demand = self.io_demand_by_node
        demand[node] = demand.get(node, 0.0) - bps
        if demand[node] <= 1e-9:
            del demand[node]


@dataclass(slots=True, eq=False, kw_only=True)
class CsvVolume(Volume):
    """A Cluster Shared Volume: every node of its cluster reaches it."""

    cluster: HyperVCluster

    @classmethod
    def build(
        cls, cluster: HyperVCluster, spec: schema.CsvVolume, index: int, parts: Parts
    ) -> CsvVolume:
        name = f"{cluster.name}/{spec.name}"
        path = f"{cluster.path}.csvs[{index}]"
        read, write = cls._sides(name, path, spec, parts)
        serialized = spec.serialize_backups
        if serialized is None:
            serialized = csv_backups_serialized(cluster.os, spec.vss_provider)
        return cls(
            name=name,
            path=path,
            read=read,
            write=write,
            vss_provider=spec.vss_provider,
            host_os=cluster.os,
            capacity_bytes=spec.capacity,
            serializer=parts.slots(1, name, "csv-group") if serialized else None,
            cluster=cluster,
        )

    @property
    def redirects_on_snapshot(self) -> bool:
        """CSV v1 (2008 R2): a snapshot switches the CSV to redirected access
        (source: csv-redirected-access)."""
        return self.host_os == "2008R2"


@dataclass(slots=True, eq=False, kw_only=True)
class LocalVolume(Volume):
    """A standalone host's own storage."""

    @classmethod
    def build(cls, host: schema.StandaloneHost, index: int, parts: Parts) -> LocalVolume:
        name = f"{host.name}/local"
        path = f"hosts[{index}].storage"
        read, write = cls._sides(name, path, host.storage, parts)
        return cls(
            name=name,
            path=path,
            read=read,
            write=write,
            vss_provider=host.storage.vss_provider,
            host_os=host.os,
            capacity_bytes=host.storage.capacity,
        )


@dataclass(slots=True, eq=False, kw_only=True)
class SmbShareVolume(Volume):
    """An SMB 3.0 share: its file servers read it for backups, over their own links."""

    file_servers: tuple[str, ...]
    file_server_vss_agent: bool
    file_servers_without_agent: tuple[str, ...]

    @classmethod
    def build(
        cls,
        spec: schema.SmbShare,
        index: int,
        file_servers: Sequence[schema.FileServer],
        parts: Parts,
    ) -> SmbShareVolume:
        path = f"smb_shares[{index}]"
        read, write = cls._sides(spec.name, path, spec, parts)
        return cls(
            name=spec.name,
            path=path,
            read=read,
            write=write,
            vss_provider=spec.vss_provider,
            host_os="2012",  # SMB 3.0 shares need Windows Server 2012
            capacity_bytes=spec.capacity,
            file_servers=tuple(spec.file_servers),
            file_server_vss_agent=spec.file_server_vss_agent,
            file_servers_without_agent=tuple(
                fs.name for fs in file_servers if fs.name in spec.file_servers and not fs.dpm_agent
            ),
        )


@dataclass(slots=True, eq=False, kw_only=True)
class HyperVHost:
    """A Hyper-V host: a cluster node or a standalone host."""

    name: str
    path: str
    os: str
    cluster: HyperVCluster | None
    dpm_agent: bool
    backup_slots: JobSlots  # MaxAllowedParallelBackups
    live_migration_slots: JobSlots  # simultaneous live migrations
    storage_migration_slots: JobSlots  # simultaneous storage migrations
    local_volume: LocalVolume | None = None  # a standalone host's own storage

    @classmethod
    def cluster_node(
        cls,
        cluster: HyperVCluster,
        spec: schema.ClusterNode,
        path: str,
        backups_per_node: int,
        migration: schema.LiveMigration,
        parts: Parts,
    ) -> HyperVHost:
        live, storage = _migration_slots(spec.name, migration, parts)
        return cls(
            name=spec.name,
            path=path,
            os=cluster.os,
            cluster=cluster,
            dpm_agent=spec.dpm_agent,
            backup_slots=parts.slots(backups_per_node, spec.name, "host"),
            live_migration_slots=live,
            storage_migration_slots=storage,
        )

    @classmethod
    def standalone(
        cls, spec: schema.StandaloneHost, index: int, migration: schema.LiveMigration, parts: Parts
    ) -> HyperVHost:
        backup_slots = parts.slots(spec.max_parallel_backups, spec.name, "host")
        live, storage = _migration_slots(spec.name, migration, parts)
        return cls(
            name=spec.name,
            path=f"hosts[{index}]",
            os=spec.os,
            cluster=None,
            dpm_agent=spec.dpm_agent,
            backup_slots=backup_slots,
            live_migration_slots=live,
            storage_migration_slots=storage,
            local_volume=LocalVolume.build(spec, index, parts),
        )


def _migration_slots(
    host: str, migration: schema.LiveMigration, parts: Parts
) -> tuple[JobSlots, JobSlots]:
    """Simultaneous live and storage migrations per host (source:
    hyperv-simultaneous-migrations)."""
    return (
        parts.slots(migration.simultaneous_per_host, host, "live-migration"),
        parts.slots(migration.simultaneous_storage_per_host, host, "storage-migration"),
    )


@dataclass(slots=True, eq=False, kw_only=True)
class HyperVCluster:
    """A failover cluster: its nodes, its CSVs, and each node's link of the cluster
    (CSV) network."""

    name: str
    path: str
    os: str
    nodes: list[HyperVHost] = field(default_factory=list)
    csvs: list[CsvVolume] = field(default_factory=list)
    # Each node's cluster-network link: (node to switch, switch to node).
    network: dict[str, tuple[BandwidthResource, BandwidthResource]] = field(default_factory=dict)
    _csv_named: dict[str, CsvVolume] = field(default_factory=dict)  # by the scenario's name
    _placed: int = 0  # VMs placed round-robin so far

    @classmethod
    def build(
        cls, spec: schema.Cluster, index: int, migration: schema.LiveMigration, parts: Parts
    ) -> HyperVCluster:
        cluster = cls(name=spec.name, path=f"clusters[{index}]", os=spec.os)
        per_node = spec.max_parallel_backups_per_node or default_parallel_backups_per_node(
            spec.os, (v.vss_provider for v in spec.csvs)
        )
        # A count of nodes has one field for them all; a list, one per node.
        counted = isinstance(spec.nodes, int)
        cluster.nodes = [
            HyperVHost.cluster_node(
                cluster,
                n,
                f"{cluster.path}.nodes" if counted else f"{cluster.path}.nodes[{k}]",
                per_node,
                migration,
                parts,
            )
            for k, n in enumerate(spec.node_list())
        ]
        net = f"{cluster.path}.cluster_network"
        cluster.network = {
            n.name: (
                parts.bandwidth(
                    f"clusternet:{n.name}->{spec.name}", "network", spec.cluster_network, net
                ),
                parts.bandwidth(
                    f"clusternet:{spec.name}->{n.name}", "network", spec.cluster_network, net
                ),
            )
            for n in cluster.nodes
        }
        cluster.csvs = [CsvVolume.build(cluster, v, j, parts) for j, v in enumerate(spec.csvs)]
        cluster._csv_named = {v.name: csv for v, csv in zip(spec.csvs, cluster.csvs, strict=True)}
        return cluster

    def csv(self, name: str) -> CsvVolume:
        """The CSV the scenario names ``name`` in this cluster."""
        return self._csv_named[name]

    def next_node(self) -> HyperVHost:
        """The node that takes the next VM placed without one (round-robin)."""
        node = self.nodes[self._placed % len(self.nodes)]
        self._placed += 1
        return node


@dataclass(slots=True, frozen=True)
class Link:
    """A full-duplex link as the scenario gives it: its line rate, and the share of
    it transfers reach (protocol efficiency, schema.Link)."""

    between: tuple[str, str]
    line_rate_bps: float
    efficiency: float
    path: str


class Network:
    """Links between machines; each direction of a link is one bandwidth resource."""

    def __init__(self, flows: FlowNetwork):
        self.flows = flows
        self.graph = nx.Graph()
        self._routes: dict[tuple[str, str], tuple[BandwidthResource, ...]] = {}
        self._links: dict[BandwidthResource, Link] = {}

    @classmethod
    def build(cls, links: Sequence[schema.Link], flows: FlowNetwork) -> Network:
        network = cls(flows)
        for i, link in enumerate(links):
            a, b = link.between
            network.add_link(
                Link((a, b), link.bandwidth, link.efficiency, f"links[{i}].bandwidth"), i
            )
        return network

    def add_link(self, link: Link, index: int) -> None:
        """Both directions of ``link``, each at what transfers reach on it (the line
        rate times the link's protocol efficiency)."""
        a, b = link.between
        bandwidth_bps = link.line_rate_bps * link.efficiency
        ab = self.flows.add_resource(f"link{index}:{a}->{b}", "network", bandwidth_bps, link.path)
        ba = self.flows.add_resource(f"link{index}:{b}->{a}", "network", bandwidth_bps, link.path)
        self._links[ab] = self._links[ba] = link
        # Parallel links between the same pair: keep the widest (assumption: no teaming).
        if self.graph.has_edge(a, b) and self.graph[a][b]["bps"] >= bandwidth_bps:
            return
        self.graph.add_edge(a, b, bps=bandwidth_bps, res={(a, b): ab, (b, a): ba})

    def link_of(self, res: BandwidthResource) -> Link | None:
        """The link one of whose directions ``res`` is (None for any other resource)."""
        return self._links.get(res)

    def route(self, src: str, dst: str) -> tuple[BandwidthResource, ...]:
        """Link directions on the fewest-hop path from ``src`` to ``dst`` (cached)."""
        key = (src, dst)
        cached = self._routes.get(key)
        if cached is None:
            if src == dst:
                cached = ()
            else:
                path = nx.shortest_path(self.graph, src, dst)
                cached = tuple(
                    self.graph[u][v]["res"][(u, v)] for u, v in zip(path, path[1:], strict=False)
                )
            self._routes[key] = cached
        return cached
