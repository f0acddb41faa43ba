"""The README stays true to the code: the generated reference and the CI command."""

from __future__ import annotations

from hvsim.scenario.reference import BEGIN, END, readme_section
from tests.builders import ROOT


def test_readme_scenario_reference_matches_the_schema():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == readme_section(), (
        "README reference is stale: run python -m hvsim.scenario.reference --write-readme"
    )


def test_every_schema_field_has_a_description():
    from hvsim.scenario.reference import SECTIONS

    missing = [
        f"{title}.{name}"
        for title, model in SECTIONS
        for name, field in model.model_fields.items()
        if not field.description and name != "name"
    ]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = next(
        line for line in ci.splitlines() if "pytest" in line and not line.startswith("#")
    )
    assert command in readme
