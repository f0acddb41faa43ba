"""The floors of the code: the model (and the world built from it) runs without
pandas, which only the results build tables with."""

from __future__ import annotations

import subprocess
import sys


def test_the_model_and_the_world_import_no_pandas():
    # A fresh interpreter: this test process has pandas loaded already.
    code = (
        "import sys, pkgutil, importlib, hvsim.model\n"
        "for m in pkgutil.iter_modules(hvsim.model.__path__):\n"
        "    importlib.import_module('hvsim.model.' + m.name)\n"
        "import hvsim.world\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'pandas')[:1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_layout_names_every_room_of_the_package():
    # README "Layout" is the map a newcomer reads: every package and top-level
    # module of hvsim/ must be on it, and nothing that is not there any more.
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    section = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    tree = section.split("```text\n", 1)[1].split("```", 1)[0]
    rooms = {
        p.name + ("/" if p.is_dir() else "")
        for p in (root / "hvsim").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists())
        and p.name not in {"__init__.py", "__main__.py"}
    }
    # A room is the first word of a line of the tree (continuation lines are indented
    # past the names' column).
    lines = [line for line in tree.splitlines() if line.strip()]
    named = {line.split()[0] for line in lines if len(line) - len(line.lstrip()) < 10}
    words = {w.rstrip(";,") for w in tree.split()}
    assert sorted(rooms - words) == []
    gone = [w for w in sorted(named) if not (root / "hvsim" / w).exists()]
    gone = [w for w in gone if not (root / w).exists()]
    assert gone == []
