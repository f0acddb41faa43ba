"""Whole commands on extreme scenarios, and the shipped examples broken field by field.

scenario/test_fuzz.py breaks documents and runs the simulation of a few accepted
ones; these tests go further, through the commands a planner types.

1. ``hvsim run``, ``run --replications 2``, ``sweep`` and ``compare`` (in this
   process, ``--workers 1``) of scenarios the schema accepts but that sit at its
   edges: the least rates, thousands of migrations, hundreds of drains,
   distributions at their extremes, horizons of seconds and of ten years, every VM
   offline or unprotected, links only where routes need them, on-demand streams at
   their maximum. Each command ends one of the documented ways: exit 0 with its
   files, exit 1 with failures.csv (runs that failed, each with its reason and no
   traceback), or exit 2 with ``file: path: message`` lines and nothing written;
   never an exception; nothing written outside ``--out``, nothing left in the
   working folder. Each finishes within its time guard (time_guard_s), or is refused
   up front by the run estimate (``--max-jobs``).
2. Every place of every shipped example (each leaf, mapping and list) replaced by a
   value of the wrong type (text, a number, a list, a mapping, null, true, a huge or
   NaN number, an empty text, list or mapping): ``scenario_from_dict`` accepts it or
   refuses it with problem lines, one of which names the mutated place when the
   fields' types refuse it; ``hvsim validate`` of the file says the same.

By hand, longer: ``HVSIM_FUZZ_RUNS=300 HVSIM_FUZZ_MAX_JOBS=20000`` runs 300 whole
commands and lets larger ones through the estimate (about 15 minutes);
``HVSIM_FUZZ_MUTATE=all`` mutates every place of every example, not one per field
(20,000 documents, a minute or two); ``HVSIM_FUZZ_EXAMPLES=3000`` sends 3,000 of them
through ``hvsim validate`` (two minutes).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hvsim.cli import main
from hvsim.estimate import estimate
from hvsim.files import MANIFEST
from hvsim.scenario.schema import Scenario
from tests.builders import EXAMPLES, base_scenario, problems_of, without_places
from tests.fuzzing import (
    Path_,
    check_problem_lines,
    parent_of,
    paths,
    rich_scenario,
)

# --- running a command, guarded ---------------------------------------------------

# Jobs a command may have by its estimate (--max-jobs): more is refused up front (exit
# 2, one line), as a planner's run past the limit is. 3,000 jobs keep each command to
# a few seconds here; HVSIM_FUZZ_MAX_JOBS raises it for longer searches by hand.
MAX_JOBS = int(os.environ.get("HVSIM_FUZZ_MAX_JOBS", "3000"))


class TookTooLong(BaseException):
    """Raised by the time guard's alarm inside a command. A BaseException, so that no
    ``except Exception`` of a sweep's run can record it as the run's own failure."""


def time_guard_s(argv: list[str]) -> float:
    """The CPU time a command may use: TIME_FACTOR times its estimate, plus
    TIME_SLACK_S. The estimate (hvsim.estimate, the figure the command itself checks
    against its limit) is calibrated in CPU seconds of whole `hvsim run` commands,
    3.5 s of each for starting Python and importing, which a command in this process
    does not pay: measured here, commands used 0.05 to 1.5 times their estimate.
    Three times it, plus 10 s for a sweep's or a comparison's report figures, leaves
    room for a slower machine; a command past it costs far more than its estimate
    says, a bug in the command or in the estimate."""
    return TIME_FACTOR * command_estimate_s(argv) + TIME_SLACK_S


TIME_FACTOR = 3.0
TIME_SLACK_S = 10.0


def command_estimate_s(argv: list[str]) -> float:
    """What ``hvsim.estimate`` says the command costs (seconds), computed as the
    command computes it, or 0 for a command whose scenario does not load (refused at
    once)."""
    from hvsim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
    from hvsim.sweep import load_document, parse_vary, plan_runs

    def option(name: str, default: int) -> int:
        return int(argv[argv.index(name) + 1]) if name in argv else default

    try:
        if argv[0] == "compare":
            a, b = load_scenario(argv[1]), load_scenario(argv[2])
            reps = option("--replications", 5)
            return estimate([a, b], [a] * reps + [b] * reps).seconds
        if argv[0] == "sweep":
            varies = [parse_vary(argv[i + 1]) for i, w in enumerate(argv) if w == "--vary"]
            specs = plan_runs(load_document(argv[1]), argv[1], varies, option("--replications", 5))
            pooled = [scenario_from_dict(copy.deepcopy(spec.doc)) for spec in specs]
            return estimate([pooled[0], pooled[-1]], pooled).seconds
        scenario = load_scenario(argv[1])
    except ScenarioError:
        return 0.0
    reps = option("--replications", 1)
    return estimate([scenario], [scenario] * reps if reps > 1 else [], held=True).seconds


@contextlib.contextmanager
def guarded(cpu_s: float) -> Iterator[None]:
    """Raise TookTooLong in the command once it has used ``cpu_s`` seconds of CPU
    (SIGPROF: this process's user and system time, which other work on the machine
    does not inflate, as it does wall time), or has taken WALL_FACTOR times that in
    wall time (SIGALRM: a command that waits for nothing and hangs uses no CPU)."""

    def ring(signum, frame):
        what = "CPU" if signum == signal.SIGPROF else "wall-clock"
        raise TookTooLong(f"still running after {cpu_s:.0f} s of {what} time")

    if not hasattr(signal, "setitimer"):  # Windows: no interval timers, no guard
        yield
        return
    old = {sig: signal.signal(sig, ring) for sig in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, cpu_s)
    signal.setitimer(signal.ITIMER_REAL, cpu_s * WALL_FACTOR)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in old.items():
            signal.signal(sig, handler)


WALL_FACTOR = 4.0


def run_command(argv: list[str], cwd: Path) -> tuple[int, str, str, float]:
    """``hvsim.cli.main(argv)`` in ``cwd``: (exit status, stdout, stderr, seconds).
    An exception fails the test with the command in its message."""
    out, err = io.StringIO(), io.StringIO()
    guard = time_guard_s(argv)
    here = os.getcwd()
    os.chdir(cwd)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with guarded(guard):
                code = main(argv)
    except TookTooLong as exc:
        pytest.fail(f"hvsim {' '.join(argv)}: {exc} (its guard, from its estimate)")
    except SystemExit as exc:  # argparse: the test's own arguments are wrong
        pytest.fail(f"hvsim {' '.join(argv)}: exit {exc.code}: {err.getvalue()}")
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - started


# --- what each outcome must look like ---------------------------------------------

# What the console, summary.md and report.html must never show: a number that is not
# one, Python's None, a traceback. ("None." and "None:" are sentences of the reports.)
_NOT_A_NUMBER = re.compile(r"\b(?:nan|NaN|inf|Infinity|None(?![.:])|Traceback)\b")
_IMAGE = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def check_shown(text: str, where: str) -> None:
    text = _IMAGE.sub("", text)
    found = _NOT_A_NUMBER.search(text)
    assert found is None, (
        f"{where} shows {found.group()!r}: ...{text[found.start() - 80 :][:160]!r}"
    )


FILES = {
    "run": {
        "kpis.json",
        "jobs.csv",
        "downtime.csv",
        "redirected_io.csv",
        "restores.csv",
        "storage.csv",
        "summary.md",
    },
    "replications": {"kpis.json", "jobs.csv", "runs.csv", "runs.parquet", "summary.csv"},
    "sweep": {"runs.csv", "runs.parquet", "summary.csv", "summary.md", "report.html"},
    "compare": {"runs.csv", "runs.parquet", "compare.csv", "summary.md", "report.html"},
}


def check_outcome(
    kind: str, argv: list[str], sources: list[Path], out_dir: Path, result: tuple
) -> int:
    """The documented outcomes of a command; returns its exit status."""
    code, out, err, _ = result
    command = f"hvsim {' '.join(argv)}"
    assert "Traceback" not in out + err, f"{command}:\n{err}"
    if code == 2:
        # Refused: lines 'file: path: message' (a file's problem with the line and column
        # of its path: 'file:LINE:COLUMN: path: message'), and nothing written.
        assert not out_dir.exists(), f"{command}: exit 2 but {out_dir} was written"
        lines = err.splitlines()
        assert lines, f"{command}: exit 2 and no line says why"
        for line in lines:
            source, _, rest = line.partition(": ")
            source = re.sub(r":[1-9][0-9]*:[1-9][0-9]*$", "", source)
            assert source in {str(s) for s in sources}, f"{command}: {line!r}"
            path, sep, message = rest.partition(": ")
            assert sep and path and message.strip(), f"{command}: not file: path: message: {line!r}"
        return code
    assert code in (0, 1), f"{command}: exit {code}\n{err}"
    names = {p.name for p in out_dir.iterdir()}
    assert MANIFEST in names and FILES[kind] <= names, f"{command}: wrote {sorted(names)}"
    if code == 1:
        # Only a command of many runs exits 1: some runs failed, each says why.
        assert kind != "run" and "failures.csv" in names, f"{command}: exit 1\n{err}"
    if "failures.csv" in names:
        assert code == 1, f"{command}: failures.csv but exit {code}"
        failures = pd.read_csv(out_dir / "failures.csv", keep_default_na=False)
        for row in failures.to_dict("records"):
            # A run hvsim refuses (a varied value out of range) or that runs away says
            # so in a line; a traceback is a bug in hvsim, not a failed run.
            assert row["error"] and not row["traceback"], f"{command}: {row}"
    for name in names & {"kpis.json", MANIFEST}:
        _strict_json((out_dir / name).read_text(encoding="utf-8"))
    for name in names:
        if name.endswith(".csv"):
            pd.read_csv(out_dir / name)
    for name in names & {"summary.md", "report.html"}:
        check_shown((out_dir / name).read_text(encoding="utf-8"), f"{command}: {name}")
    check_shown(out, f"{command}: the console")
    return code


def run_through_the_cli(
    tmp: Path,
    kind: str,
    doc: dict[str, Any],
    other: dict[str, Any] | None = None,
    vary: tuple[str, ...] | list[str] = (),
    max_jobs: int = MAX_JOBS,
) -> tuple[int, Path, str]:
    """Write ``doc`` (and ``other`` for compare), run the command ``kind`` in an empty
    working folder with --out in a folder of its own, and check what it left:
    (exit status, --out, stderr)."""
    scenarios, work, outs = tmp / "scenarios", tmp / "work", tmp / "outs"
    for folder in (scenarios, work, outs):
        folder.mkdir()
    a = scenarios / "a.yaml"
    a.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    sources = [a]
    out_dir = outs / "out"
    budget = ["--workers", "1", "--max-jobs", str(max_jobs), "--out", str(out_dir)]
    if kind == "run":
        argv = ["run", str(a), *budget]
    elif kind == "replications":
        argv = ["run", str(a), "--replications", "2", *budget]
    elif kind == "sweep":
        varies = [w for v in vary for w in ("--vary", v)]
        argv = ["sweep", str(a), *varies, "--replications", "1", *budget]
    else:
        b = scenarios / "b.yaml"
        b.write_text(yaml.safe_dump(other or doc, sort_keys=False), encoding="utf-8")
        sources.append(b)
        argv = ["compare", str(a), str(b), "--replications", "1", *budget]
    result = run_command(argv, work)
    code = check_outcome(kind, argv, sources, out_dir, result)
    # Nothing outside --out: the working folder stays empty (no reports/), the
    # scenarios' folder holds the scenarios, --out's parent only --out.
    assert list(work.iterdir()) == [], f"left in the working folder: {list(work.iterdir())}"
    assert sorted(p.name for p in scenarios.iterdir()) == sorted(s.name for s in sources)
    assert [p.name for p in outs.iterdir()] in ([], ["out"])
    return code, out_dir, result[2]


# --- scenarios at the schema's edges ------------------------------------------------

Draw = Callable[[st.SearchStrategy], Any]


def _vms(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["vms"]


def _roomy(doc: dict[str, Any]) -> None:
    """Storage that holds whatever the other extremes place on it (1 EB, the most a
    size may be), so that a run is refused for what the extreme is about."""
    for c in doc.get("clusters", []):
        for v in c["csvs"]:
            v["capacity"] = "1 EB"
    for h in doc.get("hosts", []):
        h["storage"]["capacity"] = "1 EB"
    for s in doc.get("smb_shares", []):
        s["capacity"] = "1 EB"


def tiny_links(doc: dict[str, Any], draw: Draw) -> None:
    """The least bandwidth (64 kbps) and the least efficiency on some or every link, and
    disks small enough that some runs finish."""
    links = doc["links"]
    chosen = draw(st.lists(st.sampled_from(range(len(links))), min_size=1, unique=True))
    for i in chosen:
        links[i]["bandwidth"] = draw(st.sampled_from(["64 kbps", "8 kB/s", 8000]))
        links[i]["efficiency"] = draw(st.sampled_from([0.8, 1, 0.1]))  # the least taken
    if draw(st.booleans()):
        for vm in _vms(doc):
            vm["disks"] = [{"size": draw(st.sampled_from(["1 MiB", "100 MiB"]))}]


def tiny_storage(doc: dict[str, Any], draw: Draw) -> None:
    """The least read and write rates (8 kB/s) of volumes, shares and the pool."""
    rate = draw(st.sampled_from(["8 kB/s", "64 kbps"]))
    for c in doc["clusters"]:
        c["cluster_network"] = rate
        for v in c["csvs"]:
            v.update(read=rate, write=rate)
    for h in doc.get("hosts", []):
        h["storage"].update(read=rate, write=rate)
    for s in doc.get("smb_shares", []):
        s.update(read=rate, write=rate)
    doc["dpm_servers"][0]["pool"].update(write=rate, read=rate)


def _clock(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def many_events(doc: dict[str, Any], draw: Draw) -> None:
    """Hundreds to thousands of explicit events: live migrations back and forth,
    storage moves and consistency checks of vm1, some after the horizon."""
    n = draw(st.integers(100, 4000))
    days = max(1, math.ceil(doc.get("horizon_days", 7)))
    kinds = draw(st.lists(st.sampled_from(["live", "storage", "consistency_check"]), min_size=1))
    start = draw(st.integers(0, 1439))
    events = []
    for i in range(n):
        minute = start + i * draw(st.sampled_from([0, 1, 7]))
        kind = kinds[i % len(kinds)]
        event = {"vm": "vm1", "day": min(minute // 1440, days), "time": _clock(minute)}
        event["kind"] = kind
        if kind == "live":
            event["target"] = ["c1-n2", "c1-n1"][i % 2]
        elif kind == "storage":
            event["target"] = "c1/csv1"
        events.append(event)
    doc.setdefault("migrations", {})["events"] = events


def poisson_at_most(doc: dict[str, Any], draw: Draw) -> None:
    """Every VM migrated at the most the schema allows: 100 times a day each."""
    kind = draw(st.sampled_from(["live", "shared_nothing"]))
    stream = {"members": ["*"], "per_vm_per_day": 100, "kind": kind}
    if kind == "shared_nothing":
        hosts = [h["name"] for h in doc.get("hosts", [])]
        stream["targets"] = hosts + ["c1-n1"]
    else:
        stream["members"] = ["vm1", *(["web-*"] if "hosts" in doc else [])]
    doc.setdefault("migrations", {})["poisson"] = [stream]


def many_drains(doc: dict[str, Any], draw: Draw) -> None:
    """Up to 300 drains of the cluster's nodes, from a millisecond to ten years long."""
    n = draw(st.integers(1, 300))
    duration = draw(st.sampled_from(["1 ms", "1 min", "2 h", "3660 d"]))
    step = draw(st.sampled_from([1, 5, 60]))
    doc.setdefault("migrations", {})["drains"] = [
        {
            "node": ["c1-n1", "c1-n2"][i % 2],
            "day": i * step // 1440,
            "time": _clock(i * step),
            "duration": duration,
        }
        for i in range(n)
    ]


def extreme_distributions(doc: dict[str, Any], draw: Draw) -> None:
    """Distributions at their edges: sigma 10, a spread of nothing, choices with a
    zero weight, changes of 0 or 100 % a day, the fastest and slowest writers."""
    _roomy(doc)
    vm = _vms(doc)[0]
    vm["memory"] = draw(
        st.sampled_from(
            [
                {"dist": "lognormal", "median": "32 MiB", "sigma": 10},
                {"dist": "normal", "mean": "32 MiB", "sd": "1 TiB"},
                {"dist": "uniform", "low": "1 GiB", "high": "1 GiB"},
                {"dist": "choice", "values": ["32 MiB", "1 TiB"], "weights": [0, 1]},
            ]
        )
    )
    vm["disks"] = [
        {
            "size": draw(
                st.sampled_from(
                    ["1 MiB", "1 GiB", {"dist": "lognormal", "median": "1 MiB", "sigma": 3}]
                )
            ),
            "daily_change": draw(
                st.sampled_from(
                    [0, 1, "100 %", {"dist": "triangular", "low": 0, "mode": 0, "high": 1}]
                )
            ),
        }
    ]
    vm["dirty_rate"] = draw(
        st.sampled_from([0, "1 PB/s", {"dist": "lognormal", "median": "1 MB/s", "sigma": 10}])
    )
    vm["io_rate"] = draw(st.sampled_from([0, "1 PB/s"]))
    vm["guest_os"] = {"dist": "choice", "values": ["linux", "windows2012"], "weights": [0, 5]}
    median = draw(st.sampled_from(["1 ms", "9 s", "1 h"]))
    doc["vss"] = {
        "writers": {"system": {"flush_time": {"dist": "lognormal", "median": median, "sigma": 10}}}
    }


def short_horizon(doc: dict[str, Any], draw: Draw) -> None:
    """A horizon of a fraction of a second to a few hours."""
    doc["horizon_days"] = draw(st.sampled_from([1e-9, 1e-6, 0.001, 0.25]))


def long_horizon(doc: dict[str, Any], draw: Draw) -> None:
    """Ten years (the most) or one, with one VM and nothing else going on."""
    doc["horizon_days"] = draw(st.sampled_from([3660, 365]))
    doc["vms"] = [{**_vms(doc)[0], "count": 1, "name": "vm1"}]
    doc["vms"][0].pop("first_index", None)
    doc.pop("on_demand", None)
    doc.pop("migrations", None)
    for group in doc["protection_groups"]:
        group["members"] = ["*"]
    doc["start_date"] = draw(st.sampled_from(["1970-01-01", "2200-12-31", "2026-01-05"]))


def every_vm_offline(doc: dict[str, Any], draw: Draw) -> None:
    """Every VM fails an online requirement, each its own or all the same one."""
    reasons = [
        {"running": False},
        {"backup_integration_service": False},
        {"guest_os": "linux"},
        {"guest_os": "windows2000"},
        {"dynamic_disks": True},
        {"file_systems": ["FAT32"]},
        {"vss_storage_assignment_modified": True},
        {"cluster_group_online": False},
    ]
    for vm in _vms(doc):
        vm.update(draw(st.sampled_from(reasons)))


def every_vm_unprotected(doc: dict[str, Any], draw: Draw) -> None:
    doc["protection_groups"] = []


def only_needed_links(doc: dict[str, Any], draw: Draw) -> None:
    """No switch: each machine linked straight to the DPM server, nothing more."""
    ends = {a for link in doc["links"] for a in link["between"]} - set(doc["switches"])
    ends -= {d["name"] for d in doc["dpm_servers"]}
    bandwidth = draw(st.sampled_from(["64 kbps", "1 Gbps", "1000 TB/s"]))
    doc["links"] = [{"between": [e, "dpm1"], "bandwidth": bandwidth} for e in sorted(ends)]
    doc["switches"] = []


def on_demand_at_most(doc: dict[str, Any], draw: Draw) -> None:
    """On-demand streams at their maximum rate (1,000 an hour), their jobs a
    millisecond to ten years long."""
    doc["on_demand"] = [
        {
            "dpm_server": "dpm1",
            "per_hour": 1000,
            "mean_duration": draw(st.sampled_from(["1 ms", "1 min", "1 h", "3660 d"])),
            "duration": draw(st.sampled_from(["exponential", "fixed"])),
        }
    ] * draw(st.integers(1, 2))


def slots_at_edges(doc: dict[str, Any], draw: Draw) -> None:
    """Job slots, re-runs and migration limits at their least or most."""
    dpm = doc["dpm_servers"][0]
    dpm["max_parallel_jobs"] = draw(st.sampled_from([1, 256]))
    dpm["auto_rerun_attempts"] = draw(st.sampled_from([0, 10]))
    dpm["auto_rerun_delay"] = draw(st.sampled_from(["1 ms", "3660 d"]))
    doc["clusters"][0]["max_parallel_backups_per_node"] = draw(st.sampled_from([1, 64]))
    doc["live_migration"] = {
        "max_precopy_rounds": draw(st.sampled_from([1, 100])),
        "stop_copy": draw(st.sampled_from(["1 MiB", "1 EB"])),
        "simultaneous_per_host": draw(st.sampled_from([1, 64])),
        "setup": draw(st.sampled_from([0, "1 ms", "1 d"])),
    }


def schedules_at_edges(doc: dict[str, Any], draw: Draw) -> None:
    """Express fulls every half hour or once, the shortest window, the longest
    retention, an RPO of a millisecond, the scan at its cheapest or dearest."""
    group = doc["protection_groups"][0] if doc["protection_groups"] else None
    if group is not None:
        every = draw(st.sampled_from([30, 1440]))
        group["express_full_times"] = [_clock(m) for m in range(0, 1440, every)]
        group["backup_window"] = draw(
            st.sampled_from(
                [{"start": "00:00", "end": "00:01"}, {"start": "23:59", "end": "00:00"}]
            )
        )
        group["retention_days"] = draw(st.sampled_from([1, 448]))
        group["rpo"] = draw(st.sampled_from(["1 ms", "3660 d"]))
        group["sync_frequency"] = draw(st.sampled_from(["15 min", "1440 min"]))
    doc["scan"] = {
        "per_vm_query": draw(st.sampled_from(["1 ms", "1 h"])),
        "per_node_overhead": 0,
        "discovery_time": draw(st.sampled_from([None, "23:59", "00:00"])),
    }
    doc["vss"] = {"flush_window": draw(st.sampled_from(["1 ms", "10 s", "1 d"])), "release_time": 0}


def many_vms(doc: dict[str, Any], draw: Draw) -> None:
    """Hundreds to thousands of VMs from one entry (the estimate refuses the most)."""
    _roomy(doc)
    doc["vms"].append(
        {
            "name": "bulk-{i}",
            "count": draw(st.sampled_from([100, 1000, 5000])),
            "cluster": "c1",
            "csv": "csv1",
        }
    )


def old_platform(doc: dict[str, Any], draw: Draw) -> None:
    """Windows Server 2008 R2 nodes, DPM 2012, software snapshots: backups one at a
    time per CSV, serialized scans, redirected I/O over a cluster network of any speed."""
    cluster = doc["clusters"][0]
    cluster["os"] = "2008R2"
    cluster["cluster_network"] = draw(st.sampled_from(["64 kbps", "1 Gbps", "1000 TB/s"]))
    cluster["csvs"][0]["vss_provider"] = "software"
    cluster["csvs"][0]["serialize_backups"] = draw(st.sampled_from([None, True, False]))
    cluster["scan_serialized"] = draw(st.sampled_from([None, True]))
    doc["dpm_servers"][0]["version"] = "2012"
    for vm in _vms(doc):
        vm["io_rate"] = draw(st.sampled_from([0, "2 MB/s", "1 PB/s"]))


def newest_platform(doc: dict[str, Any], draw: Draw) -> None:
    """Windows Server 2012 R2 everywhere and DPM 2012 R2 at its last rollup: guests
    without VSS are kept running (crash- or file-consistent points)."""
    doc["clusters"][0]["os"] = "2012R2"
    for host in doc.get("hosts", []):
        host["os"] = "2012R2"
    doc["dpm_servers"][0].update(version="2012R2", update_rollup=draw(st.sampled_from([3, 20])))
    for vm in _vms(doc):
        vm["guest_os"] = draw(st.sampled_from(["linux", "windows2000", "windows2012r2"]))


def moves_everywhere(doc: dict[str, Any], draw: Draw) -> None:
    """Storage moves and shared-nothing moves between every kind of storage and host
    the scenario has, back and forth, dozens to hundreds of them."""
    n = draw(st.integers(10, 300))
    if "hosts" in doc:  # rich_scenario: a host with local storage and a share
        moves = [
            ("local-vm", "storage", ["share1", "hv1/local"]),
            ("smb-vm", "storage", ["hv1/local", "share1"]),
            ("vm1", "storage", ["share1", "c1/csv1"]),
            ("local-vm", "shared_nothing", ["c1-n1", "hv1"]),
        ]
    else:
        moves = [("vm1", "storage", ["c1/csv1"])]
    events = []
    for i in range(n):
        vm, kind, targets = moves[i % len(moves)]
        event = {"vm": vm, "day": 0, "time": _clock(i * 3), "kind": kind}
        event["target"] = targets[(i // len(moves)) % len(targets)]
        events.append(event)
    doc.setdefault("migrations", {})["events"] = events


def protection_at_edges(doc: dict[str, Any], draw: Draw) -> None:
    """Consistency checks off or daily, the initial replica by removable media,
    protection that breaks on every move and is repaired in a millisecond or never."""
    for group in doc["protection_groups"]:
        group["auto_consistency_check"] = draw(st.booleans())
        group["consistency_check_time"] = draw(st.sampled_from([None, "00:00", "23:59"]))
        group["initial_replica"] = draw(st.sampled_from(["network", "removable_media"]))
    dpm = doc["dpm_servers"][0]
    dpm["protection_repair_time"] = draw(st.sampled_from(["1 ms", "1 h", "3660 d"]))
    dpm["vmm"] = draw(
        st.sampled_from(
            [
                {},
                {"vmm_server": "vmm1", "console_installed": True, "helper_service_running": True},
            ]
        )
    )
    if dpm["vmm"]:
        doc["vmm_servers"] = [{"name": "vmm1", "manages": ["c1"]}]


EXTREMES: dict[str, Callable[[dict[str, Any], Draw], None]] = {
    f.__name__: f
    for f in (
        tiny_links,
        tiny_storage,
        many_events,
        poisson_at_most,
        many_drains,
        extreme_distributions,
        short_horizon,
        long_horizon,
        every_vm_offline,
        every_vm_unprotected,
        only_needed_links,
        on_demand_at_most,
        slots_at_edges,
        schedules_at_edges,
        many_vms,
        old_platform,
        newest_platform,
        moves_everywhere,
        protection_at_edges,
    )
}


@st.composite
def extreme_scenarios(draw) -> dict[str, Any]:
    doc = draw(st.sampled_from([base_scenario, rich_scenario]))()
    names = draw(st.lists(st.sampled_from(sorted(EXTREMES)), min_size=1, max_size=3, unique=True))
    for name in names:
        EXTREMES[name](doc, draw)
    return doc


VARIES = [
    "dpm_servers[0].max_parallel_jobs=1,256",
    "links[0].bandwidth=64 kbps,1000 TB/s",
    "horizon_days=0.001,1",
    "vss.flush_window=1 ms,1 h",
]

WHOLE = settings(
    max_examples=int(os.environ.get("HVSIM_FUZZ_RUNS", "4")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@WHOLE
@given(
    doc=extreme_scenarios(),
    kind=st.sampled_from(["run", "replications", "sweep", "compare"]),
    data=st.data(),
)
def test_a_command_on_an_extreme_scenario_ends_the_documented_way_in_its_time(
    tmp_path_factory, doc, kind, data
):
    other = vary = None
    if kind == "compare":
        other = copy.deepcopy(doc)
        extra = data.draw(st.sampled_from(sorted(EXTREMES)))
        EXTREMES[extra](other, data.draw)
    elif kind == "sweep":
        vary = [data.draw(st.sampled_from(VARIES))]
    run_through_the_cli(tmp_path_factory.mktemp("cmd"), kind, doc, other, vary or ())


# --- hand-picked extremes, each through a command ------------------------------------


def kpis_of(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "kpis.json").read_text(encoding="utf-8"))


def test_the_least_rates_everywhere_run_to_the_end_with_disks_small_enough(tmp_path):
    # Every link at 64 kbps; every volume, share, pool and cluster network at 8 kB/s
    # (the least the schema takes); disks of 1 MiB. The pool writes every replica at
    # 8 kB/s in all, so the initial replicas that start together at 04:00 end at
    # least n x 2**20 / 8000 s (131 s each) after it.
    doc = rich_scenario()
    for link in doc["links"]:
        link["bandwidth"] = "64 kbps"
    tiny_storage(doc, lambda strategy: "8 kB/s")
    for vm in doc["vms"]:
        vm["disks"] = [{"size": "1 MiB"}]
        vm["memory"] = "32 MiB"
    code, out, err = run_through_the_cli(tmp_path, "run", doc)
    assert code == 0, err
    jobs = pd.read_csv(out / "jobs.csv")
    replicas = jobs[(jobs["kind"] == "initial_replica") & (jobs["outcome"] == "succeeded")]
    assert len(replicas) >= 2 and set(replicas["bytes"]) == {2**20}
    assert replicas["duration_s"].max() >= len(replicas) * 2**20 / 8000


def test_the_least_link_rate_with_a_100_gb_disk_stops_with_the_runaway_line(tmp_path):
    # 100 GB over 64 kbps at 80 % (6.4 kB/s) takes 181 days: the run stops 30 days
    # past its horizon with one line naming the link, and writes nothing.
    doc = base_scenario()
    doc["links"][2]["bandwidth"] = "64 kbps"
    code, _, err = run_through_the_cli(tmp_path, "run", doc)
    (line,) = err.splitlines()
    assert code == 2 and line.endswith(
        ": links[2].bandwidth: still running 30.04 days past the horizon of 1 day: a transfer "
        "through link2:sw->dpm1 (64 kbps at efficiency 0.8: 51.2 kbps) moving at 51.2 kbps "
        "has 100 GB left and would end on day 182; give a faster rate or a longer "
        "horizon_days (64 kbps at efficiency 0.8: 51.2 kbps)"
    )


def test_a_thousand_live_migrations_and_a_thousand_checks_in_a_day(tmp_path):
    # vm1 (4 GiB, dirtying 20 MB/s) moves between the nodes once a minute from 00:00 to
    # 16:39: each move takes 45.5 s (4 GiB over the 1 Gbps cluster network in 34.4 s,
    # then what it dirtied meanwhile, 5.5 s and 0.9 s, the 4.5 s setup and the 0.1 s
    # switchover), under the minute between them, so all 1,000 are carried out and
    # none waits. From 16:40, 1,000 consistency checks are asked for (2 or 3 a
    # minute); those not started by the horizon are not carried out.
    doc = base_scenario()
    live = [
        {"vm": "vm1", "day": 0, "time": _clock(m), "kind": "live", "target": f"c1-n{2 - m % 2}"}
        for m in range(1000)
    ]
    checks = [
        {"vm": "vm1", "day": 0, "time": _clock(m), "kind": "consistency_check"}
        for m in range(1000, 1440)
    ]
    doc["migrations"] = {"events": live + checks * 2 + checks[:120]}
    doc["vmm_servers"] = [{"name": "vmm1", "manages": ["c1"]}]
    doc["dpm_servers"][0]["vmm"] = {
        "vmm_server": "vmm1",
        "console_installed": True,
        "helper_service_running": True,
    }
    code, out, err = run_through_the_cli(tmp_path, "run", doc, max_jobs=20_000)
    assert code == 0, err
    kpis = kpis_of(out)
    assert kpis["migrations"]["live"] == 1000
    assert kpis["migrations"]["duration_mean_s"] == pytest.approx(45.5, abs=0.1)
    assert kpis["migrations"]["protection_breaks"] == 0
    assert 0 < kpis["consistency_checks"]["count"] < 1000


def test_a_sweep_of_288_drains_a_day_finishes(tmp_path):
    doc = base_scenario()
    many_drains_every(doc, 288, minutes=5, duration="1 ms")
    code, out, err = run_through_the_cli(
        tmp_path, "sweep", doc, vary=["dpm_servers[0].max_parallel_jobs=1,256"], max_jobs=50_000
    )
    assert code == 0, err
    assert len(pd.read_csv(out / "runs.csv")) == 2


def many_drains_every(doc: dict[str, Any], n: int, minutes: int, duration: str) -> None:
    doc["migrations"] = {
        "drains": [
            {
                "node": f"c1-n{1 + i % 2}",
                "day": i * minutes // 1440,
                "time": _clock(i * minutes),
                "duration": duration,
            }
            for i in range(n)
        ]
    }


def test_a_horizon_of_a_tenth_of_a_second_runs_and_says_so(tmp_path):
    code, out, err = run_through_the_cli(tmp_path, "run", base_scenario(horizon_days=1e-6))
    assert code == 0, err
    kpis = kpis_of(out)
    # Nothing is scheduled in 0.0864 s; the wizard's scan at 0 s runs to its end.
    assert (kpis["horizon_days"], kpis["backups"]["jobs"]) == (1e-6, 0)


def test_ten_years_of_one_vm_run_in_seconds(tmp_path):
    doc = base_scenario(horizon_days=3660)
    code, out, err = run_through_the_cli(tmp_path, "run", doc, max_jobs=10_000)
    assert code == 0, err
    # One express full a day at 22:00 for 3,660 days (the first is the initial replica).
    assert kpis_of(out)["backups"]["jobs"] == 3660


def test_every_vm_moved_a_hundred_times_a_day_over_only_the_links_routes_need(tmp_path):
    doc = rich_scenario()
    only_needed_links(doc, lambda strategy: "1 Gbps")
    assert doc["switches"] == [] and len(doc["links"]) == 4  # c1-n1, c1-n2, hv1, fs1
    doc["migrations"]["poisson"] = [{"members": ["vm1", "web-*"], "per_vm_per_day": 100}]
    code, out, err = run_through_the_cli(tmp_path, "run", doc, max_jobs=20_000)
    assert code == 0, err
    # 4 VMs x 100 a day: a Poisson count of mean 400 (sd 20), and the drain's moves.
    assert 300 < kpis_of(out)["migrations"]["live"] < 500


def test_distributions_at_their_edges_compared_with_every_vm_offline(tmp_path):
    edges, offline = rich_scenario(), rich_scenario()
    _roomy(edges)
    web = edges["vms"][1]
    web["memory"] = {"dist": "lognormal", "median": "32 MiB", "sigma": 10}
    web["disks"] = [
        {
            "size": {"dist": "uniform", "low": "1 GiB", "high": "1 GiB"},
            "daily_change": {"dist": "triangular", "low": 0, "mode": 0, "high": 1},
        }
    ]
    web["dirty_rate"] = {"dist": "lognormal", "median": "1 MB/s", "sigma": 10}
    web["guest_os"] = {"dist": "choice", "values": ["linux", "windows2012"], "weights": [0, 5]}
    sql = {"dist": "lognormal", "median": "9 s", "sigma": 10}
    edges["vss"]["writers"]["sql"]["flush_time"] = sql
    for vm in offline["vms"]:
        vm["running"] = False
    code, out, err = run_through_the_cli(tmp_path, "compare", edges, offline)
    assert code == 0, err
    runs = pd.read_csv(out / "runs.csv").set_index("scenario")  # sides a.yaml, b.yaml
    # Weight 0 for linux: every web VM runs Windows 2012, backed up online. Offline,
    # every VM is backed up in saved state, a stopped VM at no downtime.
    assert runs.loc["a", "coverage.crash_consistent_vms"] == 0
    assert runs.loc["b", "downtime.vms_offline"] == 6
    assert runs.loc["b", "downtime.total_s"] == 0


def test_on_demand_streams_at_their_maximum_and_no_vm_protected_with_replications(tmp_path):
    # Two streams of 1,000 jobs an hour for 0.05 days: 2,400 jobs a run, on 8 slots
    # for a mean of a second each (0.56 erlang); the VM is in no protection group.
    doc = base_scenario(horizon_days=0.05, protection_groups=[])
    stream = {"dpm_server": "dpm1", "per_hour": 1000, "mean_duration": "1 s"}
    doc["on_demand"] = [stream, {**stream, "duration": "fixed"}]
    code, out, err = run_through_the_cli(tmp_path, "replications", doc, max_jobs=20_000)
    assert code == 0, err
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["coverage.unprotected_vms"]) == [1, 1]
    assert list(runs["backups.jobs"]) == [0, 0]


# --- the shipped examples, broken one place at a time ------------------------------

# Values of every wrong type, and the worst of the right ones.
WRONG_VALUES: dict[str, Any] = {
    "text": "x7",
    "number": 7,
    "negative": -2.5,
    "list": ["x"],
    "mapping": {"x": 1},
    "null": None,
    "true": True,
    "huge": 10**400,
    "1e308": 1e308,
    "nan": math.nan,
    "empty text": "",
    "empty list": [],
    "empty mapping": {},
}


def render(path: Path_) -> str:
    """A place as hvsim's problem lines name it: ``vms[0].disks[1].size``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def tree(node: Any) -> Any:
    """A copy of ``node`` that shares nothing: the examples' YAML merge keys
    (``<<: *general``) make VMs share their mappings, so that a change to one VM's
    memory would change every VM's."""
    if isinstance(node, dict):
        return {k: tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [tree(v) for v in node]
    return node


def example_documents() -> dict[str, Any]:
    return {p.name: tree(yaml.safe_load(p.read_text(encoding="utf-8"))) for p in EXAMPLES}


def mutation_cases(every_place: bool) -> list[tuple[str, Path_, str]]:
    """(example, place, wrong value) to try: every place of every example, or one
    place for each field the examples have (``clusters[].csvs[].read`` once)."""
    cases, seen = [], set()
    for name, doc in example_documents().items():
        for place in paths(doc):
            field = tuple("[]" if isinstance(s, int) else s for s in place)
            if not every_place and field in seen:
                continue
            seen.add(field)
            cases += [(name, place, wrong) for wrong in WRONG_VALUES]
    return cases


def mutated(doc: Any, place: Path_, value: Any) -> Any:
    doc = tree(doc)
    parent_of(doc, place)[place[-1]] = tree(value)
    return doc


def line_path(line: str, source: str) -> str:
    return line[len(source) + 2 :].partition(": ")[0]


def names_the_place(line_place: str, place: Path_) -> bool:
    """The problem line's place is the mutated place, a place inside the new value,
    or the mapping or list that holds it (a rule across its fields, such as a VM's
    placement, or a list's length)."""
    here = render(place)
    holder = render(place[:-1]) or "(top level)"
    inside = line_place.startswith((here + ".", here + "["))
    return line_place in (here, holder) or inside


def schema_takes(doc: Any) -> bool:
    """The fields' own types and ranges accept ``doc`` (pydantic), whatever its names
    refer to."""
    try:
        Scenario.model_validate(doc)
    except ValidationError:
        return False
    return True


def check_mutation(doc: Any, place: Path_, problems: list[str], source: str) -> None:
    """Accepted, or refused with problem lines of the contract. A value the fields'
    types refuse is named at its place (or inside the value, or at the mapping or list
    holding it, for a rule across its fields); one they take may break a reference
    elsewhere (a list of node names where a count was: the links name nodes that are
    gone), named there."""
    if not problems:
        return
    check_problem_lines(problems, source, doc)
    if schema_takes(doc):
        return
    places = [line_path(line, source) for line in problems]
    assert any(names_the_place(p, place) for p in places), (
        f"{source}: {render(place)} set to {parent_of(doc, place)[place[-1]]!r}: "
        "no line names it:\n" + "\n".join(problems)
    )


_DOCS: dict[str, Any] = {}


def example_documents_cache() -> dict[str, Any]:
    if not _DOCS:
        _DOCS.update(example_documents())
    return _DOCS


def test_the_examples_are_valid_and_their_places_are_enumerated():
    docs = example_documents_cache()
    assert len(docs) == len(EXAMPLES) >= 6
    for name, doc in docs.items():
        assert problems_of(doc, name) == [], name
    # Every field the examples have, each with every wrong value.
    assert len(mutation_cases(every_place=False)) == len(WRONG_VALUES) * len(
        {
            tuple("[]" if isinstance(s, int) else s for s in p)
            for d in docs.values()
            for p in paths(d)
        }
    )


# HVSIM_FUZZ_MUTATE=all tries every place of every example (about 20,000 documents,
# a minute or two) instead of one place per field.
EVERY_PLACE = os.environ.get("HVSIM_FUZZ_MUTATE") == "all"


def test_each_field_of_the_examples_with_a_wrong_value_is_accepted_or_named():
    docs = example_documents_cache()
    failures = []
    for name, place, wrong in mutation_cases(EVERY_PLACE):
        doc = mutated(docs[name], place, WRONG_VALUES[wrong])
        try:
            check_mutation(doc, place, problems_of(doc, name), name)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, f"{len(failures)} mutations:\n" + "\n\n".join(failures[:20])


MUTATIONS = settings(
    max_examples=int(os.environ.get("HVSIM_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@MUTATIONS
@given(case=st.sampled_from(mutation_cases(every_place=True)))
def test_a_mutated_example_file_gets_the_same_lines_from_hvsim_validate(tmp_path_factory, case):
    name, place, wrong = case
    doc = mutated(example_documents_cache()[name], place, WRONG_VALUES[wrong])
    path = tmp_path_factory.mktemp("mut") / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    problems = problems_of(doc, str(path))
    if code == 0:
        assert problems == [] and out.getvalue().startswith(f"{path}: ok (")
    else:
        assert code == 2 and out.getvalue() == ""
        # Read back from the file, the document gets the lines scenario_from_dict gives,
        # each with the line and column of its path.
        assert without_places(err.getvalue().splitlines(), path) == problems
        check_mutation(doc, place, problems, str(path))
