"""Wall time and event rate of whole runs, against a bare SimPy timeout loop.

Run by hand (not in CI): ``python benchmarks/bench_run.py [--repeat 5]``.
Prints, per scenario, the median wall time over the repeats, the simulated
events per second, events per VM per day, and the ratio of the model's event
rate to raw SimPy's on the same machine (stable across machines).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import simpy
from bench_scale import raw_simpy_rate  # the same ceiling as the scale benchmark

import hvsim
from hvsim.simulation import run_world
from hvsim.world import build_world

ROOT = Path(__file__).resolve().parents[1]


def measure(path: Path, repeat: int) -> dict:
    scenario = hvsim.load_scenario(path)
    walls, events = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        world = build_world(scenario, 1)
        run_world(world)
        walls.append(time.perf_counter() - t0)
        events = next(world.env._eid)  # events scheduled in the run
    n_vms = sum(v.count for v in scenario.vms)
    wall = statistics.median(walls)
    return {
        "scenario": path.stem,
        "vms": n_vms,
        "days": scenario.horizon_days,
        "wall_s": wall,
        "events": events,
        "events_per_s": events / wall,
        "events_per_vm_day": events / n_vms / scenario.horizon_days,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("scenarios", nargs="*", default=["csv-8node-400vm", "small-lab"])
    args = ap.parse_args()
    raw = statistics.median(raw_simpy_rate() for _ in range(3))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python "
        f"{platform.python_version()}, simpy {simpy.__version__}"
    )
    print(f"raw SimPy timeout loop: {raw:,.0f} events/s")
    print(
        f"{'scenario':<22}{'VMs':>6}{'days':>6}{'wall s (median)':>17}{'events':>10}"
        f"{'events/s':>12}{'ev/VM/day':>11}{'vs raw':>8}"
    )
    for name in args.scenarios:
        r = measure(ROOT / "scenarios" / f"{name}.yaml", args.repeat)
        print(
            f"{r['scenario']:<22}{r['vms']:>6}{r['days']:>6g}{r['wall_s']:>17.3f}"
            f"{r['events']:>10,}{r['events_per_s']:>12,.0f}{r['events_per_vm_day']:>11.1f}"
            f"{r['events_per_s'] / raw:>8.0%}"
        )


if __name__ == "__main__":
    main()
