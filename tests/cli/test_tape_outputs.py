"""hvsim run writes tape_jobs.csv only when a protection group has long-term
protection to tape."""

from __future__ import annotations

from tests.builders import base_scenario, cli, tape_doc, write_scenario


def test_tape_jobs_csv_is_written_only_with_tape(capsys, tmp_path) -> None:
    with_tape = write_scenario(tmp_path, tape_doc(), "tape.yaml")
    without = write_scenario(tmp_path, base_scenario(), "plain.yaml")
    code, _, _ = cli(capsys, "run", str(with_tape), "--out", str(tmp_path / "a"))
    assert code == 0
    csv = (tmp_path / "a" / "tape_jobs.csv").read_text(encoding="utf-8").splitlines()
    assert csv[0].startswith("data_source,vm,workload,protection_group,dpm_server,drive,")
    assert len(csv) == 1 + 2  # a header and the two tape jobs
    code, _, _ = cli(capsys, "run", str(without), "--out", str(tmp_path / "b"))
    assert code == 0
    assert not (tmp_path / "b" / "tape_jobs.csv").exists()
