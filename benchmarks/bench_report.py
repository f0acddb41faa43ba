"""What a planner waits for after the simulation: tables, KPIs and report.html, by
estate size. Run by hand (not in CI):

    python benchmarks/bench_report.py [--sizes 400,1600,6400] [--days 7] [--repeat 3]

The estate is bench_scale's (the csv-2012sp1 shape repeated). Per size, the median
over the repeats of: the simulation (build and run), collecting the results tables,
the KPIs, the run's figures (built, then rendered to PNG) and the CSV files that
`hvsim run` writes. A report step that grows faster than the simulation shows here
first (one Rectangle per Gantt job bar once took 21 s at 6,400 VMs, five times the
simulation).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from bench_scale import estate

import hvsim
from hvsim.files import table_csv
from hvsim.report import html
from hvsim.results import collect
from hvsim.simulation import run_world
from hvsim.world import build_world

STEPS = ("simulate", "tables", "kpis", "figures", "png", "csv")


def measure(n_vms: int, days: float) -> dict[str, float]:
    scenario = hvsim.scenario_from_dict(estate(n_vms, days))
    t = {"start": time.perf_counter()}
    world = build_world(scenario, 1)
    run_world(world)
    t["simulate"] = time.perf_counter()
    res = collect(world, scenario.name, 1, scenario.start_date)
    t["tables"] = time.perf_counter()
    res.kpis()
    t["kpis"] = time.perf_counter()
    figs = html.run_figures(res, scenario)
    t["figures"] = time.perf_counter()
    for _, fig in figs:
        html.figure_png(fig)
    t["png"] = time.perf_counter()
    for table in (res.jobs, res.downtime, res.redirected_io):
        table_csv(table)
    t["csv"] = time.perf_counter()
    marks = ["start", *STEPS]
    return {step: t[step] - t[prev] for prev, step in zip(marks, marks[1:], strict=False)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="400,1600,6400", help="VM counts, comma-separated")
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="median of N per size")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"{'VMs':>6} " + " ".join(f"{s + ' s':>10}" for s in STEPS) + f" {'report/sim':>10}")
    for n in (int(x) for x in args.sizes.split(",")):
        runs = [measure(n, args.days) for _ in range(args.repeat)]
        med = {s: statistics.median(r[s] for r in runs) for s in STEPS}
        after = sum(med[s] for s in STEPS[1:])
        print(
            f"{n:>6} "
            + " ".join(f"{med[s]:>10.2f}" for s in STEPS)
            + f" {after / med['simulate']:>10.2f}"
        )


if __name__ == "__main__":
    main()
