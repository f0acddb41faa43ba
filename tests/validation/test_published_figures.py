"""The model against every measured or published figure of the facts files
(docs/sources.md) that one of its mechanisms
produces, with the tolerance each source allows. Where the model missed a figure it
was calibrated by a parameter that cites the figure (links[].efficiency,
live_migration.setup), never by a constant in a formula.

Published vs simulated (seed 1; run this file with -s to print the table):

- initial replica over the network (source: dpm-network-efficiency): 50 GB at
  512 kbps / 2 / 8 / 32 / 100 Mbps: 284 / 71 / 18 / 5 / 1.5 h, 500 GB at 100 Mbps:
  15 h; simulated with links[].efficiency 0.8 and GB = GiB: 291.3 / 74.6 / 18.6 / 4.66 / 1.49 h and
  14.9 h (+2.6 %, +5.0 %, +3.6 %, -6.8 %, -0.6 %, -0.6 %). At line rate (the model
  before links[].efficiency) the same rows were 21 % to 25 % short.
- live migration, WS2012, idle 512 MB VMs, 20 at once (source: live-migration-ws2012-lab): see
  LIVE_MIGRATION below; 1 GbE 13-27 % slow, 10 GbE one VM exact (the fit), 10 GbE
  10 and 20 VMs 32 % and 37 % fast (a known miss, explained at the test).
- WS2012 R2, an 8 GB VM running SQL over 1 GbE TCP/IP: "> 78 s"
  (source: live-migration-ws2012r2-lab); simulated 86.4 s with the default dirty rate.
- saved-state downtime: "about 30 s", "less than a minute" (source: saved-state); a 4 GiB VM
  on a 500 MB/s CSV: 26.2 s.
- consistency checks: no throughput or duration is published (source: dpm-consistency-check: "No
  published CC throughput"); the mechanism is checked against a hand computation
  and against the published qualitative claim that a check sends far less over the
  network than the initial replica.
- protection scans: the article's "hours" for 8 nodes x 400 VMs is the calibration
  target of the scan costs, tested in tests/model/test_scans.py.
"""

from __future__ import annotations

import pytest

from tests.builders import INSTANT_WRITERS, GiB, base_scenario, run

H = 3600.0


def test_saved_state_downtime_of_a_typical_vm_is_about_30_s_and_under_a_minute():
    # Seed article: "about 30 seconds in most environments"; DPM docs: "usually less
    # than a minute" (source: saved-state). A 4 GiB VM on a 500 MB/s CSV with the software
    # provider and the default overheads: 2 x 8.6 s + 2 + 2 + 5 s = 26.2 s.
    doc = base_scenario(
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "guest_os": "windows2000",
                "memory": "4 GiB",
            }
        ]
    )
    doc["clusters"][0]["csvs"][0]["vss_provider"] = "software"
    seconds = run(doc).downtime["seconds"].iloc[0]
    assert 20 <= seconds <= 60


# DPM's initial-replica table (source: dpm-network-efficiency): (GB, link, hours).
INITIAL_REPLICA_TABLE = [
    (50, "512 kbps", 284.0),
    (50, "2 Mbps", 71.0),
    (50, "8 Mbps", 18.0),
    (50, "32 Mbps", 5.0),
    (50, "100 Mbps", 1.5),
    (500, "100 Mbps", 15.0),
]
LINK_BPS = {"512 kbps": 512e3, "2 Mbps": 2e6, "8 Mbps": 8e6, "32 Mbps": 32e6, "100 Mbps": 100e6}


def _initial_replica_hours(size_gib: float, link: str, efficiency: float | None = None) -> float:
    """Hours of the initial replica of a VM with ``size_gib`` in use when the DPM
    server's link is ``link`` (node link 10 Gbps, CSV 500 MB/s, pool 1 GB/s: faster)."""
    vm = {"name": "v", "cluster": "c1", "csv": "csv1", "disks": [{"size": f"{size_gib} GiB"}]}
    doc = base_scenario(vss=INSTANT_WRITERS, vms=[vm])
    doc["links"][2]["bandwidth"] = link
    if efficiency is not None:
        doc["links"][2]["efficiency"] = efficiency
    job = run(doc).jobs.iloc[0]
    assert (job["kind"], job["outcome"]) == ("initial_replica", "succeeded")
    return float(job["duration_s"]) / H


@pytest.mark.parametrize(("size_gb", "link", "hours"), INITIAL_REPLICA_TABLE)
def test_initial_replica_over_the_network_takes_dpms_table_time(size_gb, link, hours):
    # DPM's planning guide: replication reaches about 80 % of the link, hours =
    # MB / (0.8 x MB/s) / 3600 (source: dpm-network-efficiency), the default of
    # links[].efficiency. The table's GB are GiB (with decimal GB it would imply 75 %,
    # same source), and it rounds to two figures and mixes conventions (32 Mbps: 4.66 h
    # decimal, 4.44 h binary, the table says 5): within 8 %.
    simulated = _initial_replica_hours(size_gb, link)
    # Hand computation: bytes / (bits per second / 8 x 0.8), plus the 1 s hardware
    # snapshot and 1 s release.
    by_hand = (size_gb * GiB / (LINK_BPS[link] / 8 * 0.8) + 2) / H
    assert simulated == pytest.approx(by_hand, rel=1e-9)
    assert simulated == pytest.approx(hours, rel=0.08)
    print(
        f"initial replica {size_gb} GB @ {link}: published {hours} h, simulated {simulated:.3g} h"
    )


def test_at_line_rate_the_initial_replica_misses_dpms_table_by_a_fifth():
    # Why links[].efficiency exists: at 100 % of 100 Mbps the 50 GB replica takes
    # 1.19 h, 21 % under DPM's 1.5 h.
    simulated = _initial_replica_hours(50, "100 Mbps", efficiency=1.0)
    assert simulated == pytest.approx((50 * GiB / 12.5e6 + 2) / H, rel=1e-9)
    assert simulated < 0.8 * 1.5


# source: live-migration-ws2012-lab: WS2012 beta cluster, idle 512 MB VMs, the hosts
# set to 20 simultaneous live migrations; seconds to move 1, 10 and 20 VMs.
LIVE_MIGRATION = [
    ("1 Gbps", 1, 7.0),
    ("1 Gbps", 10, 40.0),
    ("1 Gbps", 20, 80.0),
    ("10 Gbps", 1, 5.0),
    ("10 Gbps", 10, 13.0),
    ("10 Gbps", 20, 21.0),
]


def _live_migration_s(network: str, n: int, memory: str, dirty_rate: str) -> float:
    """Seconds from requesting ``n`` live migrations c1-n1 -> c1-n2 at 12:00 over a
    cluster network of ``network`` until the last one ends."""
    vms = {"name": "v{i:02d}", "count": n, "cluster": "c1", "csv": "csv1", "node": "c1-n1"}
    moves = [
        {"vm": f"v{i:02d}", "day": 0, "time": "12:00", "kind": "live", "target": "c1-n2"}
        for i in range(1, n + 1)
    ]
    doc = base_scenario(
        protection_groups=[],
        vms=[dict(vms, memory=memory, dirty_rate=dirty_rate)],
        migrations={"events": moves},
        live_migration={"simultaneous_per_host": 20},
    )
    doc["clusters"][0]["cluster_network"] = network
    m = run(doc).migrations
    assert len(m) == n
    return float(m["end_s"].max() - 12 * H)


@pytest.mark.parametrize(("network", "n", "published_s"), LIVE_MIGRATION)
def test_live_migration_series_of_512_mb_vms_on_1_and_10_gbe(network, n, published_s):
    # The VMs were new lab VMs made by a script, idle: dirty rate 0 (assumption; the
    # article names no load). The cluster network carries them at line rate (no link
    # efficiency there; the article measured 119.5-122.8 MB/s on 1 GbE, 96-98 % of it).
    # By hand: all n start together, each takes the 4.5 s setup (live_migration.setup),
    # then n x 512 MiB share the network, then the 0.1 s switchover.
    simulated = _live_migration_s(network, n, "512 MiB", "0 MB/s")
    line_rate = 125e6 if network == "1 Gbps" else 1.25e9
    assert simulated == pytest.approx(4.5 + n * 512 * 2**20 / line_rate + 0.1, rel=1e-9)
    print(f"live migration {n} VM(s) @ {network}: {published_s} s published, {simulated:.3g} s")
    ratio = simulated / published_s
    if network == "10 Gbps" and n == 1:
        # The fit: live_migration.setup = 5 s - 0.43 s copy - 0.1 s switchover.
        assert ratio == pytest.approx(1.0, abs=0.02)
    elif network == "1 Gbps":
        # 13-27 % slow: the setup fitted at 10 GbE is longer than the 1 GbE series
        # implies (7 s - 4.3 s of copying = 2.7 s for one VM); within 30 %.
        assert 1.0 <= ratio <= 1.3
    else:
        # A known miss, 32 % and 37 % fast: the model fills 10 GbE with concurrent
        # migrations (1.25 GB/s); the article's hosts moved 10 and 20 VMs at about
        # 0.4-0.5 GB/s on average. No parameter is fitted to it: another WS2012 lab
        # drained 18 VMs (~80 GB) over 10 GbE in 65 s, about 1.2 GB/s, close to line
        # rate (source: live-migration-10gbe-drain), so the link-bound model
        # sits between the two measurements. Fail if it moves further off.
        assert 0.6 <= ratio < 1.0


def test_live_migration_of_an_8_gb_sql_vm_over_1_gbe_takes_more_than_78_s():
    # WS2012 R2, an 8 GB VM running SQL, TCP/IP over 1 GbE: "> 78 s", ~95 % NIC use
    # (source: live-migration-ws2012r2-lab). With the default dirty rate of 20 MB/s (a
    # busy VM, assumption): setup 4.5 s, rounds of 68.7, 11.0 and 1.8 s, blackout 0.4 s:
    # 86.4 s, within 25 % above the published lower bound.
    simulated = _live_migration_s("1 Gbps", 1, "8 GiB", "20 MB/s")
    print(f"live migration 8 GB SQL VM @ 1 Gbps: published > 78 s, simulated {simulated:.3g} s")
    assert 78 < simulated < 1.25 * 78


def test_consistency_check_reads_source_and_replica_then_sends_the_differences():
    # No published throughput or duration (source: dpm-consistency-check), so
    # the mechanism against a hand computation. A 200 GiB VM on the CSV (read 500 MB/s)
    # with its replica in the pool (read 250 MB/s): both read in parallel, the pool
    # the slower: 200 GiB / 250 MB/s = 859.0 s. Then the blocks changed since the last
    # sync (22:00 to 12:00 next day = 14 h at 3 %/day: 1.75 % of 200 GiB = 3.76 GB) go
    # over the 1 Gbps DPM link at 80 % (100 MB/s): 37.6 s.
    vm = {"name": "v", "cluster": "c1", "csv": "csv1", "disks": [{"size": "200 GiB"}]}
    doc = base_scenario(
        horizon_days=2,
        vss=INSTANT_WRITERS,
        vms=[vm],
        migrations={
            "events": [{"vm": "v", "day": 1, "time": "12:00", "kind": "consistency_check"}]
        },
    )
    doc["dpm_servers"][0]["pool"]["read"] = "250 MB/s"
    doc["links"][2]["bandwidth"] = "1 Gbps"
    res = run(doc)
    cc = res.consistency_checks.iloc[0]
    changed = 200 * GiB * 0.03 * 14 / 24
    assert cc["bytes_read"] == pytest.approx(2 * 200 * GiB, rel=1e-12)
    assert cc["bytes_sent"] == pytest.approx(changed, rel=1e-12)
    assert cc["duration_s"] == pytest.approx(200 * GiB / 250e6 + changed / 100e6, rel=1e-9)
    # Published, qualitative (source: dpm-consistency-check): a check sends only checksums and
    # changes over the network, "significantly lower than initial replica creation".
    initial = res.jobs[res.jobs["kind"] == "initial_replica"].iloc[0]
    assert cc["bytes_sent"] < 0.05 * initial["bytes"]
