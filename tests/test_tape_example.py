"""scenarios/tape-long-term.yaml: its tape KPIs, each worked out by hand from the
scenario (2 LTO-5 drives of 140 MB/s, 1.5 TB tapes; the pool reads 400 MB/s)."""

from __future__ import annotations

import pytest

import hvsim
from tests.builders import ROOT


@pytest.fixture(scope="module")
def kpis() -> dict:
    scenario = hvsim.load_scenario(ROOT / "scenarios" / "tape-long-term.yaml")
    return hvsim.simulate(scenario, seed=1).kpis()


def test_tape_sessions_and_makespans(kpis: dict) -> None:
    t = kpis["tape"]
    # apps: Saturdays 2026-01-10, 17, 24, 31 (days 5, 12, 19, 26): 4 sessions of 12
    # VMs; dbs: Sunday 2026-02-01 (day 27) at 18:00: 1 session of 4 VMs.
    assert t["sessions"] == 5
    assert t["jobs"] == 4 * 12 + 4
    # apps: 12 replicas of 200 GB on 2 drives (2 x 140 = 280 MB/s < the pool's 400):
    # 200e9 / 140e6 = 1,428.571 s a job, 6 rounds = 8,571.429 s.
    assert t["session_makespan_p50_s"] == pytest.approx(8571.429)
    # dbs: 4 replicas of 500 GB on its 1 allocated drive: 4 x 3,571.429 = 14,285.714 s.
    assert t["session_makespan_max_s"] == pytest.approx(14285.714)


def test_the_monthly_session_runs_into_the_window(kpis: dict) -> None:
    t = kpis["tape"]
    # dbs from 18:00 for 14,285.714 s ends 21:58:05.7: 7,085.714 s past 20:00 = 1.968 h.
    # The apps sessions end by 12:23, far from the 20:00-06:00 window.
    assert t["sessions_overlapping_window"] == 1
    assert t["window_overlap_h"] == pytest.approx(1.968)


def test_drive_utilisation(kpis: dict) -> None:
    t = kpis["tape"]
    # Busy: apps 48 x 1,428.571 = 68,571.429 s, dbs 4 x 3,571.429 = 14,285.714 s.
    busy = 48 * 200e9 / 140e6 + 4 * 500e9 / 140e6
    assert t["drive_busy_s"] == pytest.approx(busy, abs=1e-3)
    # From the first start (day 5 10:00 = 468,000 s) to the last end (day 27 18:00 +
    # 14,285.714 s = 2,411,885.714 s), 2 drives: 82,857.143 / (2 x 1,943,885.714).
    span = 27 * 86400 + 64800 + 4 * 500e9 / 140e6 - (5 * 86400 + 36000)
    assert t["drive_utilisation"] == pytest.approx(round(busy / (2 * span), 4))
    # Over 2 drives x the 28-day horizon.
    assert t["drive_utilisation_horizon"] == pytest.approx(round(busy / (2 * 28 * 86400), 4))


def test_tapes(kpis: dict) -> None:
    t = kpis["tape"]
    # Every full fits one 1.5 TB tape: 52 written in the run.
    assert t["tapes_written"] == 52
    # A year: apps 52 weekly fulls x 12 VMs + dbs 12 monthly x 4 = 624 + 48 = 672.
    assert t["tapes_per_year"] == 672
    # In rotation (frequency x retention range): apps 52 x 3/12 = 13 fulls x 12 = 156;
    # dbs 12 x 7 = 84 fulls x 4 = 336; 492 in all.
    assert t["tapes_in_rotation"] == 492
