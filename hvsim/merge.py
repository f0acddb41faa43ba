"""The results of independent parts of one run (hvsim.parts), simulated on their own
environments, merged into the tables one environment gives: the same rows in the
same order.

Within a part, every environment processes its events in the same order (nothing of
another part schedules them), so only the order between parts has to be fixed: rows
are ordered by the simulated time they were recorded, then by part, then as their
part recorded them; job and restore ids are handed out in that order too (by the
time each was requested). One environment running several parts gives the same
order after the same sort, so a run is the same whichever way it was split.

Tables of objects (VMs, resources, pools by day, ...) have a row for every object in
every part's world; each row is taken from the world that ran its part. A row of a
part its world did not run is a bug in the parts (something the graph missed joined
two parts) and stops the merge: silently wrong tables are worse than none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from hvsim.parts import PartMap
from hvsim.results import Results, degraded_io, storage_totals
from hvsim.world import World

# Tables whose rows are recorded as events happen, with the column naming what each
# row is about (its part), in the order their records were appended.
_EVENTS = {
    "downtime": "vm",
    "redirected_io": "vm",
    "scans": "cluster",
    "consistency_checks": "vm",
    "migrations": "vm",
    "protection_breaks": "vm",
    "online_jobs": "dpm_server",
    "online_days": "dpm_server",
}
_TRACE_NAME = {
    "downtime": "downtime",
    "redirected_io": "redirected_io",
    "scans": "scans",
    "consistency_checks": "checks",
    "migrations": "migrations",
    "protection_breaks": "breaks",
    "online_jobs": "online_jobs",
    "online_days": "online_days",
}
# Tables with a row for every object, the same rows in every part's world.
_OBJECTS = {
    "vms": "vm",
    "data_sources": "vm",
    "tape_plan": "dpm_server",
    "online_sources": "dpm_server",
}


class SplitError(RuntimeError):
    """The parts of a run were not independent after all (a bug in hvsim.parts)."""


@dataclass(slots=True)
class PartTrace:
    """What merging needs from one world beyond its tables: the parts it ran, when
    each event table's rows were recorded and each job id handed out, and each
    uplink's vault peak."""

    owned: frozenset[int]
    times: dict[str, np.ndarray]
    job_id_times: np.ndarray
    vault_peaks: dict[str, float] = field(default_factory=dict)
    bytes_by_part: dict[int, tuple[float, float]] = field(default_factory=dict)


def part_trace(world: World, owned: frozenset[int]) -> PartTrace:
    trace = world.trace
    times = {
        name: np.frombuffer(getattr(trace, attr).times, dtype=float).copy()
        for name, attr in _TRACE_NAME.items()
    }
    peaks = (
        {name: u.vault.peak_bytes for name, u in world.online.uplinks.items()}
        if world.online is not None
        else {}
    )
    return PartTrace(
        owned=owned,
        times=times,
        job_id_times=np.frombuffer(trace.job_id_times, dtype=float).copy(),
        vault_peaks=peaks,
        bytes_by_part={p: world.flows.bytes_of_part(p) for p in owned},
    )


def merge(pieces: Sequence[tuple[Results, PartTrace]], pm: PartMap) -> Results:
    """One run's Results from the Results of worlds that each ran some of its parts
    (every part exactly once)."""
    owned_by = _owners(pieces, pm)
    results = [r for r, _ in pieces]
    traces = [t for _, t in pieces]
    first = results[0]
    out: dict[str, object] = {}

    # Jobs: ids in the order they were handed out (time, part, then the part's order).
    job_ids = _renumber(
        [
            (
                r.jobs["job_id"].to_numpy(dtype=np.int64),
                t.job_id_times[r.jobs["job_id"].to_numpy(dtype=np.int64) - 1],
                _parts_of(r.jobs["vm"], pm.vm),
                t.owned,
            )
            for r, t in pieces
        ],
        "jobs",
    )
    jobs = _concat([_relabel(r.jobs, "job_id", m) for r, m in zip(results, job_ids, strict=True)])
    out["jobs"] = jobs.sort_values("job_id", kind="stable").reset_index(drop=True)

    for name, column in _EVENTS.items():
        frames = [getattr(r, name) for r in results]
        if name in ("downtime", "redirected_io"):
            frames = [_relabel(f, "job_id", m) for f, m in zip(frames, job_ids, strict=True)]
        out[name] = _events(
            frames,
            [t.times[name] for t in traces],
            [_parts_of(f[column], _map_for(pm, column)) for f in frames],
            [t.owned for t in traces],
            name,
        )
    online = out["online_jobs"]
    assert isinstance(online, pd.DataFrame)
    online["online_job_id"] = np.arange(1, len(online) + 1, dtype=online["online_job_id"].dtype)

    out["slot_queues"] = _events(
        [r.slot_queues for r in results],
        [r.slot_queues["time_s"].to_numpy(dtype=float) for r in results],
        [_parts_of(r.slot_queues["slot"], pm.slot) for r in results],
        [t.owned for t in traces],
        "slot_queues",
    )
    out["utilisation"] = _events(
        [r.utilisation for r in results],
        [r.utilisation["time_s"].to_numpy(dtype=float) for r in results],
        [_parts_of(r.utilisation["resource"].astype(object), pm.resource) for r in results],
        [t.owned for t in traces],
        "utilisation",
    )

    # Restores: ids in the order they were requested.
    restore_ids = _renumber(
        [
            (
                r.restores["restore_id"].to_numpy(dtype=np.int64),
                r.restores["requested_s"].to_numpy(dtype=float),
                _parts_of(r.restores["vm"], pm.vm),
                t.owned,
            )
            for r, t in pieces
        ],
        "restores",
    )
    restores = _concat(
        [_relabel(r.restores, "restore_id", m) for r, m in zip(results, restore_ids, strict=True)]
    )
    out["restores"] = restores.sort_values("restore_id", kind="stable").reset_index(drop=True)

    # Sorted by what they are about: the same sort over every part's rows.
    out["tape_jobs"] = (
        _owned_rows(results, traces, "tape_jobs", pm.dpm, "dpm_server")
        .sort_values(["scheduled_s", "protection_group", "data_source"], kind="stable")
        .reset_index(drop=True)
    )
    out["on_demand"] = (
        _owned_rows(results, traces, "on_demand", pm.dpm, "dpm_server")
        .sort_values(["dpm_server", "number"], kind="stable")
        .reset_index(drop=True)
    )

    # Objects: each row from the world that ran its part.
    for name, column in _OBJECTS.items():
        out[name] = _objects(
            [getattr(r, name) for r in results], column, _map_for(pm, column), owned_by, name
        )
    out["resources"] = _objects(
        [r.resources for r in results], "resource", pm.resource, owned_by, "resources"
    )
    # Derived from the merged redirected I/O, as collect derives it.
    out["degraded_io"] = degraded_io(
        first.degraded_io[["vm", "csv", "io_rate_bps"]],
        out["redirected_io"],
    )
    out["storage_days"] = _storage_days(results, traces, pm, list(first.storage["servers"]))
    vm_order = {vm: i for i, vm in enumerate(first.vms["vm"])}
    out["recovery_points"] = _grouped(results, traces, "recovery_points", pm.vm, vm_order)
    ds_order = {ds: i for i, ds in enumerate(first.data_sources["data_source"])}
    ds_part = dict(
        zip(
            first.data_sources["data_source"],
            _parts_of(first.data_sources["vm"], pm.vm),
            strict=True,
        )
    )
    out["guest_recovery_points"] = _grouped(
        results, traces, "guest_recovery_points", ds_part, ds_order, column="data_source"
    )

    # Dictionaries: sums and extremes over the parts, each server's from its part.
    counters = dict(first.counters)
    for key in ("flows_started", "flows_finished", "snapshots_alive"):
        counters[key] = sum(r.counters[key] for r in results)
    counters["end_s"] = max(r.counters["end_s"] for r in results)
    for k, key in enumerate(("bytes_sent", "bytes_received")):
        # Summed part by part in the parts' order, however the parts were grouped.
        by_part = {p: t.bytes_by_part[p][k] for t in traces for p in t.owned}
        counters[key] = sum(by_part[p] for p in sorted(by_part))
    out["counters"] = counters
    servers = {
        name: results[owned_by[pm.dpm[name]]].storage["servers"][name]
        for name in first.storage["servers"]
    }
    storage = {k: v for k, v in first.storage.items()}
    storage.update(storage_totals(servers))
    out["storage"] = storage
    peaks = {
        name: traces[owned_by[pm.dpm[name]]].vault_peaks[name] for name in traces[0].vault_peaks
    }
    out["online_vault_peak_bytes"] = sum(peaks.values()) if peaks else first.online_vault_peak_bytes
    return replace(first, **out)  # type: ignore[arg-type]


def _owners(pieces: Sequence[tuple[Results, PartTrace]], pm: PartMap) -> dict[int, int]:
    owned_by: dict[int, int] = {}
    for k, (_, t) in enumerate(pieces):
        for p in t.owned:
            if p in owned_by:
                raise SplitError(f"part {p} was run twice")
            owned_by[p] = k
    missing = [p for p in pm.parts() if p not in owned_by]
    if missing:
        raise SplitError(f"parts {missing} were not run")
    return owned_by


def _map_for(pm: PartMap, column: str) -> dict[str, int]:
    return {"vm": pm.vm, "dpm_server": pm.dpm, "cluster": pm.cluster, "resource": pm.resource}[
        column
    ]


def _parts_of(values: pd.Series, mapping: dict[str, int]) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    return values.map(mapping).fillna(-1).to_numpy(dtype=np.int64)


def _check(parts: np.ndarray, owned: frozenset[int], what: str) -> np.ndarray:
    """The rows of ``owned`` parts; any other row is a split error."""
    mask = np.isin(parts, list(owned))
    if not mask.all():
        bad = sorted(set(parts[~mask].tolist()))
        raise SplitError(f"{what}: rows of parts {bad} in a world that ran parts {sorted(owned)}")
    return mask


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The frames' rows one after another. Empty frames are left out: a table built
    from no records has object columns where one with rows may have strings, and
    concatenating both would give object columns that one world never has."""
    full = [f for f in frames if len(f)]
    if len(full) == 1:
        return full[0]
    if not full:
        return frames[0]
    return pd.concat(full, ignore_index=True)


def _events(
    frames: Sequence[pd.DataFrame],
    times: Sequence[np.ndarray],
    parts: Sequence[np.ndarray],
    owned: Sequence[frozenset[int]],
    what: str,
) -> pd.DataFrame:
    """Rows of every world, ordered by (time recorded, part, order in its world)."""
    for p, o in zip(parts, owned, strict=True):
        _check(p, o, what)
    t = np.concatenate(times)
    part = np.concatenate(parts)
    local = np.concatenate([np.arange(len(f)) for f in frames])
    order = np.lexsort((local, part, t))
    df = _concat(frames)
    if len(frames) == 1 and np.array_equal(order, np.arange(len(order))):
        return df
    return df.iloc[order].reset_index(drop=True)


def _renumber(
    ids: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, frozenset[int]]], what: str
) -> list[np.ndarray]:
    """New ids 1..n over every world's ids, by (time handed out, part, old id): for
    each world, a table from its old ids to the new (0 where it had no such id)."""
    for _, _, p, o in ids:
        _check(p, o, what)
    old = np.concatenate([i for i, _, _, _ in ids])
    t = np.concatenate([x for _, x, _, _ in ids])
    part = np.concatenate([p for _, _, p, _ in ids])
    piece = np.concatenate([np.full(len(i), k) for k, (i, _, _, _) in enumerate(ids)])
    order = np.lexsort((old, part, t))
    new = np.empty(len(order), dtype=np.int64)
    new[order] = np.arange(1, len(order) + 1)
    tables = []
    for k, (i, _, _, _) in enumerate(ids):
        table = np.zeros(int(i.max()) + 1 if len(i) else 1, dtype=np.int64)
        table[i] = new[piece == k]
        tables.append(table)
    return tables


def _relabel(df: pd.DataFrame, column: str, table: np.ndarray) -> pd.DataFrame:
    if len(df) == 0:
        return df
    old = df[column].to_numpy(dtype=np.int64)
    new = table[old]
    if (new == 0).any():
        raise SplitError(f"{column}: an id with no row of its own")
    df = df.copy()
    df[column] = new.astype(df[column].dtype)
    return df


def _owned_rows(
    results: Sequence[Results],
    traces: Sequence[PartTrace],
    name: str,
    mapping: dict[str, int],
    column: str,
) -> pd.DataFrame:
    """Every world's rows of table ``name`` one after another, each checked to be of
    the parts its world ran."""
    frames = []
    for r, t in zip(results, traces, strict=True):
        f = getattr(r, name)
        _check(_parts_of(f[column], mapping), t.owned, name)
        frames.append(f)
    return _concat(frames)


def _objects(
    frames: Sequence[pd.DataFrame],
    column: str,
    mapping: dict[str, int],
    owned_by: dict[int, int],
    what: str,
) -> pd.DataFrame:
    first = frames[0]
    if len(frames) == 1 or len(first) == 0:
        return first
    return _objects_by_position(frames, _parts_of(first[column], mapping), owned_by, what, column)


def _objects_by_position(
    frames: Sequence[pd.DataFrame],
    parts: np.ndarray,
    owned_by: dict[int, int],
    what: str,
    column: str | None = None,
) -> pd.DataFrame:
    first = frames[0]
    if len(frames) == 1:
        return first
    for f in frames[1:]:
        if len(f) != len(first) or (
            column is not None
            and not f[column].reset_index(drop=True).equals(first[column].reset_index(drop=True))
        ):
            raise SplitError(f"{what}: the worlds list different objects")
    # Rows of no part (nothing can use the object) are the same in every world.
    source = np.array([owned_by.get(int(p), 0) for p in parts], dtype=np.int64)
    pieces = [f.iloc[np.flatnonzero(source == k)] for k, f in enumerate(frames)]
    return pd.concat([p for p in pieces if len(p)]).sort_index(kind="stable")


def _storage_days(
    results: Sequence[Results], traces: Sequence[PartTrace], pm: PartMap, servers: list[str]
) -> pd.DataFrame:
    """Each pool's rows from the world that ran its server (every world keeps a row a
    day for every pool), days in order, then servers in the scenario's order."""
    index = {name: i for i, name in enumerate(servers)}
    frames, keys = [], []
    for r, t in zip(results, traces, strict=True):
        f = r.storage_days
        mine = f[np.isin(_parts_of(f["dpm_server"], pm.dpm), list(t.owned))]
        frames.append(mine)
        keys.append(
            (
                mine["day"].to_numpy(),
                mine["dpm_server"].map(index).to_numpy(dtype=np.int64),
                np.arange(len(mine)),
            )
        )
    df = _concat(frames)
    day, server, local = (np.concatenate(k) for k in zip(*keys, strict=True))
    return df.iloc[np.lexsort((local, server, day))].reset_index(drop=True)


def _grouped(
    results: Sequence[Results],
    traces: Sequence[PartTrace],
    name: str,
    part_of: dict[str, int],
    order_of: dict[str, int],
    column: str = "vm",
) -> pd.DataFrame:
    """Rows grouped by object in the objects' order (a replica's recovery points)."""
    df = _owned_rows(results, traces, name, part_of, column)
    if len(results) == 1:
        return df
    key = df[column].map(order_of).to_numpy(dtype=np.int64)
    return df.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
