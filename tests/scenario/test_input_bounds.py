"""The work of reading a scenario is bounded before it is done.

A file under the 5 MB limit could still hold millions of YAML values: a 4.9 MB list
was still being read after 150 s at 3.2 GB, and 200,000 unknown keys took 33 s and
printed 200,000 lines. The loader counts values as it composes them and refuses past
MAX_NODES, and a refused scenario prints at most MAX_PROBLEM_LINES problems and one
line with the count of the rest.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

import hvsim
from hvsim.cli import main
from hvsim.scenario import loader
from hvsim.scenario.loader import MAX_NODES, MAX_PROBLEM_LINES, ScenarioError, parse_yaml
from tests.builders import base_scenario, cli_in_a_process, where

# Seconds a refusal may take, process start included; it takes about 2 s on a loaded
# 2-core machine, the old loader did not finish in 150 s.
FEW_SECONDS = 15


def validate_in_a_process(path: Path) -> tuple[int, list[str], float]:
    """``hvsim validate path`` in its own process, killed after a minute."""
    started = time.perf_counter()
    proc = cli_in_a_process("validate", str(path), timeout=60)
    return proc.returncode, proc.stderr.splitlines(), time.perf_counter() - started


def test_a_flow_list_of_2_4_million_values_under_the_byte_limit_is_refused_in_seconds(tmp_path):
    path = tmp_path / "big-list.yaml"
    path.write_text("name: x\nswitches: [" + ",".join(["a"] * 2_440_000) + "]\n")
    assert 4_800_000 < path.stat().st_size < 5_000_000  # under the byte limit
    code, lines, elapsed = validate_in_a_process(path)
    assert code == 2
    assert lines == [
        f"{path}: (yaml): line 2, column {2 * MAX_NODES + 2}: more than 250,000 values "
        "(YAML nodes), more than a scenario needs: give many VMs by count and a name "
        "pattern, not one by one"
    ]
    assert elapsed < FEW_SECONDS, f"took {elapsed:.1f} s"


def test_a_block_list_of_a_million_items_is_refused_at_the_node_limit_not_read_to_its_end():
    # 1.2 million '- a' lines: the value past the limit is on line 250,001 (the
    # sequence itself is the first value, the mapping's key and the document the others).
    text = "switches:\n" + "- a\n" * 1_200_000
    with pytest.raises(ScenarioError) as caught:
        parse_yaml(text, "f.yaml")
    (line,) = caught.value.problems
    assert line.startswith(f"f.yaml: (yaml): line {MAX_NODES - 1}, column 3: more than 250,000")


def test_200000_unknown_keys_in_a_file_are_refused_in_seconds_with_one_line(tmp_path):
    path = tmp_path / "keys.yaml"
    keys = "".join(f"key{i}: {i}\n" for i in range(200_000))
    path.write_text(yaml.safe_dump(base_scenario(), sort_keys=False) + keys)
    code, lines, elapsed = validate_in_a_process(path)
    assert code == 2
    (line,) = lines
    assert line.startswith(f"{path}: (yaml): line ") and "more than 250,000 values" in line
    assert elapsed < FEW_SECONDS, f"took {elapsed:.1f} s"


def test_200000_unknown_keys_built_in_python_give_40_lines_and_a_count_of_the_rest():
    doc = base_scenario()
    doc.update({f"key{i}": i for i in range(200_000)})
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    elapsed = time.perf_counter() - started
    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEM_LINES + 1 == 41
    # A dict from Python: no line and column; no field name is close to keyN.
    assert problems[0] == "f.yaml: key0: unknown field"
    assert problems[39] == "f.yaml: key39: unknown field"
    # 200,000 problems, 40 shown: 199,960 more.
    assert problems[-1] == "f.yaml: (more): ... and 199,960 more problems"
    assert caught.value.count == 200_000
    assert len(str(caught.value).splitlines()) == 41
    assert elapsed < FEW_SECONDS, f"took {elapsed:.1f} s"


def test_a_file_with_100_mistakes_prints_40_lines_and_how_many_more(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    doc = base_scenario()
    doc["vms"] = [
        {"name": f"vm{i}", "cluster": "c1", "csv": "csv1", "colour": "blue"} for i in range(100)
    ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    code = main(["validate", str(path)])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2
    assert lines[:2] == [
        f"{where(path, 'colour: blue', 1)}: vms[0].colour: unknown field",
        f"{where(path, 'colour: blue', 2)}: vms[1].colour: unknown field",
    ]
    assert len(lines) == 41
    assert lines[-1] == f"{path}: (more): ... and 60 more problems"


def test_a_few_problems_are_all_printed_without_a_closing_count():
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(base_scenario(colour=1, size=2), "f.yaml")
    assert caught.value.problems == [
        "f.yaml: colour: unknown field",
        "f.yaml: size: unknown field",
    ]
    assert caught.value.count == 2


def test_ten_thousand_explicit_migration_events_still_load(tmp_path):
    doc = base_scenario(horizon_days=7)
    doc["migrations"] = {
        "events": [
            {
                "vm": "vm1",
                "day": i % 7,
                "time": f"{i % 24:02d}:{i % 60:02d}",
                "kind": "live",
                "target": f"c1-n{i % 2 + 1}",
            }
            for i in range(10_000)
        ]
    }
    path = tmp_path / "events.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    # Each event is a mapping of five keys and five values: 11 YAML values, 110,000 in all.
    scenario = hvsim.load_scenario(path)
    assert len(scenario.migrations.events) == 10_000


def test_the_node_limit_counts_every_value_of_the_document(monkeypatch):
    monkeypatch.setattr(loader, "MAX_NODES", 100)
    # A list of n items is n + 1 values (the list itself and its items); a mapping of
    # n keys is 2n + 1 (the mapping, each key and each value).
    assert len(parse_yaml("[" + ",".join(["a"] * 99) + "]", "f.yaml")) == 99
    assert len(parse_yaml("".join(f"k{i}: {i}\n" for i in range(49)), "f.yaml")) == 49
    with pytest.raises(ScenarioError, match="more than 100 values"):
        parse_yaml("[" + ",".join(["a"] * 100) + "]", "f.yaml")
    with pytest.raises(ScenarioError, match="more than 100 values"):
        parse_yaml("".join(f"k{i}: {i}\n" for i in range(50)), "f.yaml")


def test_ten_thousand_events_over_100000_vms_validate_in_seconds():
    # Each event looked its VM's entry up by expanding every entry's names again:
    # 10,000 events x 100,000 names, about 12 minutes (70 ms an event). Now one table.
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "20 PB"  # 100,000 x 104.3 GB = 10.4 PB
    doc["vms"] = [{"name": "vm{i:06d}", "count": 100_000, "cluster": "c1", "csv": "csv1"}]
    event = {"day": 0, "time": "10:00", "kind": "live", "target": "c1-n2"}
    doc["migrations"] = {
        "events": [{"vm": f"vm{i * 7 % 100_000 + 1:06d}", **event} for i in range(10_000)]
    }
    started = time.perf_counter()
    scenario = hvsim.scenario_from_dict(doc, "f.yaml")
    assert len(scenario.migrations.events) == 10_000
    assert time.perf_counter() - started < FEW_SECONDS
