"""The model against published figures (shared/domain/facts.md), with the
tolerance the sources allow."""

from __future__ import annotations

from tests.conftest import base_scenario, run


def test_saved_state_downtime_of_a_typical_vm_is_about_30_s_and_under_a_minute():
    # Seed article: "about 30 seconds in most environments"; DPM docs: "usually less
    # than a minute" (facts §4). A 4 GiB VM on a 500 MB/s CSV with the software
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


def test_live_migration_of_a_512_mb_vm_over_1_gbe_takes_several_seconds():
    # Measured on WS2012, 1 GbE: one 512 MB VM in 7 s (facts §9, aidanfinn.com).
    # The model has no fixed setup cost, so it may be faster, but not by half.
    doc = base_scenario(
        vms=[{"name": "v", "cluster": "c1", "csv": "csv1", "node": "c1-n1", "memory": "512 MiB"}],
        migrations={
            "events": [{"vm": "v", "day": 0, "time": "12:00", "kind": "live", "target": "c1-n2"}]
        },
    )
    seconds = run(doc).migrations["duration_s"].iloc[0]
    assert 3.5 <= seconds <= 8.0
