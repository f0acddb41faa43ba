"""Problem lines of a scenario file say where: ``file:LINE:COLUMN: path: message``
(the key of a field, the start of a list item; a missing field: its parent), an
unknown key gets the closest field name, and a number where the schema wants words
such as "2012" says to quote it. A dict from Python keeps ``<scenario>: path: ...``."""

from __future__ import annotations

import pytest
import yaml

from hvsim import load_scenario, scenario_from_dict
from hvsim.scenario.loader import ScenarioError
from tests.builders import cli

# A small valid scenario written by hand, so each place below is read off the text:
# line numbers count from 1 and columns from 1 (the first character of the line).
GOOD = """\
# a comment line
name: lab
start_date: 2026-01-05
horizon_days: 1
clusters:
  - name: prod
    os: "2012"
    nodes: 2
    csvs:
      - name: csv1
        capacity: 4 TiB
        read: 400 MB/s
        write: 300 MB/s
switches: [sw]
links:
  - {between: [prod-n1, sw], bandwidth: 10 Gbps}
  - {between: [prod-n2, sw], bandwidth: 10 Gbps}
  - {between: [dpm01, sw], bandwidth: 1 Gbps}
dpm_servers:
  - name: dpm01
    version: 2012SP1
    pool: {capacity: 20 TB, write: 250 MB/s}
protection_groups:
  - name: web
    dpm_server: dpm01
    members: ["vm-*"]
    express_full_times: ["22:00"]
vms:
  - name: vm-{i}
    count: 2
    cluster: prod
    csv: csv1
"""


def problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [line.removeprefix(f"{tmp_path}/") for line in caught.value.problems]


def test_the_hand_written_scenario_is_valid(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_scenario(path).name == "lab"


def test_a_bad_value_is_placed_at_its_key(tmp_path):
    text = GOOD.replace("        read: 400 MB/s", "        read: -400 MB/s")
    # 'read' is on line 12, indented 8 spaces: column 9.
    assert problems(tmp_path, text) == [
        "s.yaml:12:9: clusters[0].csvs[0].read: read must be a rate from 64 kbps (8 kB/s) to "
        "1 PB/s (1e15 bytes/s) ('-400 MB/s')"
    ]


def test_a_missing_field_is_placed_at_its_parent(tmp_path):
    # pool.write removed: the line points at the key 'pool' (line 22, column 5).
    text = GOOD.replace("pool: {capacity: 20 TB, write: 250 MB/s}", "pool: {capacity: 20 TB}")
    assert problems(tmp_path, text) == ["s.yaml:22:5: dpm_servers[0].pool.write: Field required"]
    # A list item without its required 'os': the item's start, 'name' of line 6, column 5.
    text = GOOD.replace('    os: "2012"\n', "")
    assert problems(tmp_path, text) == ["s.yaml:6:5: clusters[0].os: Field required"]


def test_a_missing_top_level_field_is_placed_at_the_documents_start(tmp_path):
    # Without 'name' the document starts on line 2 (after the comment) with start_date;
    # 'horizon' (line 3, column 1) is horizon_days misspelt.
    text = GOOD.replace("name: lab\n", "").replace("horizon_days: 1", "horizon: 1")
    assert sorted(problems(tmp_path, text)) == [
        "s.yaml:2:1: name: Field required",
        "s.yaml:3:1: horizon: unknown field (did you mean horizon_days?)",
    ]


def test_a_flow_list_item_and_a_reference_check_are_placed_at_the_item(tmp_path):
    # links[2].between[0] is 'dpmX' on line 18: '  - {between: [' is 15 characters.
    text = GOOD.replace("{between: [dpm01, sw]", "{between: [dpmX, sw]")
    assert problems(tmp_path, text) == [
        "s.yaml:18:16: links[2].between[0]: unknown endpoint, declare it as a host, node, "
        "file server, switch or DPM server ('dpmX')"
    ]


def test_a_cross_reference_problem_is_placed_at_its_key(tmp_path):
    text = GOOD.replace("    dpm_server: dpm01", "    dpm_server: dpm02")
    assert problems(tmp_path, text) == [
        "s.yaml:25:5: protection_groups[0].dpm_server: unknown DPM server ('dpm02')"
    ]


def test_an_unknown_key_gets_the_closest_field_name(tmp_path):
    # 'csv' instead of 'csvs' (line 9, column 5): unknown, and csvs is then missing
    # (placed at the cluster item, line 6, column 5).
    text = GOOD.replace("    csvs:", "    csv:")
    assert sorted(problems(tmp_path, text)) == [
        "s.yaml:6:5: clusters[0].csvs: Field required",
        "s.yaml:9:5: clusters[0].csv: unknown field (did you mean csvs?)",
    ]


def test_an_unknown_key_far_from_every_field_gets_no_suggestion(tmp_path):
    text = GOOD.replace("    max_parallel_jobs", "").replace(
        "    version: 2012SP1", "    version: 2012SP1\n    colour: blue"
    )
    assert problems(tmp_path, text) == ["s.yaml:22:5: dpm_servers[0].colour: unknown field"]


def test_an_unquoted_number_for_a_text_choice_says_to_quote_it(tmp_path):
    text = GOOD.replace('os: "2012"', "os: 2012")
    assert problems(tmp_path, text) == [
        "s.yaml:7:5: clusters[0].os: Input should be '2008R2', '2012' or '2012R2'; YAML reads "
        '2012 as a number: write "2012" in quotes (2012)'
    ]


def test_a_number_that_is_no_choice_gets_no_quote_hint(tmp_path):
    # 2016 is not one of the versions: quoting it would not help.
    text = GOOD.replace('os: "2012"', "os: 2016")
    assert problems(tmp_path, text) == [
        "s.yaml:7:5: clusters[0].os: Input should be '2008R2', '2012' or '2012R2' (2016)"
    ]


def test_the_dpm_version_as_a_number_says_to_quote_it_too():
    # version takes '2012', '2012SP1' or '2012R2': 2012 read as a number.
    doc = yaml.safe_load(GOOD.replace("version: 2012SP1", "version: 2012"))
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(doc)
    assert caught.value.problems == [
        "<scenario>: dpm_servers[0].version: Input should be '2012', '2012SP1' or '2012R2'; "
        'YAML reads 2012 as a number: write "2012" in quotes (2012)'
    ]


def test_a_dict_from_python_keeps_the_line_without_a_place():
    doc = yaml.safe_load(GOOD.replace("    csvs:", "    csv:"))
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(doc)
    assert sorted(caught.value.problems) == [
        "<scenario>: clusters[0].csv: unknown field (did you mean csvs?)",
        "<scenario>: clusters[0].csvs: Field required",
    ]


def test_a_value_merged_from_an_anchor_is_placed_where_it_is_written(tmp_path):
    text = "defaults: &p {capacity: 20 TB, write: -1 MB/s}\n" + GOOD.replace(
        "pool: {capacity: 20 TB, write: 250 MB/s}", "pool: {<<: *p}"
    )
    lines = problems(tmp_path, text)
    # 'defaults' itself is no field (line 1, column 1); the rate is the anchor's
    # 'write' key: line 1, column 32 ('defaults: &p {capacity: 20 TB, ' is 31 characters).
    assert sorted(lines) == [
        "s.yaml:1:1: defaults: unknown field",
        "s.yaml:1:32: dpm_servers[0].pool.write: write must be a rate from 64 kbps (8 kB/s) "
        "to 1 PB/s (1e15 bytes/s) ('-1 MB/s')",
    ]


def test_hvsim_validate_prints_the_place(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace('os: "2012"', "os: 2012"), encoding="utf-8")
    code, out, err = cli(capsys, "validate", str(path))
    assert (code, out) == (2, "")
    assert err == [
        f"{path}:7:5: clusters[0].os: Input should be '2008R2', '2012' or '2012R2'; YAML reads "
        '2012 as a number: write "2012" in quotes (2012)'
    ]


def test_an_unknown_key_inside_a_union_member_gets_its_models_field(tmp_path):
    # nodes takes a count or a list of names or node objects: the object's misspelt
    # key is matched against ClusterNode's fields (line 8; '    nodes: [{name: a, '
    # is 22 characters: column 23).
    text = GOOD.replace("nodes: 2", "nodes: [{name: a, dpm_agnet: true}, b]")
    assert (
        "s.yaml:8:23: clusters[0].nodes[0].dpm_agnet: unknown field (did you mean dpm_agent?)"
        in (problems(tmp_path, text))
    )
