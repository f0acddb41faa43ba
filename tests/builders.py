"""What the tests build again and again, written once: small scenarios as dicts (so
each test states what it changes), the files and the runs made of them, and the
ways a test runs a command. Tests import these (``from tests.builders import ...``);
conftest.py holds only fixtures."""

from __future__ import annotations

import copy
import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import hvsim
from hvsim.cli import main
from hvsim.results import kpis_json
from hvsim.scenario.loader import ScenarioError

GiB = 2.0**30

# The repository: tests read its examples, README, notebooks and benchmarks.
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))

# VSS writers that flush at once, so a snapshot takes only its provider's time.
INSTANT_WRITERS = {"writers": {"system": {"flush_time": "0 s"}}}

# A sweep over the DPM server's link (links[2] in base_scenario).
BANDWIDTH_VARY = "links[2].bandwidth=1 Gbps,10 Gbps"


# --- scenarios --------------------------------------------------------------------


def base_scenario(**overrides: Any) -> dict[str, Any]:
    """One 2012 cluster (2 nodes, one CSV), a 10 GbE switch, one DPM server, one VM."""
    doc: dict[str, Any] = {
        "name": "t",
        "horizon_days": 1,
        "clusters": [
            {
                "name": "c1",
                "os": "2012",
                "nodes": 2,
                "csvs": [
                    {
                        "name": "csv1",
                        "capacity": "10 TiB",
                        "read": "500 MB/s",
                        "write": "500 MB/s",
                        "vss_provider": "hardware",
                    }
                ],
            }
        ],
        "switches": ["sw"],
        "links": [
            {"between": ["c1-n1", "sw"], "bandwidth": "10 Gbps"},
            {"between": ["c1-n2", "sw"], "bandwidth": "10 Gbps"},
            {"between": ["dpm1", "sw"], "bandwidth": "10 Gbps"},
        ],
        "dpm_servers": [
            {
                "name": "dpm1",
                "version": "2012SP1",
                "pool": {"capacity": "100 TB", "write": "1 GB/s"},
            }
        ],
        # Retention within the 1-day horizon: no short-horizon warning (scenario.warnings).
        "protection_groups": [
            {"name": "pg", "dpm_server": "dpm1", "members": ["*"], "retention_days": 1}
        ],
        "vms": [{"name": "vm1", "cluster": "c1", "csv": "csv1"}],
    }
    doc.update(copy.deepcopy(overrides))
    return doc


def noisy_scenario(**overrides: Any) -> dict[str, Any]:
    """Six VMs whose used bytes and writer flush times are drawn per seed, so the
    nightly makespan and the bytes moved change from one replication to the next."""
    doc = base_scenario(
        horizon_days=2,
        vms=[
            {
                "name": "v{i}",
                "count": 6,
                "cluster": "c1",
                "csv": "csv1",
                "disks": [
                    {"size": "50 GB", "used": {"dist": "uniform", "low": "5 GB", "high": "45 GB"}}
                ],
            }
        ],
    )
    doc.update(overrides)
    return doc


def slow_link(**overrides: Any) -> dict[str, Any]:
    """base_scenario with a 64 kbps DPM link: the initial replica of 100 GB at 80 %
    efficiency (6.4 kB/s) takes 1.5625e7 s, 181 days, so a run runs away."""
    doc = base_scenario(**overrides)
    doc["links"][2]["bandwidth"] = "64 kbps"
    return doc


def add_host_and_share(
    doc: dict[str, Any],
    *,
    host_storage: dict[str, str],
    share_storage: dict[str, str],
) -> dict[str, Any]:
    """Add a standalone 2012 R2 host hv1 (local storage ``host_storage``) and a file
    server fs1 with an SMB share share1 (``share_storage``), both linked to sw at
    10 Gbps; ``doc`` changed in place and returned."""
    doc["hosts"] = [{"name": "hv1", "os": "2012R2", "storage": dict(host_storage)}]
    doc["file_servers"] = [{"name": "fs1"}]
    doc["smb_shares"] = [{"name": "share1", "file_servers": ["fs1"], **share_storage}]
    doc["links"] += [
        {"between": ["hv1", "sw"], "bandwidth": "10 Gbps"},
        {"between": ["fs1", "sw"], "bandwidth": "10 Gbps"},
    ]
    return doc


def tape_doc(
    *,
    vms: int = 2,
    size: str = "1 TB",
    drives: int = 1,
    drives_allocated: int = 1,
    drive_rate: str = "100 MB/s",
    pool_read: str | None = None,
    horizon_days: float = 1,
    level: str = "host",
    **long_term: Any,
) -> dict[str, Any]:
    """base_scenario with ``vms`` VMs of ``size`` used on one disk, replicas made by
    removable media (on the DPM server from t = 0), a tape library of ``drives``
    drives of ``drive_rate`` on dpm1, and a weekly long-term backup on Monday (the
    default start date, 2026-01-05, is a Monday) at 10:00, kept 4 weeks."""
    doc = base_scenario(horizon_days=horizon_days)
    doc["vms"] = [
        {"name": "vm{i}", "count": vms, "cluster": "c1", "csv": "csv1", "disks": [{"size": size}]}
    ]
    doc["dpm_servers"][0]["tape_library"] = {"drives": drives, "drive_rate": drive_rate}
    if pool_read is not None:
        doc["dpm_servers"][0]["pool"]["read"] = pool_read
    lt = {
        "frequency": "weekly",
        "weekday": "mon",
        "time": "10:00",
        "retention_weeks": 4,
        "drives_allocated": drives_allocated,
    }
    lt.update(long_term)
    doc["protection_groups"][0].update(initial_replica="removable_media", long_term=lt)
    return doc


# --- runs and validation ----------------------------------------------------------


def assert_same_results(a: hvsim.Results, b: hvsim.Results) -> None:
    """Every table equal (values, dtypes, row order), every other field and the KPIs."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True, obj=f.name)
        else:
            assert x == y, f.name
    assert kpis_json(a.kpis()) == kpis_json(b.kpis())


def run(doc: dict[str, Any], seed: int = 1) -> hvsim.Results:
    return hvsim.simulate(hvsim.scenario_from_dict(doc), seed=seed)


def problems_of(doc: Any, source: str = "f.yaml") -> list[str]:
    """[] if the document is accepted, else its problem lines; any other exception
    fails the test."""
    try:
        hvsim.scenario_from_dict(copy.deepcopy(doc), source)
    except ScenarioError as exc:
        return exc.problems
    return []


# --- files and commands -----------------------------------------------------------


def write_scenario(folder: Path, doc: Any, name: str = "scenario.yaml") -> Path:
    """``doc`` as YAML in ``folder``; its path."""
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def where(path: Path, text: str, occurrence: int = 1) -> str:
    """``path:LINE:COLUMN`` of the ``occurrence``-th place ``text`` is written in the
    file (found as text, not through YAML): what a problem line about it starts with."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        column = line.find(text)
        while column >= 0:
            seen += 1
            if seen == occurrence:
                return f"{path}:{number}:{column + 1}"
            column = line.find(text, column + 1)
    raise AssertionError(f"{text!r} is not written {occurrence} times in {path}")


def without_places(lines: list[str], path: Path | str) -> list[str]:
    """Problem lines of the file ``path`` with their line and column checked to be
    there and left out (``f.yaml:12:5: a.b: c`` -> ``f.yaml: a.b: c``), for tests of
    what a line says; lines of the whole file ((yaml), (file), (more), a document that
    is no mapping) as they are."""
    head = re.escape(str(path))
    out = []
    for line in lines:
        if re.match(rf"{head}: \((yaml|file|more|top level)\): ", line):
            out.append(line)
            continue
        m = re.match(rf"{head}:[1-9][0-9]*:[1-9][0-9]*: ", line)
        assert m, f"no line and column after the file name: {line}"
        out.append(f"{path}: {line[m.end() :]}")
    return out


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    """Run the CLI in this process: (exit status, stdout, stderr lines). Anything
    captured before is dropped."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def cli_in_a_process(*argv: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """``python -m hvsim.cli argv`` in its own process, its output captured as text;
    ``options`` go to subprocess.run (cwd, env, timeout, check). A command still
    running after 5 minutes fails its test rather than hanging the suite."""
    options.setdefault("timeout", 300)
    return subprocess.run(
        [sys.executable, "-m", "hvsim.cli", *argv], capture_output=True, text=True, **options
    )
