"""The bad-input contract of ``hvsim validate`` and ``hvsim run``.

A scenario with a mistake makes both commands exit with status 2, print one line per
problem on stderr as ``file:LINE:COLUMN: path.to.field: what is wrong (given value)``,
print no traceback and write nothing. Each case below starts from a copy of small-lab that
validates cleanly and makes exactly one mistake.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hvsim import load_scenario, scenario_from_dict
from hvsim.scenario.loader import ScenarioError
from tests.builders import (
    ROOT,
    base_scenario,
    cli,
    cli_in_a_process,
    where,
    without_places,
    write_scenario,
)


def small_lab() -> dict[str, Any]:
    """The structure of scenarios/small-lab.yaml as a dict: a valid starting point."""
    return {
        "name": "small-lab",
        "description": "2-node WS2012 cluster, one CSV, 20 VMs, four of them offline-only.",
        "start_date": "2026-01-05",
        "horizon_days": 7,
        "clusters": [
            {
                "name": "lab",
                "os": "2012",
                "nodes": 2,
                "csvs": [
                    {
                        "name": "csv1",
                        "capacity": "4 TiB",
                        "read": "400 MB/s",
                        "write": "300 MB/s",
                        "vss_provider": "software",
                    }
                ],
            }
        ],
        "switches": ["lab-switch"],
        "links": [
            {"between": ["lab-n1", "lab-switch"], "bandwidth": "10 Gbps"},
            {"between": ["lab-n2", "lab-switch"], "bandwidth": "10 Gbps"},
            {"between": ["dpm1", "lab-switch"], "bandwidth": "1 Gbps"},
        ],
        "dpm_servers": [
            {
                "name": "dpm1",
                "version": "2012SP1",
                "pool": {"capacity": "20 TB", "write": "250 MB/s"},
                "max_parallel_jobs": 4,
            }
        ],
        "protection_groups": [
            {
                "name": "lab-vms",
                "dpm_server": "dpm1",
                "members": ["app-*", "legacy-*"],
                "express_full_times": ["22:00"],
                "retention_days": 5,
                "backup_window": {"start": "20:00", "end": "06:00"},
            }
        ],
        "vms": [
            {
                "name": "app-{i:02d}",
                "count": 16,
                "cluster": "lab",
                "csv": "csv1",
                "memory": {
                    "dist": "choice",
                    "values": ["2 GiB", "4 GiB", "8 GiB"],
                    "weights": [0.3, 0.5, 0.2],
                },
                "disks": [
                    {
                        "size": "60 GiB",
                        "used": {"dist": "uniform", "low": "20 GiB", "high": "50 GiB"},
                        "daily_change": {
                            "dist": "triangular",
                            "low": "1 %",
                            "mode": "3 %",
                            "high": "8 %",
                        },
                    }
                ],
                "vss_writers": ["system"],
            },
            {
                "name": "legacy-linux",
                "cluster": "lab",
                "csv": "csv1",
                "guest_os": "linux",
                "backup_integration_service": False,
                "file_systems": ["ext4"],
                "memory": "2 GiB",
                "disks": [{"size": "40 GiB", "used": "15 GiB"}],
            },
            {
                "name": "legacy-win2000",
                "cluster": "lab",
                "csv": "csv1",
                "guest_os": "windows2000",
                "memory": "1 GiB",
                "disks": [{"size": "20 GiB", "used": "8 GiB"}],
            },
            {
                "name": "legacy-dynamic",
                "cluster": "lab",
                "csv": "csv1",
                "dynamic_disks": True,
                "memory": "4 GiB",
                "disks": [{"size": "80 GiB", "used": "40 GiB"}],
                "vss_writers": ["system", "sql"],
            },
            {
                "name": "legacy-stopped",
                "cluster": "lab",
                "csv": "csv1",
                "running": False,
                "memory": "4 GiB",
                "disks": [{"size": "60 GiB", "used": "30 GiB"}],
            },
        ],
    }


# --- helpers -------------------------------------------------------------------------

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_at(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``doc`` at a dotted path such as ``clusters[0].csvs[0].read``."""
    steps: list[str | int] = [int(index) if index else key for key, index in _STEP.findall(path)]
    target: Any = doc
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = value


def write_text(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scenario: Path, command: str
) -> list[str]:
    """Run ``command`` on a bad scenario; check the contract; return the problem lines
    with their line and column checked and left out (``without_places``)."""
    out_dir = tmp_path / "out"
    argv = [command, str(scenario)] + (["--out", str(out_dir)] if command == "run" else [])
    code, out, lines = cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert lines, "at least one problem line on stderr"
    lines = without_places(lines, scenario)
    for line in lines:
        assert line.startswith(f"{scenario}: "), line
        assert len(line.split(": ")) >= 3, f"not 'file:LINE:COLUMN: path: what is wrong': {line}"
        assert "Traceback" not in line
    assert not out_dir.exists()
    return lines


def lines_at(lines: list[str], scenario: Path, field: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{scenario}: {field}: ")]


# --- the baseline --------------------------------------------------------------------


def test_the_small_lab_dict_every_case_starts_from_validates_cleanly(capsys, tmp_path):
    code, out, err = cli(capsys, "validate", str(write_scenario(tmp_path, small_lab())))
    assert (code, err) == (0, [])
    assert "ok (20 VMs, 1 protection groups)" in out


def test_the_shipped_small_lab_scenario_validates_with_exit_0(capsys):
    code, out, err = cli(capsys, "validate", str(ROOT / "scenarios" / "small-lab.yaml"))
    assert (code, err) == (0, [])
    assert ": ok (" in out


def test_schema_command_prints_a_json_schema_with_properties(capsys):
    code, out, _ = cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert "vms" in schema["properties"]
    assert "clusters" in schema["properties"]


# --- one mistake, one line naming its field ---------------------------------------


def _set(path: str, value: Any) -> Callable[[dict], None]:
    return lambda doc: set_at(doc, path, value)


def _vm_on_csv_of_another_cluster(doc: dict) -> None:
    doc["clusters"].append(
        {
            "name": "other",
            "os": "2012",
            "nodes": 1,
            "csvs": [{"name": "csv2", "capacity": "1 TiB", "read": "1 GB/s", "write": "1 GB/s"}],
        }
    )
    doc["links"].append({"between": ["other-n1", "lab-switch"], "bandwidth": "10 Gbps"})
    doc["vms"][1]["csv"] = "csv2"


def _move_vm(index: int, **placement: str) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        vm = doc["vms"][index]
        del vm["cluster"], vm["csv"]
        vm.update(placement)

    return mutate


def _host_without_route(doc: dict) -> None:
    doc["hosts"] = [
        {
            "name": "hv1",
            "os": "2012R2",
            "storage": {"capacity": "2 TiB", "read": "200 MB/s", "write": "200 MB/s"},
        }
    ]
    _move_vm(1, host="hv1")(doc)


def _delete_dpm_link(doc: dict) -> None:
    del doc["links"][2]


def _duplicate_of_a_templated_name(doc: dict) -> None:
    doc["vms"].append({"name": "app-07", "cluster": "lab", "csv": "csv1"})


def _storage_event(target: str) -> dict:
    return {"vm": "legacy-linux", "day": 1, "time": "10:00", "kind": "storage", "target": target}


CASES: list[tuple[str, Callable[[dict], None], str, str]] = [
    # (id, the one mistake, the field the line must name, a fragment of the line)
    # unknown keys
    ("unknown-top-level-key", _set("colour", "blue"), "colour", "unknown field"),
    (
        "unknown-key-in-cluster",
        _set("clusters[0].colour", "blue"),
        "clusters[0].colour",
        "unknown field",
    ),
    (
        "unknown-key-in-csv",
        _set("clusters[0].csvs[0].iops", 5),
        "clusters[0].csvs[0].iops",
        "unknown field",
    ),
    ("unknown-key-in-vm", _set("vms[1].colour", "blue"), "vms[1].colour", "unknown field"),
    (
        "unknown-key-in-pool",
        _set("dpm_servers[0].pool.iops", 1),
        "dpm_servers[0].pool.iops",
        "unknown field",
    ),
    (
        "misspelt-key-in-vm",
        _set("vms[1].memmory", "2 GiB"),
        "vms[1].memmory",
        "unknown field (did you mean memory?)",
    ),
    (
        "unknown-key-in-distribution",
        _set("vms[0].memory", {"dist": "choice", "values": ["2 GiB"], "wieghts": [1]}),
        "vms[0].memory",
        "wieghts",
    ),
    # dangling references
    ("vm-on-csv-of-another-cluster", _vm_on_csv_of_another_cluster, "vms[1].csv", "other"),
    ("vm-on-unknown-csv", _set("vms[1].csv", "csv9"), "vms[1].csv", "('csv9')"),
    ("vm-in-unknown-cluster", _set("vms[1].cluster", "lab9"), "vms[1].cluster", "('lab9')"),
    ("vm-on-node-of-no-cluster", _set("vms[1].node", "lab-n9"), "vms[1].node", "('lab-n9')"),
    ("vm-on-unknown-host", _move_vm(1, host="hv9"), "vms[1].host", "('hv9')"),
    (
        "vm-on-unknown-share",
        _move_vm(1, share="share9", smb_host="lab-n1"),
        "vms[1].share",
        "('share9')",
    ),
    (
        "vm-on-share-run-by-unknown-host",
        _move_vm(1, share="share9", smb_host="hv9"),
        "vms[1].smb_host",
        "('hv9')",
    ),
    (
        "vm-with-unknown-vss-writer",
        _set("vms[1].vss_writers", ["oracle"]),
        "vms[1].vss_writers[0]",
        "oracle",
    ),
    (
        "member-pattern-naming-no-vm",
        _set("protection_groups[0].members", ["app-*", "legacy-*", "db-*"]),
        "protection_groups[0].members[2]",
        "('db-*')",
    ),
    (
        "member-name-naming-no-vm",
        _set("protection_groups[0].members", ["app-*", "legacy-*", "app-99"]),
        "protection_groups[0].members[2]",
        "('app-99')",
    ),
    (
        "group-on-unknown-dpm-server",
        _set("protection_groups[0].dpm_server", "dpm9"),
        "protection_groups[0].dpm_server",
        "('dpm9')",
    ),
    (
        "link-to-unknown-endpoint",
        _set("links[2].between", ["dpm1", "core-switch"]),
        "links[2].between[1]",
        "('core-switch')",
    ),
    ("no-route-from-nodes-to-dpm", _delete_dpm_link, "links", "lab-n1 to DPM server dpm1"),
    ("no-route-from-host-to-dpm", _host_without_route, "links", "hv1 to DPM server dpm1"),
    # zero or negative sizes and rates
    (
        "zero-csv-capacity",
        _set("clusters[0].csvs[0].capacity", 0),
        "clusters[0].csvs[0].capacity",
        "(0)",
    ),
    (
        "negative-csv-read",
        _set("clusters[0].csvs[0].read", "-400 MB/s"),
        "clusters[0].csvs[0].read",
        "-400 MB/s",
    ),
    (
        "zero-csv-write",
        _set("clusters[0].csvs[0].write", "0 MB/s"),
        "clusters[0].csvs[0].write",
        "0 MB/s",
    ),
    ("zero-memory", _set("vms[1].memory", 0), "vms[1].memory", "(0)"),
    ("negative-memory", _set("vms[1].memory", "-2 GiB"), "vms[1].memory", "-2 GiB"),
    (
        "zero-memory-in-a-distribution",
        _set("vms[0].memory", {"dist": "choice", "values": ["0 GiB", "4 GiB"]}),
        "vms[0].memory.values[0]",
        "0 GiB",
    ),
    ("zero-disk-size", _set("vms[1].disks[0].size", "0 GiB"), "vms[1].disks[0].size", "0 GiB"),
    ("negative-disk-size", _set("vms[2].disks[0].size", -1), "vms[2].disks[0].size", "(-1)"),
    (
        "disk-used-above-size",
        _set("vms[1].disks[0].used", "50 GiB"),
        "vms[1].disks[0].used",
        "larger",
    ),
    ("zero-link-bandwidth", _set("links[0].bandwidth", "0 Gbps"), "links[0].bandwidth", "0 Gbps"),
    (
        "negative-pool-write",
        _set("dpm_servers[0].pool.write", -5),
        "dpm_servers[0].pool.write",
        "(-5)",
    ),
    (
        "zero-pool-capacity",
        _set("dpm_servers[0].pool.capacity", "0 TB"),
        "dpm_servers[0].pool.capacity",
        "0 TB",
    ),
    (
        "negative-daily-change",
        _set("vms[1].disks[0].daily_change", -0.01),
        "vms[1].disks[0].daily_change",
        "-0.01",
    ),
    (
        "negative-daily-change-percent",
        _set("vms[1].disks[0].daily_change", "-3 %"),
        "vms[1].disks[0].daily_change",
        "-3 %",
    ),
    (
        "daily-change-above-one",
        _set("vms[1].disks[0].daily_change", "150 %"),
        "vms[1].disks[0].daily_change",
        "150 %",
    ),
    # bad units
    (
        "unknown-size-unit",
        _set("clusters[0].csvs[0].capacity", "100 GiBs"),
        "clusters[0].csvs[0].capacity",
        "('100 GiBs')",
    ),
    (
        "size-unit-on-a-rate",
        _set("clusters[0].csvs[0].read", "400 MB"),
        "clusters[0].csvs[0].read",
        "400 MB",
    ),
    (
        "ambiguous-rate-unit",
        _set("links[0].bandwidth", "10 Gb/s"),
        "links[0].bandwidth",
        "ambiguous",
    ),
    ("text-for-a-size", _set("vms[1].memory", "lots"), "vms[1].memory", "('lots')"),
    # times of day outside 00:00-23:59
    (
        "express-full-at-24-00",
        _set("protection_groups[0].express_full_times", ["24:00"]),
        "protection_groups[0].express_full_times[0]",
        "('24:00')",
    ),
    (
        "express-full-at-23-60",
        _set("protection_groups[0].express_full_times", ["23:60"]),
        "protection_groups[0].express_full_times[0]",
        "('23:60')",
    ),
    (
        "express-full-at-7pm",
        _set("protection_groups[0].express_full_times", ["7pm"]),
        "protection_groups[0].express_full_times[0]",
        "('7pm')",
    ),
    (
        "second-express-full-time-bad",
        _set("protection_groups[0].express_full_times", ["08:00", "24:00"]),
        "protection_groups[0].express_full_times[1]",
        "24:00",
    ),
    (
        "express-full-as-bare-hour-number",
        _set("protection_groups[0].express_full_times", [22]),
        "protection_groups[0].express_full_times[0]",
        "(22)",
    ),
    (
        "backup-window-start-at-24-00",
        _set("protection_groups[0].backup_window.start", "24:00"),
        "protection_groups[0].backup_window.start",
        "24:00",
    ),
    (
        "backup-window-end-at-6am",
        _set("protection_groups[0].backup_window.end", "6am"),
        "protection_groups[0].backup_window.end",
        "6am",
    ),
    # distributions with bad parameters
    (
        "uniform-low-above-high",
        _set("vms[0].disks[0].used", {"dist": "uniform", "low": "50 GiB", "high": "20 GiB"}),
        "vms[0].disks[0].used",
        "low <= high",
    ),
    (
        "unknown-distribution-name",
        _set("vms[0].memory", {"dist": "gamma", "k": 2}),
        "vms[0].memory.dist",
        "gamma",
    ),
    (
        "distribution-name-not-a-string",
        _set("vms[0].memory", {"dist": ["uniform"], "low": 1, "high": 2}),
        "vms[0].memory.dist",
        "'dist' must be one of",
    ),
    (
        "choice-weights-length-mismatch",
        _set("vms[0].memory", {"dist": "choice", "values": ["2 GiB", "4 GiB"], "weights": [1]}),
        "vms[0].memory.weights",
        "weights",
    ),
    (
        "choice-weight-not-a-number",
        _set(
            "vms[0].memory",
            {"dist": "choice", "values": ["2 GiB", "4 GiB"], "weights": [float("nan"), 1]},
        ),
        "vms[0].memory.weights[0]",
        "weights",
    ),
    (
        "categorical-choice-weights-length-mismatch",
        _set("vms[1].guest_os", {"dist": "choice", "values": ["linux"], "weights": [1, 2]}),
        "vms[1].guest_os.weights",
        "weights",
    ),
    (
        "categorical-choice-of-an-unknown-value",
        _set("vms[1].guest_os", {"dist": "choice", "values": ["linux", "beos"]}),
        "vms[1].guest_os.values[1]",
        "beos",
    ),
    (
        "triangular-mode-outside-its-range",
        _set(
            "vms[0].disks[0].daily_change",
            {"dist": "triangular", "low": "1 %", "mode": "9 %", "high": "8 %"},
        ),
        "vms[0].disks[0].daily_change",
        "low <= mode <= high",
    ),
    (
        "normal-with-negative-sd",
        _set("vms[1].memory", {"dist": "normal", "mean": "4 GiB", "sd": "-1 GiB"}),
        "vms[1].memory.sd",
        "sd",
    ),
    (
        "lognormal-with-negative-sigma",
        _set("vms[1].memory", {"dist": "lognormal", "median": "4 GiB", "sigma": -1}),
        "vms[1].memory.sigma",
        "sigma",
    ),
    (
        "distribution-missing-a-parameter",
        _set("vms[1].memory", {"dist": "uniform", "low": "1 GiB"}),
        "vms[1].memory",
        "needs high",
    ),
    # VM names
    ("duplicate-vm-name", _set("vms[2].name", "legacy-linux"), "vms[2].name", "('legacy-linux')"),
    ("templated-name-made-twice", _duplicate_of_a_templated_name, "vms[5].name", "('app-07')"),
    ("name-pattern-with-unknown-field", _set("vms[0].name", "app-{i}-{j}"), "vms[0].name", "{j}"),
    ("name-pattern-with-bad-format", _set("vms[0].name", "app-{i:zz}"), "vms[0].name", "{i:zz}"),
    # count > 1 without {i}: schema.py reports it on the VM entry (vms[0]) itself
    ("count-above-one-without-i", _set("vms[0].name", "app"), "vms[0]", "{i}"),
    # names in words, not a regular expression; '.' and '..' are no names (a scenario's
    # name is its report folder: '..' wrote the report into the working folder's parent)
    ("scenario-named-dot-dot", _set("name", ".."), "name", "not only dots"),
    ("scenario-named-dot", _set("name", "."), "name", "not only dots ('.' and '..' are"),
    ("cluster-named-dot-dot", _set("clusters[0].name", ".."), "clusters[0].name", "only dots"),
    ("vm-named-dot", _set("vms[1].name", "."), "vms[1].name", "only dots"),
    (
        "member-dot-dot",
        _set("protection_groups[0].members", [".."]),
        "protection_groups[0].members[0]",
        "only dots",
    ),
    ("name-with-a-space", _set("clusters[0].name", "lab 1"), "clusters[0].name", "letters, digits"),
    ("name-with-a-slash", _set("name", "a/b"), "name", "(no spaces, slashes or other characters)"),
    ("empty-name", _set("vms[1].name", ""), "vms[1].name", "1 to 200 letters"),
    # '{i:c}' writes 46 as '.': a pattern that makes the VM name '..'
    (
        "vm-name-pattern-making-dot-dot",
        lambda doc: doc["vms"][1].update(name="{i:c}{i:c}", first_index=46),
        "vms[1].name",
        "not a VM name",
    ),
    # start_date: a date, nothing else ('start_date: 0' was 1970-01-01)
    ("start-date-zero", _set("start_date", 0), "start_date", "must be a date written YYYY-MM-DD"),
    ("start-date-number", _set("start_date", 20260105), "start_date", "YYYY-MM-DD"),
    (
        "start-date-text-with-time",
        _set("start_date", "2026-01-05T00:00"),
        "start_date",
        "YYYY-MM-DD",
    ),
    ("start-date-day-first", _set("start_date", "05/01/2026"), "start_date", "YYYY-MM-DD"),
    ("start-date-one-digit-month", _set("start_date", "2026-1-5"), "start_date", "YYYY-MM-DD"),
    (
        "start-date-not-a-day",
        _set("start_date", "2026-02-30"),
        "start_date",
        "not a day of the calendar",
    ),
    # storage moves name a volume; other moves name a host or node
    (
        "storage-move-to-unknown-csv",
        _set("migrations", {"events": [_storage_event("lab/csv9")]}),
        "migrations.events[0].target",
        "unknown volume",
    ),
    (
        "live-move-to-a-volume",
        _set("migrations", {"events": [{**_storage_event("lab/csv1"), "kind": "live"}]}),
        "migrations.events[0].target",
        "only storage moves take one",
    ),
    (
        "target-of-three-parts",
        _set("migrations", {"events": [_storage_event("lab/csv1/x")]}),
        "migrations.events[0].target",
        "'cluster/csv', 'host/local' or a share name",
    ),
    # storage that cannot hold what is placed on it: 16 app VMs of 35 GiB in use (the
    # mean of 20 to 50 GiB) and 4.2 GiB of memory (0.3 x 2 + 0.5 x 4 + 0.2 x 8), and the
    # legacy VMs' 15 + 2, 8 + 1, 40 + 4 and 30 + 4 GiB: 731.2 GiB, 785 GB
    (
        "csv-smaller-than-its-vms",
        _set("clusters[0].csvs[0].capacity", "100 GiB"),
        "clusters[0].csvs[0].capacity",
        "20 VMs need an expected 785 GB (disks in use + saved-state files), more than the "
        "107 GB capacity",
    ),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [pytest.param(m, f, frag, id=case_id) for case_id, m, f, frag in CASES],
)
def test_one_mistake_exits_2_with_one_line_naming_its_field_and_writes_nothing(
    capsys, tmp_path, command, mutate, field, fragment
):
    doc = copy.deepcopy(small_lab())
    mutate(doc)
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, command)
    named = lines_at(lines, scenario, field)
    assert named, f"no line names {field}: {lines}"
    assert any(fragment in line for line in named), f"{fragment!r} not in {named}"


def test_unknown_dpm_server_is_reported_once_not_again_as_a_missing_route(capsys, tmp_path):
    doc = small_lab()
    set_at(doc, "protection_groups[0].dpm_server", "dpm9")
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines == [f"{scenario}: protection_groups[0].dpm_server: unknown DPM server ('dpm9')"]


def test_unknown_host_is_reported_once_not_again_as_a_missing_route(capsys, tmp_path):
    doc = small_lab()
    _move_vm(1, host="hv9")(doc)
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines == [f"{scenario}: vms[1].host: unknown standalone host ('hv9')"]


def test_three_mistakes_give_exactly_three_lines(capsys, tmp_path):
    doc = small_lab()
    set_at(doc, "vms[1].memory", 0)
    set_at(doc, "clusters[0].csvs[0].read", "fast")
    set_at(doc, "colour", "blue")
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert len(lines) == 3
    for field in ("vms[1].memory", "clusters[0].csvs[0].read", "colour"):
        assert len(lines_at(lines, scenario, field)) == 1


def test_a_line_ends_with_the_given_value_in_parentheses(capsys, tmp_path):
    doc = small_lab()
    set_at(doc, "clusters[0].csvs[0].capacity", "100 GiBs")
    scenario = write_scenario(tmp_path, doc)
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert re.fullmatch(
        rf"{re.escape(str(scenario))}: clusters\[0\]\.csvs\[0\]\.capacity: .*unknown size unit "
        r"'GiBs'.* \('100 GiBs'\)",
        line,
    )


def test_a_key_with_a_newline_still_makes_a_single_line(capsys, tmp_path):
    doc = small_lab()
    doc["colour\nblue"] = 1
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert len(lines) == 1
    assert "colour" in lines[0]


def test_a_huge_given_value_is_shortened_in_its_line(capsys, tmp_path):
    doc = small_lab()
    doc["description"] = ["x" * 100_000]
    scenario = write_scenario(tmp_path, doc)
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line.startswith(f"{scenario}: description: ")
    assert len(line) < len(str(scenario)) + 200


def test_missing_required_fields_are_each_named(capsys, tmp_path):
    scenario = write_scenario(tmp_path, {"name": "x"})
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines_at(lines, scenario, "dpm_servers")
    # With DPM servers given, a scenario still needs VMs or on-demand jobs.
    scenario = write_scenario(
        tmp_path,
        {
            "name": "x",
            "dpm_servers": [
                {"name": "d", "version": "2012", "pool": {"capacity": "1 TB", "write": "1 GB/s"}}
            ],
        },
    )
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert any("nothing to simulate" in line for line in lines)


# --- files that are not scenarios ------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "run"])
def test_malformed_yaml_reports_its_line(capsys, tmp_path, command):
    scenario = write_text(tmp_path, "name: small-lab\nhorizon_days: 7\n  bad: indent\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, command)
    assert line.startswith(f"{scenario}: (yaml): line 3")


def test_unclosed_bracket_reports_the_line_it_opened_on(capsys, tmp_path):
    scenario = write_text(tmp_path, "name: small-lab\nhorizon_days: 7\nswitches: [a, b\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert "line 3" in line


def test_tab_indentation_reports_its_line(capsys, tmp_path):
    scenario = write_text(tmp_path, "name: small-lab\nswitches:\n\t- a\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line.startswith(f"{scenario}: (yaml): line 3")


def test_a_key_given_twice_is_refused_with_its_line_not_silently_overwritten(capsys, tmp_path):
    text = yaml.safe_dump(small_lab(), sort_keys=False) + "horizon_days: 3\n"
    scenario = write_text(tmp_path, text)
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert "duplicate key 'horizon_days'" in line
    assert re.search(r"line \d+", line)


def test_a_python_object_tag_is_refused_not_constructed(capsys, tmp_path):
    scenario = write_text(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line.startswith(f"{scenario}: (yaml): line 1")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"], ids=["empty", "list", "scalar"])
def test_a_document_that_is_not_a_mapping_is_refused(capsys, tmp_path, text):
    scenario = write_text(tmp_path, text)
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line.startswith(f"{scenario}: (top level): ")


def test_a_missing_file_is_refused(capsys, tmp_path):
    scenario = tmp_path / "nowhere.yaml"
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "run")
    assert line.startswith(f"{scenario}: (file): cannot read")


def test_a_file_that_is_not_utf8_is_refused(capsys, tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_bytes(b"name: \xff\xfe\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line.startswith(f"{scenario}: (file): ")


# --- alias bombs -----------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_billion_laughs_with_only_72_aliases_is_refused_quickly_without_expanding(
    capsys, tmp_path, command
):
    scenario = write_text(tmp_path, BILLION_LAUGHS)
    started = time.perf_counter()
    (line,) = assert_bad_input(capsys, tmp_path, scenario, command)
    assert time.perf_counter() - started < 5
    assert line.startswith(f"{scenario}: (yaml): ")
    assert "alias" in line


def test_a_recursive_alias_is_refused(capsys, tmp_path):
    scenario = write_text(tmp_path, "name: small-lab\nvms: &v [*v]\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line.startswith(f"{scenario}: (yaml): ")
    assert "line 2" in line


def test_ordinary_anchors_and_aliases_still_validate(capsys, tmp_path):
    doc = small_lab()
    disk = {"size": "60 GiB", "used": "30 GiB"}
    for vm in doc["vms"][1:]:
        vm["disks"] = [disk]  # one shared object: safe_dump writes an anchor and aliases
    text = yaml.safe_dump(doc, sort_keys=False)
    assert text.count("*id001") == 3
    code, _, err = cli(capsys, "validate", str(write_text(tmp_path, text)))
    assert (code, err) == (0, [])


# --- a real process: no traceback -------------------------------------------------


def test_run_in_a_separate_process_exits_2_without_traceback_or_output(tmp_path):
    doc = small_lab()
    set_at(doc, "vms[1].memory", "-2 GiB")
    set_at(doc, "protection_groups[0].express_full_times", ["24:00"])
    scenario = write_scenario(tmp_path, doc)
    out_dir = tmp_path / "reports" / "out"
    proc = cli_in_a_process("run", str(scenario), "--out", str(out_dir), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    # Each line starts where its path is written: the list item '24:00' (its quote)
    # and the key memory of the second VM.
    time_at, memory_at = where(scenario, "'24:00'"), where(scenario, "memory: -2 GiB")
    assert sorted(proc.stderr.splitlines(), key=lambda line: "vms" in line) == [
        f"{time_at}: protection_groups[0].express_full_times[0]: time of "
        "day must lie between 00:00 and 23:59, not 24:00 ('24:00')",
        f"{memory_at}: vms[1].memory: memory must be a size from "
        "32 MiB to 1 EB (1e18 bytes) ('-2 GiB')",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


# --- names, dates and numbers said in words ----------------------------------------


def test_a_bad_name_says_what_a_name_is_in_words_not_as_a_regular_expression(capsys, tmp_path):
    doc = small_lab()
    set_at(doc, "clusters[0].name", "lab 1")
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines[0] == (
        f"{scenario}: clusters[0].name: a name is 1 to 200 letters, digits or the characters "
        "_ . - { } : * ? [ ] (no spaces, slashes or other characters) ('lab 1')"
    )
    assert not any("pattern" in line or "^[" in line for line in lines)


def test_a_scenario_named_dot_dot_is_refused_and_nothing_lands_beside_the_working_folder(
    capsys, tmp_path, monkeypatch
):
    # The report folder is reports/<name>: '..' was the working folder itself, which
    # 'hvsim run' then filled (or emptied).
    work = tmp_path / "work"
    work.mkdir()
    doc = small_lab()
    doc["name"] = ".."
    write_scenario(work, doc)
    monkeypatch.chdir(work)
    code, out, lines = cli(capsys, "run", "scenario.yaml")
    assert (code, out) == (2, "")
    assert lines == [  # name is the document's first key: line 1, column 1
        "scenario.yaml:1:1: name: a name is not only dots ('.' and '..' are a folder and its "
        "parent) ('..')"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["scenario.yaml"]


def test_start_date_takes_a_yaml_date_or_its_yyyy_mm_dd_text_and_no_number(capsys, tmp_path):
    base = yaml.safe_dump({k: v for k, v in small_lab().items() if k != "start_date"})
    for text in ("2026-01-05", "'2026-01-05'"):
        scenario = write_text(tmp_path, base + f"start_date: {text}\n")
        code, _, err = cli(capsys, "validate", str(scenario))
        assert (code, err) == (0, [])
        assert load_scenario(scenario).start_date == dt.date(2026, 1, 5)
    # pydantic read a number as seconds since 1970: 'start_date: 0' ran from 1970-01-01.
    scenario = write_text(tmp_path, base + "start_date: 0\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line == (
        f"{scenario}: start_date: start_date must be a date written YYYY-MM-DD, such as "
        "2026-01-05 (0)"
    )


def test_start_date_with_a_time_of_day_is_refused_and_shown_as_written(capsys, tmp_path):
    base = yaml.safe_dump({k: v for k, v in small_lab().items() if k != "start_date"})
    scenario = write_text(tmp_path, base + "start_date: 2026-01-05 00:00:00\n")
    (line,) = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert line == (
        f"{scenario}: start_date: start_date is a date without a time of day, such as "
        "2026-01-05 (2026-01-05 00:00:00)"
    )


# Each field kind given NaN or more than its largest value: the line names the field and
# the values it takes. (Before: 'size must be a finite number', 'unknown size unit
# 'EB'', 'Input should be less than or equal to 3660' for a NaN horizon, 'Input should
# be a finite number' for a NaN count.)
_SIZE = "a size from 1 MiB to 1 EB (1e18 bytes)"
_RATE = "a rate from 64 kbps (8 kB/s) to 1 PB/s (1e15 bytes/s)"
_TEN_YEARS = "3660 d (ten years, the longest horizon)"
_FRACTION = "a fraction from 0 to 1 (0 % to 100 %)"
RANGES = [
    ("clusters[0].csvs[0].capacity", ".nan", f"capacity must be {_SIZE} (nan)"),
    ("clusters[0].csvs[0].capacity", "1 EiB", f"capacity must be {_SIZE} ('1 EiB')"),
    ("clusters[0].csvs[0].capacity", "2 EB", f"capacity must be {_SIZE} ('2 EB')"),
    ("clusters[0].csvs[0].capacity", ".inf", f"capacity must be {_SIZE} (inf)"),
    ("dpm_servers[0].pool.capacity", "1e400", f"capacity must be {_SIZE} ('1e400')"),
    ("clusters[0].csvs[0].read", ".nan", f"read must be {_RATE} (nan)"),
    ("clusters[0].csvs[0].read", "1 EB/s", f"read must be {_RATE} ('1 EB/s')"),
    ("links[0].bandwidth", "10 Pbps", f"bandwidth must be {_RATE} ('10 Pbps')"),
    ("links[0].bandwidth", "100 bps", f"bandwidth must be {_RATE} ('100 bps')"),
    (
        "dpm_servers[0].auto_rerun_delay",
        ".nan",
        f"auto_rerun_delay must be a duration greater than 0 s and at most {_TEN_YEARS} (nan)",
    ),
    (
        "protection_groups[0].rpo",
        "4000 d",
        f"rpo must be a duration greater than 0 s and at most {_TEN_YEARS} ('4000 d')",
    ),
    ("horizon_days", ".nan", "horizon_days must be a number greater than 0 and at most 3660 (nan)"),
    (
        "horizon_days",
        "1e9",  # YAML 1.1 reads 1e9 (no dot) as text
        "horizon_days must be a number greater than 0 and at most 3660 ('1e9')",
    ),
    ("vms[1].disks[0].daily_change", ".nan", f"daily_change must be {_FRACTION} (nan)"),
    ("vms[1].disks[0].daily_change", "'120 %'", f"daily_change must be {_FRACTION} ('120 %')"),
    ("vms[1].memory", ".nan", "memory must be a size from 32 MiB to 1 EB (1e18 bytes) (nan)"),
    (
        "vms[1].memory",
        "1.5 EB",
        "memory must be a size from 32 MiB to 1 EB (1e18 bytes) ('1.5 EB')",
    ),
    (
        "vms[1].dirty_rate",
        ".nan",
        "dirty_rate must be a rate from 0 B/s to 1 PB/s (1e15 bytes/s) (nan)",
    ),
    ("vms[1].count", ".nan", "count must be a whole number from 1 to 100000 (nan)"),
    ("vms[1].count", "2.5", "count must be a whole number from 1 to 100000 (2.5)"),
    ("vms[1].count", "1e9", "count must be a whole number from 1 to 100000 ('1e9')"),
    (
        "clusters[0].nodes",
        ".nan",
        "nodes must be a whole number from 1 to 64 (source: dpm-scale-out, the WS2012 "
        "maximum) or a list of node names (nan)",
    ),
    (
        "dpm_servers[0].max_parallel_jobs",
        "1000",
        "max_parallel_jobs must be a whole number from 1 to 256 (1000)",
    ),
    (
        "protection_groups[0].retention_days",
        ".inf",
        "retention_days must be a whole number from 1 to 448 (inf)",
    ),
]


@pytest.mark.parametrize(("field", "text", "message"), RANGES)
def test_nan_and_too_large_values_are_refused_naming_the_field_and_its_range(
    capsys, tmp_path, field, text, message
):
    doc = small_lab()
    set_at(doc, field, yaml.safe_load(f"v: {text}")["v"])
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines == [f"{scenario}: {field}: {message}"]


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        (
            "{dist: uniform, low: .nan, high: 4 GiB}",
            "low",
            "low of memory must be a size from 32 MiB to 1 EB (1e18 bytes) (nan)",
        ),
        (
            "{dist: normal, mean: 4 GiB, sd: .nan}",
            "sd",
            "sd of memory must be a size from 0 bytes to 1 EB (1e18 bytes) (nan)",
        ),
        (
            "{dist: lognormal, median: 4 GiB, sigma: .nan}",
            "sigma",
            "sigma of memory must be a number from 0 to 10 (the shape of ln X) (nan)",
        ),
        (
            "{dist: choice, values: [4 GiB, .nan, 8 GiB]}",
            "values[1]",
            "each value of memory must be a size from 32 MiB to 1 EB (1e18 bytes) (nan)",
        ),
        (
            "{dist: choice, values: [4 GiB, 8 GiB], weights: [1, .nan]}",
            "weights[1]",
            "'weights' must be finite numbers >= 0 (nan)",
        ),
        (
            "{dist: choice, values: [4 GiB, 8 GiB], weights: [1]}",
            "weights",
            "'weights' must be a list of 2 numbers, one per value ([1])",
        ),
        (
            "{dist: gauss, mean: 4 GiB}",
            "dist",
            "'dist' must be one of fixed, uniform, normal, lognormal, triangular, choice ('gauss')",
        ),
    ],
)
def test_a_distributions_parameter_out_of_range_is_named_at_its_place_with_its_value(
    capsys, tmp_path, text, place, message
):
    # The line named the field and showed its whole mapping, where a wrong item among
    # the values or weights was hard to find (found by mutating the examples).
    doc = small_lab()
    set_at(doc, "vms[1].memory", yaml.safe_load(f"v: {text}")["v"])
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines == [f"{scenario}: vms[1].memory.{place}: {message}"]


@pytest.mark.parametrize(
    ("field", "value", "place", "message"),
    [
        ("running", [True, "yes"], "values[1]", "expected true or false ('yes')"),
        (
            "guest_os",
            ["linux", "dos"],
            "values[1]",
            "expected one of windows2000, windows2003, windows2008, windows2008r2, "
            "windows2012, windows2012r2, linux ('dos')",
        ),
    ],
)
def test_a_wrong_choice_of_a_categorical_field_is_named_at_its_item(
    capsys, tmp_path, field, value, place, message
):
    doc = small_lab()
    set_at(doc, f"vms[1].{field}", {"dist": "choice", "values": value})
    scenario = write_scenario(tmp_path, doc)
    lines = assert_bad_input(capsys, tmp_path, scenario, "validate")
    assert lines == [f"{scenario}: vms[1].{field}.{place}: {message}"]


def test_1_eb_is_a_size_and_the_largest_a_capacity_takes(capsys, tmp_path):
    doc = small_lab()
    set_at(doc, "clusters[0].csvs[0].capacity", "1 EB")
    set_at(doc, "dpm_servers[0].pool.capacity", "1 EB")
    code, _, err = cli(capsys, "validate", str(write_scenario(tmp_path, doc)))
    assert (code, err) == (0, [])


def test_the_largest_rates_and_sizes_run_to_the_end_and_a_transfer_of_decades_stops_with_a_line(
    capsys, tmp_path
):
    # A 0.9 EB disk at 1 PB/s everywhere: the initial replica takes 900 s.
    doc = small_lab()
    doc["vms"] = [{"name": "big", "cluster": "lab", "csv": "csv1", "disks": [{"size": "0.9 EB"}]}]
    doc["protection_groups"][0]["members"] = ["big"]
    set_at(
        doc,
        "clusters[0].csvs[0]",
        {"name": "csv1", "capacity": "1 EB", "read": "1 PB/s", "write": "1 PB/s"},
    )
    # Thin: DPM's default allocation (1.5 x 0.9 EB for the replica) is more than the
    # largest pool allowed; this test is about sizes and rates, not allocation.
    set_at(
        doc, "dpm_servers[0].pool", {"capacity": "1 EB", "write": "1 PB/s", "allocation": "thin"}
    )
    for link in doc["links"]:
        link["bandwidth"] = "1 PB/s"
        link["efficiency"] = 1.0  # the line rate, so the time is the storage's
    code, _, err = cli(
        capsys, "run", str(write_scenario(tmp_path, doc)), "--out", str(tmp_path / "a")
    )
    assert (code, err) == (0, [])
    with (tmp_path / "a" / "jobs.csv").open() as f:
        first = next(csv.DictReader(f))
    assert (first["kind"], first["outcome"]) == ("initial_replica", "succeeded")
    assert float(first["bytes"]) == 0.9e18
    # 0.9e18 bytes / 1e15 B/s = 900 s, plus the writers' flush and the snapshot.
    assert 900 < float(first["duration_s"]) < 915
    # At the CSV's 400 MB/s the same disk would take 71 years: the run stops, says why
    # and writes nothing, rather than running on or reporting an unfinished replica.
    set_at(doc, "clusters[0].csvs[0].read", "400 MB/s")
    scenario = write_scenario(tmp_path, doc, "slow.yaml")
    code, out, err = cli(capsys, "run", str(scenario), "--out", str(tmp_path / "b"))
    assert code == 2 and out == ""
    (line,) = err
    assert line.startswith(f"{scenario}: clusters[0].csvs[0].read: still running ")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("value", [10**400, 1e308, 1_000_000_001])
def test_a_huge_first_index_is_refused_with_its_range(value):
    # Found by the fuzz tests: 1e308 got pydantic's "exceeded maximum size" message.
    doc = base_scenario(vms=[{"name": "vm{i}", "count": 2, "cluster": "c1", "csv": "csv1"}])
    doc["vms"][0]["first_index"] = value
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(doc, "f.yaml")
    (line,) = caught.value.problems
    assert line.startswith(
        "f.yaml: vms[0].first_index: first_index must be a whole number from 0 to 1000000000"
    )


def test_restore_needs_default_members_name_no_vm_only_when_written():
    # Found by the fuzz test: an estate with no VMs (on-demand jobs only) and a restore
    # need left at its default members ('*', all VMs) is fine: there is nothing to
    # name. A member written out that names no VM is still a mistake, at its path.
    from tests.builders import problems_of

    doc = base_scenario(
        vms=[],
        protection_groups=[],
        on_demand=[{"dpm_server": "dpm1", "per_hour": 2, "mean_duration": "10 min"}],
        restore_needs=[{"finest_unit": "vm"}],
    )
    assert problems_of(doc) == []
    doc["restore_needs"][0]["members"] = ["nope"]
    assert problems_of(doc) == ["f.yaml: restore_needs[0].members[0]: names no VM ('nope')"]
