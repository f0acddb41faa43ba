"""The estate's shape: hosts, clusters, volumes (CSV, local, SMB share), the
network and DPM servers, each holding its SimPy slots and bandwidth resources."""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from hvsim.model.flows import BandwidthResource, FlowNetwork
from hvsim.model.slots import JobSlots


@dataclass(slots=True, eq=False)
class Volume:
    """Where VM files live: a CSV, a standalone host's local volume, or an SMB share."""

    name: str
    kind: str  # "csv" | "local" | "smb"
    read: BandwidthResource
    write: BandwidthResource
    vss_provider: str
    host_os: str
    capacity_bytes: float
    serializer: JobSlots | None = None  # one backup at a time (DataSourceGroups.xml)
    cluster: str | None = None
    file_servers: tuple[str, ...] = ()
    file_server_vss_agent: bool = True
    file_servers_without_agent: tuple[str, ...] = ()
    snapshots_alive: int = 0
    # CSV only: each node's cluster-network link (to switch, from switch), and the
    # I/O demand of the VMs each node runs on this CSV (bytes/s).
    cluster_net: dict[str, tuple[BandwidthResource, BandwidthResource]] = field(
        default_factory=dict
    )
    io_demand_by_node: dict[str, float] = field(default_factory=dict)

    @property
    def redirects_on_snapshot(self) -> bool:
        """CSV v1 (2008 R2): a snapshot switches the CSV to redirected access
        (source: csv-redirected-access)."""
        return self.kind == "csv" and self.host_os == "2008R2"


@dataclass(slots=True, eq=False)
class HyperVHost:
    name: str
    os: str
    cluster: str | None
    dpm_agent: bool
    backup_slots: JobSlots  # MaxAllowedParallelBackups
    live_migration_slots: JobSlots | None = None  # simultaneous live migrations
    storage_migration_slots: JobSlots | None = None  # simultaneous storage migrations
    local_volume: Volume | None = None  # a standalone host's own storage


@dataclass(slots=True, eq=False)
class DpmServerState:
    name: str
    version: str
    update_rollup: int
    pool_write: BandwidthResource
    pool_read: BandwidthResource
    pool_capacity_bytes: float
    job_slots: JobSlots
    auto_rerun_delay_s: float
    auto_rerun_attempts: int
    # DPM-VMM integration (what protection across migrations needs)
    vmm_server: str | None = None
    vmm_console_installed: bool = False
    vmm_console_version_matches: bool = True
    vmm_helper_running: bool = False
    protection_repair_s: float = 86400.0
    replica_bytes: float = 0.0
    recovery_point_bytes: float = 0.0
    pool_peak_bytes: float = 0.0
    # (expiry time, bytes) of recovery points, oldest first
    recovery_points: list[tuple[float, float]] = field(default_factory=list)
    _rp_head: int = 0

    def keeps_vms_online(self, host_os: str) -> bool:
        """DPM 2012 R2 UR3 or later on WS2012 R2: no saved-state backups
        (source: dpm-ur3-online)."""
        return self.version == "2012R2" and self.update_rollup >= 3 and host_os == "2012R2"

    def used_bytes(self, now: float) -> float:
        rps = self.recovery_points
        while self._rp_head < len(rps) and rps[self._rp_head][0] <= now:
            self.recovery_point_bytes -= rps[self._rp_head][1]
            self._rp_head += 1
        if self._rp_head > 1024 and self._rp_head * 2 > len(rps):
            del rps[: self._rp_head]
            self._rp_head = 0
        return self.replica_bytes + self.recovery_point_bytes

    def store(self, now: float, replica_bytes: float, rp_bytes: float, expiry: float) -> bool:
        """Account a recovery point; False if the pool has no room (the job fails,
        source: dpm-retention)."""
        used = self.used_bytes(now)
        if used + replica_bytes + rp_bytes > self.pool_capacity_bytes:
            return False
        self.replica_bytes += replica_bytes
        if rp_bytes > 0:
            self.recovery_point_bytes += rp_bytes
            self.recovery_points.append((expiry, rp_bytes))
        self.pool_peak_bytes = max(self.pool_peak_bytes, used + replica_bytes + rp_bytes)
        return True


class Network:
    """Links between machines; each direction of a link is one bandwidth resource."""

    def __init__(self, flows: FlowNetwork):
        self.flows = flows
        self.graph = nx.Graph()
        self._routes: dict[tuple[str, str], tuple[BandwidthResource, ...]] = {}

    def add_link(self, a: str, b: str, bandwidth_bps: float, index: int) -> None:
        """A full-duplex link; ``bandwidth_bps`` is what transfers reach on it (the
        line rate times the link's protocol efficiency)."""
        ab = self.flows.add_resource(f"link{index}:{a}->{b}", "network", bandwidth_bps)
        ba = self.flows.add_resource(f"link{index}:{b}->{a}", "network", bandwidth_bps)
        # Parallel links between the same pair: keep the widest (assumption: no teaming).
        if self.graph.has_edge(a, b) and self.graph[a][b]["bps"] >= bandwidth_bps:
            return
        self.graph.add_edge(a, b, bps=bandwidth_bps, res={(a, b): ab, (b, a): ba})

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
