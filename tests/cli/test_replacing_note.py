"""A command writing into a folder that holds an earlier command's published outputs
says so in one line on stderr (the earlier command from the folder's manifest)."""

from __future__ import annotations

from hvsim.files import MANIFEST, OutputFolder, manifest_text
from tests.builders import BANDWIDTH_VARY, base_scenario, cli, write_scenario


def test_a_second_sweep_into_the_same_folder_says_it_replaces_the_first(tmp_path, capsys):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "--vary", BANDWIDTH_VARY, "--replications", "1"]
    argv += ["--workers", "1", "--out", str(out)]
    code, _, first = cli(capsys, *argv)
    assert code == 0
    assert not [line for line in first if "replacing" in line]
    code, _, second = cli(capsys, *argv)
    assert code == 0
    assert [line for line in second if "replacing" in line] == [
        f"--out {out}: replacing the outputs of an earlier 'sweep' (its finished runs in "
        "runs/ are kept and reused where they match)"
    ]


def test_a_compare_over_a_runs_outputs_names_the_run(tmp_path, capsys):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "out"
    code, _, err = cli(capsys, "run", str(scenario), "--out", str(out))
    assert code == 0 and not [line for line in err if "replacing" in line]
    code, _, err = cli(
        capsys,
        "compare",
        str(scenario),
        str(scenario),
        "--replications",
        "1",
        "--workers",
        "1",
        "--out",
        str(out),
    )
    assert code == 0
    # A single run keeps no runs/: nothing is said about them.
    assert [line for line in err if "replacing" in line] == [
        f"--out {out}: replacing the outputs of an earlier 'run'"
    ]


def test_a_folder_never_published_is_no_earlier_output(tmp_path):
    # An interrupted sweep leaves its manifest listing no files: nothing is replaced.
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / MANIFEST).write_text(manifest_text("sweep", []), encoding="utf-8")
    assert OutputFolder(folder, "sweep").replacing_note() is None
    (folder / MANIFEST).write_text(manifest_text("advise", ["advice.md"]), encoding="utf-8")
    assert (
        OutputFolder(folder, "sweep").replacing_note()
        == f"--out {folder}: replacing the outputs of an earlier 'advise'"
    )
    assert OutputFolder(tmp_path / "new", "sweep").replacing_note() is None
