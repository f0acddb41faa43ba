"""Host, guest or both, per VM: the planner's restore needs (scenario
``restore_needs``) against what each protection level can restore, the RPO it gives
in this scenario, and the RTO the run's restores took.

The rules (source: dpm-hyperv-restore, dpm-sql-protection, dpm-exchange-protection,
dpm-sharepoint-protection):

- Recovery granularity. Host level (Hyper-V) restores the whole VM and, by
  item-level recovery, its files, folders and volumes. A database (SQL, Exchange), a
  mailbox or a SharePoint item needs DPM's agent in the guest. Guest level restores
  data sources, not the VM. So ``vm`` needs host, ``database``, ``mailbox`` and
  ``item`` need guest, ``file`` is served by host (or by guest file volumes).
- RPO each level gives here. Host: the longest gap between the host-level group's
  express fulls in a day (24 h for one a night; DPM's default 22:00 when the VM is in
  no host-level group). Guest: per data source, the sync frequency of its group for
  SQL in the full recovery model and Exchange (a recovery point per sync), the
  longest gap between express fulls for simple-recovery SQL, SharePoint and file
  volumes (points from express fulls only); the VM's is the longest over its data
  sources. A VM in no guest-level group is given what a group with DPM's defaults
  would give (sync every 15 min, 2 h with Exchange; an express full at 22:00 each
  day). No data sources declared: no guest RPO (n/a).
- A need whose RPO one level misses and the other meets adds that level (a ``vm``
  need with RPO 1 h on nightly express fulls: both, the VM from host level and its
  data to 15 min from guest level).
- RTO: the run's restores of the need's unit for the need's VMs (succeeded; by the
  kind requested, so a database restored as the whole VM where only host level
  protects it counts with the time it took), their p95 against the need's RTO
  target. No such restore in the run: no RTO (n/a).

A VM in several needs takes the first that names it; a VM in none has no row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hvsim.scenario.guest import (
    DAY_S,
    DEFAULT_SYNC_S,
    EXCHANGE_DEFAULT_SYNC_S,
    WEEK_S,
    spec_kinds,
    sync_frequency_s,
    week_points_s,
)
from hvsim.scenario.patterns import group_membership, scenario_vm_names
from hvsim.scenario.schema import KINDS_OF_UNIT

if TYPE_CHECKING:
    from hvsim.results import Results
    from hvsim.scenario.schema import ProtectionGroup, Scenario, VmSpec

RECOMMENDATION_COLUMNS = [
    "vm",
    "need",
    "finest_unit",
    "rto_target_s",
    "rpo_target_s",
    "protection",
    "recommended",
    "matches",
    "host_rpo_s",
    "guest_rpo_s",
    "restores",
    "rto_p95_s",
    "reason",
]
GUEST_UNITS = ("database", "mailbox", "item")


def _hours(x: float) -> str:
    if x >= 3600:
        return f"{x / 3600:.3g} h"
    return f"{x / 60:.3g} min"


def _largest_gap_s(week_points: list[int]) -> float:
    """The longest gap between consecutive points of a weekly schedule."""
    if not week_points:
        return float("inf")
    ends = [*week_points[1:], week_points[0] + WEEK_S]
    return float(max(b - a for a, b in zip(week_points, ends, strict=True)))


def _host_rpo_s(group: ProtectionGroup | None) -> float:
    if group is None:
        return float(DAY_S)  # one express full a day at DPM's default time
    times = sorted({round(t) for t in group.express_full_times})
    return _largest_gap_s([d * DAY_S + t for d in range(7) for t in times])


def _guest_rpo_s(spec: VmSpec, group: ProtectionGroup | None) -> float | None:
    """The VM's guest-level RPO: the longest over its data sources (None without)."""
    kinds = spec_kinds(spec)
    if not kinds:
        return None
    if group is not None:
        sync = float(sync_frequency_s(group, kinds))
        full_gap = _largest_gap_s(week_points_s(group))
    else:
        sync = float(EXCHANGE_DEFAULT_SYNC_S if "exchange" in kinds else DEFAULT_SYNC_S)
        full_gap = float(DAY_S)
    per_kind = {"sql": sync, "exchange": sync}
    return max(per_kind.get(k, full_gap) for k in kinds)


def recommendations(scenario: Scenario, res: Results) -> pd.DataFrame:
    """One row per VM named by a restore need: its protection now, the one
    recommended (host, guest or both), whether they match, the RPO each level gives
    here, the run's restores of the need's VMs and their RTO p95, and the reason."""
    if not scenario.restore_needs:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    names = scenario_vm_names(scenario)
    spec_of = {n: spec for spec in scenario.vms for n in spec.names()}
    groups = {g.name: g for g in scenario.protection_groups}
    host_of = group_membership(scenario, names, level="host")
    guest_of = group_membership(scenario, names, level="guest")
    need_of: dict[str, int] = {}
    members: dict[int, list[str]] = {}
    for i, need in enumerate(scenario.restore_needs):
        for m in need.members:
            for n in names.matching(m):
                if n not in need_of:
                    need_of[n] = i
                    members.setdefault(i, []).append(n)
    ok = res.restores[res.restores["outcome"] == "succeeded"]
    rto: dict[int, tuple[int, float | None, str]] = {}
    for i, vms in members.items():
        unit_kinds = KINDS_OF_UNIT[scenario.restore_needs[i].finest_unit]
        rows = ok[ok["vm"].isin(vms) & ok["kind"].isin(unit_kinds)]
        values = rows["rto_s"].to_numpy(dtype=float)
        kinds = ", ".join(sorted(set(rows["restored_as"]))) if len(rows) else ""
        p95 = float(np.percentile(values, 95)) if values.size else None
        rto[i] = (int(values.size), p95, kinds)
    records = []
    for name in names.names:
        if name not in need_of:
            continue
        i = need_of[name]
        need = scenario.restore_needs[i]
        spec = spec_of[name]
        host_group = groups.get(host_of.get(name, ""))
        guest_group = groups.get(guest_of.get(name, ""))
        now = (
            "both"
            if host_group and guest_group
            else "host"
            if host_group
            else "guest"
            if guest_group
            else "none"
        )
        host_rpo = _host_rpo_s(host_group)
        guest_rpo = _guest_rpo_s(spec, guest_group)
        count, p95, kinds = rto[i]
        recommended, reason = _decide(
            need.finest_unit,
            need.rpo,
            host_rpo,
            guest_rpo,
            spec,
            guest_group is not None,
            host_group is not None,
        )
        if need.rto is not None and p95 is not None:
            verdict = "within" if p95 <= need.rto else "over"
            reason.append(
                f"simulated RTO p95 {_hours(p95)} over {count} restore(s) of the group "
                f"({kinds}): {verdict} the {_hours(need.rto)} target"
            )
        elif need.rto is not None:
            reason.append(
                f"no restore of the group in this run: RTO {_hours(need.rto)} not checked"
            )
        matches = now == recommended
        if not matches:
            reason.append(f"protected at {now} level now, recommended {recommended}")
        records.append(
            (
                name,
                i,
                need.finest_unit,
                need.rto if need.rto is not None else np.nan,
                need.rpo if need.rpo is not None else np.nan,
                now,
                recommended,
                matches,
                host_rpo,
                guest_rpo if guest_rpo is not None else np.nan,
                count,
                p95 if p95 is not None else np.nan,
                "; ".join(reason),
            )
        )
    return pd.DataFrame.from_records(records, columns=RECOMMENDATION_COLUMNS)


def _decide(
    unit: str,
    rpo: float | None,
    host_rpo: float,
    guest_rpo: float | None,
    spec: VmSpec,
    in_guest_group: bool,
    in_host_group: bool,
) -> tuple[str, list[str]]:
    """(host, guest or both; the reasons) for one VM's need."""
    reason = []
    host = guest = False
    if unit in GUEST_UNITS:
        guest = True
        reason.append(
            f"{unit} restores need guest level: host level restores whole VMs and files only "
            "(source: dpm-hyperv-restore)"
        )
    elif unit == "vm":
        host = True
        reason.append("whole-VM restores need host level: guest level restores data sources")
    elif spec.files and unit == "file":
        guest = True
        reason.append("file restores: the guest's file volumes serve them (guest level)")
    else:
        host = True
        reason.append(
            "file restores: host level serves them by item-level recovery (needs the Hyper-V "
            "role on the DPM server)"
        )
    if guest_rpo is None:
        guest_words = "n/a (no data sources declared)"
    elif in_guest_group:
        guest_words = _hours(guest_rpo)
    else:
        guest_words = f"{_hours(guest_rpo)} (by DPM's defaults, in no guest-level group)"
    if rpo is not None:
        host_ok = host_rpo <= rpo
        guest_ok = guest_rpo is not None and guest_rpo <= rpo
        host_words = _hours(host_rpo) + ("" if in_host_group else " (by DPM's defaults)")
        levels = f"host level gives {host_words}, guest level {guest_words}"
        if host and not host_ok and guest_ok:
            guest = True
            reason.append(
                f"RPO {_hours(rpo)}: {levels}: guest level for the data (or more express "
                "fulls a day at host level)"
            )
        elif guest and not host and not guest_ok and host_ok:
            reason.append(f"RPO {_hours(rpo)}: {levels}: guest level misses it as scheduled")
        elif not (host_ok if host and not guest else guest_ok if guest and not host else True):
            reason.append(f"RPO {_hours(rpo)}: {levels}: no level meets it as scheduled")
        else:
            at = "both levels" if host and guest else "host level" if host else "guest level"
            reason.append(f"RPO {_hours(rpo)}: {levels}: met at {at}")
    else:
        host_words = _hours(host_rpo) + ("" if in_host_group else " (by DPM's defaults)")
        reason.append(f"host level gives an RPO of {host_words}, guest level {guest_words}")
    return ("both" if host and guest else "host" if host else "guest"), reason
