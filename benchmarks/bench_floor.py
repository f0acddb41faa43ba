"""Cost per job against the 8-event floor, measured in the same process. Run by hand
(not in CI):

    python benchmarks/bench_floor.py [--case VMS:DAYS ...] [--repeat N] [--storage]

Each case runs in a fresh subprocess (its peak memory is its own) on the bench_scale
estate (clusters of 8 nodes and 400 VMs, a DPM server per 800 VMs). It times, in
CPU seconds: building the world, running it, and collecting the tables and KPIs
(``hvsim.simulate`` is the three). Then the floor: a minimal SimPy model doing 8
events per job (a process per job: its start, 6 timeouts, its end) for the same
number of jobs, measured right before and right after the run (their mean). The
ratios are the model's cost per job over the floor's: the machine's speed, which
drifts 2-3x on a shared machine, cancels out of them.

Columns: jobs; events per job (the model's, SimPy's event counter over the jobs);
µs per job of the run and of the floor; run / floor; simulate (build + run + tables
+ KPIs) / floor; µs per job of the run against the 400-VM case's ratio (does a job
cost more in a bigger estate?); peak MB after the tables and KPIs.
With --repeat N each case is the median of N fresh processes by the run's ratio."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_scale import estate  # noqa: E402

CASES = [(400, 7), (1600, 7), (10000, 7), (100000, 7)]
FLOOR_EVENTS = 8  # a job's process start, 6 timeouts and its end


def floor_cpu(jobs: int) -> float:
    """CPU seconds of the 8-event floor for ``jobs`` jobs (checked: 8 events a job)."""
    import simpy

    env = simpy.Environment()

    def job(env: simpy.Environment, start: float):
        yield env.timeout(start)
        for _ in range(5):
            yield env.timeout(1.0)

    for i in range(jobs):
        env.process(job(env, (i % 1000) * 0.001))
    t = time.process_time()
    env.run()
    cpu = time.process_time() - t
    events = next(env._eid)
    assert events == FLOOR_EVENTS * jobs, events
    return cpu


def one_case(n_vms: int, days: float, storage: bool) -> dict:
    import hvsim
    from hvsim.results import collect
    from hvsim.simulation import run_world
    from hvsim.world import build_world

    scenario = hvsim.scenario_from_dict(estate(n_vms, days, storage))
    c0 = time.process_time()
    world = build_world(scenario, 1)
    c1 = time.process_time()
    run_world(world)
    c2 = time.process_time()
    res = collect(world, scenario.name, 1, scenario.start_date)
    res.kpis()
    c3 = time.process_time()
    jobs = len(world.trace.jobs)
    events = next(world.env._eid)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del res, world
    floors = [floor_cpu(jobs) for _ in range(2)]
    floor = statistics.mean(floors)
    return {
        "vms": n_vms,
        "days": days,
        "jobs": jobs,
        "events_per_job": events / jobs,
        "build_s": c1 - c0,
        "run_s": c2 - c1,
        "tables_s": c3 - c2,
        "floor_s": floor,
        "run_vs_floor": (c2 - c1) / floor,
        "simulate_vs_floor": (c3 - c0) / floor,
        "peak_mb": peak,
    }


def _child(n: int, days: float, storage: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n), str(days)] + (
        ["storage"] if storage else []
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        print(json.dumps(one_case(int(sys.argv[2]), float(sys.argv[3]), "storage" in sys.argv)))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", metavar="VMS:DAYS")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--storage", action="store_true")
    args = ap.parse_args()
    cases = CASES
    if args.case:
        cases = [(int(v), float(d)) for v, d in (c.split(":") for c in args.case)]
    print(
        f"{'VMs':>7} {'days':>5} {'jobs':>9} {'ev/job':>6} {'run us/job':>10} "
        f"{'floor us/job':>12} {'run/floor':>9} {'simulate/floor':>14} {'vs 400':>6} "
        f"{'peak MB':>8}"
    )
    base = None
    for n, days in cases:
        runs = [_child(n, days, args.storage) for _ in range(args.repeat)]
        r = sorted(runs, key=lambda x: x["run_vs_floor"])[len(runs) // 2]
        if n == 400:
            base = r["run_vs_floor"]
        vs = f"{r['run_vs_floor'] / base:6.2f}" if base else "     -"
        print(
            f"{n:>7,} {days:>5g} {r['jobs']:>9,} {r['events_per_job']:>6.1f} "
            f"{r['run_s'] / r['jobs'] * 1e6:>10.1f} {r['floor_s'] / r['jobs'] * 1e6:>12.1f} "
            f"{r['run_vs_floor']:>9.2f} {r['simulate_vs_floor']:>14.2f} {vs} "
            f"{r['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
