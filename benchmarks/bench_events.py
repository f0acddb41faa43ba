"""Events per job: how many SimPy events a run processes for each job it records.

Run by hand (not in CI): ``python benchmarks/bench_events.py [scenario ...]``
(default: every example in scenarios/). Prints, per scenario, the events the run
processed (calls of ``env.step``), the jobs it recorded (rows of ``res.jobs``) and
their ratio. The count wraps ``env.step`` on the run's own environment, in this
script only, so the model's loop carries no counting.

The ratio is the model's cost per unit of work in a unit a machine's speed does not
change; it should stay small and constant as estates and horizons grow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import simpy

import hvsim
from hvsim.results import collect
from hvsim.simulation import run_world
from hvsim.world import build_world

ROOT = Path(__file__).resolve().parents[1]


def count(path: Path, seed: int = 1) -> dict:
    """The run of ``path`` with ``seed``: events processed, jobs recorded."""
    scenario = hvsim.load_scenario(path)
    world = build_world(scenario, seed)
    env = world.env
    steps = 0
    step = simpy.Environment.step

    def counting_step() -> None:
        nonlocal steps
        steps += 1
        step(env)

    env.step = counting_step  # type: ignore[method-assign]  # this run only
    run_world(world)
    res = collect(world, scenario.name, seed, scenario.start_date)
    jobs = len(res.jobs)
    return {
        "scenario": path.stem,
        "events": steps,
        "jobs": jobs,
        "events_per_job": steps / jobs if jobs else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", nargs="*", help="names in scenarios/ (default: all)")
    args = ap.parse_args()
    names = args.scenarios or sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    print(f"{'scenario':<28}{'events':>10}{'jobs':>8}{'events/job':>12}")
    for name in names:
        r = count(ROOT / "scenarios" / f"{name}.yaml")
        print(f"{r['scenario']:<28}{r['events']:>10,}{r['jobs']:>8,}{r['events_per_job']:>12.2f}")


if __name__ == "__main__":
    main()
