"""The README's Python sweep snippet ("From Python") runs as pasted into a script: its
runs go to worker processes, which import the script, so it needs its
``if __name__ == "__main__":`` guard."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.builders import ROOT


def sweep_snippet() -> str:
    """The README's python code block that runs a sweep."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if "sweep.run_sweep(" in b]
    return block


def test_the_readme_sweep_snippet_runs_as_a_script(tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(sweep_snippet(), encoding="utf-8")
    # The snippet's paths are the repository's (scenarios/...): run it in a folder that
    # has them, so the store it keeps (runs/) lands in tmp_path, not in the checkout.
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    # The sweep's 2 values x 2 replications = 4 finished runs, one record each.
    assert len(list((tmp_path / "runs").glob("*.json"))) == 4
    # The comparison printed its table of differences.
    assert "diff_ci_high" in proc.stdout


def test_the_snippet_guards_its_runs():
    snippet = sweep_snippet()
    guard = snippet.index('if __name__ == "__main__":')
    assert snippet.index("sweep.run_sweep(") > guard
    assert snippet.index("sweep.replicate(") > guard
    assert snippet.index("sweep.compare(") > guard
