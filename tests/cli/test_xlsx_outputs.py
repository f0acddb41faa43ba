"""What --xlsx writes (one workbook: the KPIs first, then the tables) and the Parquet
copy of every table hvsim run writes as CSV; the same run gives the same bytes."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import openpyxl
import pandas as pd
import pytest

from hvsim.files import read_manifest, table_csv
from tests.builders import base_scenario, cli, cli_in_a_process, tape_doc, write_scenario

# The verdict first (issue 17 §1: "a verdict and KPI sheet"), then the KPIs and tables.
SHEETS = ["verdict", "KPIs", "jobs", "downtime", "VMs", "storage", "restores", "redirected_io"]


def drill_doc() -> dict:
    """base_scenario over 2 days with a whole-VM restore of vm1 on day 1 at 10:00."""
    doc = base_scenario(horizon_days=2)
    doc["restores"] = {"events": [{"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm"}]}
    return doc


def guest_doc() -> dict:
    """vm1 protected in its guest (two SQL databases) and named by a restore need:
    data_sources and recommendations."""
    doc = base_scenario(restore_needs=[{"members": ["vm1"], "finest_unit": "database"}])
    doc["vms"][0]["protection"] = "guest"
    doc["vms"][0]["sql"] = {"databases": 2, "size": "50 GB"}
    doc["protection_groups"][0]["level"] = "guest"
    return doc


def online_doc() -> dict:
    """base_scenario over 2 days with online protection to Azure at 23:30."""
    doc = base_scenario(horizon_days=2)
    doc["dpm_servers"][0]["online"] = {"uplink": "10 Mbps"}
    doc["protection_groups"][0]["online"] = {"times": ["23:30"]}
    return doc


def _flat(kpis: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key, value in kpis.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _run(capsys, tmp_path, doc, out="out", *extra):
    path = write_scenario(tmp_path, doc)
    code, stdout, err = cli(capsys, "run", str(path), "--out", str(tmp_path / out), *extra)
    assert (code, err) == (0, []), stdout
    return tmp_path / out


def test_run_workbook_kpi_sheet_equals_kpis_json_and_the_tables_follow(tmp_path, capsys):
    out = _run(capsys, tmp_path, drill_doc(), "out", "--xlsx")
    assert "t.xlsx" in read_manifest(out)["files"]
    wb = openpyxl.load_workbook(out / "t.xlsx")
    assert wb.sheetnames == SHEETS
    # The verdict sheet: a row per target, as the console prints it.
    verdict = list(wb["verdict"].values)
    assert verdict[0] == ("status", "target", "finding", "fix")
    assert [r[1] for r in verdict[1:]] == [
        "backup window", "RPO", "RTO", "saved-state downtime", "DPM pool", "coverage"
    ]  # fmt: skip
    # Every key of kpis.json in its order, by its dotted name, with its value (a list
    # as its JSON text, null as an empty cell) and its unit.
    kpis = json.loads((out / "kpis.json").read_text())
    rows = list(wb["KPIs"].values)
    assert rows[0] == ("kpi", "value", "unit")
    want = [(k, json.dumps(v) if isinstance(v, list) else v) for k, v in _flat(kpis)]
    assert [(r[0], r[1]) for r in rows[1:]] == want
    units = {r[0]: r[2] for r in rows[1:]}
    assert units["backups.makespan_max_s"] == "s"
    assert units["backups.bytes"] == "B"
    assert units["backups.window_compliance"] == "%"
    assert units["backups.jobs"] is None  # a count: no unit
    for ws in wb:
        assert ws.freeze_panes == "A2", ws.title  # the header row stays in view
    # The tables: headers with their units, the rows of the CSVs.
    jobs = list(wb["jobs"].values)
    csv = pd.read_csv(out / "jobs.csv")
    assert len(jobs) == 1 + len(csv)
    head = jobs[0]
    for header in ("job_id", "vm", "start (s)", "end (s)", "bytes (B)", "wait (s)", "start"):
        assert header in head, header
    first = dict(zip(head, jobs[1], strict=True))
    assert first["vm"] == csv["vm"][0]
    assert first["start (s)"] == pytest.approx(csv["start_s"][0])
    assert first["bytes (B)"] == pytest.approx(csv["bytes"][0])
    # A time is a date in Excel: the start date (2026-01-05) plus start_s.
    assert first["start"] == dt.datetime(2026, 1, 5) + dt.timedelta(seconds=csv["start_s"][0])
    restores = list(wb["restores"].values)
    assert len(restores) == 2 and "rto (s)" in restores[0]
    assert dict(zip(restores[0], restores[1], strict=True))["requested (s)"] == 86_400 + 36_000
    storage = list(wb["storage"].values)[0]
    assert storage[:4] == ("day", "dpm_server", "protection_group", "volume_kind")
    assert "used_bytes (B)" in storage
    vms = list(wb["VMs"].values)
    assert [r[0] for r in vms] == ["vm", "vm1"]


def test_without_xlsx_no_workbook(tmp_path, capsys):
    out = _run(capsys, tmp_path, base_scenario())
    assert not list(out.glob("*.xlsx"))


def test_the_same_run_gives_the_same_workbook_and_parquet_bytes_in_another_process(
    tmp_path, capsys
):
    here = _run(capsys, tmp_path, drill_doc(), "a", "--xlsx")
    path = tmp_path / "scenario.yaml"
    done = cli_in_a_process("run", str(path), "--out", str(tmp_path / "b"), "--xlsx")
    assert done.returncode == 0, done.stderr
    there = tmp_path / "b"
    names = sorted(p.name for p in here.iterdir() if p.suffix in (".xlsx", ".parquet"))
    assert "t.xlsx" in names and "jobs.parquet" in names
    for name in names:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    # The file says it was made on the scenario's start date, not today.
    core = zipfile.ZipFile(here / "t.xlsx").read("docProps/core.xml").decode()
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">2026-01-05T00:00:00Z' in core


@pytest.mark.parametrize(
    ("doc", "tables"),
    [
        (drill_doc, []),
        (guest_doc, ["data_sources", "recommendations"]),
        (tape_doc, ["tape_jobs"]),
        (online_doc, ["online_jobs", "online_days"]),
    ],
)
def test_every_table_of_a_run_is_also_parquet_reading_back_equal_to_its_csv(
    tmp_path, capsys, doc, tables
):
    out = _run(capsys, tmp_path, doc())
    stems = ["jobs", "downtime", "redirected_io", "restores", "storage", *tables]
    files = read_manifest(out)["files"]
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(stems)
    for stem in stems:
        assert f"{stem}.parquet" in files and f"{stem}.csv" in files
        parquet = pd.read_parquet(out / f"{stem}.parquet")
        csv = (out / f"{stem}.csv").read_text(encoding="utf-8")
        # The same text when written as hvsim writes a CSV, and the same table as pandas
        # reads the CSV.
        assert table_csv(parquet) == csv, stem
        read = pd.read_csv(out / f"{stem}.csv", keep_default_na=False, na_values=[""])
        assert list(read.columns) == list(parquet.columns) and len(read) == len(parquet)
    if tables:
        assert len(pd.read_parquet(out / f"{tables[0]}.parquet")) > 0


def test_sweep_and_compare_workbooks_lead_with_summary_and_differences(tmp_path, capsys):
    path = write_scenario(tmp_path, base_scenario())
    code, _, err = cli(
        capsys, "sweep", str(path), "--vary", "links[2].bandwidth=1 Gbps,10 Gbps",
        "--replications", "2", "--workers", "1", "--out", str(tmp_path / "s"), "--xlsx",
    )  # fmt: skip
    assert code == 0, err
    wb = openpyxl.load_workbook(tmp_path / "s" / "t-sweep.xlsx")
    assert wb.sheetnames == ["verdict", "summary", "runs"]
    summary = list(wb["summary"].values)
    assert summary[0][:3] == ("links[2].bandwidth", "kpi", "unit")
    by_kpi = {(r[0], r[1]): r for r in summary[1:]}
    assert by_kpi[("1 Gbps", "backups.makespan_max_s")][2] == "s"
    runs = list(wb["runs"].values)
    assert len(runs) == 1 + 2 * 2  # two combinations, two seeds each
    assert "backups.makespan_max_s (s)" in runs[0] and "seed" in runs[0]
    b = write_scenario(tmp_path, base_scenario(name="u"), "b.yaml")
    code, _, err = cli(
        capsys, "compare", str(path), str(b), "--replications", "2", "--workers", "1",
        "--out", str(tmp_path / "c"), "--xlsx",
    )  # fmt: skip
    assert code == 0, err
    wb = openpyxl.load_workbook(tmp_path / "c" / "compare-t-vs-u.xlsx")
    assert wb.sheetnames == ["verdict", "differences", "runs"]
    diffs = list(wb["differences"].values)
    assert diffs[0][:2] == ("kpi", "unit")
    assert len(list(wb["runs"].values)) == 1 + 2 * 2  # two sides, two seeds each
    for ws in wb:
        assert ws.freeze_panes == "A2"


def test_advise_workbook_holds_the_trials_then_the_comparison(tmp_path, capsys):
    # One VM of 100 GB over a 1 Gbps link (1e8 B/s at 80 %: 1000 s) or 10 Gbps (the
    # CSV's 500 MB/s: 200 s); a night of at most 500 s needs 10 Gbps.
    doc = base_scenario()
    doc["links"][2]["bandwidth"] = "1 Gbps"
    doc["vms"][0]["disks"] = [{"size": "100 GB", "used": "100 GB"}]
    path = write_scenario(tmp_path, doc)
    out = tmp_path / "adv"
    code, stdout, _ = cli(
        capsys, "advise", str(path), "--knob", "links[2].bandwidth=1 Gbps,10 Gbps",
        "--target", "backups.night_span_max_s<=500 s", "--replications", "1",
        "--out", str(out), "--workers", "1", "--xlsx",
    )  # fmt: skip
    assert code == 0, stdout
    wb = openpyxl.load_workbook(out / "t-advise.xlsx")
    assert wb.sheetnames == ["trials", "differences", "runs"]
    trials = list(wb["trials"].values)
    assert trials[0][:4] == ("trial", "design", "state", "replications")
    assert len(trials) == 1 + len(pd.read_csv(out / "trials.csv"))
    proposal = [dict(zip(trials[0], r, strict=True)) for r in trials[1:] if r[1] == "proposal"]
    assert [p["links[2].bandwidth"] for p in proposal] == ["10 Gbps"]
    assert len(list(wb["runs"].values)) == 1 + 2  # input and proposal, one seed each


def test_a_table_longer_than_a_sheet_is_split_and_said_on_stderr(tmp_path, capsys, monkeypatch):
    # Sheets of one row under the header: the two nights' jobs (22:00 on days 0 and 1)
    # take two sheets; stderr says so.
    monkeypatch.setattr("hvsim.report.workbook.SHEET_ROWS", 1)
    path = write_scenario(tmp_path, drill_doc())
    code, _, err = cli(capsys, "run", str(path), "--out", str(tmp_path / "o"), "--xlsx")
    assert code == 0
    assert (
        "t.xlsx: the jobs table (2 rows) is split over sheets jobs (1 of 2), jobs (2 of 2): "
        "a sheet holds 2 rows with the header"
    ) in err
    wb = openpyxl.load_workbook(tmp_path / "o" / "t.xlsx")
    jobs = [ws for ws in wb if ws.title.startswith("jobs")]
    assert [len(list(ws.values)) for ws in jobs] == [2, 2]


def test_run_with_replications_adds_summary_and_runs_sheets(tmp_path, capsys):
    path = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--xlsx", "--replications", "2", "--workers", "1"]
    assert cli(capsys, *argv)[0] == 0
    wb = openpyxl.load_workbook(out / "t.xlsx")
    assert wb.sheetnames == [*SHEETS, "summary", "runs"]
    assert list(wb["summary"].values)[0][:2] == ("kpi", "unit")
    assert len(list(wb["runs"].values)) == 1 + 2  # seeds 1 and 2
