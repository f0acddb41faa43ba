"""report.html as a person sees it: the run, sweep and comparison reports of the
small-lab example opened in headless Chromium (Debian's ``chromium``) at 1280 px.

A copy of each page gets a small script that, once the page has loaded, writes what
it measured into a <pre id="check"> as JSON; ``chromium --headless --dump-dom`` prints
the page's DOM after that, and the test reads the JSON back. Checked: every <img>
loaded (naturalWidth > 0), nothing wider than the window (the page does not scroll
sideways), and the verdict block (id="verdict") is shown at the top of the page
once a report has one.

The browser is part of the test command (README "Tests", .ci/run): when none is
found, the session installs Debian's chromium with apt-get when it can (root on
Debian or Ubuntu), and fails with what to do when it cannot.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import ROOT

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 1000)
MISSING = (
    "the browser test needs Chromium: install it (Debian/Ubuntu: sudo apt-get install "
    "chromium) or run the tests as root on Debian/Ubuntu, where they install it"
)

CHECK = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var width = window.innerWidth;
  var wide = Array.prototype.slice.call(document.body.querySelectorAll('*'))
    .filter(function (e) { return e.getBoundingClientRect().right > width + 0.5; })
    .slice(0, 5).map(function (e) { return e.tagName + ' ' + e.textContent.slice(0, 60); });
  var verdict = document.getElementById('verdict');
  var shown = null;
  if (verdict) {
    var box = verdict.getBoundingClientRect(), style = getComputedStyle(verdict);
    shown = box.width > 0 && box.height > 0 && style.display !== 'none' &&
      style.visibility !== 'hidden' && box.top >= 0 && box.top < window.innerHeight;
  }
  var out = {
    images: images.length,
    broken: broken.map(function (i) { return i.alt; }),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    wide: wide,
    verdict: shown
  };
  var pre = document.createElement('pre');
  pre.id = 'check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _find() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _install() -> str:
    """apt-get install chromium (after an update when the first try fails); what went
    wrong, or "" when it worked."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    print("\nbrowser test: installing chromium with apt-get", file=sys.stderr)
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=1800)
    return "" if done.returncode == 0 else done.stderr.strip()[-500:]


@pytest.fixture(scope="session")
def browser() -> str:
    """The path of a Chromium (or Chrome), installed with apt-get when missing and
    this is root on Debian or Ubuntu; the test fails when there is none."""
    found = _find()
    if found:
        return found
    can_install = (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
        and Path("/etc/debian_version").exists()
    )
    if not can_install:
        pytest.fail(f"no Chromium found ({', '.join(BROWSERS)}); {MISSING}")
    problem = _install()
    found = _find()
    if not found:
        pytest.fail(
            f"apt-get could not install chromium ({problem or 'no browser after'}); {MISSING}"
        )
    return found


def look(browser: str, page: Path, tmp: Path) -> dict:
    """What the check script measured on ``page`` in the headless browser."""
    text = page.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</body></html>")
    copy = tmp / f"checked-{page.parent.name}.html"
    copy.write_text(text.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--virtual-time-budget=5000",
            f"--user-data-dir={tmp / 'profile'}",
            "--dump-dom",
            copy.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    found = re.search(r'<pre id="check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the check did not run: {done.returncode} {done.stderr[-800:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """report.html of a run, a sweep and a comparison of small-lab (few runs)."""
    from hvsim.cli import main

    out = tmp_path_factory.mktemp("reports")
    lab = str(ROOT / "scenarios" / "small-lab.yaml")
    b = out / "lab-10g.yaml"
    b.write_text(
        (ROOT / "scenarios" / "small-lab.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "{between: [dpm1, lab-switch], bandwidth: 1 Gbps}",
            "{between: [dpm1, lab-switch], bandwidth: 10 Gbps}",
        ),
        encoding="utf-8",
    )
    commands = {
        "run": ["run", lab, "--out", str(out / "run")],
        "sweep": [
            "sweep",
            lab,
            "--vary",
            "links[2].bandwidth=100 Mbps,1 Gbps",
            "--replications",
            "2",
            "--workers",
            "1",
            "--out",
            str(out / "sweep"),
        ],
        "compare": [
            "compare",
            lab,
            str(b),
            "--replications",
            "2",
            "--workers",
            "1",
            "--out",
            str(out / "compare"),
        ],
    }
    for argv in commands.values():
        assert main(argv) == 0, argv
    return {kind: out / kind / "report.html" for kind in commands}


@pytest.mark.parametrize("kind", ["run", "sweep", "compare"])
def test_a_report_shows_every_image_and_fits_the_window(
    kind: str, browser: str, reports: dict[str, Path], tmp_path: Path
) -> None:
    seen = look(browser, reports[kind], tmp_path)
    assert seen["innerWidth"] == WINDOW[0]
    # Every plot is an <img> of a PNG in the page: each one decoded and drawn.
    assert seen["images"] > 0
    assert seen["broken"] == []
    # Nothing wider than the window: the page never scrolls sideways.
    assert seen["scrollWidth"] <= seen["innerWidth"], seen["wide"]
    # The verdict block is shown at the top of the page.
    assert seen["verdict"] is True


def test_the_check_sees_a_broken_image_a_page_too_wide_and_a_hidden_verdict(
    browser: str, tmp_path: Path
) -> None:
    page = tmp_path / "bad" / "report.html"
    page.parent.mkdir()
    page.write_text(
        "<!DOCTYPE html>\n<html><body><div id='verdict' style='display:none'>v</div>"
        "<img alt='cut' src='data:image/png;base64,AAAA'>"
        "<div style='width:2000px'>wide</div>\n</body></html>\n",
        encoding="utf-8",
    )
    seen = look(browser, page, tmp_path)
    assert seen["broken"] == ["cut"]
    # 2000 px of the div + the body's default 8 px margin on its left = 2008 px.
    assert seen["scrollWidth"] == 2008 > seen["innerWidth"]
    assert seen["verdict"] is False
