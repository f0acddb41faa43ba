"""Storage in a scenario: volumes hold what is placed on them, and storage moves name
a volume the VM's host can reach.

Capacity: a CSV, a standalone host's local storage or an SMB share must hold each
VM's disks in use (``used``, default the disk's size) and its saved-state file, which
Hyper-V reserves equal to the VM's memory (source: saved-state). Before, 400 VMs of 100 GB on a
1 GiB CSV validated and ran.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hvsim.cli import main
from tests.builders import GiB, add_host_and_share, base_scenario, problems_of, run, where

# --- capacity ------------------------------------------------------------------------


def test_400_vms_of_100_gb_on_a_1_gib_csv_are_refused_naming_both_figures(capsys, tmp_path):
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "1 GiB"
    doc["vms"] = [{"name": "vm-{i:03d}", "count": 400, "cluster": "c1", "csv": "csv1"}]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "o")]):
        assert main(command) == 2
        captured = capsys.readouterr()
        # Each VM: a 100 GB disk (the default, all in use) and a 4 GiB saved-state file
        # (4.29 GB): 400 x 104.29 GB = 41.7 TB; 1 GiB is 1.07 GB.
        assert captured.err.splitlines() == [
            f"{where(path, 'capacity: 1 GiB')}: clusters[0].csvs[0].capacity: 400 VMs need "
            "41.7 TB (disks in use + saved-state files), more than the 1.07 GB capacity"
        ]
        assert captured.out == ""
    assert not (tmp_path / "o").exists()


def test_a_csv_exactly_as_large_as_its_vms_need_is_accepted_and_one_byte_less_refused():
    doc = base_scenario()
    # 2 VMs x (4 GiB in use of a 10 GiB disk + 2 GiB of memory) = 12 GiB.
    doc["vms"] = [
        {
            "name": "vm{i}",
            "count": 2,
            "cluster": "c1",
            "csv": "csv1",
            "memory": "2 GiB",
            "disks": [{"size": "10 GiB", "used": "4 GiB"}],
        }
    ]
    doc["clusters"][0]["csvs"][0]["capacity"] = 12 * 2**30
    assert problems_of(doc) == []
    doc["clusters"][0]["csvs"][0]["capacity"] = 12 * 2**30 - 1
    assert problems_of(doc) == [
        "f.yaml: clusters[0].csvs[0].capacity: 2 VMs need 12.9 GB (disks in use + "
        "saved-state files), more than the 12.9 GB capacity"
    ]


def test_every_entry_placed_on_a_csv_counts_and_each_disk_of_a_vm():
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "1 TB"
    # 3 x (200 + 300 GB + 4 GiB) + 1 x (100 GB + 4 GiB) = 1.6 TB + 17.2 GB = 1.617 TB.
    doc["vms"] = [
        {
            "name": "a{i}",
            "count": 3,
            "cluster": "c1",
            "csv": "csv1",
            "disks": [{"size": "200 GB"}, {"size": "300 GB"}],
        },
        {"name": "b", "cluster": "c1", "csv": "csv1"},
    ]
    assert problems_of(doc) == [
        "f.yaml: clusters[0].csvs[0].capacity: 4 VMs need 1.62 TB (disks in use + "
        "saved-state files), more than the 1.00 TB capacity"
    ]


def test_distributions_count_with_their_mean_and_the_line_says_expected():
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "1 TB"
    # memory: 0.5 x 2 + 0.5 x 6 = 4 GiB; used: uniform 20 to 60 GiB, mean 40 GiB (of a
    # 100 GiB disk); 25 VMs x 44 GiB = 1100 GiB = 1.18 TB.
    doc["vms"] = [
        {
            "name": "vm{i}",
            "count": 25,
            "cluster": "c1",
            "csv": "csv1",
            "memory": {"dist": "choice", "values": ["2 GiB", "6 GiB"]},
            "disks": [
                {"size": "100 GiB", "used": {"dist": "uniform", "low": "20 GiB", "high": "60 GiB"}}
            ],
        }
    ]
    assert problems_of(doc) == [
        "f.yaml: clusters[0].csvs[0].capacity: 25 VMs need an expected 1.18 TB (disks in use + "
        "saved-state files), more than the 1.00 TB capacity"
    ]
    doc["clusters"][0]["csvs"][0]["capacity"] = 1100 * GiB
    assert problems_of(doc) == []


def test_a_clipped_lognormal_counts_with_the_mean_of_its_draws():
    # sigma 10 around 1 TB: 8 % of the draws reach the largest size, 1 EB, so the
    # expected memory is about 1e17 bytes (0.1 EB), not 1 TB x e^50 (5e33 bytes).
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["capacity"] = "50 PB"
    doc["vms"][0]["memory"] = {"dist": "lognormal", "median": "1 TB", "sigma": 10}
    (line,) = problems_of(doc)
    assert line.startswith("f.yaml: clusters[0].csvs[0].capacity: 1 VM needs an expected 101 PB")


def test_local_storage_of_a_standalone_host_and_an_smb_share_are_checked_too():
    doc = add_host_and_share(
        base_scenario(),
        host_storage={"capacity": "500 GB", "read": "200 MB/s", "write": "200 MB/s"},
        share_storage={"capacity": "200 GB", "read": "1 GB/s", "write": "1 GB/s"},
    )
    # 5 x (100 GB + 4 GiB) = 521 GB on hv1; 2 x the same = 209 GB on the share.
    doc["vms"] += [
        {"name": "h{i}", "count": 5, "host": "hv1"},
        {"name": "s{i}", "count": 2, "share": "share1", "smb_host": "hv1"},
    ]
    assert problems_of(doc) == [
        "f.yaml: hosts[0].storage.capacity: 5 VMs need 521 GB (disks in use + saved-state "
        "files), more than the 500 GB capacity",
        "f.yaml: smb_shares[0].capacity: 2 VMs need 209 GB (disks in use + saved-state "
        "files), more than the 200 GB capacity",
    ]


def test_a_vm_placed_on_an_unknown_csv_is_reported_there_not_counted():
    doc = base_scenario()
    doc["vms"][0]["csv"] = "csv9"
    assert problems_of(doc) == [
        "f.yaml: vms[0].csv: no CSV of that name in cluster c1 ('csv9')",
    ]


# --- storage moves --------------------------------------------------------------------


def _two_csvs(**event: Any) -> dict[str, Any]:
    doc = base_scenario(horizon_days=2)
    doc["clusters"][0]["csvs"].append(
        {"name": "csv2", "capacity": "10 TiB", "read": "500 MB/s", "write": "250 MB/s"}
    )
    doc["migrations"] = {"events": [{"vm": "vm1", "day": 1, "time": "10:00", **event}]}
    return doc


def test_a_storage_move_to_cluster_slash_csv_validates_and_moves_the_disks():
    doc = _two_csvs(kind="storage", target="c1/csv2")
    res = run(doc)
    (move,) = res.migrations.itertuples()
    assert (move.kind, move.from_storage, move.to_storage) == ("storage", "c1/csv1", "c1/csv2")
    assert move.from_host == move.to_host  # the VM stays on its node
    # 100 GB at csv2's 250 MB/s write (the bottleneck) take 400 s; then the writes
    # made meanwhile: 3 % of 100 GB a day for 400 s = 13.9 MB, another 0.056 s.
    mirror = 100e9 * 0.03 * 400 / 86400
    assert move.storage_bytes == pytest.approx(100e9 + mirror, rel=1e-3)
    assert move.duration_s == pytest.approx(400 + mirror / 250e6, rel=1e-3)
    # Change tracking is lost: a consistency check follows (source: dpm-consistency-check).
    assert list(res.consistency_checks.trigger) == ["storage_migration"]


def test_a_storage_move_to_a_host_local_volume_is_accepted_for_a_vm_that_host_runs():
    doc = add_host_and_share(
        base_scenario(),
        host_storage={"capacity": "2 TiB", "read": "200 MB/s", "write": "200 MB/s"},
        share_storage={"capacity": "2 TiB", "read": "1 GB/s", "write": "1 GB/s"},
    )
    doc["vms"] = [{"name": "vm1", "share": "share1", "smb_host": "hv1"}]
    doc["migrations"] = {
        "events": [
            {"vm": "vm1", "day": 0, "time": "10:00", "kind": "storage", "target": "hv1/local"}
        ]
    }
    assert problems_of(doc) == []


def test_a_storage_move_to_a_csv_of_another_cluster_is_refused_saying_what_the_host_reaches():
    doc = _two_csvs(kind="storage", target="c2/csv1")
    doc["clusters"].append(
        {
            "name": "c2",
            "os": "2012",
            "nodes": 1,
            "csvs": [{"name": "csv1", "capacity": "1 TiB", "read": "1 GB/s", "write": "1 GB/s"}],
        }
    )
    doc["links"].append({"between": ["c2-n1", "sw"], "bandwidth": "10 Gbps"})
    assert problems_of(doc) == [
        "f.yaml: migrations.events[0].target: a storage move keeps the VM on its host, which "
        "cannot reach this volume; it reaches c1/csv1, c1/csv2 ('c2/csv1')"
    ]


def test_a_storage_move_after_a_shared_nothing_move_is_not_judged_by_the_first_host():
    # The first move takes vm1 to c2; where it is then decides what it reaches.
    doc = _two_csvs(kind="shared_nothing", target="c2-n1")
    doc["clusters"].append(
        {
            "name": "c2",
            "os": "2012",
            "nodes": 1,
            "csvs": [{"name": "csv1", "capacity": "1 TiB", "read": "1 GB/s", "write": "1 GB/s"}],
        }
    )
    doc["links"].append({"between": ["c2-n1", "sw"], "bandwidth": "10 Gbps"})
    doc["migrations"]["events"].append(
        {"vm": "vm1", "day": 1, "time": "12:00", "kind": "storage", "target": "c2/csv1"}
    )
    assert problems_of(doc) == []


def test_a_storage_move_to_an_unknown_volume_names_the_forms():
    assert problems_of(_two_csvs(kind="storage", target="c1/csv9")) == [
        "f.yaml: migrations.events[0].target: unknown volume, use 'cluster/csv', 'host/local' "
        "or a share name ('c1/csv9')"
    ]


@pytest.mark.parametrize("target", ["c1/..", "../csv1", "c1/csv1/x", "c1 /csv1"])
def test_a_target_of_more_than_two_names_or_a_dot_dot_part_is_refused_in_words(target):
    (line,) = problems_of(_two_csvs(kind="storage", target=target))
    assert line.startswith(
        "f.yaml: migrations.events[0].target: a target is a host or node name, or for a "
        "storage move a volume: 'cluster/csv', 'host/local' or a share name (a name is 1 to "
        "200 letters"
    )
