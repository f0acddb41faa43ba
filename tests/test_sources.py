"""Sources a planner can read: every citation in the code, the README and the tests
names an entry of docs/sources.md, every entry is cited and gives an address, and
nothing cites the development notes (``facts §N``) that are not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from hvsim.scenario.reference import CITATION, cited_names, link_citations, readme_section
from tests.builders import ROOT

SOURCES = ROOT / "docs" / "sources.md"
LINKED = re.compile(r"\[([a-z0-9-]+)\]\(docs/sources\.md#\1\)")


def entries() -> dict[str, str]:
    """Entry name -> its text (up to the next entry)."""
    text = SOURCES.read_text(encoding="utf-8")
    parts = re.split(r"^## ([a-z0-9-]+)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def cited_files() -> list[Path]:
    files = [ROOT / "README.md", *ROOT.glob("scenarios/*.yaml"), *ROOT.glob("notebooks/*.ipynb")]
    files += [p for d in ("hvsim", "tests", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    return files


def citations() -> dict[str, list[str]]:
    """Cited name -> the files that cite it."""
    where: dict[str, list[str]] = {}
    for path in cited_files():
        # The README's reference links each name: read the name back from its link.
        text = LINKED.sub(r"\1", path.read_text(encoding="utf-8"))
        for name in cited_names(text):
            where.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return where


def test_every_citation_names_an_entry_of_docs_sources():
    known = entries()
    unknown = {name: files for name, files in citations().items() if name not in known}
    assert unknown == {}


def test_every_entry_is_cited_and_gives_an_address():
    cited = citations()
    for name, text in entries().items():
        assert name in cited, f"docs/sources.md: {name} is cited nowhere"
        assert "http" in text, f"docs/sources.md: {name} gives no address"


def test_nothing_cites_the_development_notes_outside_the_repository():
    stale = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in cited_files()
        if path != Path(__file__)
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"facts §|facts\.md|facts-guest|shared/domain", line)
    ]
    assert stale == []


def test_the_scenario_reference_links_each_citation_to_its_entry():
    section = readme_section()
    assert "(source: [dpm-auto-rerun](docs/sources.md#dpm-auto-rerun))" in section
    # A name left as a plain word would not lead the reader to the source.
    assert [m.group(0) for m in CITATION.finditer(section)] == []


def test_a_type_hint_is_no_citation():
    assert cited_names("def f(source: str) -> None: (source: seed-article)") == ["seed-article"]


def test_a_citation_of_two_sources_links_both():
    assert link_citations("(sources: seed-article, dpm-retention)") == (
        "(sources: [seed-article](docs/sources.md#seed-article), "
        "[dpm-retention](docs/sources.md#dpm-retention))"
    )
