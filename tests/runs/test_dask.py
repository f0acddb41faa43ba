"""Sweeps on a real Dask cluster: a scheduler and a worker started here, on loopback,
with the distributed package's own ``dask scheduler`` and ``dask worker`` commands."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import hvsim
from hvsim.cli import main
from hvsim.sweep import run_sweep
from tests.builders import BANDWIDTH_VARY, ROOT, noisy_scenario

BIN = Path(sys.executable).parent
VARY = [BANDWIDTH_VARY]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End the process group this test started (the worker's nanny has a child)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory):
    """tcp://127.0.0.1:PORT of a scheduler with one single-threaded worker."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    procs: list[subprocess.Popen] = []

    def start(args: list[str], log: str) -> None:
        procs.append(
            subprocess.Popen(
                [str(BIN / "dask"), *args],
                stdout=(logs / log).open("w"),
                stderr=subprocess.STDOUT,
                cwd=logs,
                start_new_session=True,
            )
        )

    try:
        start(
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            "scheduler.log",
        )
        start(
            [
                "worker",
                address,
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--local-directory",
                str(logs),
            ],
            "worker.log",
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(1, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    text = "\n".join(p.read_text() for p in sorted(logs.glob("*.log")))
                    raise RuntimeError(f"Dask cluster did not start:\n{text}") from None
                time.sleep(0.5)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_the_dask_path_returns_the_same_table_as_the_local_path(scheduler):
    doc = noisy_scenario()
    local = run_sweep(doc, VARY, replications=2, workers=1)
    remote = run_sweep(doc, VARY, replications=2, scheduler=scheduler)
    assert remote.computed == 4 and len(remote.failures) == 0
    pd.testing.assert_frame_equal(remote.table, local.table)


def test_sweep_command_with_scheduler_stores_runs_and_resumes_without_the_cluster(
    scheduler, tmp_path, capsys
):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(noisy_scenario(), sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "--vary", VARY[0], "--replications", "2", "--out", str(out)]
    assert main(argv + ["--scheduler", scheduler]) == 0
    assert "4 finished (4 computed, 0 from the store)" in capsys.readouterr().out
    assert len(list((out / "runs").glob("*.json"))) == 4
    # Everything is stored: the same sweep needs no cluster (this address has none).
    assert main(argv + ["--scheduler", f"tcp://127.0.0.1:{_free_port()}"]) == 0
    assert "4 finished (0 computed, 4 from the store)" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "sweep", "compare"])
def test_scheduler_without_dask_installed_is_one_line_and_exit_2(
    tmp_path, capsys, monkeypatch, command
):
    # Dask is the optional extra hvsim[dask]: without it (sys.modules entries of None
    # make an import fail, as a missing package does) --scheduler says what to install,
    # before reading the scenario or touching --out.
    monkeypatch.setitem(sys.modules, "distributed", None)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(noisy_scenario()), encoding="utf-8")
    out = tmp_path / "out"
    argv = {
        "run": ["run", str(scenario), "--replications", "2"],
        "sweep": ["sweep", str(scenario), "--vary", VARY[0]],
        "compare": ["compare", str(scenario), str(scenario)],
    }[command]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "hvsim: --scheduler needs Dask, which is not installed: pip install 'hvsim[dask]' "
        "(dask and distributed)"
    ]
    assert captured.out == "" and not out.exists()


def test_hvsim_version_is_the_installed_packages_and_python_m_hvsim_is_the_command():
    from importlib.metadata import version

    for cmd in ([str(BIN / "hvsim")], [sys.executable, "-m", "hvsim"]):
        done = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (
            0,
            f"hvsim {version('hvsim')}\n",
            "",
        )
    done = subprocess.run(
        [sys.executable, "-m", "hvsim", "validate", "scenarios/small-lab.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0 and done.stdout.startswith("scenarios/small-lab.yaml: ok (")


def test_advise_on_dask_proposes_what_the_local_workers_propose(scheduler):
    from hvsim.advise.knobs import parse_knob
    from hvsim.advise.search import Settings, advise
    from hvsim.runs.options import RunOptions
    from hvsim.targets import parse_objective, parse_target

    s = Settings(
        targets=[parse_target("window")],
        objectives=[parse_objective("night")],
        knobs=[parse_knob(BANDWIDTH_VARY)],
        replications=2,
    )
    local = advise(noisy_scenario(), "t.yaml", s, RunOptions(workers=1))
    remote = advise(noisy_scenario(), "t.yaml", s, RunOptions(scheduler=scheduler))
    pd.testing.assert_frame_equal(remote.table(), local.table())
    assert remote.proposal.choice == local.proposal.choice


def test_a_run_split_into_parts_on_dask_equals_one_environment(scheduler):
    # Three DPM servers, two of them behind one shared link: two parts, each run by
    # the Dask worker, merged here into the tables of one environment.
    from distributed import Client

    from hvsim.runs.split import simulate_on
    from hvsim.simulation import simulate
    from tests.builders import assert_same_results

    scenario = hvsim.load_scenario(ROOT / "tests" / "split" / "three_servers.yaml")
    with Client(scheduler, timeout="10s") as client:
        split = simulate_on(scenario, 1, 2, client=client)
    assert_same_results(simulate(scenario, seed=1), split)
