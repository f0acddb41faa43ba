"""The advisor's cost around its runs: CPU of ``hvsim.advise`` on the README's
example against the CPU of the runs it computes, measured in the same process.

Run by hand (not in CI): ``python benchmarks/bench_advise.py [--trials 30]``.
Prints one run's median CPU (after a warm-up), the advisor's CPU (one worker, a
fresh store), the distinct runs it computed, and their ratio: 1.0 would be an
advisor that costs nothing but its simulations (Optuna, validating each design,
tables, the store make up the rest).
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time

import hvsim
from hvsim.advise.search import advise, settings_from
from hvsim.runs.options import RunOptions
from hvsim.sweep import load_document

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "two-groups-one-pool.yaml"
KNOBS = [
    "protection_groups[0].start_offset=0 min,15 min,30 min,45 min,60 min",
    "dpm_servers[0].job_order=dpm,longest_first",
    "dpm_servers[0].max_parallel_jobs=4,8,16",
    "dpm_servers[0].pool.write=250 MB/s,500 MB/s",
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--replications", type=int, default=3)
    args = p.parse_args()
    scenario = hvsim.load_scenario(EXAMPLE)
    hvsim.simulate(scenario, seed=1)  # warm-up: imports, caches
    one = []
    for seed in (1, 2, 3):
        t = time.process_time()
        hvsim.simulate(scenario, seed=seed)
        one.append(time.process_time() - t)
    per_run = statistics.median(one)
    settings = settings_from(
        KNOBS,
        targets=["window"],
        costs=["dpm_servers[0].pool.write=0,15000"],
        replications=args.replications,
        trials=args.trials,
    )
    with tempfile.TemporaryDirectory() as store:
        t = time.process_time()
        advise(load_document(EXAMPLE), str(EXAMPLE), settings, RunOptions(workers=1, store=store))
        total = time.process_time() - t
        runs = len(list(pathlib.Path(store).glob("*.json")))
    print(
        f"one run: median {per_run:.3f} s CPU; advise: {total:.2f} s CPU for {runs} "
        f"distinct runs = {total / (runs * per_run):.2f}x the runs' own CPU"
    )


if __name__ == "__main__":
    main()
