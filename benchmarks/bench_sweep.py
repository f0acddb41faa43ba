"""How much of `hvsim sweep` is serial, and what a second worker gains. Run by hand
(not in CI):

    python benchmarks/bench_sweep.py [--workers 1,2] [--repeat 3]

The sweep is small-lab with 4 values of max_parallel_jobs x 5 replications: 20 runs
of about 0.4 s each. For each worker count, the median over the repeats of the
command's wall time (`hvsim sweep`, a fresh process: imports, planning, runs,
report), the runs' own wall time (summed from the run store's records), and the
serial part: the time when no run was under way (a record's run spans its file's
modification time minus its wall_s; the union of those spans is when runs went
on). With one worker, serial = wall - the runs; the report's detail runs are
planned runs, so there are no others. Amdahl: with serial share s of the one-worker
wall, two workers can be at most 1 / (s + (1 - s) / 2) times faster, so 1.7x needs
s <= 0.18. CPU s is the command's and its workers' (each spawned worker imports
hvsim, pandas and SimPy again): on two idle cores two workers cannot beat half of
it. On a machine shared with other work, wall times move with its load (printed):
the serial share and the CPU are the steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "small-lab.yaml"
VARY = "dpm_servers[0].max_parallel_jobs=1,2,3,4"


def run_spans(store: Path) -> list[tuple[float, float]]:
    """(start, end) of each finished run, from the store's records."""
    spans = []
    for record in store.glob("*.json"):
        end = record.stat().st_mtime
        spans.append((end - float(json.loads(record.read_text())["wall_s"]), end))
    return spans


def covered(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Seconds of [lo, hi] within at least one span."""
    total, reach = 0.0, lo
    for start, end in sorted(spans):
        start, end = max(start, reach), min(end, hi)
        if end > start:
            total += end - start
            reach = end
    return total


def measure(workers: int, replications: int, vary: str, scenario: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep"
        cmd = [sys.executable, "-m", "hvsim", "sweep", str(scenario), "--vary", vary]
        cmd += ["--replications", str(replications), "--workers", str(workers)]
        cmd += ["--out", str(out), "--yes"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.time()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        end = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"hvsim sweep failed ({done.returncode}):\n{done.stderr}")
        spans = run_spans(out / "runs")
    wall = end - start
    busy = covered(spans, start, end)
    return {
        "runs": len(spans),
        "wall": wall,
        "runs_s": sum(e - s for s, e in spans),
        # CPU of the command and its worker processes (user + system)
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "serial": wall - busy,
        "share": (wall - busy) / wall,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    ap.add_argument("--replications", type=int, default=5)
    ap.add_argument("--vary", default=VARY, help=f"the varied field (default {VARY!r})")
    ap.add_argument("--scenario", type=Path, default=SCENARIO)
    ap.add_argument("--repeat", type=int, default=3, help="median of N per worker count")
    args = ap.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load {load}, "
        f"python {platform.python_version()}"
    )
    head = ("workers", "runs", "wall s", "CPU s", "runs s", "serial s", "serial %")
    print(" ".join(f"{h:>9}" for h in head))
    medians: dict[int, dict[str, float]] = {}
    for w in counts:
        results = [
            measure(w, args.replications, args.vary, args.scenario) for _ in range(args.repeat)
        ]
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        medians[w] = med
        cells = [med["wall"], med["cpu"], med["runs_s"], med["serial"]]
        print(
            f"{w:>9} {int(med['runs']):>9} "
            + " ".join(f"{c:>9.2f}" for c in cells)
            + f" {100 * med['share']:>8.1f}%"
        )
    if 1 in medians:
        share = medians[1]["share"]
        bound = 1 / (share + (1 - share) / 2)
        for w in counts:
            if w != 1:
                speedup = medians[1]["wall"] / medians[w]["wall"]
                print(f"speed-up of {w} workers over 1: {speedup:.2f}x", end="")
                print(f" (Amdahl's bound for 2 from the serial share: {bound:.2f}x)")


if __name__ == "__main__":
    main()
