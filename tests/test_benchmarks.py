"""The benchmark scripts still run (not timed: benchmarks are run by hand, and a
script that rotted with the model would only be found then)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.builders import ROOT

BENCH = ROOT / "benchmarks"


@pytest.mark.parametrize("stub", ["", "free"])
def test_a_scale_case_runs_one_job_per_vm_on_its_first_day(stub):
    # 100 VMs for 1 day: each VM's first night is its initial replica, one job each.
    # "free" swaps bandwidth sharing for the script's diagnostic stub, which must still
    # fit the flow network it replaces.
    cmd = [sys.executable, str(BENCH / "bench_scale.py"), "--child", "100", "1"]
    out = subprocess.run(cmd + ([stub] if stub else []), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    case = json.loads(out.stdout.strip().splitlines()[-1])
    assert (case["vms"], case["days"], case["jobs"]) == (100, 1.0, 100)
    assert case["events"] > 100 and case["raw_events_per_s"] > 0


def _child(*args: str) -> dict:
    cmd = [sys.executable, str(BENCH / "bench_scale.py"), "--child", *args]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_800_vms_fit_one_co_located_dpm_server():
    # 800 VMs (2 clusters of 400, one group each) on one DPM server: without
    # co-location 1,600 volumes, past DPM's 600; co-located, one replica and one
    # recovery point volume per group: 2 x 2 = 4, and nothing refused or failed.
    case = _child("800", "1")
    assert (case["vms"], case["jobs"], case["volumes_peak"]) == (800, 800, 4)
    assert case["refused"] == 0 and case["failures"] == {}


def test_the_storage_estate_runs_tape_and_online_jobs():
    # 100 VMs (25 a CSV) for 8 days from Monday 2026-01-05, a DPM server for each half
    # of the cluster (50 VMs). One Saturday 10:00 (day 5): one tape job per VM, at most
    # 50 x 100 GB = 5 TB a server on 2 drives at LTO-5's 140 MB/s: at most
    # 5e12 / 280e6 = 17,900 s, done by the horizon. The first half (CSVs 0-1, 50 VMs)
    # is online at 23:00 each day: each VM's online job runs or is skipped (recorded
    # either way), 8 x 50 records.
    case = _child("100", "8", "storage")
    assert (case["tape_jobs"], case["online_jobs"]) == (100, 400)
    assert case["refused"] == 0 and case["failures"] == {}


def test_the_trend_spans_add_up_to_the_plain_run():
    # 100 VMs for 2 days in 2 spans of a day: the spans' events are the plain run's
    # (the probe's own events taken out, up to one each span) and the first day is the
    # initial replicas, one job a VM.
    sys.path.insert(0, str(BENCH))
    try:
        import bench_scale
    finally:
        sys.path.remove(str(BENCH))
    spans = bench_scale.trend(100, 2.0, 2)
    plain = _child("100", "2")
    assert [s["end_day"] for s in spans] == [1.0, 2.0]
    total = sum(s["events_per_vm_day"] * 100 for s in spans)
    assert abs(total - plain["events"]) <= 2
    assert all(s["raw_per_vm_day"] > 0 for s in spans)


def test_the_textbook_queue_serves_every_customer():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_scale
    finally:
        sys.path.remove(str(BENCH))
    q = bench_scale.textbook_mmc(customers=1000)
    # Each customer: its arrival timeout, its process's start, the request, the
    # service timeout, the release and its process's end: 6 events (STYLE.md's count
    # for one queued customer); the source adds its start and its end.
    assert q["served"] == 1000
    assert q["events"] == 6 * 1000 + 2


def test_the_example_scenario_benchmark_runs():
    cmd = [sys.executable, str(BENCH / "bench_run.py"), "--repeat", "1", "small-lab"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "small-lab" in out.stdout


def test_the_report_benchmark_times_every_step():
    cmd = [sys.executable, str(BENCH / "bench_report.py"), "--sizes", "100", "--days", "1"]
    out = subprocess.run(cmd + ["--repeat", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    *_, head, row = out.stdout.strip().splitlines()
    assert head.split()[:3] == ["VMs", "simulate", "s"]
    assert row.split()[0] == "100" and len(row.split()) == 1 + 6 + 1  # VMs, steps, ratio


def test_the_floor_benchmark_counts_one_job_per_vm_on_the_first_day():
    # 100 VMs for 1 day: one initial replica each, so the floor runs 100 jobs of 8
    # events (the script asserts the 8).
    cmd = [sys.executable, str(BENCH / "bench_floor.py"), "--child", "100", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    case = json.loads(out.stdout.strip().splitlines()[-1])
    assert case["jobs"] == 100 and case["floor_s"] > 0 and case["run_vs_floor"] > 0


def test_the_split_benchmark_runs_two_parts_on_two_workers_with_the_same_tables():
    # 1,600 VMs: 4 clusters, a DPM server per 800 VMs, so 2 parts; one day.
    run = []
    for workers in ("1", "2"):
        cmd = [sys.executable, str(BENCH / "bench_split.py"), "--child", "1600", "1", workers]
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        run.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert run[1]["parts"] == 2 and run[0]["jobs"] == run[1]["jobs"] == 1600
    assert (run[0]["kpis"], run[0]["jobs_digest"]) == (run[1]["kpis"], run[1]["jobs_digest"])


def test_the_events_per_job_benchmark_counts_a_scenarios_events_and_jobs():
    cmd = [sys.executable, str(BENCH / "bench_events.py"), "small-lab"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    head, row = out.stdout.strip().splitlines()
    assert head.split() == ["scenario", "events", "jobs", "events/job"]
    name, events, jobs, per_job = row.split()
    events, jobs = int(events.replace(",", "")), int(jobs.replace(",", ""))
    # The ratio is the two counts' (printed to 2 decimals); a job is a few events.
    assert name == "small-lab" and jobs > 0 and events > jobs
    assert float(per_job) == round(events / jobs, 2)


def test_the_sweep_benchmark_times_one_and_two_workers():
    # 2 values x 1 replication: 2 runs per worker count, each run found in the store.
    cmd = [sys.executable, str(BENCH / "bench_sweep.py"), "--replications", "1", "--repeat", "1"]
    cmd += ["--vary", "dpm_servers[0].max_parallel_jobs=2,4"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    rows = [line.split() for line in lines[2:4]]
    assert [(r[0], r[1]) for r in rows] == [("1", "2"), ("2", "2")]
    assert lines[-1].startswith("speed-up of 2 workers over 1:")
