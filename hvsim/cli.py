"""The ``hvsim`` command: run, sweep, compare, validate, schema, scan-table."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvsim.files import OutputError, OutputFolder, default_folder, fit_name
from hvsim.seeds import MAX_SEED

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hvsim.runs.options import RunOptions
    from hvsim.scenario.schema import Scenario

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


def _warn(scenario, source: str) -> None:
    """The scenario's warnings (things it most likely does not mean) on stderr; they do
    not make it wrong, so the command goes on."""
    from hvsim.scenario.warnings import scenario_warnings

    for line in scenario_warnings(scenario, source):
        print(line, file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    n = sum(v.count for v in scenario.vms)
    print(f"{args.scenario}: ok ({n} VMs, {len(scenario.protection_groups)} protection groups)")
    _warn(scenario, args.scenario)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from hvsim.scenario.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, or a line saying why."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number ({text!r})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high} ({text!r})")
        return value

    return parse


def _seconds(text: str) -> float:
    """A duration with its unit ('10 min', '2 h') or seconds, greater than 0."""
    from hvsim.scenario.units import parse_quantity

    try:
        value = parse_quantity(text if not text.strip().isdigit() else float(text), "duration")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a duration greater than 0, e.g. '10 min'")
    return value


def _positive(limit: int) -> Callable[[str], int]:
    return _whole(1, limit)


def _output(args: argparse.Namespace, name: str, command: str) -> OutputFolder:
    """The command's output folder, checked (``--out`` or ``reports/<name>``); raises
    OutputError. Checked before any simulation, so a bad --out costs no run."""
    if args.out:
        return OutputFolder(args.out, command, force=args.force, explicit=True)
    return OutputFolder(default_folder(name), command, force=args.force, explicit=False)


def _start_workers(args: argparse.Namespace, runs: int, here: int) -> None:
    """Within workers_kept(): start now the worker processes that ``runs`` planned runs
    will use, ``here`` of them carried out in this process (the report's), so that
    they start (spawn, import) while this process loads the report's modules and
    plans; none for one worker or a Dask scheduler."""
    from hvsim.runs.local import start_workers, worker_count

    base = args.run_options
    if args.scheduler is not None or (base is not None and base.scheduler is not None):
        return
    requested = args.workers if args.workers is not None else (base and base.workers)
    n, _ = worker_count(requested, runs, base.cores if base is not None else None)
    if n > 1:
        start_workers(min(n, runs - here), base.start_method if base is not None else "spawn")


def _output_problem(exc: OutputError) -> int:
    print(f"hvsim: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _interrupted(store: Path) -> int:
    print(
        f"\ninterrupted: finished runs are stored in {store}/; the same command resumes "
        "without computing them again",
        file=sys.stderr,
    )
    return 130


def _many_runs(fn, args: argparse.Namespace, folder: OutputFolder, *inputs, **keywords):
    """``fn`` (replicate, run_sweep or compare) of ``inputs`` (and ``keywords``) with
    the command's replications, seed and execution options, each finished run stored
    in the output folder's ``runs/``. Returns (result, None), or (None, exit status)
    on a mistake."""
    from hvsim.runs.dask import SchedulerError
    from hvsim.runs.options import RunOptions
    from hvsim.scenario.loader import ScenarioError

    base = args.run_options or RunOptions()
    options = base.but(
        store=folder.store,
        workers=args.workers if args.workers is not None else base.workers,
        scheduler=args.scheduler if args.scheduler is not None else base.scheduler,
        progress=True,
    )
    try:
        result = fn(*inputs, args.replications, args.seed, options, **keywords)
    except ScenarioError as exc:
        return None, _print_problems(exc.problems)
    except SchedulerError as exc:
        print(f"hvsim: {exc}", file=sys.stderr)
        return None, 1
    except KeyboardInterrupt:
        return None, _interrupted(folder.given / "runs")
    except OSError as exc:  # the store cannot be written (disk full, permissions)
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"hvsim: {folder.label}: cannot store the finished runs: "
            f"{exc.strerror or exc.__class__.__name__}{where}",
            file=sys.stderr,
        )
        return None, EXIT_BAD_INPUT
    return result, None


def _write_many(out: Path, result, files: dict[str, str]) -> list[str]:
    """Into the fresh folder ``out``: the runs table of a sweep or comparison, then
    ``files`` (name: text), and failures.csv if a run failed; the names written."""
    from hvsim.files import write_csv, write_table, write_text

    write_table(result.table, out, "runs")
    for name, text in files.items():
        write_text(out / name, text)
    written = ["runs.parquet", "runs.csv", *files]
    if len(result.failures):
        write_csv(out / "failures.csv", result.failures)
        written.append("failures.csv")
    return written


def _write_xlsx(tmp: Path, name: str, sheets, scenario, title: str = "") -> str:
    """The workbook ``name``.xlsx (hvsim.report.workbook) in the fresh folder ``tmp``,
    dated the scenario's start date; a table split over sheets is said on stderr. Its
    file name."""
    from hvsim.files import NAME_MAX_BYTES
    from hvsim.report.workbook import write_workbook

    file = fit_name(name, NAME_MAX_BYTES - len(".xlsx")) + ".xlsx"
    for split in write_workbook(tmp / file, sheets, scenario.start_date, title or name):
        print(f"{file}: {split.line()}", file=sys.stderr)
    return file


def _heading(text: str) -> None:
    print(text + "\n" + "-" * len(text))


def _finish_many(out: Path, result, written: list[str]) -> int:
    """The last lines of a sweep or comparison; exit 1 if a run failed."""
    from hvsim.report.text import runs_line

    print(runs_line(result))
    print(f"\nwrote {out}/ ({', '.join(written)}; finished runs in runs/)")
    return _report_failures(result)


def _report_failures(result) -> int:
    failures = result.failures
    if len(failures):
        rest = "the others are in the tables" if len(result.table) else "no run finished"
        print(f"{len(failures)} run(s) failed (see failures.csv); {rest}", file=sys.stderr)
        return 1
    return 0


def _detailed_runs(scenarios: list[tuple[str, Any]], seed: int) -> list[tuple[str, Any, Any]]:
    """(label, results, scenario) of each (label, scenario) for the report's detail
    plots; one that runs away is left out (its runs are listed in failures.csv)."""
    from hvsim.overrun import RunawayError
    from hvsim.simulation import simulate

    details = []
    for label, scenario in scenarios:
        try:
            details.append((label, simulate(scenario, seed=seed), scenario))
        except RunawayError:
            continue
    return details


def _demote(markdown: str) -> str:
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def _costly(
    args: argparse.Namespace,
    source: str,
    here: Sequence[Scenario],
    pooled: Sequence[Scenario] = (),
    held: bool = False,
) -> int | None:
    """Exit status 2 and one line if the command's estimated cost is past the limit
    (hvsim.estimate) and neither --yes nor a --max-jobs that covers it is given;
    ``here``: scenarios run in this process, ``pooled``: one per run of the pool,
    ``held``: the results of ``here`` are kept while the pool runs.
    A long run that may go ahead says its estimate (stderr); a short one says nothing."""
    from hvsim.estimate import LIMIT_BYTES, LIMIT_S, estimate, format_bytes, format_duration

    if args.yes:
        return None
    workers = 1
    if pooled:
        from hvsim.runs.local import default_workers

        workers = args.workers or default_workers()
    est = estimate(here, list(pooled), workers, held=held)
    if est.over_limit(args.max_jobs):
        limit = (
            f"--max-jobs {args.max_jobs:,}"
            if args.max_jobs is not None
            else f"{format_duration(LIMIT_S)} or {format_bytes(LIMIT_BYTES)}"
        )
        print(
            f"{source}: (run): {est.describe()}, over the limit of {limit}; not started "
            "(--yes runs it anyway, --max-jobs N allows up to N jobs)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if est.seconds >= LONG_RUN_S:
        print(f"{source}: {est.describe()}", file=sys.stderr)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    _warn(scenario, args.scenario)
    # Before the imports of pandas and matplotlib: a refused run stops at once.
    pooled = [scenario] * args.replications if args.replications > 1 else []
    status = _costly(args, args.scenario, [scenario], pooled, held=True)
    if status is not None:
        return status
    command = "run --replications" if args.replications > 1 else "run"
    from hvsim.runs.local import workers_kept

    try:
        with _output(args, scenario.name, command) as folder, workers_kept():
            if args.replications > 1:  # while the run of the seed goes on here
                _start_workers(args, args.replications, 1)
            return _run_into(folder, args, scenario)
    except OutputError as exc:
        return _output_problem(exc)


def _run_into(folder: OutputFolder, args: argparse.Namespace, scenario) -> int:
    from hvsim.files import write_csv, write_table, write_text
    from hvsim.overrun import RunawayError
    from hvsim.report.html import run_report
    from hvsim.report.text import (
        console_stats,
        console_table,
        headline,
        runs_line,
        summary_markdown,
        sweep_markdown,
    )
    from hvsim.report.verdict import (
        failed,
        many_verdict_lines,
        run_checks,
        scenario_targets,
        table_verdicts,
        verdict_markdown,
    )
    from hvsim.results import kpis_json
    from hvsim.runs.dask import SchedulerError
    from hvsim.runs.progress import day_progress
    from hvsim.sweep import replicate

    # The run of the seed first: one that runs away stops here with its one line,
    # before the replications are computed (and stored), reported and thrown away.
    progress = day_progress(scenario.horizon_days)
    started = time.perf_counter()
    try:
        results = _simulate_one(args, scenario, progress)
    except RunawayError as exc:
        return _print_problems([exc.problem(args.scenario)])
    except SchedulerError as exc:
        print(f"hvsim: {exc}", file=sys.stderr)
        return 1
    wall_s = time.perf_counter() - started
    reps = None
    if args.replications > 1:
        # The run of the seed is the first replication: not simulated again.
        first = (results, wall_s)
        reps, status = _many_runs(replicate, args, folder, args.scenario, first=first)
        if status is not None:
            return status
    kpis = results.kpis()
    checks = run_checks(results, kpis, scenario)
    summary = summary_markdown(results, kpis, scenario.description, verdict_markdown(checks))
    # Written into a fresh folder beside the target, then swapped in: a run that
    # fails half-way leaves no partial output.
    written = [
        "kpis.json",
        "jobs.parquet",
        "jobs.csv",
        "downtime.parquet",
        "downtime.csv",
        "redirected_io.parquet",
        "redirected_io.csv",
        "restores.parquet",
        "restores.csv",
        "storage.parquet",
        "storage.csv",
        "summary.md",
    ]
    with folder.staging() as tmp:
        write_text(tmp / "kpis.json", kpis_json(kpis))
        write_table(results.jobs, tmp, "jobs")
        write_table(results.downtime, tmp, "downtime")
        write_table(results.redirected_io, tmp, "redirected_io")
        write_table(results.restores, tmp, "restores")
        write_table(results.storage_days, tmp, "storage")
        # Only when there is something to list (a host-only run writes neither).
        if len(results.data_sources):
            write_table(results.data_sources, tmp, "data_sources")
            for name in ("data_sources.parquet", "data_sources.csv"):
                written.insert(written.index("summary.md"), name)
        if len(results.tape_plan):
            write_table(results.tape_jobs, tmp, "tape_jobs")
            for name in ("tape_jobs.parquet", "tape_jobs.csv"):
                written.insert(written.index("summary.md"), name)
        if len(results.online_sources):
            # Online protection to Azure: its jobs and each DPM server's day ends.
            write_table(results.online_jobs, tmp, "online_jobs")
            write_table(results.online_days, tmp, "online_days")
            for name in (
                "online_jobs.parquet",
                "online_jobs.csv",
                "online_days.parquet",
                "online_days.csv",
            ):
                written.insert(written.index("summary.md"), name)
        if len(results.recommendations):
            write_table(results.recommendations, tmp, "recommendations")
            for name in ("recommendations.parquet", "recommendations.csv"):
                written.insert(written.index("summary.md"), name)
        if reps is not None:
            title = f"hvsim replications: {scenario.name}"
            summary = sweep_markdown(reps, title, scenario.description) + "\n" + _demote(summary)
            write_table(reps.table, tmp, "runs")
            write_csv(tmp / "summary.csv", reps.summary())
            written += ["runs.parquet", "runs.csv", "summary.csv"]
            if len(reps.failures):
                write_csv(tmp / "failures.csv", reps.failures)
                written.append("failures.csv")
        write_text(tmp / "summary.md", summary)
        page = run_report(results, kpis, scenario, scenario.description, reps, checks)
        write_text(tmp / "report.html", page)
        written.append("report.html")
        if args.xlsx:
            from hvsim.report.verdict import checks_frame
            from hvsim.report.workbook import run_sheets

            sheets = run_sheets(results, kpis, reps, checks_frame(checks))
            written.append(_write_xlsx(tmp, scenario.name, sheets, scenario))
        folder.publish(tmp, written)
    missed = failed(checks)
    if reps is not None and len(reps.table):
        # Across the replications too: --check judges them all.
        across = table_verdicts(reps.table, [], scenario_targets(scenario))[0]
        missed = missed or not across.meets
        _print_lines(
            f"Verdict across {reps.replications} replications",
            many_verdict_lines([across], "replication set"),
        )
    _print_verdict(checks, f"Verdict (seed {args.seed})" if reps is not None else "Verdict")
    if reps is None:
        print(console_table(kpis, results))
    else:
        seeds = reps.seeds
        _heading(
            f"hvsim: {scenario.name}, {reps.replications} replications (seeds {seeds[0]} to "
            f"{seeds[-1]}, {scenario.horizon_days:g} days): mean, 95% CI, p50, p95"
        )
        print(console_stats(reps.summary(), [], headline(reps.kpis, reps.table)))
        print(runs_line(reps))
    print(f"\nwrote {folder.given}/ ({', '.join(written)})")
    status = _report_failures(reps) if reps is not None else 0
    if args.check and missed:
        print("--check: the design misses a target (see the verdict)", file=sys.stderr)
        return status or 1
    return status


def _print_verdict(checks, title: str) -> None:
    from hvsim.report.verdict import verdict_lines

    _print_lines(title, verdict_lines(checks))


def _print_lines(title: str, lines: list[str]) -> None:
    """A verdict on the console: its title, its summary, a line per check."""
    head, *rest = lines
    _heading(title)
    print(head)
    for line in rest:
        print(f"  {line}")
    print()


def cmd_sweep(args: argparse.Namespace) -> int:
    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    _warn(scenario, args.scenario)
    pooled, problems = _sweep_scenarios(args)
    if problems:
        return _print_problems(problems)
    # The report's detail runs: the first and the last combination, in this process.
    here = [pooled[0]] if pooled[0] is pooled[-1] else [pooled[0], pooled[-1]]
    status = _costly(args, args.scenario, here, pooled)
    if status is not None:
        return status
    from hvsim.runs.local import workers_kept

    try:
        with _output(args, f"{scenario.name}-sweep", "sweep") as folder, workers_kept():
            _start_workers(args, len(pooled), len(here))
            return _sweep_into(folder, args, scenario)
    except OutputError as exc:
        return _output_problem(exc)


def _sweep_into(folder: OutputFolder, args: argparse.Namespace, scenario) -> int:
    from hvsim.files import table_csv
    from hvsim.report.html import detail_figures, sweep_report
    from hvsim.report.text import console_stats, sweep_kpis, sweep_markdown, unknown_kpi_line
    from hvsim.report.verdict import (
        many_verdict_lines,
        many_verdict_markdown,
        scenario_targets,
        table_verdicts,
    )
    from hvsim.runs.plan import combination_label
    from hvsim.sweep import run_sweep

    # The report's detail plots: the first and the last combination's run of the seed,
    # drawn in this process as soon as it is done (while the workers run the others),
    # not run again.
    drawn = {0: detail_figures, -1: detail_figures}
    sweep, status = _many_runs(run_sweep, args, folder, args.scenario, args.vary, details=drawn)
    if status is not None:
        return status
    shown, unknown = sweep_kpis(sweep, args.kpi or ())
    for name in unknown if len(sweep.table) else []:
        print(unknown_kpi_line(args.scenario, name, sweep.kpis), file=sys.stderr)
    shown = shown or sweep_kpis(sweep)[0]
    combos = sweep.combinations()
    picks = sorted({0, len(combos) - 1})
    details = [
        (combination_label(combos[i]), sweep.details[i]) for i in picks if i in sweep.details
    ]
    title = f"hvsim sweep: {scenario.name}"
    targets = scenario_targets(scenario)
    verdicts = table_verdicts(sweep.table, sweep.params, targets)
    lines = many_verdict_lines(verdicts)
    markdown = sweep_markdown(
        sweep, title, scenario.description, shown, targets, many_verdict_markdown(verdicts)
    )
    with folder.staging() as tmp:
        written = _write_many(
            tmp,
            sweep,
            {
                "summary.csv": table_csv(sweep.summary()),
                "summary.md": markdown,
                "report.html": sweep_report(
                    sweep, details, title, scenario.description, shown, lines, targets
                ),
            },
        )
        if args.xlsx:
            from hvsim.report.verdict import verdicts_frame
            from hvsim.report.workbook import sweep_sheets

            name = f"{scenario.name}-sweep"
            sheets = sweep_sheets(sweep, verdicts_frame(verdicts))
            written.append(_write_xlsx(tmp, name, sheets, scenario, title))
        folder.publish(tmp, written)
    _print_lines("Verdict", lines)
    seeds = sweep.seeds
    _heading(
        f"{title}, {sweep.replications} replication(s) per combination (seeds {seeds[0]} to "
        f"{seeds[-1]}): mean, 95% CI, p50, p95"
    )
    if len(sweep.table):
        print(console_stats(sweep.summary(shown), sweep.params, shown))
    return _finish_many(folder.given, sweep, written)


def _sweep_scenarios(args: argparse.Namespace) -> tuple[list, list[str] | None]:
    """The scenario of each run of ``hvsim sweep`` (one per combination and seed), or
    the problems with the varied values."""
    import copy

    from hvsim.runs.plan import load_document, plan_runs
    from hvsim.runs.vary import parse_vary
    from hvsim.scenario.loader import ScenarioError, scenario_from_dict

    try:
        doc = load_document(args.scenario)
        varies = [parse_vary(v, args.scenario) for v in args.vary]
        specs = plan_runs(doc, args.scenario, varies, args.replications, args.seed)
        parsed: dict[int, Any] = {}
        for spec in specs:
            if id(spec.doc) not in parsed:
                parsed[id(spec.doc)] = scenario_from_dict(copy.deepcopy(spec.doc), args.scenario)
    except ScenarioError as exc:
        return [], exc.problems
    return [parsed[id(spec.doc)] for spec in specs], None


def cmd_compare(args: argparse.Namespace) -> int:
    loaded = [_load(path) for path in (args.a, args.b)]
    problems = [line for _, p in loaded for line in (p or [])]
    if problems:
        return _print_problems(problems)
    a, b = (s for s, _ in loaded)
    _warn(a, args.a)
    _warn(b, args.b)
    status = _costly(args, args.a, [a, b], [a] * args.replications + [b] * args.replications)
    if status is not None:
        return status
    try:
        # Each name shortened alike, so both sides stay recognisable in a long pair.
        name = f"compare-{fit_name(a.name, 116)}-vs-{fit_name(b.name, 116)}"
        from hvsim.runs.local import workers_kept

        with _output(args, name, "compare") as folder, workers_kept():
            _start_workers(args, 2 * args.replications, 2)
            return _compare_into(folder, args, a, b)
    except OutputError as exc:
        return _output_problem(exc)


def _compare_into(folder: OutputFolder, args: argparse.Namespace, a, b) -> int:
    from hvsim.files import table_csv
    from hvsim.report.html import compare_report, detail_figures
    from hvsim.report.text import compare_markdown, console_comparison, headline
    from hvsim.report.verdict import (
        many_verdict_lines,
        many_verdict_markdown,
        scenario_targets,
        table_verdicts,
    )
    from hvsim.sweep import compare

    # Each side's run of the seed, drawn in this process as soon as it is done.
    drawn = {0: detail_figures, 1: detail_figures}
    cmp, status = _many_runs(compare, args, folder, args.a, args.b, details=drawn)
    if status is not None:
        return status
    details = [
        (f"{side}: {label}", cmp.details[i])
        for i, (side, label) in enumerate(zip("AB", cmp.labels, strict=True))
        if i in cmp.details
    ]
    # Each side against its own scenario's targets.
    verdicts = [
        table_verdicts(cmp.table[cmp.table["scenario"] == label], ["scenario"], targets)[0]
        for label, targets in zip(
            cmp.labels, (scenario_targets(a), scenario_targets(b)), strict=True
        )
        if (cmp.table["scenario"] == label).any()
    ]
    lines = many_verdict_lines(verdicts, "side")
    markdown = compare_markdown(cmp, many_verdict_markdown(verdicts, "side"))
    with folder.staging() as tmp:
        written = _write_many(
            tmp,
            cmp,
            {
                "compare.csv": table_csv(cmp.differences()),
                "summary.md": markdown,
                "report.html": compare_report(cmp, details, verdict=lines),
            },
        )
        if args.xlsx:
            from hvsim.report.verdict import verdicts_frame
            from hvsim.report.workbook import compare_sheets

            name = f"compare-{fit_name(a.name, 116)}-vs-{fit_name(b.name, 116)}"
            sheets = compare_sheets(cmp, verdicts_frame(verdicts))
            written.append(_write_xlsx(tmp, name, sheets, a, name))
        folder.publish(tmp, written)
    _print_lines("Verdict", lines)
    seeds = cmp.seeds
    _heading(
        f"hvsim compare: A = {cmp.labels[0]}, B = {cmp.labels[1]}, {cmp.replications} "
        f"replication(s) each, same seeds ({seeds[0]} to {seeds[-1]})"
    )
    if len(cmp.table):
        print(console_comparison(cmp.differences(headline(cmp.kpis, cmp.table)), cmp.labels))
    return _finish_many(folder.given, cmp, written)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 2,4,8 ({text!r})") from None
    if not values or any(v < 1 or v > 100_000 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers from 1 to 100000 ({text!r})")
    return values


def cmd_scan_table(args: argparse.Namespace) -> int:
    from hvsim.files import write_csv
    from hvsim.scan_table import pivot_for_print, scan_table

    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    if not scenario.clusters:
        return _print_problems([f"{args.scenario}: clusters: the scenario has no cluster"])
    try:
        # Its own folder: in the run's folder (reports/<name>) a later run would drop it.
        with _output(args, f"{scenario.name}-scan-table", "scan-table") as folder:
            try:
                table = scan_table(scenario, args.nodes, args.vms, args.cluster)
            except ValueError as exc:
                return _print_problems([f"{args.scenario}: clusters: {exc}"])
            with folder.staging() as tmp:
                write_csv(tmp / "scan-table.csv", table)
                folder.publish(tmp, ["scan-table.csv"])
    except OutputError as exc:
        return _output_problem(exc)
    c = table["cluster"].iloc[0]
    print(f"Protection scan duration, cluster shaped like {c} ({table['csvs'].iloc[0]} CSVs)")
    print(pivot_for_print(table).to_string(float_format=lambda x: f"{x:.2f}"))
    print(f"\nwrote {folder.given / 'scan-table.csv'}")
    return 0


# A run estimated to take this long says its estimate before it starts (stderr).
def _advise_settings(args: argparse.Namespace, scenario):
    """The advisor's knobs, targets, objectives and search from the command line;
    raises ScenarioError with the problem lines."""
    from hvsim.advise.search import settings_from
    from hvsim.report.verdict import scenario_targets

    return settings_from(
        args.knob,
        # Default: the verdict's targets (the downtime budget when the scenario has one).
        args.target or [t.label for _, t in scenario_targets(scenario)],
        args.minimize or (),
        args.cost or (),
        args.scenario,
        replications=args.replications,
        trials=args.trials,
        timeout_s=args.timeout,
        prune_after=args.prune_after,
        batch=args.batch,
        base_seed=args.seed,
    )


def cmd_advise(args: argparse.Namespace) -> int:
    from hvsim.scenario.loader import ScenarioError

    scenario, problems = _load(args.scenario)
    if problems:
        return _print_problems(problems)
    _warn(scenario, args.scenario)
    try:
        settings = _advise_settings(args, scenario)
    except ScenarioError as exc:
        return _print_problems(exc.problems)
    # The estimate: every trial and the comparison at most, each a run of the input's
    # size (a knob may make a design larger; --max-jobs covers that).
    runs = (args.trials + 2 + len(settings.knobs)) * args.replications
    status = _costly(args, args.scenario, [scenario, scenario], [scenario] * runs)
    if status is not None:
        return status
    try:
        with _output(args, f"{scenario.name}-advise", "advise") as folder:
            return _advise_into(folder, args, settings, scenario)
    except OutputError as exc:
        return _output_problem(exc)


def _advise_into(folder: OutputFolder, args: argparse.Namespace, settings, scenario) -> int:
    import copy

    from hvsim.advise.outputs import knob_sentences, verdict, write_advice
    from hvsim.advise.search import advise, trial_budget
    from hvsim.runs.dask import SchedulerError
    from hvsim.runs.options import RunOptions
    from hvsim.runs.plan import load_document
    from hvsim.runs.progress import RUNS_FORMAT, Progress
    from hvsim.scenario.loader import ScenarioError, scenario_from_dict
    from hvsim.sweep import compare

    base = args.run_options or RunOptions()
    options = base.but(
        store=folder.store,
        workers=args.workers if args.workers is not None else base.workers,
        scheduler=args.scheduler if args.scheduler is not None else base.scheduler,
    )
    bar = Progress(trial_budget(settings), RUNS_FORMAT, label="trials", enabled=True)
    bar.start()
    try:
        doc = load_document(args.scenario)
        advice = advise(doc, args.scenario, settings, options, lambda n, _: bar.set(n))
        chosen = advice.proposal or advice.best
        cmp = None
        if chosen.key != advice.input.key and chosen.doc is not None:
            cmp = compare(
                doc,
                chosen.doc,
                settings.replications,
                settings.base_seed,
                options.but(progress=False),
                labels=("input", "proposal" if advice.proposal else "closest"),
            )
            cmp.sources = (args.scenario, "proposal.yaml" if advice.proposal else "closest.yaml")
    except ScenarioError as exc:
        bar.close()
        return _print_problems(exc.problems)
    except SchedulerError as exc:
        bar.close()
        print(f"hvsim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        return _interrupted(folder.given / "runs")
    bar.close()
    details = []
    if cmp is not None:
        proposed = scenario_from_dict(copy.deepcopy(chosen.doc), args.scenario)
        details = _detailed_runs(
            [("A: input", scenario), (f"B: {cmp.labels[1]}", proposed)], args.seed
        )
    title = f"hvsim advise: {scenario.name}"
    with folder.staging() as tmp:
        written = write_advice(tmp, advice, title, cmp, details)
        if args.xlsx:
            from hvsim.advise.outputs import advice_sheets

            name = f"{scenario.name}-advise"
            written.append(_write_xlsx(tmp, name, advice_sheets(advice, cmp), scenario, title))
        folder.publish(tmp, written)
    _heading(title)
    for line in verdict(advice):
        print(line)
    for line in knob_sentences(advice):
        print(f"- {line}")
    print(
        f"\nwrote {folder.given}/ ({', '.join(written)}; finished runs in runs/) in "
        f"{advice.elapsed_s:.0f} s"
    )
    return 0 if advice.met else 1


LONG_RUN_S = 60.0


def _estimate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--yes",
        action="store_true",
        help="run even if the estimate is past the limit (10 min or 4 GB)",
    )
    p.add_argument(
        "--max-jobs",
        type=_positive(10**15),
        metavar="N",
        help="allow up to N simulated jobs (estimated) instead of the time and memory limit",
    )


def _simulate_one(args: argparse.Namespace, scenario, progress):
    """The run of ``args.seed``: on one environment, or, given more than one worker or
    a Dask scheduler, part by part on them when the estate has independent parts
    (hvsim.parts; the same tables, hvsim.merge)."""
    from hvsim.runs.dask import connect
    from hvsim.runs.split import simulate_on
    from hvsim.simulation import simulate

    workers = args.workers if args.workers is not None else 1
    if workers <= 1 and args.scheduler is None:
        return simulate(scenario, seed=args.seed, progress=progress)
    where = f"Dask at {args.scheduler}" if args.scheduler else "worker processes"

    def announce(parts: int, groups: int) -> None:
        if parts > 1:
            print(
                f"hvsim: {parts} independent parts, in {groups} groups on {where}", file=sys.stderr
            )

    if args.scheduler is None:
        return simulate_on(scenario, args.seed, workers, progress=progress, announce=announce)
    client = connect(args.scheduler)
    try:
        return simulate_on(
            scenario, args.seed, 1 << 30, client=client, progress=progress, announce=announce
        )
    finally:
        client.close()


def _execution_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=_positive(4096),
        help="local worker processes (default: one per core, but 1 on a machine of 2 cores or "
        "fewer; at most one per core and one per run to compute; 1 runs in this process)",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="send the runs to this Dask scheduler instead of local processes (needs the "
        "optional extra: pip install 'hvsim[dask]')",
    )


def _out_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--out",
        help=f"output folder (default {default}); hvsim replaces only a folder it wrote "
        "itself and keeps its runs/",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the --out folder even if hvsim did not write it (never the current "
        "folder, one above it, the home folder or /)",
    )


def _xlsx_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--xlsx",
        action="store_true",
        help=f"also write the Excel workbook <name>.xlsx: {what}, units in the headers",
    )


def _seed_option(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument(
        "--seed", type=_whole(0, MAX_SEED), default=1, help=f"{help_text}, 0 to {MAX_SEED}"
    )


class _Version(argparse.Action):
    """--version: read from the installed package's metadata only when asked (so
    --help and every command start without importlib.metadata)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from hvsim.version import installed_version

        print(f"hvsim {installed_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hvsim",
        description="Simulate protection of Hyper-V VMs with System Center DPM.",
    )
    p.add_argument(
        "--version", action=_Version, help="print hvsim's version (as installed) and exit"
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a scenario and write its results and report")
    run.add_argument("scenario", help="scenario YAML file")
    _out_options(run, "reports/<scenario name>")
    _seed_option(run, "random seed (default 1)")
    run.add_argument(
        "--replications",
        type=_positive(100_000),
        default=1,
        help="runs with seeds SEED, SEED+1, ...: each KPI's mean, 95%% CI, p50 and p95",
    )
    run.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the design misses a target of the verdict (window, RPO, RTO, "
        "downtime budget, pool, coverage): for pipelines and regression tests",
    )
    _execution_options(run)
    _estimate_options(run)
    _xlsx_option(run, "the KPIs, then jobs, downtime, VMs, storage, restores and the other tables")
    run.set_defaults(func=cmd_run)
    swp = sub.add_parser(
        "sweep", help="run the cross product of varied fields, with replications and CIs"
    )
    swp.add_argument("scenario", help="scenario YAML file")
    swp.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="PATH=V1,V2,...",
        help="a field of the scenario file and its values, e.g. "
        "'links[2].bandwidth=1 Gbps,10 Gbps' (repeat for a cross product)",
    )
    swp.add_argument(
        "--replications", type=_positive(100_000), default=5, help="seeds per combination (5)"
    )
    swp.add_argument(
        "--kpi",
        action="append",
        metavar="NAME",
        help="a KPI to plot and tabulate first, as named in kpis.json and runs.csv, e.g. "
        "backups.makespan_max_s (repeat for more; default the headline KPIs that change)",
    )
    _seed_option(swp, "first seed (default 1)")
    _out_options(swp, "reports/<scenario name>-sweep")
    _execution_options(swp)
    _estimate_options(swp)
    _xlsx_option(swp, "the summary per combination, then every run")
    swp.set_defaults(func=cmd_sweep)
    cmp = sub.add_parser(
        "compare", help="two scenarios with the same seeds: the difference and its CI"
    )
    cmp.add_argument("a", metavar="A.yaml", help="scenario A")
    cmp.add_argument("b", metavar="B.yaml", help="scenario B")
    cmp.add_argument(
        "--replications", type=_positive(100_000), default=5, help="seeds per side (5)"
    )
    _seed_option(cmp, "first seed (default 1)")
    _out_options(cmp, "reports/compare-<A>-vs-<B>")
    _execution_options(cmp)
    _estimate_options(cmp)
    _xlsx_option(cmp, "the differences B - A, then every run")
    cmp.set_defaults(func=cmd_compare)
    adv = sub.add_parser(
        "advise",
        help="search the knobs for the design that meets the targets at least cost "
        "(Optuna), and write the proposal with its evidence",
    )
    adv.add_argument("scenario", help="scenario YAML file")
    adv.add_argument(
        "--knob",
        action="append",
        required=True,
        metavar="PATH=V1,V2,...",
        help="a field the advisor may change and its allowed values, e.g. "
        "'protection_groups[1].start_offset=0 min,30 min,60 min' (repeat); "
        "'dpm_servers=1,2,3' spreads the estate over that many DPM servers",
    )
    adv.add_argument(
        "--cost",
        action="append",
        metavar="PATH=C1,C2,...",
        help="the cost of each value of a --knob (e.g. an upgrade's price); the objective "
        "'cost' adds them up",
    )
    adv.add_argument(
        "--target",
        action="append",
        metavar="KPI>=VALUE[@STAT]",
        help="a constraint, e.g. 'backups.window_compliance>=99%%@p95', 'downtime<=60 s', "
        "or window, rpo, rto, pool (repeat; default: the verdict's targets: window, rpo, "
        "rto, pool, every VM protected and the scenario's downtime budget). @all "
        "(default): every replication; @pNN: NN%% of them; @mean",
    )
    adv.add_argument(
        "--minimize",
        action="append",
        metavar="KPI[@mean|@max]",
        help="what to minimise: a KPI, night (the longest night), makespan, downtime, servers, "
        "wait or cost (repeat for a trade-off front, NSGA-II; default cost when a --cost is "
        "given, else night)",
    )
    adv.add_argument("--trials", type=_positive(100_000), default=30, help="trial budget (30)")
    adv.add_argument(
        "--timeout",
        type=_seconds,
        metavar="DURATION",
        help="time budget, e.g. '10 min': no new trial starts after it",
    )
    adv.add_argument(
        "--replications", type=_positive(100_000), default=3, help="seeds per design (3)"
    )
    adv.add_argument(
        "--prune-after",
        type=_positive(100_000),
        default=1,
        help="replications after which a design that clearly misses a target is dropped (1)",
    )
    adv.add_argument(
        "--batch",
        type=_positive(1024),
        default=4,
        help="trials proposed and run together (4; the trials do not depend on --workers)",
    )
    _seed_option(adv, "first seed and the sampler's seed (default 1)")
    _out_options(adv, "reports/<scenario name>-advise")
    _execution_options(adv)
    _estimate_options(adv)
    _xlsx_option(adv, "the trials, then the comparison with the input")
    adv.set_defaults(func=cmd_advise)
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
    _out_options(tab, "reports/<scenario name>-scan-table")
    tab.set_defaults(func=cmd_scan_table)
    sch = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    sch.set_defaults(func=cmd_schema)
    return p


def main(argv: list[str] | None = None, runs: RunOptions | None = None) -> int:
    """The command ``argv`` (default: the command line); its exit status. ``runs``:
    how sweeps, comparisons and replications carry out their runs where the command
    line does not say (which function runs one run, the cores: for tests, or hvsim
    embedded in another tool)."""
    args = build_parser().parse_args(argv)
    args.run_options = runs
    if getattr(args, "scheduler", None) is not None:
        from hvsim.runs.dask import MISSING, available

        if not available():  # before any work: the scenario, the estimate, the folder
            print(f"hvsim: {MISSING}", file=sys.stderr)
            return EXIT_BAD_INPUT
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
