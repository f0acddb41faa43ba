"""What ``hvsim run`` writes for the host-or-guest decision: data_sources.csv (one
row per guest data source) and recommendations.csv (one row per VM named by a
restore need), each only when there is something to list, and in the manifest."""

from __future__ import annotations

import pandas as pd

from hvsim.files import read_manifest
from tests.builders import base_scenario, cli, write_scenario


def guest_sql(**doc):
    """vm1 protected in its guest: two 50 GB SQL databases, a guest-level group."""
    d = base_scenario(**doc)
    d["vms"][0]["protection"] = "guest"
    d["vms"][0]["sql"] = {"databases": 2, "size": "50 GB"}
    d["protection_groups"][0]["level"] = "guest"
    return d


def test_a_run_with_guest_data_sources_writes_data_sources_csv(tmp_path, capsys):
    path = write_scenario(tmp_path, guest_sql())
    code, out, err = cli(capsys, "run", str(path), "--out", str(tmp_path / "out"))
    assert (code, err) == (0, [])
    table = pd.read_csv(tmp_path / "out" / "data_sources.csv")
    assert list(table["data_source"]) == ["vm1/sql1", "vm1/sql2"]
    assert (table["kind"] == "sql").all()
    assert "data_sources.csv" in read_manifest(tmp_path / "out")["files"]
    assert "data_sources.csv" in out
    assert not (tmp_path / "out" / "recommendations.csv").exists()


def test_a_host_only_run_writes_neither_file(tmp_path, capsys):
    path = write_scenario(tmp_path, base_scenario())
    code, out, _ = cli(capsys, "run", str(path), "--out", str(tmp_path / "out"))
    assert code == 0
    for name in ("data_sources.csv", "recommendations.csv"):
        assert not (tmp_path / "out" / name).exists()
        assert name not in read_manifest(tmp_path / "out")["files"]


def test_restore_needs_make_recommendations_csv(tmp_path, capsys):
    doc = base_scenario(restore_needs=[{"members": ["vm1"], "finest_unit": "database"}])
    path = write_scenario(tmp_path, doc)
    code, out, _ = cli(capsys, "run", str(path), "--out", str(tmp_path / "out"))
    assert code == 0
    table = pd.read_csv(tmp_path / "out" / "recommendations.csv")
    row = table.iloc[0]
    assert (row["vm"], row["protection"], row["recommended"]) == ("vm1", "host", "guest")
    assert "recommendations.csv" in read_manifest(tmp_path / "out")["files"]
