"""The ``hvsim`` command: run, validate, schema."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

EXIT_BAD_INPUT = 2


def _load(path: str):
    from hvsim.scenario.loader import ScenarioError, load_scenario

    try:
        return load_scenario(path), None
    except ScenarioError as exc:
        return None, exc.problems


def _print_problems(problems: list[str]) -> int:
    for line in problems:
        print(line, file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_validate(args: argparse.Namespace) -> int:
    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    n = sum(v.count for v in scenario.vms)
    print(f"{args.scenario}: ok ({n} VMs, {len(scenario.protection_groups)} protection groups)")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from hvsim.scenario.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from hvsim import simulate
    from hvsim.report.html import run_report
    from hvsim.report.summary import console_table, summary_markdown, table_csv
    from hvsim.results import kpis_json

    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    out = Path(args.out) if args.out else Path("reports") / scenario.name
    progress = _progress_printer(scenario.horizon_days) if sys.stderr.isatty() else None
    results = simulate(scenario, seed=args.seed, progress=progress)
    kpis = results.kpis()
    # Write into a temporary folder beside the target, then swap it in: a run that
    # fails half-way leaves no partial output.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (tmp / "kpis.json").write_text(kpis_json(kpis), encoding="utf-8")
        (tmp / "jobs.csv").write_text(table_csv(results.jobs), encoding="utf-8")
        (tmp / "downtime.csv").write_text(table_csv(results.downtime), encoding="utf-8")
        (tmp / "redirected_io.csv").write_text(table_csv(results.redirected_io), encoding="utf-8")
        (tmp / "summary.md").write_text(
            summary_markdown(results, kpis, scenario.description), encoding="utf-8"
        )
        (tmp / "report.html").write_text(
            run_report(results, kpis, scenario.description), encoding="utf-8"
        )
        if args.replications > 1:
            reps = _replications(args, scenario, tmp)
            if reps is None:
                raise _SweepFailed()
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except _SweepFailed:
        shutil.rmtree(tmp, ignore_errors=True)
        return 1
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(console_table(kpis))
    if args.replications > 1:
        print(f"\n{args.replications} replications (mean, 95 % CI, p50, p95):")
        print(_ci_text(reps))
    print(
        f"\nwrote {out}/ (kpis.json, jobs.csv, downtime.csv, redirected_io.csv, summary.md, "
        f"report.html{', replications.csv' if args.replications > 1 else ''})"
    )
    return 0


class _SweepFailed(Exception):
    pass


KEY_KPIS = (
    "backups.window_compliance",
    "backups.makespan_p50_s",
    "backups.makespan_max_s",
    "backups.mean_wait_s",
    "downtime.total_s",
    "downtime.per_backup_p95_s",
    "redirected_io.total_s",
    "consistency_checks.total_s",
    "rpo.violations",
    "storage.pool_peak_bytes",
)


def _ci_text(summary) -> str:
    rows = summary[summary["kpi"].isin(KEY_KPIS) | summary["kpi"].str.startswith("scan.")]
    rows = rows[~rows["kpi"].str.endswith((".vms_found", ".vms_missed", "discovery_scans"))]
    width = max((len(k) for k in rows["kpi"]), default=10)
    lines = []
    for r in rows.itertuples():
        lines.append(
            f"{r.kpi:<{width}}  {r.mean:14.4g}  [{r.ci_low:.4g}, {r.ci_high:.4g}]  "
            f"p50 {r.p50:.4g}  p95 {r.p95:.4g}"
        )
    return "\n".join(lines)


def _doc(path: str):
    from hvsim.scenario.loader import parse_yaml

    return parse_yaml(Path(path).read_text(encoding="utf-8"), path)


def _execute(args: argparse.Namespace, specs, cache: Path):
    from hvsim.sweep import execute

    outcome = execute(
        specs, cache, workers=args.workers, scheduler=args.scheduler, progress=sys.stderr.isatty()
    )
    for line in outcome.errors:
        print(line, file=sys.stderr)
    return outcome


def _replications(args: argparse.Namespace, scenario, out: Path):
    from hvsim.report.summary import table_csv
    from hvsim.sweep import plan, summarize

    doc = _doc(args.scenario)
    specs = plan(doc, [], args.replications, args.seed)
    outcome = _execute(args, specs, Path(args.cache or (out.parent / f".{scenario.name}-runs")))
    if outcome.table.empty:
        print("hvsim: every replication failed", file=sys.stderr)
        return None
    (out / "replications.csv").write_text(table_csv(outcome.table), encoding="utf-8")
    summary = summarize(outcome.table)
    (out / "replications-summary.csv").write_text(table_csv(summary), encoding="utf-8")
    return summary


def cmd_sweep(args: argparse.Namespace) -> int:
    from hvsim.report.html import sweep_report
    from hvsim.report.summary import table_csv
    from hvsim.scenario.loader import ScenarioError
    from hvsim.sweep import parse_vary, plan, scenario_hash, summarize, validate_plan

    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    try:
        varies = [parse_vary(v) for v in args.vary]
    except ValueError as exc:
        return _print_problems([f"{args.scenario}: --vary: {exc}"])
    doc = _doc(args.scenario)
    try:
        specs = plan(doc, varies, args.replications, args.seed)
        validate_plan(specs, args.scenario)
    except ValueError as exc:
        return _print_problems([f"{args.scenario}: --vary: {exc}"])
    except ScenarioError as exc:
        return _print_problems(exc.problems)
    out = Path(args.out) if args.out else Path("reports") / f"{scenario.name}-sweep"
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else out / "runs" / scenario_hash(doc)
    outcome = _execute(args, specs, cache)
    params = [p for p, _ in varies]
    table = outcome.table
    if table.empty:
        print("hvsim: no run finished", file=sys.stderr)
        return 1
    table.to_parquet(out / "sweep.parquet", index=False)
    (out / "sweep.csv").write_text(table_csv(table), encoding="utf-8")
    summary = summarize(table, params)
    (out / "sweep-summary.csv").write_text(table_csv(summary), encoding="utf-8")
    kpis = [k for k in KEY_KPIS if k in table.columns]
    (out / "report.html").write_text(
        sweep_report(scenario.name, table, summary, params, kpis), encoding="utf-8"
    )
    shown = summary[summary["kpi"].isin(kpis)]
    (out / "summary.md").write_text(
        f"# hvsim sweep: {scenario.name}\n\n{len(table)} runs ({outcome.computed} computed, "
        f"{outcome.cached} from the cache), {len(outcome.errors)} failed.\n\n```\n"
        + shown.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        + "\n```\n",
        encoding="utf-8",
    )
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(
        f"\n{len(table)} runs ({outcome.computed} computed, {outcome.cached} from the cache, "
        f"{len(outcome.errors)} failed); wrote {out}/ (sweep.parquet, sweep.csv, "
        "sweep-summary.csv, summary.md, report.html)"
    )
    return 0 if not outcome.errors else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from hvsim.report.summary import table_csv
    from hvsim.sweep import compare_tables, plan

    tables = []
    for path in (args.a, args.b):
        scenario, problems = _load(path)
        if problems:
            return _print_problems(problems)
        specs = plan(_doc(path), [], args.replications, args.seed)
        out = Path(args.out) if args.out else Path("reports") / "compare"
        outcome = _execute(args, specs, out / "runs")
        if outcome.table.empty:
            print(f"hvsim: no run of {path} finished", file=sys.stderr)
            return 1
        tables.append(outcome.table)
    result = compare_tables(*tables)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.csv").write_text(table_csv(result), encoding="utf-8")
    shown = result[result["kpi"].isin(KEY_KPIS) | result["kpi"].str.endswith(".duration_s")]
    print(f"A = {args.a}\nB = {args.b}\n{args.replications} seeds each (the same on both sides)")
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\nwrote {out / 'compare.csv'}")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 2,4,8 ({text!r})") from None
    if not values or any(v < 1 or v > 100_000 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers from 1 to 100000 ({text!r})")
    return values


def cmd_scan_table(args: argparse.Namespace) -> int:
    from hvsim.report.summary import table_csv
    from hvsim.scan_table import pivot_for_print, scan_table

    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    if not scenario.clusters:
        return _print_problems([f"{args.scenario}: clusters: the scenario has no cluster"])
    try:
        table = scan_table(scenario, args.nodes, args.vms, args.cluster)
    except ValueError as exc:
        return _print_problems([f"{args.scenario}: clusters: {exc}"])
    out = Path(args.out) if args.out else Path("reports") / scenario.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "scan-table.csv").write_text(table_csv(table), encoding="utf-8")
    c = table["cluster"].iloc[0]
    print(f"Protection scan duration, cluster shaped like {c} ({table['csvs'].iloc[0]} CSVs)")
    print(pivot_for_print(table).to_string(float_format=lambda x: f"{x:.2f}"))
    print(f"\nwrote {out / 'scan-table.csv'}")
    return 0


def _progress_printer(horizon_days: float):
    def show(day: float) -> None:
        print(f"\rsimulated day {day:.0f}/{horizon_days:g}", end="", file=sys.stderr, flush=True)
        if day >= horizon_days:
            print(file=sys.stderr)

    return show


def _execution_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replications", type=int, default=1, help="seeds per design (default 1)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes (default: the number of cores)",
    )
    p.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--cache", help="folder for per-run results (resume without recomputing)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hvsim",
        description="Simulate protection of Hyper-V VMs with System Center DPM.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a scenario and write its results")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="output folder (default reports/<scenario name>)")
    run.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    _execution_args(run)
    run.set_defaults(func=cmd_run)
    swp = sub.add_parser("sweep", help="runs over the cross product of varied fields")
    swp.add_argument("scenario")
    swp.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2",
        help="e.g. dpm_servers[0].pool.write='800 MB/s,1600 MB/s' (repeatable)",
    )
    swp.add_argument("--out", help="output folder (default reports/<name>-sweep)")
    swp.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    _execution_args(swp)
    swp.set_defaults(func=cmd_sweep)
    cmp_ = sub.add_parser("compare", help="two scenarios side by side, same seeds")
    cmp_.add_argument("a")
    cmp_.add_argument("b")
    cmp_.add_argument("--out", help="output folder (default reports/compare)")
    cmp_.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    _execution_args(cmp_)
    cmp_.set_defaults(func=cmd_compare)
    val = sub.add_parser("validate", help="check a scenario file; exit 2 on problems")
    val.add_argument("scenario")
    val.set_defaults(func=cmd_validate)
    tab = sub.add_parser(
        "scan-table", help="scan durations across cluster sizes, serialized and parallel"
    )
    tab.add_argument("scenario")
    tab.add_argument("--nodes", type=_int_list, default=[2, 4, 8, 16], help="e.g. 2,4,8,16")
    tab.add_argument("--vms", type=_int_list, default=[100, 400, 1000], help="e.g. 100,400")
    tab.add_argument("--cluster", help="cluster to shape the table on (default the first)")
    tab.add_argument("--out", help="output folder (default reports/<scenario name>)")
    tab.set_defaults(func=cmd_scan_table)
    sch = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    sch.set_defaults(func=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
