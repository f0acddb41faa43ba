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
