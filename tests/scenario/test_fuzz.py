"""Bad input, at random and at its worst: the loader never crashes.

Hypothesis breaks a valid scenario (deleting keys, adding unknown ones, putting
junk of any type where values go, naming things that do not exist) and writes
random text as YAML. Every document is either accepted or refused the documented
way: ``hvsim validate`` exits 2 and prints only lines ``file: path: message``, the
path naming a place in the document; never a traceback or another exception.
Documents built to be expensive (a billion VMs, 1e400-byte disks, alias bombs,
10,000 nested brackets, a megabyte of spaces) are refused in well under a second
and without a large allocation. ``HVSIM_FUZZ_EXAMPLES=5000`` searches longer.
Accepted documents with the least and largest rates, sizes and durations run to
their end or stop with the runaway line; ``HVSIM_FUZZ_RUNS=400`` runs more of them.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hvsim
from hvsim.overrun import RunawayError
from hvsim.scenario.loader import ScenarioError, parse_yaml
from hvsim.scenario.schema import Scenario
from tests.builders import base_scenario, cli, problems_of, without_places
from tests.fuzzing import (
    PATH_STEP,
    check_problem_lines,
    parent_of,
    paths,
    rich_scenario,
)

# HVSIM_FUZZ_EXAMPLES=5000 pytest tests/scenario/test_fuzz.py searches longer, by hand.
FUZZ = settings(
    max_examples=int(os.environ.get("HVSIM_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- a valid document that touches most sections -----------------------------------


def test_the_document_the_fuzzer_breaks_is_valid_and_uses_every_section():
    doc = rich_scenario()
    scenario = hvsim.scenario_from_dict(doc)
    assert sum(v.count for v in scenario.vms) == 6
    assert set(doc) == set(Scenario.model_fields) - {"description", "start_date"}


# --- what a broken document looks like ---------------------------------------------

EXTREME_NUMBERS = [0, -1, 1, 64, 65, 10**5, 10**9, 10**400, -(10**400), 1e308, -1e308, 1e-320]
EXTREME_NUMBERS += [math.inf, -math.inf, math.nan, 0.5, -0.0]
QUANTITY_TEXTS = [
    "1e400 B",
    "1e308 GiB",
    "-5 GiB",
    "0 B",
    "1e19 B",
    "1e-300 B/s",
    "nan",
    "inf",
    "-inf",
    ".nan",
    "1 Gb/s",
    "10 Gbps",
    "500 MB/s",
    "100 GiBs",
    "30 s",
    "1e300 d",
    "-1 s",
    "22:00",
    "24:00",
    "99:99",
    "3 %",
    "150 %",
    "nan %",
    "vm{i:0999d}",
    "vm{i:01000000000d}",
    "{j}",
    "*",
    "c1-n9",
    "csv9",
    "dpm9",
    "2026-02-30",
    "",
    " ",
    "1" + " " * 200 + "x",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(EXTREME_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(QUANTITY_TEXTS),
)
keys = st.one_of(st.text(max_size=12), st.integers(), st.none(), st.booleans())
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
names = st.one_of(
    st.from_regex(r"[a-z][a-z0-9\-]{0,10}", fullmatch=True),
    st.sampled_from(["vm1", "c1", "csv1", "c1-n1", "c1-n2", "sw", "dpm1", "hv1", "fs1", "share1"]),
)


@st.composite
def broken_documents(draw) -> Any:
    doc: Any = rich_scenario()
    for _ in range(draw(st.integers(1, 4))):
        places = list(paths(doc))
        if not isinstance(doc, dict) or not places:
            break
        path = draw(st.sampled_from(places))
        parent, last = parent_of(doc, path), path[-1]
        action = draw(
            st.sampled_from(["delete", "junk", "extreme", "name", "unknown_key", "duplicate"])
        )
        if action == "delete":
            del parent[last]
        elif action == "junk":
            parent[last] = draw(junk)
        elif action == "extreme":
            parent[last] = draw(st.sampled_from(EXTREME_NUMBERS + QUANTITY_TEXTS + [True]))
        elif action == "name":
            parent[last] = draw(names)
        elif action == "unknown_key":
            target = parent[last] if isinstance(parent[last], dict) else parent
            if isinstance(target, dict):
                target[draw(keys)] = draw(junk)
        elif isinstance(parent[last], list) and parent[last]:  # duplicate an item
            parent[last].append(copy.deepcopy(draw(st.sampled_from(parent[last]))))
    if draw(st.integers(0, 30)) == 0:
        doc = draw(junk)  # not even a mapping
    return doc


# --- the contract (tests/fuzzing.py) ------------------------------------------


@FUZZ
@given(doc=broken_documents())
def test_a_broken_document_is_accepted_or_refused_with_file_path_message_lines(capsys, doc):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        problems = problems_of(doc, str(path))
        code, out, err = cli(capsys, "validate", str(path))
    if problems:
        check_problem_lines(problems, str(path), doc)
    if code == 0:
        assert problems == [] and out.startswith(f"{path}: ok (")
        # An accepted document may get warnings (VMs in no protection group): lines
        # 'file: path: warning: ...' on stderr, exit status 0.
        if err:
            check_problem_lines(err, str(path), doc)
            assert all(": warning: " in line for line in err), err
    else:
        assert code == 2 and out == ""
        # Written as YAML and read back, the document gets the same answer, each line
        # with the line and column of its path in the file.
        assert without_places(err, path) == problems


yaml_fragments = st.sampled_from(
    [
        "name: x\n",
        "vms:\n",
        "- ",
        "  ",
        "\t",
        "\n",
        ": ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "&a ",
        "*a",
        "*b",
        "<<: ",
        "? ",
        "!!python/object/apply:os.system ['true'] ",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!timestamp ",
        "!!binary ",
        "!!set ",
        "!foo ",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "|\n",
        ">\n",
        "#",
        "'",
        '"',
        "\\",
        "2026-02-30",
        "9" * 5000,
        "59:" * 200 + "1",
        "0x" + "f" * 4000,
        ".inf",
        ".nan",
        "1e400 B",
        "\x00",
        "\ufeff",
        "\u2028",
    ]
)
yamlish_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(yaml_fragments, st.text(max_size=6)), max_size=25).map("".join),
)


@FUZZ
@given(text=yamlish_text)
def test_random_text_is_parsed_or_refused_with_one_yaml_line(text):
    try:
        doc = parse_yaml(text, "f.yaml")
    except ScenarioError as exc:
        assert len(exc.problems) == 1
        (line,) = exc.problems
        assert "\n" not in line
        assert line.startswith(("f.yaml: (yaml): ", "f.yaml: (file): ")), line
        return
    problems = problems_of(doc, "f.yaml")
    if problems:
        check_problem_lines(problems, "f.yaml", doc)


@FUZZ
@given(text=yamlish_text)
def test_random_text_in_a_file_gives_exit_0_or_exit_2_with_problem_lines(capsys, text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code, out, err = cli(capsys, "validate", str(path))
    assert code in (0, 2)
    if code == 2:
        assert out == "" and err
        for line in without_places(err, path):
            assert line.startswith(f"{path}: ") and ": " in line[len(str(path)) + 2 :], line


# --- expensive documents: a clear error, fast, small -----------------------------


def refused_quickly(capsys, tmp_path: Path, text: str, seconds: float = 3.0) -> list[str]:
    """Validate ``text`` through the CLI; check exit 2, the time and the memory (in a
    second run: tracing allocations slows Python down several times)."""
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    code, out, lines = cli(capsys, "validate", str(path))
    elapsed = time.perf_counter() - started
    assert code == 2 and out == ""
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    tracemalloc.start()
    try:
        assert cli(capsys, "validate", str(path)) == (code, out, lines)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"allocated {peak / 1e6:.0f} MB at the peak"
    lines = without_places(lines, path)
    for line in lines:
        assert line.startswith(f"{path}: "), line
    return [line[len(str(path)) + 2 :] for line in lines]


def dumped(**overrides: Any) -> str:
    return yaml.safe_dump(base_scenario(**overrides), sort_keys=False)


def roomy(doc: dict[str, Any], capacity: str = "20 PB") -> dict[str, Any]:
    """``doc`` with a CSV that holds what is placed on it: 100,000 VMs of a 100 GB
    disk and 4 GiB of memory need 10.4 PB."""
    doc["clusters"][0]["csvs"][0]["capacity"] = capacity
    return doc


def one_vm(**fields: Any) -> list[dict[str, Any]]:
    return [{"name": "vm-{i}", "cluster": "c1", "csv": "csv1", **fields}]


def test_a_billion_vms_in_one_entry_are_refused_at_the_count(capsys, tmp_path):
    lines = refused_quickly(capsys, tmp_path, dumped(vms=one_vm(count=10**9)))
    assert lines == ["vms[0].count: count must be a whole number from 1 to 100000 (1000000000)"]


def test_a_million_vms_in_ten_entries_are_refused_before_any_name_is_made(capsys, tmp_path):
    vms = [
        {"name": f"g{j}-{{i}}", "cluster": "c1", "csv": "csv1", "count": 100_000} for j in range(10)
    ]
    doc = base_scenario(vms=vms)
    doc["protection_groups"][0]["members"] = ["*"]
    lines = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    assert lines == ["vms: more than 100000 VMs in all (1000000)"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("memory", "1e308 GiB", "memory must be a size from 32 MiB to 1 EB (1e18 bytes) ('1e308"),
        ("memory", "1e400 B", "memory must be a size from 32 MiB to 1 EB (1e18 bytes) ('1e400 B')"),
        ("memory", 1e308, "memory must be a size from 32 MiB to 1 EB (1e18 bytes) (1e+308)"),
        ("dirty_rate", "1e400 MB/s", "dirty_rate must be a rate from 0 B/s to 1 PB/s"),
        ("io_rate", 10**400, "io_rate must be a rate from 0 B/s to 1 PB/s"),
    ],
)
def test_a_huge_quantity_is_refused_by_name(capsys, tmp_path, field, value, message):
    lines = refused_quickly(capsys, tmp_path, dumped(vms=one_vm(**{field: value})))
    assert len(lines) == 1
    assert lines[0].startswith(f"vms[0].{field}: {message}")


def test_a_capacity_of_1e400_bytes_is_refused_as_not_finite(capsys, tmp_path):
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "1e400 B"
    doc["dpm_servers"][0]["pool"]["capacity"] = "1e400 B"
    lines = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    assert sorted(lines) == [
        "clusters[0].csvs[0].capacity: capacity must be a size from 1 MiB to 1 EB (1e18 bytes) "
        "('1e400 B')",
        "dpm_servers[0].pool.capacity: capacity must be a size from 1 MiB to 1 EB (1e18 bytes) "
        "('1e400 B')",
    ]


@pytest.mark.parametrize("horizon", [1e9, 10**400, "1e400", math.inf, math.nan])
def test_a_huge_horizon_is_refused(capsys, tmp_path, horizon):
    (line,) = refused_quickly(capsys, tmp_path, dumped(horizon_days=horizon))
    assert line.startswith(
        "horizon_days: horizon_days must be a number greater than 0 and at most 3660"
    )


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("saved_state", "save_overhead", "1e400 s"),
        ("vss", "release_time", "1e300 s"),
        ("scan", "per_vm_query", "1e300 s"),
    ],
)
def test_a_duration_beyond_ten_years_is_refused_not_simulated_for_ever(
    capsys, tmp_path, section, field, value
):
    # These were accepted: an infinite release time crashed the run's tables and a
    # 1e300 s scan step never finished.
    (line,) = refused_quickly(capsys, tmp_path, dumped(**{section: {field: value}}))
    assert line.startswith(f"{section}.{field}: {field} must be a duration ")


@pytest.mark.parametrize("pattern", ["vm{i:01000000000d}", "vm{i:999d}", "vm{i:.999f}"])
def test_a_huge_name_pattern_width_is_refused_without_making_the_names(capsys, tmp_path, pattern):
    # 100,000 names of 999 characters took 100 MB before they were refused.
    doc = roomy(base_scenario(vms=one_vm(name=pattern, count=100_000)))
    (line,) = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    assert line.startswith("vms[0].name: the name pattern ")


def test_the_largest_estate_allowed_validates_in_seconds(capsys, tmp_path):
    path = tmp_path / "scenario.yaml"
    doc = roomy(base_scenario(vms=one_vm(count=100_000)))
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    started = time.perf_counter()
    code, out, err = cli(capsys, "validate", str(path))
    assert (code, err) == (0, [])
    assert "ok (100000 VMs" in out
    assert time.perf_counter() - started < 15


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vms[0].count", True),
        ("horizon_days", True),
        ("clusters[0].nodes", True),
        ("on_demand[0].per_hour", False),
    ],
)
def test_true_or_false_is_not_taken_as_the_number_one_or_zero(capsys, tmp_path, field, value):
    doc = base_scenario(on_demand=[{"dpm_server": "dpm1", "per_hour": 1, "mean_duration": "1 h"}])
    steps = [int(i) if i else key for key, i in PATH_STEP.findall(field)]
    parent_of(doc, tuple(steps))[steps[-1]] = value
    lines = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    assert lines == [f"{field}: expected a number, not true or false ({value})"]


def test_a_node_count_of_the_wrong_type_is_reported_at_nodes_once(capsys, tmp_path):
    # pydantic reports each member of 'int | list' as 'nodes.int' and
    # "nodes.'list[union[constrained-str,ClusterNode]]'", places no file has.
    doc = base_scenario()
    doc["clusters"][0]["nodes"] = "eight"
    (line,) = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    assert line.startswith("clusters[0].nodes: Input should be a valid integer")
    assert "valid list" in line and line.endswith("('eight')")


def test_a_sync_frequency_off_the_list_is_reported_at_its_field(capsys, tmp_path):
    doc = base_scenario()
    doc["protection_groups"][0]["sync_frequency"] = "17 min"
    (line,) = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    assert line.startswith("protection_groups[0].sync_frequency: sync_frequency must be one of")


@pytest.mark.parametrize("day", ["1677-01-01", "9999-12-31"])
def test_a_start_date_beyond_what_result_timestamps_hold_is_refused(capsys, tmp_path, day):
    (line,) = refused_quickly(capsys, tmp_path, dumped(start_date=day))
    assert line.startswith("start_date: start_date must be a date from 1970-01-01 to 2200-12-31")


def test_a_drain_a_billion_days_ahead_is_refused(capsys, tmp_path):
    drain = {"node": "c1-n1", "day": 10**9, "time": "10:00", "duration": "1 h"}
    (line,) = refused_quickly(capsys, tmp_path, dumped(migrations={"drains": [drain]}))
    assert line.startswith("migrations.drains[0].day: day must be a whole number from 0 to 3660")


# --- YAML that is expensive or dangerous to read ---------------------------------


def _laughs(levels: int, width: int, mapping: bool) -> str:
    lines = ['l0: &l0 ["lol", "lol"]']
    for k in range(1, levels):
        refs = [f"k{j}: *l{k - 1}" if mapping else f"*l{k - 1}" for j in range(width)]
        body = "{" + ", ".join(refs) + "}" if mapping else "[" + ", ".join(refs) + "]"
        lines.append(f"l{k}: &l{k} {body}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        _laughs(10, 9, mapping=False),  # the billion laughs: 9^9 values from 81 aliases
        _laughs(10, 9, mapping=True),
        _laughs(40, 2, mapping=False),  # 2^40 values from 78 aliases
        "name: x\nswitches: &a [" + ", ".join(["*a"] * 3) + "]\n",  # recursive
        "a: &a x\nb: [" + ", ".join(["*a"] * 5000) + "]\n",  # many aliases
    ],
    ids=["billion-laughs", "billion-laughs-mapping", "binary-chain", "recursive", "wide"],
)
def test_an_alias_bomb_is_refused_fast_and_small(capsys, tmp_path, text):
    (line,) = refused_quickly(capsys, tmp_path, text)
    assert line.startswith("(yaml): ") and "alias" in line


def test_ten_thousand_nested_brackets_are_refused_not_a_recursion_error(capsys, tmp_path):
    (line,) = refused_quickly(capsys, tmp_path, "name: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert line.startswith("(yaml): line 1, column ")
    assert line.endswith(": values nested more than 100 deep")


def test_a_quantity_padded_with_spaces_does_not_make_the_unit_regex_backtrack(capsys, tmp_path):
    # '1', 200,000 spaces, '!': the old unit regex backtracked quadratically (16,000
    # spaces took 1.4 s, so this took minutes).
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "1" + " " * 200_000 + "!"
    lines = refused_quickly(capsys, tmp_path, yaml.safe_dump(doc, sort_keys=False, width=10**7))
    (line,) = lines
    assert line.startswith("clusters[0].csvs[0].capacity: expected a size such as '100 GiB' ('1 ")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "line 2, column 13: not a valid date or time '2026-02-30'"),
        ("9" * 5000, "line 2, column 13: cannot read '9999"),
        ("!!bool maybe", "line 2, column 13: cannot read 'maybe' as true or false"),
        ("!!float lots", "line 2, column 13: cannot read 'lots' as a number"),
        (":".join(["59"] * 300) + ".5", "line 2, column 13: cannot read '59:59"),
    ],
    ids=["date", "5000-digit-int", "bool", "float", "sexagesimal"],
)
def test_a_scalar_yaml_cannot_construct_is_refused_with_its_line(capsys, tmp_path, value, message):
    (line,) = refused_quickly(capsys, tmp_path, f"name: x\nstart_date: {value}\n")
    assert line.startswith(f"(yaml): {message}")


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object:os.system {{}}",
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_python_tags_are_refused_and_nothing_runs(capsys, tmp_path, tag):
    marker = tmp_path / "ran"
    text = "name: " + tag.format(marker=marker) + "\n"
    (line,) = refused_quickly(capsys, tmp_path, text)
    assert line.startswith("(yaml): line 1, column 7: could not determine a constructor")
    assert not marker.exists()


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(capsys, tmp_path):
    path = tmp_path / "scenario.yaml"
    with path.open("wb") as f:
        f.truncate(2_000_000_000)  # a sparse 2 GB file of zero bytes
    tracemalloc.start()
    try:
        code, _, lines = cli(capsys, "validate", str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2
    assert lines == [f"{path}: (file): larger than 5000000 bytes"]
    assert peak < 50e6


def test_a_key_that_is_not_text_is_named_in_its_line():
    doc = base_scenario()
    doc[None] = 1
    doc["vss"] = {"writers": {7: {"flush_time": "1 s"}}}
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    assert sorted(caught.value.problems) == [
        "f.yaml: null: Keys should be strings (None)",  # YAML spells the None key null
        "f.yaml: vss.writers.7: Input should be a valid string (7)",
    ]


def test_a_5000_digit_integer_built_in_python_is_shown_by_its_size_not_a_crash():
    # repr() refuses ints over 4,300 digits; the problem line used to be a ValueError.
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(base_scenario(horizon_days=10**5000), "f.yaml")
    assert caught.value.problems == [
        "f.yaml: horizon_days: horizon_days must be a number greater than 0 and at most 3660 "
        "(<integer of about 5000 digits>)"
    ]


def test_lognormal_draws_of_a_size_are_clipped_at_the_largest_size_a_file_may_give():
    # sigma 10 draws up to e^40 times the median; 1 TB x e^40 would be 2e29 bytes.
    # 8 % of the draws reach 1 EB: the VM needs an expected 0.1 EB of its CSV.
    scenario = hvsim.scenario_from_dict(
        roomy(
            base_scenario(vms=one_vm(memory={"dist": "lognormal", "median": "1 TB", "sigma": 10})),
            "1 EB",
        )
    )
    rng = np.random.default_rng(1)
    draws = [scenario.vms[0].memory.sample(rng) for _ in range(2000)]
    assert max(draws) == 1e18


# --- accepted, then crashed or ran away (found by fuzzing) --------------------------


@pytest.mark.parametrize(
    ("where", "value", "line"),
    [
        (
            "links[2].bandwidth",
            "1 bps",
            "links[2].bandwidth: bandwidth must be a rate from 64 kbps (8 kB/s) to 1 PB/s "
            "(1e15 bytes/s) ('1 bps')",
        ),
        (
            "dpm_servers[0].pool.write",
            "1e-300 B/s",
            "dpm_servers[0].pool.write: write must be a rate from 64 kbps (8 kB/s) to 1 PB/s "
            "(1e15 bytes/s) ('1e-300 B/s')",
        ),
        (
            "clusters[0].csvs[0].read",
            1000,
            "clusters[0].csvs[0].read: read must be a rate from 64 kbps (8 kB/s) to 1 PB/s "
            "(1e15 bytes/s) (1000)",
        ),
        (
            "clusters[0].cluster_network",
            "56 kbps",
            "clusters[0].cluster_network: cluster_network must be a rate from 64 kbps (8 kB/s) "
            "to 1 PB/s (1e15 bytes/s) ('56 kbps')",
        ),
        (
            "vms[0].memory",
            "0.5 B",
            "vms[0].memory: memory must be a size from 32 MiB to 1 EB (1e18 bytes) ('0.5 B')",
        ),
        (
            "vms[0].memory",
            {"dist": "uniform", "low": "1 MiB", "high": "4 GiB"},
            "vms[0].memory.low: low of memory must be a size from 32 MiB to 1 EB (1e18 bytes) "
            "('1 MiB')",
        ),
        (
            "vms[0].disks",
            [{"size": "0.5 B"}],
            "vms[0].disks[0].size: size must be a size from 1 MiB to 1 EB (1e18 bytes) ('0.5 B')",
        ),
        (
            "dpm_servers[0].pool.capacity",
            "1 KiB",
            "dpm_servers[0].pool.capacity: capacity must be a size from 1 MiB to 1 EB "
            "(1e18 bytes) ('1 KiB')",
        ),
    ],
)
def test_rates_and_sizes_too_small_to_be_meant_are_refused(where, value, line):
    # A 1 bps link or a 1e-300 B/s pool passed and ended jobs centuries after the
    # horizon (the tables then failed with OutOfBoundsTimedelta); a 0.5 B VM moved
    # sub-byte transfers. The least values are in the scenario reference.
    doc = base_scenario()
    steps = [int(i) if i else key for key, i in PATH_STEP.findall(where)]
    parent_of(doc, tuple(steps))[steps[-1]] = value
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith(f"f.yaml: {line}"), problem


def test_the_least_rates_and_sizes_are_accepted_and_run():
    doc = base_scenario()
    doc["links"][2]["bandwidth"] = "64 kbps"
    doc["dpm_servers"][0]["pool"]["write"] = "8 kB/s"
    doc["vms"][0].update(memory="32 MiB", disks=[{"size": "1 MiB"}])
    res = hvsim.simulate(hvsim.scenario_from_dict(doc), seed=1)
    # The initial replica of 1 MiB at 6.4 kB/s (the 64 kbps link at its default 80 %
    # efficiency, the slowest on the route) moves for 2**20 / 6400 = 164 s; the rest of
    # the job is the writers' flush and the snapshot's creation and release (a few
    # seconds).
    first = res.jobs.iloc[0]
    assert (first["kind"], first["outcome"], first["bytes"]) == (
        "initial_replica",
        "succeeded",
        2**20,
    )
    assert 2**20 / 6400 < first["duration_s"] < 2**20 / 6400 + 15


def test_draws_of_a_memory_distribution_are_clipped_at_its_least_value():
    scenario = hvsim.scenario_from_dict(
        roomy(
            base_scenario(
                vms=one_vm(memory={"dist": "lognormal", "median": "64 MiB", "sigma": 10})
            ),
            "1 EB",  # 1 % of the draws reach 1 EB: an expected 10 PB
        )
    )
    normal = hvsim.scenario_from_dict(
        base_scenario(vms=one_vm(memory={"dist": "normal", "mean": "64 MiB", "sd": "1 GiB"}))
    )
    rng = np.random.default_rng(1)
    draws = [scenario.vms[0].memory.sample(rng) for _ in range(2000)]
    draws += [normal.vms[0].memory.sample(rng) for _ in range(2000)]
    assert min(draws) == 32 * 2**20


def test_on_demand_jobs_at_the_old_maximum_rate_are_refused():
    # per_hour: 100000 (the schema's maximum) made 2.4 million jobs a day and the run
    # ran out of memory and time.
    doc = base_scenario(
        on_demand=[{"dpm_server": "dpm1", "per_hour": 100_000, "mean_duration": "1 min"}]
    )
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    assert caught.value.problems == [
        "f.yaml: on_demand[0].per_hour: per_hour must be a number greater than 0 and at most "
        "1000 (100000)"
    ]


def test_on_demand_jobs_expected_in_a_run_are_at_most_half_a_million():
    streams = [
        {"dpm_server": "dpm1", "per_hour": 1000, "mean_duration": "1 min"},
        {"dpm_server": "dpm1", "per_hour": 500, "mean_duration": "1 min"},
    ]
    # 1,500 an hour for 14 days: 504,000 jobs.
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(base_scenario(on_demand=streams, horizon_days=14), "f.yaml")
    assert caught.value.problems == [
        "f.yaml: on_demand: about 504,000 on-demand jobs in the run (per_hour x 24 x "
        "horizon_days), more than 500,000: lower per_hour or horizon_days (1500 per hour in "
        "all over 14 days)"
    ]
    # 13 days: 468,000 jobs, accepted.
    scenario = hvsim.scenario_from_dict(base_scenario(on_demand=streams, horizon_days=13))
    assert [o.per_hour for o in scenario.on_demand] == [1000, 500]


# --- accepted documents run to an end or stop with the runaway line ------------------

# The least and the largest values the schema takes, where the fuzzer found runs that
# crashed (OutOfBoundsTimedelta, the capacity invariant) or never ended.
VALID_EXTREMES = {
    "rate": ["64 kbps", "8 kB/s", "1000 TB/s"],
    "size": ["1 MiB", "1e18 B"],
    "duration": ["1 ms", "3660 d"],
}
QUANTITY_FIELDS = {
    "bandwidth": "rate",
    "read": "rate",
    "write": "rate",
    "cluster_network": "rate",
    "dirty_rate": "rate",
    "io_rate": "rate",
    "capacity": "size",
    "memory": "size",
    "size": "size",
    "used": "size",
    "stop_copy": "size",
    "mean_duration": "duration",
    "duration": "duration",
    "flush_window": "duration",
    "snapshot_time_software": "duration",
    "per_vm_query": "duration",
    "save_overhead": "duration",
}


@st.composite
def extreme_documents(draw) -> dict[str, Any]:
    doc = rich_scenario()
    places = [p for p in paths(doc) if p[-1] in QUANTITY_FIELDS]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(places))
        kind = QUANTITY_FIELDS[path[-1]]
        parent_of(doc, path)[path[-1]] = draw(st.sampled_from(VALID_EXTREMES[kind]))
    return doc


@settings(
    max_examples=int(os.environ.get("HVSIM_FUZZ_RUNS", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=extreme_documents())
def test_an_accepted_document_runs_to_its_end_or_stops_with_the_runaway_error(doc):
    try:
        scenario = hvsim.scenario_from_dict(doc)
    except ScenarioError:
        return  # e.g. a disk's used above its size: refused, as the loader tests check
    try:
        kpis = hvsim.simulate(scenario, seed=1).kpis()
    except RunawayError as exc:
        assert exc.path and "\n" not in exc.message
        assert exc.message.startswith("still running ")
        return
    assert kpis["horizon_days"] == 1.0
