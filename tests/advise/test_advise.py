"""The design advisor end to end, on designs whose answer is worked out by hand.

The link example: one VM whose initial replica moves 100 GB (1e11 B) at 22:00 over
the DPM server's link, CSV read 500 MB/s, pool write 1 GB/s, links at 80 % efficiency
(source: dpm-network-efficiency). Per link bandwidth (its cost):
  1 Gbps (0):     0.8 x 1e9 / 8 = 1e8 B/s   -> 1e11 / 1e8   = 1000 s
  2.5 Gbps (1000): 2.5e8 B/s                -> 400 s
  10 Gbps (5000):  1e9 B/s, the CSV's 5e8   -> 200 s
plus the snapshot's few seconds. A night of at most 500 s is met by 2.5 and 10 Gbps;
the cheapest is 2.5 Gbps."""

from __future__ import annotations

import pandas as pd
import pytest

from hvsim.advise.knobs import parse_costs, parse_knob
from hvsim.advise.search import Settings, advise
from hvsim.runs.options import RunOptions
from hvsim.targets import parse_objective, parse_target
from tests.builders import base_scenario, cli, write_scenario

LINK = "links[2].bandwidth=1 Gbps,2.5 Gbps,10 Gbps"
COSTS = "links[2].bandwidth=0,1000,5000"
SNAPSHOT_S = 60.0  # at most the snapshot's seconds on top of the transfer


def link_doc() -> dict:
    doc = base_scenario()
    doc["links"][2]["bandwidth"] = "1 Gbps"
    doc["vms"][0]["disks"] = [{"size": "100 GB", "used": "100 GB"}]
    return doc


def settings(targets=("backups.night_span_max_s<=500 s",), minimize=("cost",), **kw) -> Settings:
    knobs = parse_costs([COSTS], [parse_knob(LINK)])
    return Settings(
        targets=[parse_target(t) for t in targets],
        objectives=[parse_objective(o) for o in minimize],
        knobs=knobs,
        **{"replications": 2, "trials": 10, **kw},
    )


def test_the_cheapest_link_that_meets_the_night():
    advice = advise(link_doc(), "t.yaml", settings(), RunOptions(workers=1))
    assert advice.met
    assert advice.proposal.choice == (1,)  # 2.5 Gbps
    night = advice.target_value(advice.proposal, advice.settings.targets[0])
    assert 400.0 <= night <= 400.0 + SNAPSHOT_S
    # The input (1 Gbps) misses: 1000 s.
    assert 1000.0 <= advice.target_value(advice.input, advice.settings.targets[0]) <= 1060.0
    # Three designs, all tried once (the whole space fits the budget); 1 Gbps misses
    # in its first replication: pruned, not run a second time.
    assert len(advice.trials) == 3
    table = advice.table().set_index("design")
    rows = advice.table()[lambda t: t["design"] != "input"].set_index("links[2].bandwidth")
    assert rows.loc["1 Gbps", "state"] == "pruned" and rows.loc["1 Gbps", "replications"] == 1
    assert (rows.loc[["2.5 Gbps", "10 Gbps"], "replications"] == 2).all()
    assert table.loc["proposal", "links[2].bandwidth"] == "2.5 Gbps"


def test_the_time_budget_stops_new_trials():
    advice = advise(link_doc(), "t.yaml", settings(timeout_s=1e-9), RunOptions(workers=1))
    assert advice.trials == [] and advice.stopped_by_time
    assert not advice.met  # the input alone (1 Gbps, 1000 s) misses the night


def test_two_objectives_give_the_trade_off_front():
    # Without a target on the night, each link is best at something: the front holds
    # all three (cost 0 / 1000 s, 1000 / 400 s, 5000 / 200 s).
    s = settings(targets=("pool",), minimize=("cost", "night"))
    advice = advise(link_doc(), "t.yaml", s, RunOptions(workers=1))
    front = sorted(advice.front, key=lambda d: d.choice)
    assert [d.choice for d in front] == [(0,), (1,), (2,)]
    nights = [advice.objective_value(d, s.objectives[1]) for d in front]
    for got, hand in zip(nights, (1000.0, 400.0, 200.0), strict=True):
        assert hand <= got <= hand + SNAPSHOT_S


def test_cli_writes_the_proposal_and_its_rerun_meets_the_target(tmp_path, capsys):
    path = write_scenario(tmp_path, link_doc())
    out = tmp_path / "adv"
    status, stdout, _ = cli(
        capsys, "advise", str(path), "--knob", LINK, "--cost", COSTS,
        "--target", "backups.night_span_max_s<=500 s", "--replications", "2",
        "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert status == 0, stdout
    assert "Setting links[2].bandwidth to 2.5 Gbps (input: 1 Gbps)" in stdout
    for name in ("advice.md", "proposal.yaml", "proposal.diff", "trials.csv", "report.html"):
        assert (out / name).is_file(), name
    assert "+  bandwidth: 2.5 Gbps" in (out / "proposal.diff").read_text()
    trials = pd.read_csv(out / "trials.csv")
    assert trials["proposal"].sum() == 1
    # The proposal, run again by hvsim run with the same replications, meets it.
    again = tmp_path / "again"
    status, _, _ = cli(
        capsys, "run", str(out / "proposal.yaml"), "--replications", "2", "--out", str(again),
        "--workers", "1",
    )  # fmt: skip
    assert status == 0
    runs = pd.read_csv(again / "runs.csv")
    assert len(runs) == 2 and (runs["backups.night_span_max_s"] <= 500.0).all()


def test_a_target_no_knob_can_meet_exits_1_with_the_best_reached(tmp_path, capsys):
    # 100 s: even 10 Gbps takes 200 s (the CSV's 500 MB/s).
    path = write_scenario(tmp_path, link_doc())
    out = tmp_path / "adv"
    status, stdout, _ = cli(
        capsys, "advise", str(path), "--knob", LINK, "--target",
        "backups.night_span_max_s<=100 s", "--replications", "1", "--out", str(out),
        "--workers", "1",
    )  # fmt: skip
    assert status == 1
    assert "No design the knobs allow meets every target" in stdout
    # The closest is the fastest link: 200 s and a few.
    assert "Closest: trial" in stdout and "backups.night_span_max_s<=100 s (reaches 3." in stdout
    assert "+  bandwidth: 10 Gbps" in (out / "closest.diff").read_text()


def test_a_second_advise_into_the_same_folder_computes_nothing(tmp_path, capsys):
    path = write_scenario(tmp_path, link_doc())
    out = tmp_path / "adv"
    argv = [
        "advise", str(path), "--knob", LINK, "--cost", COSTS, "--target",
        "backups.night_span_max_s<=500 s", "--replications", "2", "--out", str(out),
        "--workers", "1",
    ]  # fmt: skip
    assert cli(capsys, *argv)[0] == 0
    first = (out / "trials.csv").read_bytes()
    stored = sorted(p.name for p in (out / "runs").rglob("*") if p.is_file())
    assert cli(capsys, *argv)[0] == 0
    assert (out / "trials.csv").read_bytes() == first
    assert sorted(p.name for p in (out / "runs").rglob("*") if p.is_file()) == stored


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "backups.night_span_max<=3600"], "did you mean backups.night_span_max_s"),
        (["--cost", "links[2].bandwidth=1,2"], "expected 3 costs"),
        (["--knob", "links[9].bandwidth=1 Gbps"], "no such item"),
        (["--knob", "dpm_servers[0].max_parallel_jobs=0,1"], "max_parallel_jobs"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(tmp_path, capsys, extra, message):
    path = write_scenario(tmp_path, link_doc())
    status, _, err = cli(
        capsys, "advise", str(path), "--knob", LINK, "--out", str(tmp_path / "o"),
        "--workers", "1", *extra,
    )  # fmt: skip
    assert status == 2
    assert any(message in line for line in err), err


def test_the_same_advice_twice_is_byte_identical(tmp_path, capsys):
    # Every file but the run store: advice.md, the proposal, the trials, the report.
    path = write_scenario(tmp_path, link_doc())
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        status, _, _ = cli(
            capsys, "advise", str(path), "--knob", LINK, "--cost", COSTS, "--minimize",
            "cost", "--minimize", "night", "--replications", "2", "--out", str(out),
            "--workers", "1",
        )  # fmt: skip
        assert status == 0
    names = sorted(p.name for p in outs[0].iterdir() if p.is_file() and p.name[0] != ".")
    assert "front.png" in names and "report.html" in names
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_a_knob_names_its_list_item_by_name():
    # The same night with the link at 10 Gbps (8e8 B/s after 80 % efficiency, the CSV
    # reads 5e8 B/s) and the pool's write rate as the knob, picked by the server's
    # name: 100 MB/s -> 1e11 / 1e8 = 1000 s; 250 MB/s -> 400 s; 1 GB/s -> the CSV's
    # 200 s. At most 500 s: 250 MB/s (cost 1000) is the cheapest; the input has 1 GB/s.
    doc = link_doc()
    doc["links"][2]["bandwidth"] = "10 Gbps"
    doc["dpm_servers"][0]["pool"]["write"] = "1 GB/s"
    knob = "dpm_servers[dpm1].pool.write=100 MB/s,250 MB/s,1 GB/s"
    knobs = parse_costs(["dpm_servers[dpm1].pool.write=0,1000,5000"], [parse_knob(knob)])
    chosen = Settings(
        targets=[parse_target("backups.night_span_max_s<=500 s")],
        objectives=[parse_objective("cost")],
        knobs=knobs,
        replications=1,
        trials=10,
    )
    advice = advise(doc, "t.yaml", chosen, RunOptions(workers=1))
    assert advice.met and advice.proposal.choice == (1,)
    assert advice.input.choice == (2,)  # the input's 1 GB/s, found through the name
    assert advice.proposal.doc["dpm_servers"][0]["pool"]["write"] == "250 MB/s"
    table = advice.table().set_index("design")
    assert table.loc["proposal", "dpm_servers[dpm1].pool.write"] == "250 MB/s"
