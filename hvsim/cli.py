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
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(console_table(kpis))
    print(f"\nwrote {out}/ (kpis.json, jobs.csv, downtime.csv, redirected_io.csv, summary.md)")
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
    run.set_defaults(func=cmd_run)
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
