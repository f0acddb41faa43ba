"""Helpers shared by the fuzz tests (scenario/test_fuzz.py and
cli/test_fuzz_commands.py): a valid document that uses every section, the places of
a document, and the contract a refused document's problem lines keep."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from tests.builders import add_host_and_share, base_scenario

# --- a valid document that touches most sections -----------------------------------


def rich_scenario() -> dict[str, Any]:
    """base_scenario plus a standalone host, an SMB share, VMM, distributions,
    on-demand jobs and migrations: more fields for the mutations to hit."""
    doc = add_host_and_share(
        base_scenario(),
        host_storage={"capacity": "2 TiB", "read": "200 MB/s", "write": "200 MB/s"},
        share_storage={"capacity": "4 TiB", "read": "300 MB/s", "write": "300 MB/s"},
    )
    doc["vmm_servers"] = [{"name": "vmm1", "manages": ["c1", "hv1"]}]
    doc["dpm_servers"][0]["vmm"] = {"vmm_server": "vmm1", "console_installed": True}
    doc["protection_groups"][0].update(
        express_full_times=["22:00", "04:00"],
        backup_window={"start": "20:00", "end": "06:00"},
        consistency_check_time="12:00",
        retention_days=5,
    )
    doc["vms"] += [
        {
            "name": "web-{i:02d}",
            "count": 3,
            "cluster": "c1",
            "csv": "csv1",
            "memory": {"dist": "choice", "values": ["2 GiB", "4 GiB"], "weights": [1, 3]},
            "disks": [
                {
                    "size": "60 GiB",
                    "used": {"dist": "uniform", "low": "20 GiB", "high": "50 GiB"},
                    "daily_change": {"dist": "triangular", "low": 0.01, "mode": "3 %", "high": 0.1},
                }
            ],
            "guest_os": {"dist": "choice", "values": ["windows2012", "linux"]},
            "vss_writers": ["system", "sql"],
        },
        {"name": "local-vm", "host": "hv1", "dirty_rate": "10 MB/s"},
        {"name": "smb-vm", "share": "share1", "smb_host": "hv1", "running": False},
    ]
    doc["on_demand"] = [{"dpm_server": "dpm1", "per_hour": 2, "mean_duration": "10 min"}]
    doc["vss"] = {
        "flush_window": "10 s",
        "writers": {"sql": {"flush_time": {"dist": "lognormal", "median": "2 s", "sigma": 0.5}}},
    }
    doc["saved_state"] = {"save_overhead": "2 s"}
    doc["scan"] = {"per_vm_query": "8 s", "discovery_time": "00:00"}
    doc["live_migration"] = {"max_precopy_rounds": 8, "stop_copy": "64 MiB"}
    doc["migrations"] = {
        "poisson": [{"members": ["web-*"], "per_vm_per_day": 0.5}],
        "drains": [{"node": "c1-n1", "day": 0, "time": "12:00", "duration": "2 h"}],
        "events": [{"vm": "vm1", "day": 0, "time": "09:00", "kind": "live", "target": "c1-n2"}],
    }
    doc["dpm_servers"][0]["hyper_v_role"] = True
    doc["restores"] = {
        "kinds": {"whole_vm": {"setup": "5 min", "rto_target": "2 h"}, "item_level": {}},
        "drills": [{"members": ["web-*"], "kind": "whole_vm", "times": ["23:00"]}],
        "poisson": [{"members": ["*"], "kind": "item_level", "per_vm_per_day": 0.5}],
        "events": [
            {
                "vm": "local-vm",
                "day": 0,
                "time": "23:30",
                "kind": "whole_vm",
                "target_host": "c1-n1",
            }
        ],
    }
    doc["restore_needs"] = [
        {"members": ["web-*"], "finest_unit": "database", "rto": "1 h", "rpo": "15 min"},
        {"finest_unit": "vm"},
    ]
    return doc


# --- places in a document ------------------------------------------------------

Path_ = tuple[Any, ...]


def paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every place in a document (not the root), containers and leaves."""
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in list(items):
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))


def parent_of(doc: Any, path: Path_) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


# --- the contract ---------------------------------------------------------------

SIMPLE_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*")
PATH_STEP = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d+)\]")


def check_problem_lines(lines: list[str], source: str, doc: Any) -> None:
    """Each line is ``source: path: message``, one line, and a plain field path
    names a place the document has (or a missing key of a mapping it has)."""
    assert lines, "a refused document has at least one problem line"
    for line in lines:
        assert "\n" not in line and "Traceback" not in line, line
        assert line.startswith(f"{source}: "), line
        path, sep, message = line[len(source) + 2 :].partition(": ")
        assert sep and path and message.strip(), f"not 'file: path: message': {line!r}"
        if path in ("(top level)", "(yaml)", "(file)") or not SIMPLE_PATH.fullmatch(path):
            continue
        steps = [int(i) if i else key for key, i in PATH_STEP.findall(path)]
        node = doc
        for step in steps[:-1]:
            assert isinstance(node, dict | list), f"{path} goes through a scalar: {line!r}"
            if isinstance(node, dict) and step not in node:
                step = yaml.safe_load(step)  # a key that is not text, as YAML spells it
            assert (step in node) if isinstance(node, dict) else step < len(node), line
            node = node[step]
        if isinstance(steps[-1], int):
            assert isinstance(node, list) and steps[-1] < len(node), line
        else:
            assert isinstance(node, dict), f"{path} is not a place in the document: {line!r}"
