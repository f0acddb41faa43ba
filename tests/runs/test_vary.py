"""--vary (hvsim/runs/vary.py): paths, values as written, and one line per bad path
or value."""

from __future__ import annotations

import copy

import pytest

import hvsim
from hvsim.cli import main
from hvsim.runs.vary import Named, parse_vary, set_path
from hvsim.scenario.loader import ScenarioError
from hvsim.sweep import run_sweep
from tests.builders import BANDWIDTH_VARY, base_scenario, write_scenario


def test_vary_path_has_keys_and_list_indices_and_values_as_written():
    v = parse_vary("dpm_servers[0].pool.write=800 MB/s,1600 MB/s")
    assert v.steps == ("dpm_servers", 0, "pool", "write")
    assert v.labels == ("800 MB/s", "1600 MB/s") and v.values == ("800 MB/s", "1600 MB/s")
    v = parse_vary("clusters[0].csvs[0].vss_provider=software,hardware")
    assert v.steps == ("clusters", 0, "csvs", 0, "vss_provider")


def test_a_bracket_with_a_name_picks_the_list_item_of_that_name():
    v = parse_vary("clusters[prod].csvs[csv1].vss_provider=software,hardware")
    assert v.steps == ("clusters", Named("prod"), "csvs", Named("csv1"), "vss_provider")
    assert v.path == "clusters[prod].csvs[csv1].vss_provider"  # as written
    doc = {
        "clusters": [
            {"name": "test", "csvs": [{"name": "csv1"}]},
            {"name": "prod", "csvs": [{"name": "csv0"}, {"name": "csv1"}]},
        ]
    }
    set_path(doc, v.steps, "hardware")
    # prod is the second cluster, its csv1 the second CSV: only that one changes.
    assert doc["clusters"][1]["csvs"][1] == {"name": "csv1", "vss_provider": "hardware"}
    assert doc["clusters"][0]["csvs"][0] == {"name": "csv1"}
    assert doc["clusters"][1]["csvs"][0] == {"name": "csv0"}


def test_a_sweep_by_name_keeps_the_path_as_written_and_runs_what_the_index_runs(tmp_path):
    doc = base_scenario()
    store = tmp_path / "runs"
    first = run_sweep(doc, ["dpm_servers[dpm1].pool.write=100 MB/s,1 GB/s"], workers=1, store=store)
    assert list(first.table["dpm_servers[dpm1].pool.write"]) == ["100 MB/s", "1 GB/s"]
    assert first.computed == 2
    # The same field by index: the same runs, found in the store (nothing computed).
    again = run_sweep(doc, ["dpm_servers[0].pool.write=100 MB/s,1 GB/s"], workers=1, store=store)
    assert again.computed == 0
    assert list(again.table["backups.makespan_max_s"]) == list(
        first.table["backups.makespan_max_s"]
    )


def test_the_same_field_by_index_and_by_name_is_varied_twice(tmp_path, capsys):
    scenario = write_scenario(tmp_path, base_scenario())
    code = main(
        [
            "sweep",
            str(scenario),
            "--vary",
            "dpm_servers[0].pool.write=100 MB/s,1 GB/s",
            "--vary",
            "dpm_servers[dpm1].pool.write=200 MB/s",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err == [
        f"{scenario}: dpm_servers[dpm1].pool.write: varied twice (dpm_servers[dpm1].pool.write)"
    ]


def test_vary_values_become_numbers_booleans_or_yaml_lists():
    assert parse_vary("vms[0].count=10,20").values == (10, 20)
    assert parse_vary("horizon_days=0.5,1").values == (0.5, 1)
    assert parse_vary("hosts[0].dpm_agent=true,false").values == (True, False)
    v = parse_vary('protection_groups[0].express_full_times=["22:00"],["22:00", "02:00"]')
    assert v.values == (["22:00"], ["22:00", "02:00"])
    # a time of day stays text (YAML would read 22:00 as the number 1320)
    assert parse_vary("protection_groups[0].backup_window.start=22:00").values == ("22:00",)


def test_numeric_varied_values_stay_numbers_in_the_table_and_text_stays_as_written():
    doc = base_scenario(vms=[{"name": "vm{i}", "cluster": "c1", "csv": "csv1"}])
    r = run_sweep(doc, ["vms[0].count=1,2"], replications=1, workers=1)
    assert list(r.table["vms[0].count"]) == [1, 2]
    assert r.table["backups.jobs"].tolist() == [1, 2]
    r = run_sweep(base_scenario(), [BANDWIDTH_VARY], replications=1, workers=1)
    assert list(r.table["links[2].bandwidth"]) == ["1 Gbps", "10 Gbps"]


def test_set_path_creates_a_missing_mapping_that_the_schema_then_checks():
    doc = base_scenario()
    set_path(doc, ("dpm_servers", 0, "vmm", "console_installed"), True)
    assert hvsim.scenario_from_dict(doc).dpm_servers[0].vmm.console_installed is True


@pytest.mark.parametrize(
    ("vary", "problem"),
    [
        ("links[8].bandwidth=1 Gbps", "links[8]: no such item, links has 3 (links[8].bandwidth)"),
        (
            "dpm_servers[dpm9].pool.write=1 GB/s",
            "dpm_servers[dpm9]: no item named dpm9 in dpm_servers (dpm1)",
        ),
        ("links[sw].bandwidth=1 Gbps", "links[sw]: no item named sw in links (none)"),
        ("linkz[0].bandwidth=1 Gbps", "linkz: not in the scenario, cannot take item [0] "),
        ("name.first=a", "name: is not a mapping, cannot take field 'first' (name.first)"),
        ("links.bandwidth=1 Gbps", "links: is not a mapping, cannot take field 'bandwidth' "),
        ("links[0]bandwidth=1 Gbps", "links[0]bandwidth: expected a field path like "),
        ("links[0].bandwidth", "--vary: expected path.to.field=v1,v2,... (links[0].bandwidth)"),
        ("links[0].bandwidth=1 Gbps,,2 Gbps", "links[0].bandwidth: expected values like v1"),
        ("links[0].bandwidth=1 Gbps,1 Gbps", "links[0].bandwidth: the same value is given twice"),
    ],
)
def test_a_bad_vary_path_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, vary, problem):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), "--vary", vary, "--workers", "1", "--out", str(out)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"{scenario}: ") and problem in err[0], err
    assert not out.exists()


@pytest.mark.parametrize(
    ("vary", "bad_values"),
    [
        ("links[0].bandwidth=10 Gbps,fast", ["fast"]),
        ("dpm_servers[0].max_parallel_jobz=2,4", [2, 4]),
        ("clusters[0].csvs[0].vss_provider=software,magic", ["magic"]),
    ],
)
def test_a_bad_varied_value_gives_the_validators_own_line(tmp_path, capsys, vary, bad_values):
    doc = base_scenario()
    scenario = write_scenario(tmp_path, doc)
    v = parse_vary(vary)
    expected = []
    for value in bad_values:
        bad = copy.deepcopy(doc)
        set_path(bad, v.steps, value)
        with pytest.raises(ScenarioError) as problem:
            hvsim.scenario_from_dict(bad, str(scenario))
        # The same line twice (an unknown field says no value) is printed once.
        expected += [p for p in problem.value.problems if p not in expected]
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), "--vary", vary, "--workers", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert captured.err.splitlines() == expected
    assert not out.exists()
