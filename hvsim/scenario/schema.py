"""The scenario format: pydantic models whose field descriptions are the reference.

Every field's description says its unit, its default and where the default comes
from: an entry of ``docs/sources.md`` (cited as ``source: NAME``) or the word
*assumption*. The README's scenario reference and ``hvsim schema`` are generated
from these models, so they cannot drift from the code.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hvsim.scenario.distributions import CategoryCheck, Dist, DistCheck, fixed
from hvsim.scenario.units import (
    KIND_MAXIMUM_TEXT,
    OutOfRange,
    allowed,
    parse_clock,
    parse_quantity,
)

# Least values of rates and sizes. Anything smaller is no estate but a unit slip
# ('bandwidth: 1000' is 1000 bytes/s), and it ran away: a 1 bps link or a 1e-300 B/s
# pool ended jobs centuries after the horizon, a 0.5 B VM moved sub-byte transfers.
MIN_RATE = 8000.0  # 64 kbps
MIN_RATE_TEXT = "64 kbps (8 kB/s)"
MIN_SIZE = float(2**20)
MIN_SIZE_TEXT = "1 MiB"
MIN_MEMORY = float(32 * 2**20)
MIN_MEMORY_TEXT = "32 MiB"
# Why these values: the scenario reference's preamble (reference.py). The largest
# values (units.KIND_MAXIMUM) are far beyond any estate and keep times and bytes exact
# enough in floats.
RATE_FLOOR = f"From {MIN_RATE_TEXT} to {KIND_MAXIMUM_TEXT['rate']}."
SIZE_FLOOR = f"From {MIN_SIZE_TEXT} to {KIND_MAXIMUM_TEXT['size']}."


def _field(info: ValidationInfo, fallback: str) -> str:
    return info.field_name or fallback


class QuantityCheck(GroupedMetadata):
    """How a quantity field of ``kind`` is read: a number or a text with a unit,
    positive and at least ``least`` (named ``least_text`` in messages); ``example``
    goes into the JSON schema. Written ``Annotated[float, QuantityCheck(...)]``."""

    def __init__(self, kind: str, example: str, least: float = 0.0, least_text: str = ""):
        words = allowed(kind, least_text, exclusive=True)

        def convert(value: object, info: ValidationInfo) -> float:
            try:
                v = parse_quantity(value, kind)
            except OutOfRange:
                v = float("nan")
            if not (v > 0 and v >= least):  # NaN fails both
                raise ValueError(f"{_field(info, kind)} must be {words}")
            return v

        self.validator = BeforeValidator(convert)
        self.schema = WithJsonSchema(
            {
                "anyOf": [{"type": "number"}, {"type": "string"}],
                "description": f"e.g. {example}; {words}",
            }
        )

    def __iter__(self) -> Iterator[object]:
        yield self.validator
        yield self.schema


Size = Annotated[float, QuantityCheck("size", "'100 GiB'", MIN_SIZE, MIN_SIZE_TEXT)]
Rate = Annotated[float, QuantityCheck("rate", "'1 Gbps' or '500 MB/s'", MIN_RATE, MIN_RATE_TEXT)]
Duration = Annotated[float, QuantityCheck("duration", "'30 s'")]
_DURATION_OR_ZERO = allowed("duration")


def _duration_or_zero(value: object, info: ValidationInfo) -> float:
    try:
        v = parse_quantity(value, "duration")
    except OutOfRange:
        v = float("nan")
    if not v >= 0:  # NaN fails too
        raise ValueError(f"{_field(info, 'duration')} must be {_DURATION_OR_ZERO}")
    return v


DurationOrZero = Annotated[
    float,
    BeforeValidator(_duration_or_zero),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string"}],
            "description": f"e.g. '0 s'; {_DURATION_OR_ZERO}",
        }
    ),
]
FIRST_DATE, LAST_DATE = dt.date(1970, 1, 1), dt.date(2200, 12, 31)
_DATE_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(value: object, info: ValidationInfo) -> dt.date:
    """A calendar date: YAML's 2026-01-05 or the text '2026-01-05'. pydantic also
    reads a number as seconds since 1970 ('start_date: 0' was 1970-01-01) and takes
    '2026-01-05T00:00'; neither is a date a planner means."""
    name = _field(info, "date")
    if isinstance(value, dt.datetime):
        raise ValueError(f"{name} is a date without a time of day, such as 2026-01-05")
    if isinstance(value, str) and _DATE_FORM.fullmatch(value.strip()):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{name} is not a day of the calendar") from None
    if not isinstance(value, dt.date):
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, such as 2026-01-05")
    # Results carry pandas timestamps, which end in April 2262.
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"{name} must be a date from {FIRST_DATE} to {LAST_DATE}")
    return value


Date = Annotated[
    dt.date,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "format": "date", "description": "YYYY-MM-DD"}),
]
Clock = Annotated[
    float,
    BeforeValidator(parse_clock),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "description": "HH:MM"}),
]
MAX_NAME_CHARS = 200
# Names of clusters, hosts, VMs, groups... and of the scenario, which names the report
# folder: letters, digits and a few marks that patterns ('web-*', 'app-{i:03d}') need,
# never a space or a slash; and never only dots, since '.' and '..' as a folder name
# are the folder itself and its parent (a scenario named '..' wrote its report there).
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-{}:*?\[\]]+")
NAME_RULE = (
    f"a name is 1 to {MAX_NAME_CHARS} letters, digits or the characters _ . - {{ }} : * ? [ ] "
    "(no spaces, slashes or other characters)"
)
_NAME_PART = rf"(?!\.+(?:/|$))[A-Za-z0-9_.\-{{}}:*?\[\]]{{1,{MAX_NAME_CHARS}}}"
NAME_PATTERN = f"^{_NAME_PART}$"  # for editors (hvsim schema); name_problem() decides


def name_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a name, in words; None if it is one."""
    if not value or len(value) > MAX_NAME_CHARS or not _NAME_CHARS.fullmatch(value):
        return NAME_RULE
    if value.strip(".") == "":
        return "a name is not only dots ('.' and '..' are a folder and its parent)"
    return None


def _name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Name = Annotated[
    str,
    AfterValidator(_name),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN, "description": NAME_RULE}),
]


def _target(value: str) -> str:
    # 'cluster/csv' and 'host/local' name a volume (a storage move's target); each
    # part is a name. Whether the target fits the event's kind is checked with the
    # scenario's names (mobility_refs.py).
    parts = value.split("/")
    if len(parts) > 2 or any(name_problem(p) for p in parts):
        raise ValueError(
            "a target is a host or node name, or for a storage move a volume: "
            f"'cluster/csv', 'host/local' or a share name ({NAME_RULE})"
        )
    return value


Target = Annotated[
    str,
    AfterValidator(_target),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_NAME_PART}(?:/{_NAME_PART})?$",
            "description": "a host or node, or a volume 'cluster/csv', 'host/local' or a share",
        }
    ),
]


def _data_source(value: str) -> str:
    # '<vm>/<data source>' (sql-01/sql2, or a pattern '*/sql1'), or in a request
    # naming its VM the data source alone ('sql2'); each part is a name.
    parts = value.split("/")
    if len(parts) > 2 or any(name_problem(p) for p in parts):
        raise ValueError(
            "a data source is '<vm>/<data source>' such as 'sql-01/sql2' (numbered per kind: "
            f"sql1, exchange1, sharepoint1, files1), or a pattern such as '*/sql1' ({NAME_RULE})"
        )
    return value


DataSourceName = Annotated[
    str,
    AfterValidator(_data_source),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_NAME_PART}(?:/{_NAME_PART})?$",
            "description": "a guest data source '<vm>/<data source>' (sql-01/sql2) or a pattern",
        }
    ),
]

HostOs = Literal["2008R2", "2012", "2012R2"]
GUEST_OS = (
    "windows2000",
    "windows2003",
    "windows2008",
    "windows2008r2",
    "windows2012",
    "windows2012r2",
    "linux",
)
GUESTS_WITH_VSS = frozenset(GUEST_OS) - {"windows2000", "linux"}
FileSystem = Literal["NTFS", "ReFS", "FAT32", "exFAT", "ext4", "xfs"]
FILE_SYSTEMS: tuple[str, ...] = typing.get_args(FileSystem)


def _ntfs_only() -> list[FileSystem]:
    return ["NTFS"]


MAX_VMS = 100_000
# On-demand jobs: 100,000 an hour (the old maximum) made millions of jobs a day and ran
# out of memory; 500,000 jobs take about 10 s and 0.5 GB (one 2-core machine).
MAX_ON_DEMAND_PER_HOUR = 1000
MAX_ON_DEMAND_JOBS = 500_000
MAX_HORIZON_DAYS = 3660
# {i} of a VM name: a billion is more than any naming scheme needs (assumption).
MAX_FIRST_INDEX = 1_000_000_000


_AS_INT = TypeAdapter(int)
_AS_FLOAT = TypeAdapter(float)


@functools.cache
def _number_rule(model: type[BaseModel], name: str) -> tuple[type, str, dict] | None:
    """(int or float, the values allowed in words, the bounds) of a number field with
    bounds, such as ``count`` ('a whole number from 1 to 100000'); else None."""
    field = model.model_fields[name]
    ann = field.annotation
    union = typing.get_origin(ann) in (typing.Union, types.UnionType)
    kinds = set(typing.get_args(ann)) - {type(None)} if union else {ann}
    if kinds == {int}:
        kind: type = int
    elif kinds in ({float}, {int, float}):
        kind = float
    else:
        return None  # not a number, or 'int | list' (its own validator speaks)
    bounds = {
        op: getattr(m, op)
        for m in field.metadata
        for op in ("ge", "gt", "le", "lt")
        if getattr(m, op, None) is not None
    }
    if not bounds:
        return None
    low = _bound_text(bounds["ge"]) if "ge" in bounds else None
    if "ge" in bounds and "le" in bounds:
        words = f"from {low} to {_bound_text(bounds['le'])}"
    else:
        parts = [f"greater than {_bound_text(bounds['gt'])}"] if "gt" in bounds else []
        parts += [f"of {low} or more"] if low is not None else []
        parts += [f"at most {_bound_text(bounds['le'])}"] if "le" in bounds else []
        parts += [f"less than {_bound_text(bounds['lt'])}"] if "lt" in bounds else []
        words = " and ".join(parts)
    return kind, f"{'a whole number' if kind is int else 'a number'} {words}", bounds


def _bound_text(x: float) -> str:
    """A bound as a planner writes it: 1000000000, not 1e+09; 0.1 as 0.1."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _in_bounds(x: float, bounds: dict) -> bool:
    return (
        x >= bounds.get("ge", -math.inf)
        and x > bounds.get("gt", -math.inf)
        and x <= bounds.get("le", math.inf)
        and x < bounds.get("lt", math.inf)
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_in_range(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None:
            return value
        field = cls.model_fields[info.field_name]
        # pydantic reads true/false as 1/0 for a number: 'count: true' made one VM.
        if isinstance(value, bool):
            ann = field.annotation
            if ann in (int, float) or {int, float} & set(typing.get_args(ann)):
                raise ValueError("expected a number, not true or false")
            return value
        rule = _number_rule(cls, info.field_name)
        if rule is None or value is None:
            return value
        # A number field's own words for NaN, a number out of its range or text that
        # is no number: pydantic's ('Input should be less than or equal to 3660' for
        # NaN) name neither the field nor its range. Values pydantic takes pass as given.
        kind, words, bounds = rule
        number = value
        if isinstance(value, str):
            try:
                number = (_AS_INT if kind is int else _AS_FLOAT).validate_python(value)
            except ValidationError:
                number = None
        ok = isinstance(number, int | float) and not isinstance(number, bool)
        if ok and isinstance(number, float):
            ok = math.isfinite(number) and (kind is float or number.is_integer())
        if not (ok and _in_bounds(number, bounds)):
            raise ValueError(f"{info.field_name} must be {words}")
        return value


class Storage(Strict):
    """Storage behind VMs: a CSV, a host's local volume, or an SMB share's volume."""

    capacity: Size = Field(
        description=f"Capacity, bytes (e.g. '4 TiB'). Required. {SIZE_FLOOR} Must hold what is "
        "placed on it: each VM's disks in use and its saved-state file, which reserves as "
        "much as the VM's memory (source: saved-state); a distribution counts with its mean."
    )
    read: Rate = Field(
        description=f"Sequential read throughput shared by all readers. Required. {RATE_FLOOR}"
    )
    write: Rate = Field(
        description=f"Write throughput shared by all writers. Required. {RATE_FLOOR}"
    )
    vss_provider: Literal["software", "hardware"] = Field(
        "software",
        description=(
            "VSS provider that takes host-level snapshots. Default software: the system "
            "provider that every host has; a hardware provider needs the SAN's (source: "
            "csv-redirected-access)."
        ),
    )


class CsvVolume(Storage):
    name: Name
    serialize_backups: bool | None = Field(
        None,
        description=(
            "One backup at a time on this CSV (DataSourceGroups.xml, source: dpm-serialization). "
            "Default: on for a "
            "software provider on a Windows Server 2008 R2 cluster, as DPM requires there "
            "(sources: dpm-serialization, csv-redirected-access); off otherwise."
        ),
    )


class ClusterNode(Strict):
    name: Name
    dpm_agent: bool = Field(True, description="DPM protection agent installed. Default true.")


_NODES = (
    "a whole number from 1 to 64 (source: dpm-scale-out, the WS2012 maximum) or a list of "
    "node names"
)


class Cluster(Strict):
    name: Name
    os: HostOs = Field(description="Windows Server version of the nodes: 2008R2, 2012 or 2012R2.")
    nodes: int | list[Name | ClusterNode] = Field(
        description="Node count (names '<cluster>-n1'...) or a list of node names or objects."
    )
    csvs: list[CsvVolume] = Field(min_length=1, description="Cluster Shared Volumes.")
    max_parallel_backups_per_node: int | None = Field(
        None,
        ge=1,
        le=64,
        description=(
            "Registry MaxAllowedParallelBackups 'Microsoft Hyper-V' on each node. Default 1 on "
            "a 2008 R2 cluster with any software-provider CSV (source: dpm-serialization), "
            "otherwise 3 "
            "(assumption: no published default, source: dpm-serialization)."
        ),
    )

    scan_serialized: bool | None = Field(
        None,
        description=(
            "Protection scans enumerate each CSV one node at a time. Default: on unless the "
            "nodes run Windows Server 2012 or later and DPM is 2012 SP1 or later (seed "
            "article: serialization no longer needed there)."
        ),
    )
    cluster_network: Rate = Field(
        1e9 / 8,
        description=(
            "Each node's cluster (CSV) network, carrying redirected I/O to the CSV's "
            f"coordinator node. Default 1 Gbps (assumption). {RATE_FLOOR}"
        ),
    )

    @field_validator("nodes", mode="before")
    @classmethod
    def _node_count(cls, nodes: object) -> object:
        # A number that is no node count (NaN, 2.5): pydantic's words for the two
        # forms ('Input should be a finite number; Input should be a valid list').
        if isinstance(nodes, float) and not (math.isfinite(nodes) and nodes.is_integer()):
            raise ValueError(f"nodes must be {_NODES}")
        return nodes

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, nodes: int | list) -> int | list:
        if isinstance(nodes, int) and not 1 <= nodes <= 64:
            raise ValueError(f"nodes must be {_NODES}")
        if isinstance(nodes, list) and not nodes:
            raise ValueError("nodes must name at least one node")
        return nodes

    def node_list(self) -> list[ClusterNode]:
        if isinstance(self.nodes, int):
            return [ClusterNode(name=f"{self.name}-n{i}") for i in range(1, self.nodes + 1)]
        return [n if isinstance(n, ClusterNode) else ClusterNode(name=n) for n in self.nodes]


class StandaloneHost(Strict):
    name: Name
    os: HostOs = Field(description="Windows Server version: 2008R2, 2012 or 2012R2.")
    storage: Storage = Field(description="The host's local storage for VMs.")
    dpm_agent: bool = Field(True, description="DPM protection agent installed. Default true.")
    max_parallel_backups: int = Field(
        3,
        ge=1,
        le=64,
        description="MaxAllowedParallelBackups. Default 3 (assumption; no published default, "
        "source: dpm-serialization).",
    )


class FileServer(Strict):
    name: Name
    dpm_agent: bool = Field(True, description="DPM agent installed on this file server.")


class SmbShare(Storage):
    name: Name
    file_servers: list[Name] = Field(min_length=1, description="File servers serving the share.")
    file_server_vss_agent: bool = Field(
        True,
        description="File Server VSS Agent Service enabled (source: seed-article). Default true.",
    )


# DPM's planning guide: "maximum network efficiency is approximately 80 %", initial
# replica hours = MB / (0.8 x MB/s) / 3600; its initial-replica table gives those
# hours when its GB are GiB (source: dpm-network-efficiency).
LINK_EFFICIENCY = 0.8
# Less than a tenth of a link is a slip (0.8 written as 0.008), not a protocol (assumption).
MIN_LINK_EFFICIENCY = 0.1


class Link(Strict):
    between: tuple[Name, Name] = Field(description="The two endpoints: hosts, nodes, switches...")
    bandwidth: Rate = Field(
        description=f"Bandwidth in each direction (full duplex), e.g. 10 Gbps. {RATE_FLOOR}"
    )
    efficiency: float = Field(
        LINK_EFFICIENCY,
        ge=MIN_LINK_EFFICIENCY,
        le=1,
        description="Share of the bandwidth that transfers reach (protocol overhead): all "
        "traffic on the link shares bandwidth x efficiency. Default 0.8, DPM's planning "
        "guide: network replication reaches about 80 % of the link at best, initial "
        "replica hours = MB / (0.8 x MB/s) / 3600, which matches DPM's initial-replica "
        "table (50 GB in 1.5 h at 100 Mbps) when its GB are GiB (source: "
        "dpm-network-efficiency). Not applied to a cluster's own network (cluster_network) "
        "or to storage. At least 0.1 (assumption: less is a slip, such as 0.008 for 0.8).",
    )


class Pool(Strict):
    capacity: Size = Field(description=f"DPM storage pool capacity. {SIZE_FLOOR}")
    write: Rate = Field(
        description=f"Storage pool write throughput shared by all jobs. {RATE_FLOOR}"
    )
    read: Rate | None = Field(
        None,
        description="Storage pool read throughput (consistency checks read the replica). "
        f"Default: the write throughput (assumption). {RATE_FLOOR}",
    )
    allocation: Literal["dpm_default", "thin"] = Field(
        "dpm_default",
        description="How DPM allocates the pool to data sources. dpm_default: a replica "
        "and a recovery point volume per data source (per protection group when the "
        "server co-locates) sized by DPM's default formulas (Hyper-V: replica 1.5 x "
        "size, recovery points size x retention days x 0.1 + 1600 MB; files, SQL, "
        "Exchange and SharePoint by their rows of the same table), grown by the larger "
        "of 10 GB or 25 % when full, at most every 15 minutes, with an alert at 90 % "
        "(sources: dpm-allocation-formulas, dpm-auto-grow). thin: volumes hold exactly "
        "what is stored (a best case, no volume overhead). Default dpm_default (DPM "
        "2012 allocates by formula, source: dpm-allocation-formulas).",
    )


class VmmIntegration(Strict):
    """What protection across migrations needs on the DPM side (sources: seed-article,
    dpm-vmm-continuity)."""

    vmm_server: Name | None = Field(
        None,
        description="VMM server known to DPM (Set-DPMGlobalProperty -KnownVMMServers). "
        "Default none.",
    )
    console_installed: bool = Field(False, description="VMM console installed on the DPM server.")
    console_version_matches: bool = Field(
        True, description="The console is the same version as the VMM server."
    )
    helper_service_running: bool = Field(
        False, description="DPM-VMM Helper Service (DPMVMMHelper, TCP 6070) running."
    )


class VmmServer(Strict):
    name: Name
    manages: list[Name] = Field(
        min_length=1, description="Clusters and standalone hosts this VMM server manages."
    )


class TapeLibrary(Strict):
    """A tape library attached to the DPM server, for long-term protection to tape
    (protection_groups[].long_term). Long-term backups from disk read the replica on the
    DPM pool, not the protected server (source: dpm-tape-planning)."""

    drives: int = Field(ge=1, le=256, description="Tape drives in the library. Required.")
    drive_rate: Rate = Field(
        140e6,
        description="Native write rate of each drive. Default 140 MB/s, LTO-5 (source: "
        "lto-drive-specs, published secondary; DPM's measured tape throughput is not "
        f"published). {RATE_FLOOR}",
    )
    tape_capacity: Size = Field(
        1.5e12,
        description="Native capacity of one tape. Default 1.5 TB, LTO-5 (source: "
        f"lto-drive-specs, published secondary). {SIZE_FLOOR}",
    )
    compression: float = Field(
        1.0,
        ge=1.0,
        le=10.0,
        description="Hardware compression factor: a drive takes drive_rate x compression of "
        "the replica's bytes a second and a tape holds tape_capacity x compression. "
        "Default 1 (assumption: no ratio for DPM's data is published). From 1 to 10.",
    )


# DPM's long-term tape goals: the frequencies a retention range allows, by the unit
# the range is given in (source: dpm-tape-planning: 1-99 years -> daily ... yearly;
# 1-11 months -> daily, weekly, bi-weekly, monthly; 1-4 weeks -> daily, weekly). hvsim
# models the weekly, monthly and yearly ones.
LONG_TERM_FREQUENCIES = ("weekly", "monthly", "yearly")
LONG_TERM_ALLOWED = {
    "weeks": ("weekly",),
    "months": ("weekly", "monthly"),
    "years": ("weekly", "monthly", "yearly"),
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


# Azure Backup's throttling takes "bandwidth values [that] begin at 512 Kbps and go up to
# 1,023 MBps" (source: azure-throttling), as written there.
MIN_THROTTLE_RATE = 512e3 / 8
MAX_THROTTLE_RATE = 1023e6
THROTTLE_RANGE = "from 512 kbps (64 kB/s) to 1,023 MB/s (source: azure-throttling)"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORK_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class Throttling(Strict):
    """DPM's "Throttling Setting" of its online (Azure) protection, as the MARS agent
    sets it: one rate in work hours of work days, another at all other times (source:
    azure-throttling)."""

    work_hours_start: Clock = Field(
        32400.0,
        description="Start of work hours, HH:MM. Default 09:00 (source: azure-throttling, "
        "Set-OBMachineSetting example).",
    )
    work_hours_end: Clock = Field(
        64800.0,
        description="End of work hours, HH:MM, after the start on the same day. Default "
        "18:00 (source: azure-throttling).",
    )
    work_days: list[Weekday] = Field(
        default_factory=lambda: list(WORK_DAYS),
        min_length=1,
        description="Work days. Default mon to fri (assumption).",
    )
    work_hours_rate: Rate = Field(
        description="Upload rate in work hours. Required; " + THROTTLE_RANGE + "."
    )
    non_work_hours_rate: Rate = Field(
        description="Upload rate outside work hours. Required; " + THROTTLE_RANGE + "."
    )

    @field_validator("work_hours_rate", "non_work_hours_rate")
    @classmethod
    def _in_range(cls, rate: float, info: ValidationInfo) -> float:
        if not MIN_THROTTLE_RATE <= rate <= MAX_THROTTLE_RATE:
            raise ValueError(f"{info.field_name} must be {THROTTLE_RANGE}")
        return rate

    @model_validator(mode="after")
    def _hours(self) -> Throttling:
        if not self.work_hours_start < self.work_hours_end:
            raise ValueError("work_hours_end must come after work_hours_start on the same day")
        return self


# Online backups from a DPM server run at most 8 at once by default, 12 at most
# (MaxRunningTasksThreshold, source: dpm-task-controller-8).
MAX_ONLINE_JOBS = 12
# The local cache must hold at least 5 % of the data backed up (source:
# azure-dpm-introduction).
CACHE_SHARE = 0.05


class OnlineUplink(Strict):
    """The DPM server's Internet uplink to Azure Backup and its online settings."""

    uplink: Rate = Field(description=f"Internet uplink line rate, e.g. 100 Mbps. {RATE_FLOOR}")
    efficiency: float = Field(
        LINK_EFFICIENCY,
        ge=MIN_LINK_EFFICIENCY,
        le=1,
        description="Share of the uplink's line rate uploads reach, as for links: no "
        "Azure-specific figure is published, so DPM's network efficiency is reused. "
        "Default 0.8 (source: dpm-network-efficiency). The throttled rate applies on top: "
        "uploads share min(uplink x efficiency, the throttling rate in force).",
    )
    throttling: Throttling | None = Field(
        None, description="Work-hour and non-work-hour rates. Default none (no throttling)."
    )
    max_parallel_jobs: int = Field(
        8,
        ge=1,
        le=MAX_ONLINE_JOBS,
        description="Online jobs at once (MaxRunningTasksThreshold). Default 8, at most 12 "
        "(source: dpm-task-controller-8).",
    )
    cache_volume: Size | None = Field(
        None,
        description="Size of the local cache volume (the MARS scratch folder). It must "
        "hold 5 % of the data sources protected online (source: azure-dpm-introduction): "
        "each data source's first online job reserves 5 % of its size there, and a job "
        "whose reservation does not fit fails 'Azure cache volume full' (sizes are drawn "
        "per VM, so the rule is checked in the run). Default: sized to the rule "
        f"(assumption: never full). {SIZE_FLOOR}",
    )


class DpmServer(Strict):
    name: Name
    version: Literal["2012", "2012SP1", "2012R2"] = Field(description="DPM version.")
    update_rollup: int = Field(
        0,
        ge=0,
        le=20,
        description=(
            "Update rollup of DPM 2012 R2. UR3 or later protecting Windows Server 2012 R2 "
            "hosts keeps VMs running (source: dpm-ur3-online). Default 0 (assumption: no rollup)."
        ),
    )
    pool: Pool = Field(description="The DPM storage pool.")
    max_parallel_jobs: int = Field(
        8,
        ge=1,
        le=256,
        description=(
            "Jobs this DPM server runs at once. Default 8 (assumption; the only published DPM "
            "task-controller default is 8 for online backups, source: dpm-task-controller-8)."
        ),
    )
    auto_rerun_delay: Duration = Field(
        3600.0,
        description="Delay before a failed job is re-run. Default 60 min (source: dpm-auto-rerun).",
    )
    vmm: VmmIntegration = Field(
        default_factory=VmmIntegration,
        description="DPM-VMM integration for protection across migrations. Default: none.",
    )
    protection_repair_time: Duration = Field(
        86400.0,
        description="After protection breaks (a migration DPM could not follow), time until "
        "an administrator re-protects the VM. Default 24 h (assumption).",
    )
    auto_rerun_attempts: int = Field(
        1, ge=0, le=10, description="Re-runs of a failed job. Default 1 (source: dpm-auto-rerun)."
    )
    hyper_v_role: bool = Field(
        False,
        description="The Hyper-V role is installed on the DPM server: item-level recovery of "
        "files from a host-level recovery point needs it (source: dpm-hyperv-restore); "
        "without it an item_level restore falls back to a whole-VM restore to an alternate "
        "location. Default false (assumption: the documentation names it as a prerequisite "
        "to enable, so a DPM server has it only when the planner says so).",
    )
    colocate: bool = Field(
        False,
        description="Co-locate data in the DPM storage pool: data sources share volumes, "
        "so the server protects up to 2,000 databases instead of 300 (source: "
        "dpm-sql-protection). Default false (assumption).",
    )
    eseutil_rate: Rate = Field(
        225e6,
        description="Rate at which Eseutil checks an Exchange replica on this server, per "
        "check (it shares the pool's read with everything else). Default 225 MB/s, "
        "measured range 46 to 225 MB/s (source: eseutil-throughput). " + RATE_FLOOR,
    )
    tape_library: TapeLibrary | None = Field(
        None,
        description="The tape library for long-term protection "
        "(protection_groups[].long_term). Default none.",
    )
    online: OnlineUplink | None = Field(
        None,
        description="Online protection to Azure from this server: its Internet uplink, "
        "throttling, online job slots and cache. Default none (protection groups on this "
        "server cannot have an online block).",
    )
    job_order: Literal["dpm", "longest_first"] = Field(
        "dpm",
        description="The order in which this server's waiting backup jobs get job slots "
        "(the DPM server's, and the host's and CSV group's they take on the way). dpm: "
        "first come, first served, i.e. by scheduled time, then data source, as DPM runs "
        "them. longest_first: backups of the longest predicted duration first, LBF "
        "(source: hp-labs-lbf): host-level express fulls and initial replicas, and "
        "guest-level express fulls, file recovery points and initial replicas. The "
        "prediction is the data source's previous successful backup's duration (start "
        "to end), and before one the bytes it would move if it started now over the "
        "pool's write rate (assumption). Jobs with no prediction (guest-level "
        "synchronizations and catalogs, consistency checks, tape, online jobs, "
        "restores, migrations) keep their arrival order, ahead of predicted backups "
        "(assumption: LBF orders backups, and these are short or not backups). "
        "Default dpm.",
    )


class BackupWindow(Strict):
    """The time jobs should finish in. A recovery point scheduled inside the window is
    due by the window's end; one scheduled outside it (an 08:00 express full beside a
    20:00-06:00 window) is due by the group's next scheduled express full, and is
    counted in backups.outside_window. backups.window_compliance is the share of
    scheduled recovery points created by their due time."""

    start: Clock = Field(72000.0, description="Window start, HH:MM. Default 20:00 (assumption).")
    end: Clock = Field(
        21600.0,
        description="Window end, HH:MM (next day if before start); not equal to start. "
        "Default 06:00 (assumption).",
    )

    @model_validator(mode="after")
    def _has_length(self) -> BackupWindow:
        if self.start == self.end:
            raise ValueError(
                "a backup window needs a length: start and end are equal (for a window "
                "around the clock give e.g. start 00:00, end 23:59)"
            )
        return self


class LongTermTape(Strict):
    """Long-term protection to tape (D2D2T): at each long-term time a full backup of
    every data source of the group, read from its replica on the DPM pool and written
    to one of the library's drives; a tape for each full backup job (source:
    dpm-tape-planning). Give the retention range in exactly one of retention_weeks,
    retention_months or retention_years."""

    frequency: Literal["weekly", "monthly", "yearly"] = Field(
        description="How often a long-term full is written: weekly (on weekday), monthly (on "
        "day_of_month) or yearly (on month and day_of_month). DPM allows weekly for a range "
        "in weeks, weekly or monthly for one in months, all three for one in years (source: "
        "dpm-tape-planning). Required."
    )
    time: Clock = Field(
        36000.0,
        description="Time of day of the long-term backup, HH:MM. Default 10:00 (assumption: "
        "after a nightly window).",
    )
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = Field(
        None, description="Weekly: the day of the week. Default sat (assumption)."
    )
    day_of_month: int | None = Field(
        None,
        ge=1,
        le=31,
        description="Monthly and yearly: the day of the month (the month's last day when it "
        "is shorter). Default 1 (assumption).",
    )
    month: Literal[MONTHS] | None = Field(  # type: ignore[valid-type]
        None, description="Yearly: the month, jan to dec. Default jan (assumption)."
    )
    retention_weeks: int | None = Field(
        None,
        ge=1,
        le=4,
        description="Retention range in weeks, 1 to 4 (source: dpm-tape-planning).",
    )
    retention_months: int | None = Field(
        None,
        ge=1,
        le=11,
        description="Retention range in months, 1 to 11 (source: dpm-tape-planning).",
    )
    retention_years: int | None = Field(
        None,
        ge=1,
        le=99,
        description="Retention range in years, 1 to 99 (source: dpm-tape-planning).",
    )
    drives_allocated: int = Field(
        1,
        ge=1,
        le=256,
        description="Drives the group's tape jobs may use at once (Set-DPMTapeBackupOption "
        "-DrivesAllocated, source: dpm-tape-planning); at most the library's drives. "
        "Default 1 (assumption).",
    )

    @model_validator(mode="after")
    def _dpm_goals(self) -> LongTermTape:
        given = [
            unit
            for unit, value in (
                ("weeks", self.retention_weeks),
                ("months", self.retention_months),
                ("years", self.retention_years),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give the retention range in exactly one of retention_weeks, "
                f"retention_months or retention_years (given: {', '.join(given) or 'none'})"
            )
        unit = given[0]
        allowed = LONG_TERM_ALLOWED[unit]
        if self.frequency not in allowed:
            raise ValueError(
                f"a {self.frequency} long-term backup needs a longer retention range: DPM "
                f"allows {' or '.join(allowed)} for a range in {unit} (1-4 weeks: weekly; "
                "1-11 months: weekly, monthly; 1-99 years: weekly, monthly, yearly)"
            )
        if self.weekday is not None and self.frequency != "weekly":
            raise ValueError("weekday applies to weekly long-term backups only")
        if self.day_of_month is not None and self.frequency == "weekly":
            raise ValueError("day_of_month applies to monthly and yearly long-term backups only")
        if self.month is not None and self.frequency != "yearly":
            raise ValueError("month applies to yearly long-term backups only")
        return self

    @property
    def retention(self) -> tuple[str, int]:
        """The retention range as (unit, value): weeks, months or years."""
        for unit, value in (
            ("weeks", self.retention_weeks),
            ("months", self.retention_months),
            ("years", self.retention_years),
        ):
            if value is not None:
                return unit, value
        raise AssertionError("validated: one retention range is given")


SYNC_CHOICES_MIN = (15, 30, 45, 60, 120, 240, 360, 720, 1440)


# DPM backs up to Azure at most twice a day, and a protected instance holds at most
# 9,999 recovery points (source: azure-backup-support-matrix).
MAX_ONLINE_TIMES = 2
MAX_VAULT_POINTS = 9999


class VaultRetention(Strict):
    """How long the vault keeps online recovery points, independent of disk retention:
    every point of the last ``daily`` days, the last point of each of the last
    ``weekly`` calendar weeks (Monday to Sunday), of each of the last ``monthly``
    months and of each of the last ``yearly`` years (a point is deleted when no rule
    keeps it). Defaults: Microsoft's example policy, 180 days, 104 weeks, 60 months,
    10 years (source: azure-mabs-sql-policy)."""

    daily: int = Field(
        180, ge=1, le=MAX_VAULT_POINTS, description="Days of daily points. Default 180."
    )
    weekly: int = Field(
        104, ge=0, le=MAX_VAULT_POINTS, description="Weeks of weekly points. Default 104."
    )
    monthly: int = Field(
        60, ge=0, le=MAX_VAULT_POINTS, description="Months of monthly points. Default 60."
    )
    yearly: int = Field(
        10, ge=0, le=MAX_VAULT_POINTS, description="Years of yearly points. Default 10."
    )


class OnlineProtection(Strict):
    """A protection group's online protection to Azure Backup: at each time of day,
    each data source of the group (a VM at host level, a guest data source at guest
    level) sends the change since its last online point up to its latest disk recovery
    point, compressed, over its DPM server's uplink (``dpm_servers[].online``)."""

    times: list[Clock] = Field(
        default_factory=lambda: [43200.0, 72000.0],
        min_length=1,
        description="Times of day of online backups, HH:MM: at most 2 (source: "
        "azure-backup-support-matrix). Schedule them after the disk backups (source: "
        "azure-mabs-sql-policy): an online job copies the latest disk recovery point made "
        "before it. Default 12:00 and 20:00 (source: azure-mabs-sql-policy).",
    )
    compression_factor: float = Field(
        1.0,
        ge=1,
        le=100,
        description="Bytes backed up / bytes uploaded: DPM compresses what it sends to the "
        "vault, but no ratio is published (source: azure-backup-support-matrix). Default 1, "
        "no reduction (assumption, to sweep).",
    )
    seeding: Literal["online", "offline"] = Field(
        "online",
        description="How the first online copy (the whole replica) reaches the vault: "
        "online over the uplink, or offline on shipped disks (Azure Import/Export), at "
        "most 80 TB per protection group (source: azure-offline-seeding). Default online.",
    )
    offline_transit: Duration = Field(
        14 * 86400.0,
        description="Offline seeding: from the first online time with a disk replica until "
        "the disks' data is in the vault (copy, shipping, import); online jobs before then "
        "are skipped. Default 14 d (assumption; Microsoft says only that initial online "
        "backups take 'several days', source: azure-offline-seeding). At most 365 d.",
    )
    retention: VaultRetention = Field(
        default_factory=VaultRetention, description="Vault retention (GFS counts)."
    )
    rpo: Duration = Field(
        93600.0,
        description="Online RPO target: the longest acceptable gap between a data "
        "source's online points (online.rpo_violations). Default 26 h (assumption, as the "
        "disk rpo: one new disk point a day to copy, plus 2 h for uploads queueing).",
    )

    @field_validator("offline_transit")
    @classmethod
    def _transit(cls, transit: float) -> float:
        if transit > 365 * 86400.0:
            raise ValueError("offline_transit must be at most 365 d")
        return transit

    @field_validator("times")
    @classmethod
    def _twice_a_day(cls, times: list[float]) -> list[float]:
        if len(times) > MAX_ONLINE_TIMES:
            raise ValueError(
                f"DPM backs up to Azure at most {MAX_ONLINE_TIMES} times a day, not "
                f"{len(times)} (source: azure-backup-support-matrix)"
            )
        if len(set(times)) != len(times):
            raise ValueError("online times must differ")
        return times

    @model_validator(mode="after")
    def _points(self) -> OnlineProtection:
        r = self.retention
        most = r.daily * len(self.times) + r.weekly + r.monthly + r.yearly
        if most > MAX_VAULT_POINTS:
            raise ValueError(
                f"retention keeps up to {most:,} points a data source ({r.daily} days x "
                f"{len(self.times)} a day + {r.weekly} + {r.monthly} + {r.yearly}); Azure "
                f"Backup keeps at most {MAX_VAULT_POINTS:,} (source: "
                "azure-backup-support-matrix)"
            )
        return self


class ProtectionGroup(Strict):
    name: Name
    dpm_server: Name = Field(description="DPM server protecting this group.")
    members: list[Name] = Field(
        min_length=1, description="VM names or glob patterns ('web-*'). Each must match a VM."
    )
    express_full_times: list[Clock] = Field(
        default_factory=lambda: [79200.0],
        min_length=1,
        description=(
            "Times of day of express full backups (Hyper-V recovery points come only from "
            "express fulls, source: dpm-hyperv-recovery-points). Default 22:00 (source: "
            "vendor-schedule-22h). In a guest-level group, also the times of file volumes' "
            "recovery points: at most 8 a day and 64 kept (source: dpm-recovery-point-caps)."
        ),
    )
    sync_frequency: Duration | None = Field(
        None,
        description=(
            "Synchronisation frequency, one of 15, 30, 45, 60, 120, 240, 360, 720, 1440 min. "
            "Default 15 min (sources: dpm-hyperv-recovery-points, dpm-sql-protection); 2 h for "
            "a guest-level group protecting Exchange databases, which must sync less often "
            "than every 15 min (source: dpm-exchange-protection). Hyper-V has no incremental "
            "sync, so a host-level group creates no sync jobs."
        ),
    )
    level: Literal["host", "guest"] = Field(
        "host",
        description="host: the group backs its member VMs up whole through Hyper-V; guest: "
        "it protects the guest data sources (sql, exchange, sharepoint, files) of its member "
        "VMs, through DPM's agent in each guest. A pattern takes the VMs whose protection "
        "fits the level (host or both; guest or both). Default host.",
    )
    express_full_days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = (
        Field(
            None,
            min_length=1,
            description="Guest-level groups: days of the week with express fulls (for file "
            "volumes, recovery points) at express_full_times. Default every day. DPM keeps at "
            "most 96 synchronizations between two express fulls (source: "
            "dpm-recovery-point-caps).",
        )
    )
    catalog_offset: DurationOrZero = Field(
        3600.0,
        description="SharePoint: DPM creates a farm's catalog (for item-level recovery) this "
        "long after the day's first scheduled recovery point (CatalogOffset, source: "
        "dpm-sharepoint-protection). Default 60 min (assumption).",
    )
    retention_days: int = Field(
        5,
        ge=1,
        le=448,
        description="Disk retention range, days. Default 5 (source: dpm-retention, RR = 5).",
    )
    backup_window: BackupWindow = Field(
        default_factory=BackupWindow, description="Nightly window jobs should finish in."
    )
    rpo: Duration = Field(
        93600.0,
        description="Recovery point objective: the longest acceptable gap between recovery "
        "points. Default 26 h (assumption: one express full a day, source: dpm-scale-out, "
        "plus 2 h for "
        "jobs queueing behind each other).",
    )
    auto_consistency_check: bool = Field(
        True,
        description="Run a consistency check as soon as a replica turns inconsistent "
        "(source: dpm-consistency-check: must be on for mobility). Default true.",
    )
    consistency_check_time: Clock | None = Field(
        None,
        description="Daily scheduled consistency check, run only for inconsistent replicas "
        "(source: dpm-consistency-check). Default none.",
    )
    initial_replica: Literal["network", "removable_media"] = Field(
        "network",
        description="How the initial replica is created. Default network (source: seed-article).",
    )
    long_term: LongTermTape | None = Field(
        None,
        description="Long-term protection to tape: its schedule, retention range and drives. "
        "Needs a tape_library on the group's DPM server. Default none.",
    )
    online: OnlineProtection | None = Field(
        None,
        description="Online protection to Azure of the group's data sources. Default none.",
    )
    start_offset: DurationOrZero = Field(
        0.0,
        description="DPM's 'Offset start time by' (Optimize performance, Network tab; "
        "source: dpm-offset-start): every scheduled time of the group (express fulls; in "
        "a guest-level group also recovery points, synchronizations and the catalog) "
        "moves this much later; a time pushed past midnight becomes that clock time of "
        "every day, from the run's first day (of the listed express_full_days in a "
        "guest-level group); a guest-level sync grid moves by the offset modulo the sync "
        "frequency. DPM starts every data source of a group at the same minute unless "
        "offset. The backup window stays: a job's deadline is still the window's end. "
        "From 0 to less than 24 h. Default 0 (DPM's default: no offset).",
    )

    @field_validator("start_offset", mode="before")
    @classmethod
    def _offset(cls, value: object) -> object:
        # Before DurationOrZero's check, so a negative offset is told the offset's range.
        try:
            v = parse_quantity(value, "duration")
        except (OutOfRange, ValueError, TypeError):
            return value  # not a duration: DurationOrZero says what is expected
        if not 0.0 <= v < 86400.0:
            raise ValueError(
                "start_offset must be from 0 s to less than 24 h (a later time of day is "
                "a different express full time: give express_full_times instead)"
            )
        return value

    @field_validator("sync_frequency")
    @classmethod
    def _sync(cls, sync_frequency: float | None) -> float | None:
        if sync_frequency is None:
            return None
        if round(sync_frequency / 60) not in SYNC_CHOICES_MIN or sync_frequency % 60:
            raise ValueError(
                "sync_frequency must be one of 15, 30, 45, 60, 120, 240, 360, 720, 1440 min"
            )
        return sync_frequency


# Fields drawn per VM (hvsim.scenario.distributions): a constant or a distribution.
SizeDist = Annotated[Dist, DistCheck("size", least=MIN_SIZE, least_text=MIN_SIZE_TEXT)]
MemoryDist = Annotated[Dist, DistCheck("size", least=MIN_MEMORY, least_text=MIN_MEMORY_TEXT)]
FractionDist = Annotated[Dist, DistCheck("fraction", minimum=0.0, exclusive=False, maximum=1.0)]
RateOrZeroDist = Annotated[Dist, DistCheck("rate", minimum=0.0, exclusive=False)]
DurationOrZeroDist = Annotated[Dist, DistCheck("duration", minimum=0.0, exclusive=False)]
GuestOsChoice = Annotated[Dist, CategoryCheck(GUEST_OS)]
SwitchChoice = Annotated[Dist, CategoryCheck((True, False), "boolean")]


class Disk(Strict):
    size: SizeDist = Field(
        default_factory=lambda: fixed(100e9),
        description="Virtual disk size. Default 100 GB (source: dpm-scale-out: average "
        f"protected VM). "
        f"{SIZE_FLOOR}",
    )
    used: SizeDist | None = Field(
        None,
        description="Bytes in use (at most size). Default: the whole size (assumption). "
        f"{SIZE_FLOOR}",
    )
    daily_change: FractionDist = Field(
        default_factory=lambda: fixed(0.03),
        description="Fraction of used bytes changed per day. Default 3 % (source: dpm-scale-out).",
    )


# -- guest-level data sources (DPM's agent inside the VM) -----------------------
# Data sources one VM entry may hold of one kind (bulk form), and in a scenario in
# all: 100 DPM servers at 2,000 databases each (source: dpm-server-limits) is
# 200,000; beyond is no estate a planner simulates on one machine (assumption).
MAX_GUEST_SOURCES_PER_VM = 2000
MAX_GUEST_SOURCES = 200_000
GUEST_KINDS = ("sql", "exchange", "sharepoint", "files")
_CHURN = (
    "Fraction of the data changed per day (blocks an express full sends). Default 3 % "
    "(assumption: the daily change of a protected VM, source: dpm-scale-out). From 0 to 1."
)
_LOG = (
    "Transaction log generated per day, at an even rate: a synchronization sends the log "
    "generated since the last one. Default: size x daily_change (assumption: the log of "
    f"a day's changed data). {SIZE_FLOOR}"
)


def _one_or_many(value: object) -> object:
    # 'sql: {databases: 5, ...}' is one group of databases; a list gives several.
    return [value] if isinstance(value, dict) else value


class SqlDatabases(Strict):
    """SQL Server databases in the VM's guest, protected by DPM's agent there."""

    databases: int = Field(
        1,
        ge=1,
        le=MAX_GUEST_SOURCES_PER_VM,
        description="How many databases like this the VM holds, each a data source "
        "(<vm>/sql1, <vm>/sql2, ...). Default 1. With the VM entry's count, 200 SQL VMs of "
        "5 databases each are one entry: count: 200, sql: {databases: 5, size: 200 GB}.",
    )
    size: Size = Field(description=f"Size of each database. Required. {SIZE_FLOOR}")
    recovery_model: Literal["full", "simple"] = Field(
        "full",
        description="SQL recovery model. full: a log synchronization every sync_frequency "
        "and a recovery point for each; simple (or a read-only or log-shipped database): "
        "no incremental backup, recovery points from express fulls only (source: "
        "dpm-sql-protection). Default full (assumption).",
    )
    daily_change: float = Field(0.03, ge=0, le=1, description=_CHURN)
    log_per_day: Size | None = Field(None, description=_LOG)


class ExchangeDatabases(Strict):
    """Exchange mailbox databases in the VM's guest, protected by DPM's agent there."""

    databases: int = Field(
        1,
        ge=1,
        le=MAX_GUEST_SOURCES_PER_VM,
        description="How many databases like this the VM holds, each a data source. Default 1.",
    )
    size: Size = Field(description=f"Size of each database (.edb). Required. {SIZE_FLOOR}")
    daily_change: float = Field(0.03, ge=0, le=1, description=_CHURN)
    log_per_day: Size | None = Field(None, description=_LOG)
    dag_copies: int = Field(
        1,
        ge=1,
        le=16,
        description="Copies of each database in its Database Availability Group (1: not in "
        "a DAG); this VM holds the copy protected here. With copies, DPM's eseutil check "
        "reads log files only (source: dpm-exchange-protection). At most 16 (assumption: "
        "the largest DAG).",
    )
    eseutil: bool = Field(
        True,
        description="Run Eseutil on the DPM server after each backup, reading the replica "
        "(source: dpm-exchange-protection). Default true (assumption).",
    )


class SharePointFarm(Strict):
    """A SharePoint farm whose front-end server is this VM: one data source, backed up
    by express fulls only (source: dpm-sharepoint-protection)."""

    farms: int = Field(
        1, ge=1, le=100, description="How many farms like this the VM serves. Default 1."
    )
    content_databases: int = Field(
        1,
        ge=1,
        le=MAX_GUEST_SOURCES_PER_VM,
        description="Content databases of each farm (each counts as a database on the DPM "
        "server). Default 1.",
    )
    size: Size = Field(description=f"Size of each content database. Required. {SIZE_FLOOR}")
    items: int = Field(
        1_000_000,
        ge=0,
        le=10**12,
        description="Items in the farm (documents, list items...), which DPM's catalog "
        "lists for item-level recovery: 2 GB of catalog per 10 million items (source: "
        "dpm-sharepoint-protection). Default 1,000,000 (assumption).",
    )
    daily_change: float = Field(0.03, ge=0, le=1, description=_CHURN)


class FileVolumes(Strict):
    """File-server volumes in the VM's guest, protected by DPM's agent there."""

    volumes: int = Field(
        1,
        ge=1,
        le=MAX_GUEST_SOURCES_PER_VM,
        description="How many volumes like this the VM holds, each a data source. Default 1.",
    )
    size: Size = Field(description=f"Data on each volume. Required. {SIZE_FLOOR}")
    daily_change: float = Field(
        0.03,
        ge=0,
        le=1,
        description="Fraction of the data changed per day (churn): a synchronization sends "
        "the blocks changed since the last one. Default 3 % (assumption: as a protected VM, "
        "source: dpm-scale-out). From 0 to 1.",
    )


def _one_or_list_schema(schema: dict[str, Any]) -> None:
    # hvsim schema: a mapping or a list of them, as the validator takes both.
    items = schema.pop("items")
    schema.pop("type", None)
    schema["anyOf"] = [items, {"type": "array", "items": items}]


def _guest_list(what: str) -> Any:
    return Field(
        default_factory=list,
        description=f"{what} in the guest (a mapping, or a list of them), protected when "
        "the VM's protection is guest or both. Default none.",
        json_schema_extra=_one_or_list_schema,
    )


SqlList = Annotated[list[SqlDatabases], BeforeValidator(_one_or_many)]
ExchangeList = Annotated[list[ExchangeDatabases], BeforeValidator(_one_or_many)]
SharePointList = Annotated[list[SharePointFarm], BeforeValidator(_one_or_many)]
FilesList = Annotated[list[FileVolumes], BeforeValidator(_one_or_many)]


# -- growth and onboarding (issue 15) -------------------------------------------
# Growth compounds yearly over 365-day years, as Veeam's Restore Point Simulator
# grows its source data (source: veeam-rps).
YEAR_DAYS = 365.0
MAX_GROWTH_PER_YEAR = 1.0
_GROWTH_WORDS = "a fraction a year from 0 to 1 (100 % a year), such as 0.2 or '20 %'"


def _growth(value: object, info: ValidationInfo) -> float:
    number = math.nan
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1].strip()) / 100.0
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            pass
    if not 0.0 <= number <= MAX_GROWTH_PER_YEAR:  # NaN fails too
        raise ValueError(f"{_field(info, 'growth_per_year')} must be {_GROWTH_WORDS}")
    return number


GrowthPerYear = Annotated[
    float,
    BeforeValidator(_growth),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string"}], "description": _GROWTH_WORDS}
    ),
]
_DAY_OR_DATE_WORDS = (
    f"a date YYYY-MM-DD (from start_date on) or a day number from 0 (start_date) to "
    f"{MAX_HORIZON_DAYS}"
)


def _day_or_date(value: object, info: ValidationInfo) -> dt.date | int:
    """A day of the run: a whole day number (0 = start_date) or a calendar date (its
    distance from start_date is checked with the scenario, loader.check_references)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_HORIZON_DAYS:
            raise ValueError(f"{_field(info, 'day')} must be {_DAY_OR_DATE_WORDS}")
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return _date(value, info)
    if isinstance(value, str) and _DATE_FORM.fullmatch(value.strip()):
        return _date(value, info)
    raise ValueError(f"{_field(info, 'day')} must be {_DAY_OR_DATE_WORDS}")


DayOrDate = Annotated[
    dt.date | int,
    BeforeValidator(_day_or_date),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_HORIZON_DAYS},
                {"type": "string", "format": "date"},
            ],
            "description": _DAY_OR_DATE_WORDS,
        }
    ),
]


def day_of_run(value: dt.date | int, start_date: dt.date) -> int:
    """A DayOrDate as days after start_date (negative: a date before it)."""
    if isinstance(value, dt.date):
        return (value - start_date).days
    return value


class Onboarding(Strict):
    """VMs of one entry joining protection over time, in the entry's order (the order
    of its names), at an even rate."""

    start: DayOrDate = Field(
        0,
        description="When the entry's first VM joins: 00:00 of a date YYYY-MM-DD (not "
        "before start_date) or of a day number (0 = start_date). Default 0.",
    )
    per_day: float = Field(
        gt=0,
        le=MAX_VMS,
        description="VMs joining per day: VM k of the entry (k = 0, 1, ...) joins "
        "k / per_day days after start (per_day 2: days 0, 0.5, 1, 1.5, ...; assumption: "
        "an even rate, no published onboarding pattern). Required.",
    )


class VmSpec(Strict):
    """One VM, or with ``count`` many VMs from a template (name pattern with ``{i}``)."""

    name: Name = Field(description="VM name; with count > 1 a pattern such as 'app-{i:03d}'.")
    count: int = Field(
        1, ge=1, le=MAX_VMS, description=f"How many VMs this entry makes (at most {MAX_VMS})."
    )
    first_index: int = Field(
        1,
        ge=0,
        le=MAX_FIRST_INDEX,
        description=f"First value of {{i}}. Default 1. At most {MAX_FIRST_INDEX:,}.",
    )
    cluster: Name | None = Field(None, description="Cluster of the VM (with csv).")
    csv: Name | None = Field(None, description="CSV of that cluster holding the VM's disks.")
    node: Name | None = Field(None, description="Owner node. Default: spread round-robin.")
    host: Name | None = Field(None, description="Standalone host (local storage).")
    share: Name | None = Field(None, description="SMB 3.0 share holding the VM's files.")
    smb_host: Name | None = Field(
        None, description="For a VM on a share: the standalone host or node running it."
    )
    memory: MemoryDist = Field(
        default_factory=lambda: fixed(4 * 2**30),
        description="Memory assigned (saved to disk on save state, source: saved-state). "
        "Default 4 GiB "
        f"(assumption). From {MIN_MEMORY_TEXT} (assumption: a floor that catches unit "
        f"slips) to {KIND_MAXIMUM_TEXT['size']}.",
    )
    dirty_rate: RateOrZeroDist = Field(
        default_factory=lambda: fixed(20e6),
        description="Memory dirtied per second, re-sent in live-migration pre-copy rounds. "
        "Default 20 MB/s (assumption).",
    )
    io_rate: RateOrZeroDist = Field(
        default_factory=lambda: fixed(2e6),
        description="The VM's own storage I/O (read + write), which goes over the cluster "
        "network while its CSV is redirected. Default 2 MB/s (assumption).",
    )
    disks: list[Disk] = Field(
        default_factory=lambda: [Disk()],
        min_length=1,
        max_length=64,
        description="Virtual disks (1 to 64).",
    )
    guest_os: GuestOsChoice = Field(
        default_factory=lambda: fixed("windows2012"),
        description="Guest OS. Windows 2003 or later supports VSS (source: seed-article).",
    )
    backup_integration_service: SwitchChoice = Field(
        default_factory=lambda: fixed(True), description="Backup integration service on."
    )
    dynamic_disks: SwitchChoice = Field(
        default_factory=lambda: fixed(False), description="Dynamic disks inside the guest."
    )
    file_systems: list[FileSystem] = Field(
        default_factory=_ntfs_only,
        min_length=1,
        description="File systems of the guest's volumes. Online backup needs all NTFS.",
    )
    running: SwitchChoice = Field(
        default_factory=lambda: fixed(True), description="VM running at backup time."
    )
    vss_storage_assignment_modified: SwitchChoice = Field(
        default_factory=lambda: fixed(False),
        description="Shadow storage of a volume assigned elsewhere (source: seed-article).",
    )
    cluster_group_online: SwitchChoice = Field(
        default_factory=lambda: fixed(True), description="Cluster resource group online."
    )
    vss_writers: list[Name] = Field(
        default_factory=lambda: ["system"],
        description="In-guest VSS writers (keys of vss.writers). Default [system].",
    )
    protection: Literal["host", "guest", "both"] = Field(
        "host",
        description="How DPM protects the VM: host (the whole VM through Hyper-V, by a "
        "host-level protection group), guest (DPM's agent in the guest protects its data "
        "sources, by a guest-level group; the VM counts as a protected server, source: "
        "dpm-server-limits) or both. Default host.",
    )
    sql: SqlList = _guest_list("SQL Server databases")
    exchange: ExchangeList = _guest_list("Exchange databases")
    sharepoint: SharePointList = _guest_list("SharePoint farms")
    files: FilesList = _guest_list("File volumes")
    agent_cpu: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Share of the VM's CPU that DPM's agent in the guest uses while one of "
        "its guest-level jobs (initial replica, log sync, express full, file sync or "
        "point) reads and sends its data; reported as guest.agent_cpu_s, it does not slow "
        "the job. Default 0.05: an express full 'typically increases the demand on the "
        "server's resources by 5 % for several minutes' (source: dpm-express-full-load); "
        "the same share for the other jobs is an assumption (no figure is published for "
        "DPM 2012 and later).",
    )

    growth_per_year: GrowthPerYear = Field(
        0.0,
        description="Yearly growth of the VM's protected data, compounded: each size at "
        "time t (days from start_date) is its given size x (1 + growth)^(t / 365), as "
        "Veeam's Restore Point Simulator grows data (source: veeam-rps). It grows the disks' "
        "used bytes (not capped by the disks' sizes: assumption, disks are extended as "
        "data grows) and the guest data sources' sizes, and with them their daily change "
        "and log (fractions of the size now) and a SharePoint farm's catalog "
        "(assumption: items grow with the data). A fraction (0.2 or '20 %') from 0 to 1 "
        "(assumption: a bound that catches '20' meant as 20 %). Default 0.",
    )
    protect_from: DayOrDate | None = Field(
        None,
        description="When DPM starts protecting the entry's VMs: 00:00 of a date "
        "YYYY-MM-DD (not before start_date) or a day number (0 = start_date). Before it "
        "a VM runs and migrates but has no replica and no jobs; from it, its protection "
        "group's schedule applies and the first job makes the initial replica (or, by "
        "removable media, the replica arrives then), as at the start of the run. A date "
        "at or after the horizon: never protected in the run. Default: from the start. "
        "Not with onboarding.",
    )
    onboarding: Onboarding | None = Field(
        None,
        description="The entry's VMs join protection over time, per_day a day from start "
        "(see protect_from for what joining means). Default: all from the start. Not "
        "with protect_from.",
    )

    def guest_sources(self) -> int:
        """Guest data sources of one VM of this entry."""
        return (
            sum(g.databases for g in self.sql)
            + sum(g.databases for g in self.exchange)
            + sum(g.farms for g in self.sharepoint)
            + sum(g.volumes for g in self.files)
        )

    @model_validator(mode="after")
    def _placement(self) -> VmSpec:
        places = [p for p in ("csv", "host", "share") if getattr(self, p) is not None]
        if len(places) != 1:
            raise ValueError("give exactly one placement: cluster + csv, host, or share")
        if self.csv is not None and self.cluster is None:
            raise ValueError("a VM on a csv needs its cluster")
        if self.share is not None and self.smb_host is None:
            raise ValueError("a VM on a share needs smb_host, the host running it")
        if self.count > 1 and not re.search(r"\{i(:[^}]*)?\}", self.name):
            raise ValueError("with count > 1 the name must contain {i}, e.g. 'app-{i:03d}'")
        if self.protect_from is not None and self.onboarding is not None:
            raise ValueError(
                "give protect_from (one date for all the entry's VMs) or onboarding (a rate), "
                "not both"
            )
        return self

    def protection_start_days(self, start_date: dt.date) -> list[float]:
        """When each VM of this entry (in the order of names()) starts being protected,
        in days after start_date (protect_from, onboarding; 0 without either)."""
        if self.onboarding is not None:
            first = day_of_run(self.onboarding.start, start_date)
            return [first + k / self.onboarding.per_day for k in range(self.count)]
        first = day_of_run(self.protect_from, start_date) if self.protect_from is not None else 0
        return [float(first)] * self.count

    def names(self) -> list[str]:
        if self.count == 1 and "{i" not in self.name:
            return [self.name]
        return [
            self.name.format(i=i) for i in range(self.first_index, self.first_index + self.count)
        ]


def _default_writers() -> dict[str, WriterSpec]:
    # Medians: assumption (no published per-writer timing); spreads chosen so a few
    # attempts in a thousand pass the 10 s flush window (source: vss-timeouts).
    return {
        "system": WriterSpec(flush_time={"dist": "lognormal", "median": "1 s", "sigma": 0.5}),
        "sql": WriterSpec(flush_time={"dist": "lognormal", "median": "2 s", "sigma": 0.6}),
        "exchange": WriterSpec(flush_time={"dist": "lognormal", "median": "3 s", "sigma": 0.6}),
        "sharepoint": WriterSpec(flush_time={"dist": "lognormal", "median": "3 s", "sigma": 0.6}),
    }


class WriterSpec(Strict):
    flush_time: DurationOrZeroDist = Field(
        description="Time for the writer to freeze and flush, drawn per backup attempt."
    )


class Vss(Strict):
    flush_window: Duration = Field(
        10.0,
        description="Freeze/flush window; longer fails the attempt. 10 s (source: vss-timeouts).",
    )
    writers: dict[Name, WriterSpec] = Field(
        default_factory=_default_writers,
        description="Writer kinds and flush times. Defaults for system, sql, exchange, "
        "sharepoint: lognormal, medians 1/2/3/3 s (assumption).",
    )
    snapshot_time_software: Duration = Field(
        5.0,
        description="Host snapshot creation with the software provider, incl. auto-recovery "
        "mount. 5 s (assumption within the 10 s commit limit, source: vss-timeouts).",
    )
    snapshot_time_hardware: Duration = Field(
        1.0,
        description="Host snapshot creation with a hardware provider. 1 s (source: vss-timeouts).",
    )
    release_time: DurationOrZero = Field(
        1.0, description="Snapshot release/deletion. 1 s (assumption)."
    )

    @model_validator(mode="after")
    def _merge_defaults(self) -> Vss:
        merged = _default_writers()
        merged.update(self.writers)
        object.__setattr__(self, "writers", merged)
        return self


class SavedState(Strict):
    save_overhead: DurationOrZero = Field(
        2.0, description="Fixed cost of saving a VM beyond writing memory. 2 s (assumption)."
    )
    resume_overhead: DurationOrZero = Field(
        2.0, description="Fixed cost of resuming beyond reading memory. 2 s (assumption)."
    )
    downtime_budget: Duration | None = Field(
        None,
        description="The longest saved-state downtime of one backup the design may cost: "
        "the verdict's downtime target (hvsim run --check). Default none: the downtime is "
        "reported, not judged (the seed article's 'about 30 seconds in most environments' "
        "is typical, not a target; source: seed-article).",
    )


class LiveMigration(Strict):
    """Live and storage migration mechanics (sources: hyperv-simultaneous-migrations,
    live-migration-ws2012-lab)."""

    max_precopy_rounds: int = Field(
        8, ge=1, le=100, description="Pre-copy rounds before stop-and-copy. 8 (assumption)."
    )
    stop_copy: Size = Field(
        64 * 2**20,
        description="Dirty memory small enough to stop the VM and copy the rest. 64 MiB "
        f"(assumption). {SIZE_FLOOR}",
    )
    switchover: DurationOrZero = Field(
        0.1, description="Fixed part of the blackout (state handover). 0.1 s (assumption)."
    )
    setup: DurationOrZero = Field(
        4.5,
        description="Fixed time of each live migration besides copying memory (negotiation, "
        "the VM's shell on the target host), spent before the pre-copy rounds while the "
        "migration holds its slots. 4.5 s, fitted to the measured WS2012 live migration of "
        "one idle 512 MB VM over 10 GbE in 5 s (source: live-migration-ws2012-lab): its copy "
        "takes 512 MiB / "
        "1.25 GB/s = 0.43 s and the switchover 0.1 s. Not for a storage-only move.",
    )
    simultaneous_per_host: int = Field(
        2,
        ge=1,
        le=64,
        description="Simultaneous live migrations per host. 2 (source: "
        "hyperv-simultaneous-migrations).",
    )
    simultaneous_storage_per_host: int = Field(
        2,
        ge=1,
        le=64,
        description="Simultaneous storage migrations per host. 2 (source: "
        "hyperv-simultaneous-migrations).",
    )


class PoissonMigrations(Strict):
    """Migrations at random (load balancing): a Poisson stream per VM."""

    members: list[Name] = Field(
        default_factory=lambda: ["*"], description="VM names or patterns. Default all."
    )
    per_vm_per_day: float = Field(gt=0, le=100, description="Migrations per VM per day.")
    kind: Literal["live", "shared_nothing"] = Field(
        "live",
        description="live: to another node of the VM's cluster; shared_nothing: to one of "
        "targets (with its storage unless on an SMB share).",
    )
    targets: list[Name] = Field(
        default_factory=list, description="Hosts or nodes for shared_nothing moves."
    )


class Drain(Strict):
    """Scheduled maintenance: drain a node (its VMs move to the other nodes), then
    move them back after ``duration``."""

    node: Name = Field(description="The cluster node to drain.")
    day: int = Field(ge=0, le=MAX_HORIZON_DAYS, description="Day of the drain (0 = start_date).")
    time: Clock = Field(description="Time of day, HH:MM.")
    duration: Duration = Field(description="How long the node stays drained.")


class ExplicitEvent(Strict):
    vm: Name = Field(description="The VM concerned.")
    day: int = Field(ge=0, le=MAX_HORIZON_DAYS, description="Day of the event (0 = start_date).")
    time: Clock = Field(description="Time of day, HH:MM.")
    kind: Literal["live", "shared_nothing", "storage", "consistency_check"] = Field(
        description="live or shared_nothing migration to target; storage: move the VM's "
        "disks to target volume ('cluster/csv', 'host/local' or a share); "
        "consistency_check: on request."
    )
    target: Target | None = Field(
        None,
        description="Host or node (migrations) or volume (storage): 'cluster/csv', "
        "'host/local' or a share name.",
    )


class Migrations(Strict):
    poisson: list[PoissonMigrations] = Field(default_factory=list, description="Random moves.")
    drains: list[Drain] = Field(default_factory=list, description="Node drains.")
    events: list[ExplicitEvent] = Field(
        default_factory=list, description="Explicit migrations and consistency checks."
    )


class OnDemandJobs(Strict):
    """Jobs started by hand (restores, ad-hoc backups) that need a DPM job slot and
    nothing else: a Poisson stream with random durations, for queueing questions
    (and the Erlang C validation)."""

    dpm_server: Name = Field(description="DPM server whose job slots the jobs take.")
    per_hour: float = Field(
        gt=0,
        le=MAX_ON_DEMAND_PER_HOUR,
        description=f"Mean arrivals per hour (Poisson). At most {MAX_ON_DEMAND_PER_HOUR}, a job "
        "started by hand every 3.6 s on one DPM server, beyond any restore desk; and all "
        f"streams together at most {MAX_ON_DEMAND_JOBS:,} jobs in a run (per_hour x 24 x "
        "horizon_days), each job being a few events and a row of the results.",
    )
    mean_duration: Duration = Field(description="Mean time a job holds its slot.")
    duration: Literal["exponential", "fixed"] = Field(
        "exponential", description="Distribution of the durations. Default exponential."
    )


RESTORE_KINDS = (
    "whole_vm",
    "item_level",
    "sql_database",
    "exchange_database",
    "exchange_mailbox",
    "sharepoint_item",
    "guest_file",
)
HOST_RESTORE_KINDS = ("whole_vm", "item_level")
# The guest restore kinds and the kind of data source each restores from.
GUEST_RESTORE_SOURCES = {
    "sql_database": "sql",
    "exchange_database": "exchange",
    "exchange_mailbox": "exchange",
    "sharepoint_item": "sharepoint",
    "guest_file": "files",
}


class RestoreKindSettings(Strict):
    """What a restore of one kind costs besides moving its bytes."""

    setup: DurationOrZero = Field(
        300.0,
        description="Fixed steps of each restore before its bytes move (for whole_vm: "
        "preparing the target through the Hyper-V VSS writer; for item_level: mounting the "
        "recovery point's VHD on the DPM server; for a guest kind: DPM's agent preparing the "
        "target database, volume or farm), holding the restore's job slot. Default 5 min "
        "(assumption: no published restore timing).",
    )
    rto_target: Duration | None = Field(
        None,
        description="Recovery time objective of this kind, from the request to the end of "
        "the restore; a restore that takes longer counts in restores.over_rto_target. "
        "Default none. A drill, stream or event may give its own.",
    )


class ItemLevelSettings(RestoreKindSettings):
    item_bytes: Size = Field(
        1e9,
        description="Bytes of the files one item-level restore copies out of the recovery "
        f"point. Default 1 GB (assumption). {SIZE_FLOOR}",
    )


class DatabaseRestoreSettings(RestoreKindSettings):
    replay_rate: Rate = Field(
        50e6,
        description="Rate at which the database server replays the restored log after the "
        "bytes have arrived (SQL: RESTORE LOG of each synchronization since the express "
        "full; Exchange: the log replayed when the database is mounted), holding the "
        "restore's job slot. Default 50 MB/s (assumption: no published figure). " + RATE_FLOOR,
    )


class MailboxRestoreSettings(DatabaseRestoreSettings):
    mailbox_bytes: Size = Field(
        2e9,
        description="Bytes of the mailbox copied from the recovery database into the "
        f"mailbox database. Default 2 GB (assumption). {SIZE_FLOOR}",
    )
    copy_rate: Rate = Field(
        10e6,
        description="Rate of Exchange's mailbox copy (New-MailboxRestoreRequest) from the "
        "recovery database, reading and writing the VM's storage, after DPM's job has "
        "ended. Default 10 MB/s (assumption: no published figure). " + RATE_FLOOR,
    )


class SharePointItemSettings(RestoreKindSettings):
    item_bytes: Size = Field(
        100e6,
        description="Bytes of the documents, list or site one SharePoint item restore "
        f"recovers. Default 100 MB (assumption). {SIZE_FLOOR}",
    )


class RestoreKinds(Strict):
    whole_vm: RestoreKindSettings = Field(
        default_factory=RestoreKindSettings,
        description="A whole VM from a host-level recovery point: to its original location "
        "(its VHDs are deleted and replaced, the VM is unavailable until the restore ends) "
        "or to another host (target_host); bytes = the VM's disks in use "
        "(source: dpm-hyperv-restore).",
    )
    item_level: ItemLevelSettings = Field(
        default_factory=ItemLevelSettings,
        description="Files from a host-level recovery point (item-level recovery), copied "
        "to the VM's storage (or target_host's); needs the Hyper-V role on the DPM server "
        "(source: dpm-hyperv-restore).",
    )
    sql_database: DatabaseRestoreSettings = Field(
        default_factory=DatabaseRestoreSettings,
        description="A SQL Server database to its latest recovery point, in place: the "
        "express full before it (the whole database) and every log synchronization since, "
        "read from the pool and written to the VM's storage, then the log replayed "
        "(sources: dpm-sql-protection, dpm-sql-restore).",
    )
    exchange_database: DatabaseRestoreSettings = Field(
        default_factory=DatabaseRestoreSettings,
        description="An Exchange database to its latest recovery point, in place, as "
        "sql_database; the database's synchronizations are cancelled while it runs "
        "(source: dpm-exchange-restore).",
    )
    exchange_mailbox: MailboxRestoreSettings = Field(
        default_factory=MailboxRestoreSettings,
        description="A mailbox, by way of a recovery database: the whole database "
        "restored (as exchange_database, into the recovery database) from the latest "
        "recovery point ('Latest' is not offered for mailboxes), then the mailbox copied "
        "inside Exchange (source: dpm-exchange-restore).",
    )
    sharepoint_item: SharePointItemSettings = Field(
        default_factory=SharePointItemSettings,
        description="A SharePoint item (document, list, site) from the latest recovery "
        "point the farm's catalog lists; before the farm's first catalog has ended, a "
        "content database is restored instead (source: dpm-sharepoint-protection).",
    )
    guest_file: ItemLevelSettings = Field(
        default_factory=ItemLevelSettings,
        description="Files or a folder from a guest file volume's latest recovery point, "
        "to the VM's storage (source: dpm-recoverable-items).",
    )


class _RestoreRequest(Strict):
    kind: Literal[RESTORE_KINDS] = Field(  # type: ignore[valid-type]
        description="whole_vm or item_level (host level); sql_database, exchange_database, "
        "exchange_mailbox, sharepoint_item or guest_file (a guest data source: a VM "
        "protected at host level only falls back to a whole VM restored beside it, or for "
        "guest_file to item_level, and says so)."
    )
    target_host: Name | None = Field(
        None,
        description="Restore to this host or node (an alternate location) instead of the "
        "VM's own; its storage: the VM's CSV on a node of the VM's cluster, else the host's "
        "local storage or its cluster's first CSV (assumption). Default: the original "
        "location. Host-level kinds only (a guest kind restores into its VM).",
    )
    rto_target: Duration | None = Field(
        None, description="RTO target of these restores. Default: the kind's rto_target."
    )


class _DataSourcesRequest(_RestoreRequest):
    data_sources: list[DataSourceName] | None = Field(
        None,
        min_length=1,
        description="Guest kinds: the data sources restored, names or patterns "
        "('*/sql1', 'sql-*/sql*'), of the VMs that members match; each a data source of the "
        "kind's workload. Default: every data source of that workload in those VMs.",
    )


class RestoreDrill(_DataSourcesRequest):
    """A scheduled restore drill: at each of ``times`` on every ``every_days``-th day
    from ``first_day``, each VM that ``members`` match is restored (a guest kind: each
    data source of theirs that ``data_sources`` match)."""

    members: list[Name] | None = Field(
        None,
        min_length=1,
        description="VM names or glob patterns ('web-*'), as protection groups. Required "
        "for a host-level kind; for a guest kind, default all VMs (data_sources choose).",
    )
    times: list[Clock] = Field(min_length=1, description="Times of day, HH:MM.")
    every_days: int = Field(1, ge=1, le=MAX_HORIZON_DAYS, description="Days between drills.")
    first_day: int = Field(
        0, ge=0, le=MAX_HORIZON_DAYS, description="Day of the first drill (0 = start_date)."
    )


class PoissonRestores(_DataSourcesRequest):
    """Restores after random failures: a Poisson stream per VM of the group (a guest
    kind: per data source)."""

    members: list[Name] = Field(
        default_factory=lambda: ["*"], description="VM names or patterns. Default all."
    )
    per_vm_per_day: float = Field(
        gt=0,
        le=100,
        description="Restores per VM per day (a guest kind: per data source per day).",
    )


class RestoreEvent(_RestoreRequest):
    vm: Name = Field(description="The VM to restore (a guest kind: the VM holding it).")
    data_source: DataSourceName | None = Field(
        None,
        description="Guest kinds (required for them): the data source restored, "
        "'<vm>/<data source>' as the VM's entry numbers them per workload (sql-01/sql2, "
        "exch-01/exchange1, sp-01/sharepoint1, fs-01/files1) or that name alone (sql2).",
    )
    day: int = Field(ge=0, le=MAX_HORIZON_DAYS, description="Day of the request (0 = start_date).")
    time: Clock = Field(description="Time of day, HH:MM.")


# The restore kinds that bring back each unit a need names (the kind requested).
KINDS_OF_UNIT: dict[str, tuple[str, ...]] = {
    "vm": ("whole_vm",),
    "file": ("item_level", "guest_file"),
    "database": ("sql_database", "exchange_database"),
    "mailbox": ("exchange_mailbox",),
    "item": ("sharepoint_item",),
}
RESTORE_UNITS = tuple(KINDS_OF_UNIT)


class RestoreNeed(Strict):
    """What the planner must be able to restore for a group of VMs: the finest unit,
    and how fast (RTO) and how recent (RPO). Read by the recommendations (host, guest
    or both per VM, res.recommendations); it changes nothing in the run."""

    members: list[Name] = Field(
        default_factory=lambda: ["*"],
        description="VM names or patterns. Default all. A VM in several needs takes the "
        "first that names it.",
    )
    finest_unit: Literal["vm", "file", "database", "mailbox", "item"] = Field(
        description="The finest thing a restore must bring back: vm (the whole VM), file "
        "(files and folders), database (SQL or Exchange), mailbox (Exchange), item "
        "(SharePoint item). Host level restores whole VMs and files (item-level recovery); "
        "database, mailbox and item need guest level (source: dpm-hyperv-restore, "
        "dpm-sql-protection, dpm-exchange-protection)."
    )
    rto: Duration | None = Field(
        None, description="Longest acceptable time from request to restored. Default none."
    )
    rpo: Duration | None = Field(
        None,
        description="Longest acceptable data loss (age of the latest recovery point). "
        "Default none.",
    )


class Restores(Strict):
    """Restore requests and what each kind costs. A restore reads the recovery point
    from the DPM server's pool, crosses the network to the target host and writes to
    the target storage, sharing bandwidth with the night's jobs, and holds one of the
    DPM server's job slots. It restores the latest recovery point created before the
    request; a VM in no protection group, or with no recovery point yet, is recorded
    as a failed restore. Nothing is requested at or after the horizon."""

    kinds: RestoreKinds = Field(
        default_factory=RestoreKinds, description="Per-kind fixed steps and RTO targets."
    )
    drills: list[RestoreDrill] = Field(default_factory=list, description="Scheduled drills.")
    poisson: list[PoissonRestores] = Field(
        default_factory=list, description="Restores after random failures."
    )
    events: list[RestoreEvent] = Field(
        default_factory=list, description="Explicit restore requests."
    )


class ScanSettings(Strict):
    """Costs of protection scans. Calibration (source: seed-article: 'hours' for 8 nodes x 400
    VMs on CSVs, serialized; target 2-4 h): with these defaults the serialized scan of
    8 nodes, 4 CSVs, 400 VMs with one writer each takes 8 x (20 + 100 x 9) s + 30 s
    = 2.05 h, and the Windows Server 2012 / DPM 2012 SP1 scan (nodes in parallel, each
    its own 50 VMs) 30 + 50 x 9 s = 8 min."""

    per_vm_query: Duration = Field(
        8.0,
        description="Querying one VM on one node. 8 s (calibrated to the seed article's "
        "'hours', source: seed-article; see the scan section).",
    )
    per_writer_metadata: DurationOrZero = Field(
        1.0,
        description="Reading one VSS writer's metadata of a VM. 1 s (calibrated, source: "
        "seed-article).",
    )
    per_node_overhead: DurationOrZero = Field(
        30.0, description="Fixed cost of asking one node's agent. 30 s (assumption)."
    )
    per_csv_coordination: DurationOrZero = Field(
        20.0,
        description="Moving a CSV's ownership to the querying node (serialized mode). "
        "20 s (assumption).",
    )
    discovery_time: Clock | None = Field(
        0.0,
        description="Time of DPM's daily discovery scan of each cluster (once a day, source: "
        "dpm-discovery-daily); null disables it. Default 00:00 (assumption, as DPM's other "
        "daily jobs at midnight, same source).",
    )


class Scenario(Strict):
    name: Name = Field(description="Scenario name, used for the report folder.")
    description: str = Field("", description="The design question this scenario answers.")
    start_date: Date = Field(
        dt.date(2026, 1, 5),
        description="First simulated day (00:00), a date YYYY-MM-DD from 1970-01-01 to "
        "2200-12-31 (results carry pandas timestamps, which end in 2262). Default 2026-01-05.",
    )
    horizon_days: float = Field(
        7.0,
        gt=0,
        le=MAX_HORIZON_DAYS,
        description="Simulated days. Default 7 (issue text). Nothing starts at or after the "
        "horizon: explicit events, drains, a drain's return and the consistency checks a "
        "repair or a storage move would trigger then are not carried out. What started "
        "before it runs to its end (a failed backup's automatic re-runs included), for at "
        "most max(30 days, the horizon) past it plus the longest re-run wait, 20 years in "
        "all; a run still going then stops with exit 2, naming what was running "
        "(hvsim/overrun.py).",
    )
    clusters: list[Cluster] = Field(default_factory=list, description="Failover clusters.")
    hosts: list[StandaloneHost] = Field(
        default_factory=list, description="Standalone Hyper-V hosts with local storage."
    )
    file_servers: list[FileServer] = Field(
        default_factory=list, description="File servers serving SMB 3.0 shares."
    )
    smb_shares: list[SmbShare] = Field(default_factory=list, description="SMB 3.0 shares.")
    switches: list[Name] = Field(default_factory=list, description="Network switch names.")
    links: list[Link] = Field(
        default_factory=list,
        description="Network links; every machine DPM reads from needs a route to it.",
    )
    dpm_servers: list[DpmServer] = Field(min_length=1, description="DPM servers.")
    protection_groups: list[ProtectionGroup] = Field(
        default_factory=list, description="Protection groups (a VM belongs to at most one)."
    )
    vms: list[VmSpec] = Field(default_factory=list, description="VMs, one by one or in bulk.")
    on_demand: list[OnDemandJobs] = Field(
        default_factory=list,
        description="Streams of on-demand jobs (e.g. restores) competing for DPM job slots.",
    )
    vss: Vss = Field(default_factory=Vss, description="VSS writer and snapshot timings.")
    saved_state: SavedState = Field(
        default_factory=SavedState, description="Offline (saved-state) backup overheads."
    )
    vmm_servers: list[VmmServer] = Field(
        default_factory=list, description="VMM servers and what they manage."
    )
    live_migration: LiveMigration = Field(
        default_factory=LiveMigration, description="Live and storage migration mechanics."
    )
    migrations: Migrations = Field(
        default_factory=Migrations, description="Migrations and on-request checks."
    )
    scan: ScanSettings = Field(
        default_factory=ScanSettings, description="Protection scan costs and schedule."
    )
    restores: Restores = Field(
        default_factory=Restores, description="Restore requests (none by default)."
    )
    restore_needs: list[RestoreNeed] = Field(
        default_factory=list,
        description="The planner's restore needs per VM group: with them a run recommends "
        "host, guest or both per VM, with the reason (res.recommendations, "
        "recommendations.csv). None by default.",
    )

    @model_validator(mode="after")
    def _something_to_simulate(self) -> Scenario:
        if not self.vms and not self.on_demand:
            raise ValueError("nothing to simulate: give vms (with protection_groups) or on_demand")
        return self


def json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()
