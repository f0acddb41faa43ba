"""One run split into its independent parts (hvsim.parts) on 1 and 2 workers. Run by
hand (not in CI):

    python benchmarks/bench_split.py [--case VMS:DAYS ...] [--repeat N] [--storage]

The bench_scale estate has a part per DPM server (one per 800 VMs, or per 200 with
--storage). Each measurement runs in a fresh subprocess: ``hvsim.simulate`` on one
environment ("1 env"), and ``hvsim.runs.split.simulate_on`` with 2 workers (this
process runs half of the parts while one worker process runs the other half, then
the merge). Wall seconds (the machine has 2 cores: on an idle machine the split can
use both), the speed-up, and the peak resident memory of the parent and of the
worker (MB, after tables and KPIs). The tables are checked equal. Median of
--repeat N by wall time."""

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

CASES = [(10000, 7), (100000, 7)]


def one_case(n_vms: int, days: float, workers: int, storage: bool) -> dict:
    import hashlib

    import hvsim
    from hvsim.results import kpis_json
    from hvsim.runs.split import simulate_on

    scenario = hvsim.scenario_from_dict(estate(n_vms, days, storage))
    parts: list[int] = []
    t = time.perf_counter()
    if workers <= 1:
        res = hvsim.simulate(scenario, seed=1)
    else:
        res = simulate_on(scenario, 1, workers, announce=lambda p, g: parts.extend((p, g)))
    kpis = kpis_json(res.kpis())
    wall = time.perf_counter() - t
    return {
        "wall_s": wall,
        "parts": parts[0] if parts else None,
        "jobs": len(res.jobs),
        "kpis": hashlib.sha256(kpis.encode()).hexdigest()[:16],
        "jobs_digest": hashlib.sha256(res.jobs.to_csv(index=False).encode()).hexdigest()[:16],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _child(n: int, days: float, workers: int, storage: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n), str(days), str(workers)]
    out = subprocess.run(cmd + (["storage"] if storage else []), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) >= 5 and sys.argv[1] == "--child":
        r = one_case(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), "storage" in sys.argv)
        print(json.dumps(r))
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
        f"{'VMs':>7} {'days':>5} {'parts':>5} {'1 env s':>8} {'2 workers s':>11} "
        f"{'speed-up':>8} {'1 env MB':>8} {'parent MB':>9} {'worker MB':>9} same"
    )
    for n, days in cases:
        one, two = [], []
        for _ in range(args.repeat):  # alternated, so drift hits both alike
            one.append(_child(n, days, 1, args.storage))
            two.append(_child(n, days, 2, args.storage))
        a = sorted(one, key=lambda r: r["wall_s"])[len(one) // 2]
        b = sorted(two, key=lambda r: r["wall_s"])[len(two) // 2]
        same = (a["kpis"], a["jobs_digest"]) == (b["kpis"], b["jobs_digest"])
        print(
            f"{n:>7,} {days:>5g} {b['parts']!s:>5} {a['wall_s']:>8.1f} {b['wall_s']:>11.1f} "
            f"{a['wall_s'] / b['wall_s']:>8.2f} {a['peak_mb']:>8.0f} {b['peak_mb']:>9.0f} "
            f"{b['worker_peak_mb']:>9.0f} {'yes' if same else 'NO'}"
        )
        ratios = [x["wall_s"] / y["wall_s"] for x, y in zip(one, two, strict=True)]
        if len(ratios) > 1:
            print(f"        speed-up of each pair: {', '.join(f'{r:.2f}' for r in ratios)}")
            print(f"        median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
