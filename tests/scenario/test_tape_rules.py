"""Long-term tape protection in the scenario: DPM's long-term goals (which
frequencies a retention range in weeks, months or years allows), one retention range,
the fields that apply to each frequency, and the drives a group may allocate are
scenario errors (exit 2, one line naming the field), never clamped."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import cli, problems_of, tape_doc, write_scenario


def long_term_problems(**long_term: Any) -> list[str]:
    return problems_of(tape_doc(**long_term))


def test_the_example_doc_is_accepted() -> None:
    assert long_term_problems() == []


@pytest.mark.parametrize(
    ("frequency", "retention", "unit", "allowed"),
    [
        ("monthly", "retention_weeks", "weeks", "weekly"),
        ("yearly", "retention_weeks", "weeks", "weekly"),
        ("yearly", "retention_months", "months", "weekly or monthly"),
    ],
)
def test_a_frequency_the_retention_unit_does_not_allow_is_refused(
    frequency: str, retention: str, unit: str, allowed: str
) -> None:
    # DPM's long-term goals: 1-4 weeks -> weekly; 1-11 months -> weekly, monthly.
    doc = tape_doc(frequency=frequency, weekday=None, **{"retention_weeks": None, retention: 2})
    [line] = problems_of(doc)
    assert line.startswith("f.yaml: protection_groups[0].long_term: ")
    assert f"a {frequency} long-term backup needs a longer retention range" in line
    assert f"DPM allows {allowed} for a range in {unit}" in line


@pytest.mark.parametrize(
    ("frequency", "retention"),
    [
        ("weekly", "retention_weeks"),
        ("weekly", "retention_months"),
        ("weekly", "retention_years"),
        ("monthly", "retention_months"),
        ("monthly", "retention_years"),
        ("yearly", "retention_years"),
    ],
)
def test_the_combinations_dpm_allows_are_accepted(frequency: str, retention: str) -> None:
    weekday = "sat" if frequency == "weekly" else None
    doc = tape_doc(frequency=frequency, weekday=weekday, **{"retention_weeks": None, retention: 1})
    assert problems_of(doc) == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("retention_weeks", 12, "retention_weeks must be"),  # 1-4 weeks: 12 is 3 months
        ("retention_months", 12, "retention_months must be"),
        ("retention_years", 100, "retention_years must be"),
    ],
)
def test_retention_ranges_outside_dpms_are_refused(field: str, value: int, words: str) -> None:
    doc = tape_doc(**{"retention_weeks": None, field: value})
    [line] = problems_of(doc)
    assert line.startswith(f"f.yaml: protection_groups[0].long_term.{field}: {words}")


def test_exactly_one_retention_range() -> None:
    [none] = long_term_problems(retention_weeks=None)
    assert "exactly one of retention_weeks, retention_months or retention_years" in none
    assert "(given: none)" in none
    [two] = long_term_problems(retention_years=1)
    assert "(given: weeks, years)" in two


def test_fields_of_another_frequency_are_refused() -> None:
    [line] = long_term_problems(
        frequency="monthly", retention_weeks=None, retention_months=2, weekday="sat"
    )
    assert "weekday applies to weekly long-term backups only" in line
    [line] = long_term_problems(day_of_month=3)
    assert "day_of_month applies to monthly and yearly long-term backups only" in line
    [line] = long_term_problems(
        frequency="monthly", weekday=None, retention_weeks=None, retention_months=2, month="mar"
    )
    assert "month applies to yearly long-term backups only" in line


def test_more_drives_allocated_than_the_library_has_is_refused() -> None:
    [line] = problems_of(tape_doc(drives=2, drives_allocated=3))
    assert line == (
        "f.yaml: protection_groups[0].long_term.drives_allocated: more drives than the tape "
        "library of dpm1 has (3 > 2)"
    )


def test_long_term_without_a_tape_library_is_refused() -> None:
    doc = tape_doc()
    del doc["dpm_servers"][0]["tape_library"]
    [line] = problems_of(doc)
    assert line == (
        "f.yaml: protection_groups[0].long_term: DPM server dpm1 has no tape_library "
        "(give dpm_servers[].tape_library)"
    )


def test_a_bad_long_term_goal_exits_2_without_a_traceback(capsys, tmp_path) -> None:
    doc = tape_doc(frequency="yearly", weekday=None, retention_weeks=None, retention_months=6)
    path = write_scenario(tmp_path, doc)
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 2
    assert len(err) == 1 and "a yearly long-term backup needs a longer retention range" in err[0]
    assert "Traceback" not in out + "\n".join(err)
