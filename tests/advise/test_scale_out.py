"""Scale-out (hvsim.advise.scale_out): the estate of one DPM server spread over more,
each volume's VMs on one server, balanced largest first; the result validates,
runs, and a pool that was the bottleneck finishes the night in the time worked out
by hand."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from hvsim.advise.scale_out import scale_out, servers_count
from hvsim.scenario.loader import ScenarioError, parse_yaml, scenario_from_dict
from hvsim.scenario.patterns import group_membership, scenario_vm_names
from tests.builders import (
    EXAMPLES,
    INSTANT_WRITERS,
    ROOT,
    base_scenario,
    cli,
    run,
    tape_doc,
    write_scenario,
)

EVENING = 22 * 3600


def three_csvs(sizes: tuple[int, ...] = (4, 2, 2), **vm: Any) -> dict[str, Any]:
    """base_scenario's 2012 cluster with CSVs csv-a, csv-b, csv-c, ... holding
    ``sizes`` VMs a-1.., b-1.., ... of 24 GB in use each (50 % daily change), all
    in one protection group pg on dpm1."""
    doc = base_scenario()
    csv = doc["clusters"][0]["csvs"][0]
    letters = "abcdefgh"[: len(sizes)]
    doc["clusters"][0]["csvs"] = [dict(csv, name=f"csv-{x}") for x in letters]
    doc["vms"] = [
        {
            "name": f"{x}-{{i}}",
            "count": n,
            "cluster": "c1",
            "csv": f"csv-{x}",
            "disks": [{"size": "24 GB", "daily_change": "50 %"}],
            **vm,
        }
        for x, n in zip(letters, sizes, strict=True)
    ]
    return doc


def servers_of(doc: dict[str, Any], level: str = "host") -> dict[str, str]:
    """Each VM's DPM server in a scenario document (validated), by its group."""
    s = scenario_from_dict(doc)
    server = {g.name: g.dpm_server for g in s.protection_groups}
    return {vm: server[g] for vm, g in group_membership(s, level=level).items()}


# --- the assignment ---------------------------------------------------------------


def test_csvs_of_4_2_and_2_equal_vms_go_4_to_the_first_server_and_2_plus_2_to_the_second():
    # Largest first: csv-a (4 x 24 GB) to dpm1 (both empty: the first); csv-b (48 GB)
    # to dpm1-2 (0 < 96 GB); csv-c (48 GB) to dpm1-2 again (48 < 96 GB).
    out = scale_out(three_csvs(), 2)
    assert [d["name"] for d in out["dpm_servers"]] == ["dpm1", "dpm1-2"]
    assert servers_of(out) == {
        **{f"a-{i}": "dpm1" for i in range(1, 5)},
        **{f"{x}-{i}": "dpm1-2" for x in "bc" for i in (1, 2)},
    }
    # The group keeps its name on dpm1; its part on dpm1-2 is a copy listing its VMs.
    groups = [(g["name"], g["dpm_server"], g["members"]) for g in out["protection_groups"]]
    assert groups == [
        ("pg", "dpm1", ["a-1", "a-2", "a-3", "a-4"]),
        ("pg:dpm1-2", "dpm1-2", ["b-1", "b-2", "c-1", "c-2"]),
    ]
    assert all(g["retention_days"] == 1 for g in out["protection_groups"])


def test_a_member_whose_vms_stay_together_stays_as_written_and_a_split_one_is_listed():
    # 'a-*' (csv-a) all to dpm1, 'b-*' and 'c-*' all to dpm1-2: kept as patterns.
    doc = three_csvs()
    doc["protection_groups"][0]["members"] = ["a-*", "b-*", "c-*"]
    parts = [(g["dpm_server"], g["members"]) for g in scale_out(doc, 2)["protection_groups"]]
    assert parts == [("dpm1", ["a-*"]), ("dpm1-2", ["b-*", "c-*"])]
    # '*-1' takes a-1 (dpm1), b-1 and c-1 (dpm1-2): replaced by their names, in place.
    doc["protection_groups"][0]["members"] = ["*-1", "a-2", "a-3", "a-4", "b-2", "c-2"]
    parts = [(g["dpm_server"], g["members"]) for g in scale_out(doc, 2)["protection_groups"]]
    assert parts == [
        ("dpm1", ["a-1", "a-2", "a-3", "a-4"]),
        ("dpm1-2", ["b-1", "c-1", "b-2", "c-2"]),
    ]


def test_three_servers_give_each_csv_its_own_and_four_leave_the_last_idle():
    # csv-a -> dpm1, csv-b -> dpm1-2 (empty), csv-c -> dpm1-3 (empty, 0 < 48 GB).
    out = scale_out(three_csvs(), 3)
    assert servers_of(out) == (
        {f"a-{i}": "dpm1" for i in range(1, 5)}
        | {f"b-{i}": "dpm1-2" for i in (1, 2)}
        | {f"c-{i}": "dpm1-3" for i in (1, 2)}
    )
    # A fourth server has no volume left: it is added (the knob counts servers), idle.
    out = scale_out(three_csvs(), 4)
    assert servers_count(out) == 4
    assert "dpm1-4" not in set(servers_of(out).values())


def test_unequal_vms_balance_by_bytes_not_by_count():
    # csv-a: 4 VMs of 24 GB = 96 GB; csv-b: 2 of 100 GB = 200 GB; csv-c: 2 of 24 GB.
    # Largest first: csv-b (200) -> dpm1, csv-a (96) -> dpm1-2, csv-c (48) -> dpm1-2
    # (96 < 200).
    doc = three_csvs()
    doc["vms"][1]["disks"] = [{"size": "100 GB"}]
    got = servers_of(scale_out(doc, 2))
    assert {vm for vm, s in got.items() if s == "dpm1"} == {"b-1", "b-2"}


@pytest.mark.parametrize("servers", [2, 3, 5])
def test_every_vm_is_in_exactly_one_group_on_exactly_one_server(servers):
    doc = three_csvs((3, 1, 4, 1, 5))
    out = scale_out(doc, servers)
    s = scenario_from_dict(out)
    names = scenario_vm_names(s)
    seen: dict[str, str] = {}
    for g in s.protection_groups:
        for m in g.members:
            for vm in names.matching(m):
                assert vm not in seen, (vm, g.name, seen.get(vm))
                seen[vm] = g.name
    assert sorted(seen) == sorted(names.names)
    # A volume's VMs share one server.
    server = servers_of(out)
    for spec in s.vms:
        assert len({server[vm] for vm in spec.names()}) == 1


def test_the_busiest_server_is_scaled_out_and_the_others_keep_their_groups():
    # dpm1 protects csv-a (4 VMs); dpm2 protects csv-b and csv-c (4 VMs of 100 GB
    # each): dpm2 has the most bytes, so it is the template; csv-b and csv-c (200 GB
    # each) go one to dpm2, one to dpm2-2; dpm1's group is untouched.
    doc = three_csvs()
    doc["vms"][1]["disks"] = doc["vms"][2]["disks"] = [{"size": "100 GB"}]
    doc["dpm_servers"].append(dict(copy.deepcopy(doc["dpm_servers"][0]), name="dpm2"))
    doc["links"].append({"between": ["dpm2", "sw"], "bandwidth": "1 Gbps"})
    doc["protection_groups"] = [
        {"name": "pa", "dpm_server": "dpm1", "members": ["a-*"], "retention_days": 1},
        {"name": "pbc", "dpm_server": "dpm2", "members": ["b-*", "c-*"], "retention_days": 1},
    ]
    out = scale_out(doc, 3)
    assert [d["name"] for d in out["dpm_servers"]] == ["dpm1", "dpm2", "dpm2-2"]
    assert out["protection_groups"][0] == doc["protection_groups"][0]
    got = servers_of(out)
    assert {got[f"b-{i}"] for i in (1, 2)} == {"dpm2"}
    assert {got[f"c-{i}"] for i in (1, 2)} == {"dpm2-2"}
    # The copy's link is the template's (1 Gbps to sw), not dpm1's.
    assert out["links"][-1] == {"between": ["dpm2-2", "sw"], "bandwidth": "1 Gbps"}


def test_new_names_skip_names_in_use_and_group_copies_too():
    doc = three_csvs()
    doc["switches"] = ["sw", "dpm1-2"]
    doc["links"].append({"between": ["dpm1-2", "sw"], "bandwidth": "1 Gbps"})
    out = scale_out(doc, 2)
    assert [d["name"] for d in out["dpm_servers"]] == ["dpm1", "dpm1-3"]
    doc = three_csvs((2, 2))
    doc["protection_groups"].append(
        {"name": "pg:dpm1-2", "dpm_server": "dpm1", "members": ["b-*"], "retention_days": 1}
    )
    doc["protection_groups"][0]["members"] = ["a-*"]
    doc["vms"].append(dict(doc["vms"][0], name="z-{i}", count=2, csv="csv-b"))
    doc["protection_groups"][0]["members"] = ["a-*", "z-*"]
    # pg holds a-* (csv-a) and z-* (csv-b); group 'pg:dpm1-2' holds b-* (csv-b).
    # csv-b (4 VMs) -> dpm1, csv-a (2) -> dpm1-2: pg splits, its copy's name is taken.
    out = scale_out(doc, 2)
    names = [(g["name"], g["dpm_server"]) for g in out["protection_groups"]]
    assert names == [("pg", "dpm1"), ("pg:dpm1-2-2", "dpm1-2"), ("pg:dpm1-2", "dpm1")]


def test_a_vm_name_with_wildcards_is_listed_escaped():
    # 'x[1]' as a member would be a pattern matching 'x1'; escaped it names itself.
    doc = three_csvs((1, 1))
    doc["vms"] = [
        {"name": "x[1]", "cluster": "c1", "csv": "csv-a"},
        {"name": "x1", "cluster": "c1", "csv": "csv-a"},
        {"name": "y", "cluster": "c1", "csv": "csv-b"},
    ]
    out = scale_out(doc, 2)
    assert out["protection_groups"][0]["members"] == ["x[[]1]", "x1"]
    assert servers_of(out) == {"x[1]": "dpm1", "x1": "dpm1", "y": "dpm1-2"}


def test_a_vm_protected_at_both_levels_takes_both_groups_to_its_server():
    # Host group h and guest group g both on dpm1; csv-a's 2 VMs (24 GB disk + 10 GB
    # database each) -> dpm1, csv-b's one -> dpm1-2.
    doc = three_csvs((2, 1), protection="both", sql={"databases": 1, "size": "10 GB"})
    doc["protection_groups"] = [
        {"name": "h", "dpm_server": "dpm1", "members": ["*"], "retention_days": 1},
        {"name": "g", "dpm_server": "dpm1", "members": ["*"], "level": "guest"},
    ]
    out = scale_out(doc, 2)
    host, guest = servers_of(out, "host"), servers_of(out, "guest")
    assert host == guest == {"a-1": "dpm1", "a-2": "dpm1", "b-1": "dpm1-2"}


def test_a_split_guest_group_keeps_its_exchange_sync_frequency_on_every_part():
    # The group's default sync is 2 h because it holds Exchange databases; the part
    # on dpm1-2 holds only SQL, whose default alone would be 15 min. Both parts are
    # given 120 min. csv-a: 2 Exchange VMs of 100 GB -> dpm1; csv-b: SQL 10 GB -> dpm1-2.
    doc = three_csvs((2, 1), protection="guest")
    doc["vms"][0]["exchange"] = {"databases": 1, "size": "100 GB"}
    doc["vms"][1]["sql"] = {"databases": 1, "size": "10 GB"}
    doc["protection_groups"][0]["level"] = "guest"
    out = scale_out(doc, 2)
    parts = {g["dpm_server"]: g for g in out["protection_groups"]}
    assert parts["dpm1"]["members"] == ["a-1", "a-2"]
    assert parts["dpm1-2"]["members"] == ["b-1"]
    assert {g["sync_frequency"] for g in parts.values()} == {"120 min"}
    s = scenario_from_dict(out)
    assert {g.sync_frequency for g in s.protection_groups} == {7200.0}


def test_tape_library_online_uplink_and_the_groups_long_term_are_copied():
    doc = tape_doc(vms=2)
    doc["clusters"][0]["csvs"].append(dict(doc["clusters"][0]["csvs"][0], name="csv2"))
    doc["vms"][0]["count"] = 1
    doc["vms"].append(dict(doc["vms"][0], name="w{i}", csv="csv2"))
    doc["dpm_servers"][0]["online"] = {"uplink": "100 Mbps"}
    doc["protection_groups"][0]["online"] = {"times": ["23:00"]}
    out = scale_out(doc, 2)
    servers = {d["name"]: d for d in out["dpm_servers"]}
    assert servers["dpm1-2"]["tape_library"] == servers["dpm1"]["tape_library"]
    assert servers["dpm1-2"]["online"] == {"uplink": "100 Mbps"}
    parts = out["protection_groups"]
    assert [g["dpm_server"] for g in parts] == ["dpm1", "dpm1-2"]
    assert parts[1]["long_term"] == parts[0]["long_term"]
    assert parts[1]["online"] == {"times": ["23:00"]}
    # Monday 10:00 weekly tape of 1 TB a VM at 100 MB/s = 10,000 s. One library of one
    # drive writes them back to back (36,000-46,000 and 46,000-56,000 s); scaled out,
    # each server's own library writes its VM at once: both 36,000-46,000 s.
    one = run(doc).tape_jobs
    assert one["end_s"].tolist() == pytest.approx([46000.0, 56000.0])
    two = run(out).tape_jobs.sort_values("vm")
    assert two["dpm_server"].tolist() == ["dpm1", "dpm1-2"]
    assert two["start_s"].tolist() == pytest.approx([36000.0, 36000.0])
    assert two["end_s"].tolist() == pytest.approx([46000.0, 46000.0])


# --- what the transform leaves alone, refuses, and promises -------------------------


def test_as_many_servers_as_the_document_has_returns_an_equal_document_and_never_edits_it():
    doc = three_csvs()
    before = copy.deepcopy(doc)
    assert scale_out(doc, 1) == doc
    scale_out(doc, 3)
    assert doc == before


def test_the_result_shares_no_object_with_the_input_nor_within_itself():
    # YAML merge keys share nested values: the 400-VM example's VM entries share one
    # disks list. Editing the result's copy of a server or a VM changes nothing else.
    doc = parse_yaml((ROOT / "scenarios" / "csv-8node-400vm.yaml").read_text(), "x")
    before = copy.deepcopy(doc)
    out = scale_out(doc, 2)
    out["dpm_servers"][1]["pool"]["write"] = "1 MB/s"
    out["vms"][1]["disks"][0]["size"] = "1 TB"
    assert out["dpm_servers"][0]["pool"]["write"] == "800 MB/s"
    assert out["vms"][0]["disks"][0]["size"] == "100 GB"
    assert doc == before


def test_fewer_servers_than_the_document_has_is_an_error_naming_both_counts():
    doc = three_csvs()
    doc["dpm_servers"].append(dict(copy.deepcopy(doc["dpm_servers"][0]), name="dpm2"))
    doc["links"].append({"between": ["dpm2", "sw"], "bandwidth": "1 Gbps"})
    with pytest.raises(ScenarioError) as err:
        scale_out(doc, 1, "f.yaml")
    assert err.value.problems == [
        "f.yaml: dpm_servers: scale-out to 1 DPM servers: the scenario has 2, and "
        "scale-out only adds servers (give 2 or more)"
    ]
    with pytest.raises(ScenarioError, match="whole number"):
        scale_out(doc, 2.5, "f.yaml")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="at most 1000"):
        scale_out(doc, 10**6, "f.yaml")


def test_servers_count_counts_the_documents_dpm_servers_or_says_there_is_no_list():
    doc = three_csvs()
    assert servers_count(doc) == 1
    assert servers_count(scale_out(doc, 3)) == 3
    with pytest.raises(ScenarioError) as err:
        servers_count({"name": "t"}, "f.yaml")
    assert err.value.problems == ["f.yaml: dpm_servers: expected a list of DPM servers"]


def test_an_invalid_input_is_refused_with_the_loaders_lines():
    doc = three_csvs()
    doc["protection_groups"][0]["dpm_server"] = "nope"
    with pytest.raises(ScenarioError) as err:
        scale_out(doc, 2, "f.yaml")
    assert err.value.problems == [
        "f.yaml: protection_groups[0].dpm_server: unknown DPM server ('nope')"
    ]


def test_the_same_document_and_count_give_the_same_result():
    a = scale_out(three_csvs((3, 1, 4, 1, 5, 9, 2, 6)), 3)
    b = scale_out(three_csvs((3, 1, 4, 1, 5, 9, 2, 6)), 3)
    assert yaml.safe_dump(a, sort_keys=False) == yaml.safe_dump(b, sort_keys=False)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_scaled_out_by_one_server_validates(path):
    # Examples with restores, migrations, guest-level groups, tape and online: the
    # copies reach what the template reaches, so every route check still holds.
    doc = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    k = servers_count(doc)
    out = scale_out(doc, k + 1, str(path))
    assert servers_count(out) == k + 1
    scenario_from_dict(out, str(path))


# --- runs ---------------------------------------------------------------------------


def pool_bound(sizes: tuple[int, ...]) -> dict[str, Any]:
    """three_csvs with the DPM pool the only bottleneck: writes 100 MB/s against
    1 GB/s links (10 Gbps x 0.8) and 500 MB/s per CSV; 2012 CSVs with the hardware
    provider (not serialized), 8 backups per node and 8 jobs per server, writers
    that flush at once; replicas seeded by removable media at 00:00, so the night's
    only jobs are the 22:00 express fulls."""
    doc = three_csvs(sizes)
    doc["vss"] = INSTANT_WRITERS
    doc["clusters"][0]["max_parallel_backups_per_node"] = 8
    doc["dpm_servers"][0]["max_parallel_jobs"] = 8
    doc["dpm_servers"][0]["pool"]["write"] = "100 MB/s"
    doc["protection_groups"][0]["initial_replica"] = "removable_media"
    return doc


def test_two_servers_finish_a_pool_bound_night_in_half_the_transfer_time():
    # Each express full carries 22 h of change: 24 GB x 50 % x 22/24 = 11 GB. All
    # start at 22:00, take the 1 s hardware snapshot together, share their server's
    # pool (100 MB/s, the only saturated resource: every job ends together, max-min
    # sharing is work-conserving), and release 1 s after. One server: 8 x 11 GB /
    # 100 MB/s = 880 s, night 1 + 880 + 1 = 882 s. Two servers, 4 VMs each (csv-a |
    # csv-b + csv-c): 440 s, night 442 s. The model's flow sharing is exact (rates
    # recomputed when a flow starts or ends), so the tolerance is float rounding.
    doc = pool_bound((4, 2, 2))
    one = run(doc)
    two = run(scale_out(doc, 2))
    for res, transfer in ((one, 880.0), (two, 440.0)):
        fulls = res.jobs.query("kind == 'express_full'")
        assert len(fulls) == 8
        assert (fulls["outcome"] == "succeeded").all()
        assert fulls["bytes"].tolist() == pytest.approx([11e9] * 8, rel=1e-12)
        assert fulls["end_s"].max() - EVENING == pytest.approx(1 + transfer + 1, rel=1e-9)
    by_server = two.jobs.groupby("dpm_server")["vm"].apply(sorted).to_dict()
    assert by_server == {
        "dpm1": ["a-1", "a-2", "a-3", "a-4"],
        "dpm1-2": ["b-1", "b-2", "c-1", "c-2"],
    }
    assert one.kpis()["admission"]["dpm_servers"] == 1
    assert two.kpis()["admission"]["dpm_servers"] == 2


def test_the_400_vm_example_scaled_to_two_servers_validates_and_runs():
    # Four CSVs of 100 VMs of equal expected size: csv1 -> dpm01, csv2 -> dpm01-2,
    # csv3 -> dpm01 (tie: the first), csv4 -> dpm01-2. Two days: the initial
    # replicas and one steady night.
    doc = parse_yaml((ROOT / "scenarios" / "csv-8node-400vm.yaml").read_text(), "x")
    doc["horizon_days"] = 2
    out = scale_out(doc, 2)
    res = run(out)
    served = res.jobs.groupby("dpm_server")["vm"].agg(lambda v: sorted({n[:4] for n in v}))
    assert served.to_dict() == {"dpm01": ["gen1", "sql-"], "dpm01-2": ["exch", "gen2"]}
    assert res.kpis()["admission"]["dpm_servers"] == 2
    assert res.kpis()["backups"]["jobs"] > 0


def test_the_advisor_buys_a_second_server_when_the_night_needs_it(tmp_path, capsys):
    # pool_bound: one server's night is 882 s, two servers' 442 s, three's: csv-a on
    # one, csv-b and csv-c on the others: 4 x 11 GB / 100 MB/s = 440 s, still 442 s
    # (the first server's four VMs). A night of at most 600 s needs 2 servers; with a
    # server at 20,000 the cheapest design meeting it is 2 servers, cost 20,000.
    path = write_scenario(tmp_path, pool_bound((4, 2, 2)))
    out = tmp_path / "adv"
    status, stdout, _ = cli(
        capsys, "advise", str(path), "--knob", "dpm_servers=1,2,3", "--cost",
        "dpm_servers=0,20000,40000", "--target", "backups.night_span_max_s<=600 s",
        "--replications", "1", "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert status == 0, stdout
    assert "Setting dpm_servers to 2 (input: 1)" in stdout
    assert "cost from 0 to 20,000" in stdout
    proposal = yaml.safe_load((out / "proposal.yaml").read_text())
    assert [s["name"] for s in proposal["dpm_servers"]] == ["dpm1", "dpm1-2"]
