"""One run split into its independent parts (hvsim.parts), each simulated on its own
environment, the results merged (hvsim.merge): the same tables as one environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

import hvsim
from hvsim.merge import SplitError
from hvsim.parts import PartMap, find_parts
from hvsim.results import Results
from hvsim.runs.split import local_parts
from hvsim.simulation import deal, run_world, simulate, simulate_split
from hvsim.world import build_world
from tests.builders import assert_same_results, cli

THREE = Path(__file__).with_name("three_servers.yaml")


@pytest.fixture(scope="module")
def three() -> hvsim.Scenario:
    return hvsim.load_scenario(THREE)


@pytest.fixture(scope="module")
def three_unsplit(three: hvsim.Scenario) -> Results:
    return simulate(three, seed=1)


def test_servers_behind_one_shared_link_are_one_part(three: hvsim.Scenario) -> None:
    # dpm-a and dpm-b reach the core over the one link edge-core: a transfer of
    # either shares it, so their clusters, VMs and slots are one part; dpm-c's
    # estate reaches the core over its own links: the second part.
    parts = find_parts(build_world(three, 1))
    assert parts.count == 2
    assert parts.dpm == {"dpm-a": 0, "dpm-b": 0, "dpm-c": 1}
    assert parts.cluster == {"ca": 0, "cb": 0, "cc": 1}
    assert {p for vm, p in parts.vm.items() if vm.startswith(("a-", "b-"))} == {0}
    assert {p for vm, p in parts.vm.items() if vm.startswith("c-")} == {1}
    # links are numbered in the scenario's order: 8 is edge-core, 9 dpm-c-core.
    assert parts.resource["link8:edge->core"] == parts.resource["link8:core->edge"] == 0
    assert parts.resource["link9:dpm-c->core"] == 1
    assert parts.slot["dpm-c:tape-library"] == 1
    # A world's parts, dealt into groups: largest first (13 VMs, then 6).
    assert deal(parts, 2) == [frozenset({0}), frozenset({1})]
    assert deal(parts, 1) == [frozenset({0, 1})]


@pytest.mark.parametrize("seed", [1, 2])
def test_split_run_of_three_servers_equals_one_environment(
    three: hvsim.Scenario, three_unsplit: Results, seed: int
) -> None:
    unsplit = three_unsplit if seed == 1 else simulate(three, seed=seed)
    split = simulate_split(three, seed=seed)
    assert_same_results(unsplit, split)
    # Every kind of row the merge orders is there, from both parts.
    for table in (
        "jobs",
        "downtime",
        "redirected_io",
        "consistency_checks",
        "migrations",
        "protection_breaks",
        "on_demand",
        "restores",
        "tape_jobs",
        "online_jobs",
        "guest_recovery_points",
    ):
        assert len(getattr(split, table)) > 0, table
    assert set(split.jobs["dpm_server"]) == {"dpm-a", "dpm-b", "dpm-c"}
    assert set(split.restores["dpm_server"]) == {"dpm-a", "dpm-b", "dpm-c"}
    assert list(split.jobs["job_id"]) == list(range(1, len(split.jobs) + 1))
    # Bytes summed part by part: the one environment's total, but for the order of
    # the float additions.
    world = build_world(three, seed)
    run_world(world)
    assert split.counters["bytes_sent"] == pytest.approx(world.flows.bytes_started, rel=1e-12)
    assert split.counters["bytes_received"] == pytest.approx(world.flows.bytes_delivered, rel=1e-12)
    assert list(split.restores["restore_id"]) == list(range(1, len(split.restores) + 1))


def test_one_environment_orders_simultaneous_rows_of_two_parts_by_part(
    three_unsplit: Results,
) -> None:
    # Both parts queue their first night's backups at 22:00 (a job's id is handed
    # out when it is queued): ids at one time go to part 0 (dpm-a, dpm-b) before
    # part 1 (dpm-c), whatever order one environment processed them in.
    jobs = three_unsplit.jobs
    first_night = jobs[jobs["queued_s"] == 22 * 3600.0]
    part = first_night["dpm_server"].map({"dpm-a": 0, "dpm-b": 0, "dpm-c": 1})
    assert part.is_monotonic_increasing and part.nunique() == 2


def test_split_run_on_two_worker_processes_equals_one_environment(
    three: hvsim.Scenario, three_unsplit: Results
) -> None:
    split = simulate_split(three, seed=1, start_parts=local_parts(2), groups=2)
    assert_same_results(three_unsplit, split)


def test_parts_that_touch_stop_the_merge(
    three: hvsim.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A parts finder that missed the shared link: dpm-b's estate made a part of its
    # own. Its world sends dpm-b's backups over edge-core, which is part 0's: its
    # load rows are of a part that world did not run, and the merge refuses them
    # rather than give dpm-b the link to itself.
    real = find_parts(build_world(three, 1))

    def wrong(world: object) -> PartMap:
        b = {vm for vm in real.vm if vm.startswith("b-")}
        return dataclasses.replace(
            real,
            count=3,
            vm={vm: 2 if vm in b else p for vm, p in real.vm.items()},
            dpm={**real.dpm, "dpm-b": 2},
            cluster={**real.cluster, "cb": 2},
            host={h: 2 if h.startswith("cb-") else p for h, p in real.host.items()},
            volume={v: 2 if v.startswith("cb") else p for v, p in real.volume.items()},
            slot={s: 2 if s.startswith(("dpm-b", "cb")) else p for s, p in real.slot.items()},
            resource={
                r: 2 if r.startswith(("dpm-b", "cb")) else p for r, p in real.resource.items()
            },
        )

    monkeypatch.setattr("hvsim.simulation.find_parts", wrong)
    # The network, split by those parts, refuses the first route that crosses them.
    with pytest.raises(ValueError, match="route crosses parts of the network"):
        simulate_split(three, seed=1)
    # Without per-part timers the run goes through and the merge refuses its rows.
    monkeypatch.setattr("hvsim.simulation._count_parts", lambda world, parts: None)
    with pytest.raises(SplitError, match="in a world that ran parts \\[2\\]"):
        simulate_split(three, seed=1)


def test_run_command_on_two_workers_writes_what_one_environment_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    split_status, _, split_err = cli(
        capsys, "run", str(THREE), "--out", str(tmp_path / "split"), "--workers", "2"
    )
    one_status, _, _ = cli(
        capsys, "run", str(THREE), "--out", str(tmp_path / "one"), "--workers", "1"
    )
    assert split_status == one_status == 0
    assert "2 independent parts, in 2 groups on worker processes" in "\n".join(split_err)
    files = sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file()
    )
    assert files and files == sorted(
        p.relative_to(tmp_path / "split") for p in (tmp_path / "split").rglob("*") if p.is_file()
    )
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "split" / f).read_bytes(), f


def test_a_part_that_runs_away_on_a_worker_is_reported_as_in_one_environment() -> None:
    # dpm-c's only link at 64 kbps (8 kB/s): 6 initial replicas of 20-60 GB cannot end
    # before the overrun limit. The part runs on a worker process; the error that
    # comes back names the same field as the run on one environment.
    from hvsim.overrun import RunawayError

    doc = yaml.safe_load(THREE.read_text())
    doc["links"][9]["bandwidth"] = "64 kbps"
    slow = hvsim.scenario_from_dict(doc)
    with pytest.raises(RunawayError) as one:
        simulate(slow, seed=1)
    with pytest.raises(RunawayError) as split:
        simulate_split(slow, seed=1, start_parts=local_parts(2), groups=2)
    assert split.value.path == one.value.path and split.value.message == one.value.message
