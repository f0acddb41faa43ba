"""Calibration of hvsim/estimate.py: whole `hvsim run` commands (import, build,
simulate, tables, KPIs, report.html, CSVs) of the bench_scale estate at several sizes,
their wall seconds and peak resident memory against the estimate, and a least-squares
fit of the constants. Run by hand (not in CI):

    python benchmarks/bench_estimate.py [--quick]

Each case runs `python -m hvsim.cli run` in a fresh process; its peak memory is that
process's ru_maxrss (os.wait4). Cases with "scan" keep DPM's daily discovery scan (the
default), the others switch it off as bench_scale does, so the fit can tell a scanned
VM's cost from a job's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import estate  # noqa: E402

import hvsim  # noqa: E402
from hvsim import estimate as est  # noqa: E402

# (VMs, days, daily discovery scan)
CASES = [
    (20, 1, False),
    (400, 7, False),
    (400, 60, True),
    (2000, 7, False),
    (2000, 30, True),
    (8000, 7, False),
    (1000, 180, False),
]
QUICK = CASES[:4]


def measure(n_vms: int, days: float, scan: bool, folder: Path) -> dict:
    doc = estate(n_vms, days)
    if scan:
        doc.pop("scan")
    path = folder / f"scale-{n_vms}-{days}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    cmd = [sys.executable, "-m", "hvsim.cli", "run", str(path), "--out", str(folder / "out")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
    e = est.estimate_run(hvsim.load_scenario(path))
    return {
        "vms": e.vms,
        "days": days,
        "scan": scan,
        "jobs": e.jobs,
        "scanned_vms": e.scanned_vms,
        "wall_s": wall,
        # CPU seconds: what the run costs on a core of its own (the wall time of a
        # shared machine drifts with its load); the estimate is fitted on these.
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_bytes": usage.ru_maxrss * 1024.0,
        "est_s": e.seconds,
        "est_bytes": e.peak_bytes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the four smallest cases")
    args = ap.parse_args()
    rows = []
    print(
        f"{'VMs':>6} {'days':>5} {'scan':>5} {'jobs':>9} {'wall s':>7} {'cpu s':>7} {'est s':>7} "
        f"{'peak MB':>8} {'est MB':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n, days, scan in QUICK if args.quick else CASES:
            r = measure(n, days, scan, Path(tmp))
            rows.append(r)
            print(
                f"{r['vms']:>6} {r['days']:>5g} {str(r['scan']):>5} {r['jobs']:>9,} "
                f"{r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} {r['est_s']:>7.1f} "
                f"{r['peak_bytes'] / 1e6:>8.0f} {r['est_bytes'] / 1e6:>7.0f}"
            )
    a = np.array([[1.0, r["vms"], r["jobs"], r["scanned_vms"]] for r in rows])
    t = np.array([r["cpu_s"] for r in rows])
    m = np.array([r["peak_bytes"] for r in rows])
    ct, *_ = np.linalg.lstsq(a, t, rcond=None)
    cm, *_ = np.linalg.lstsq(a[:, :3], m, rcond=None)
    print(
        f"fit: cpu time = {ct[0]:.2f} s + {ct[1]:.2e} s/VM + {ct[2]:.2e} s/job + "
        f"{ct[3]:.2e} s/scanned VM"
    )
    print(f"fit: bytes = {cm[0] / 1e6:.0f} MB + {cm[1]:.0f} B/VM + {cm[2]:.0f} B/job")


if __name__ == "__main__":
    main()
