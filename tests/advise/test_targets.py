"""Targets and objectives of the advisor: parsing, and which replication decides,
on values worked out by hand."""

from __future__ import annotations

import math

import pytest

from hvsim.scenario.loader import ScenarioError
from hvsim.targets import parse_objective, parse_target


def test_short_names_stand_for_the_planners_targets():
    w = parse_target("window")
    assert (w.kpi, w.op, w.bound, w.stat) == ("backups.window_compliance", ">=", 1.0, "p95")
    d = parse_target("downtime<=1 min")
    assert (d.kpi, d.op, d.bound, d.stat) == ("downtime.per_backup_max_s", "<=", 60.0, "p95")
    assert parse_target("pool").kpi == "storage.pool_full_failures"


def test_values_take_units_from_the_kpi_name():
    assert parse_target("backups.night_span_max_s<=6 h").bound == 21600.0
    assert parse_target("storage.needed_bytes<=30 TB").bound == 30e12
    assert parse_target("backups.window_compliance>=99%@p95").bound == pytest.approx(0.99)


@pytest.mark.parametrize(
    "text",
    ["downtime", "x.y", "backups.jobs>=many", "backups.jobs>=1@p", "backups.jobs>=1@worst"],
)
def test_bad_targets_say_what_is_expected(text):
    with pytest.raises(ScenarioError) as err:
        parse_target(text)
    assert "--target" in err.value.problems[0]


def test_p95_of_3_replications_needs_all_3_and_of_20_needs_19():
    t = parse_target("backups.jobs<=10@p95")
    # ceil(0.95 x 3) = 3; ceil(0.95 x 20) = 19.
    assert t.needed(3) == 3 and t.needed(20) == 19
    # <=: the 19th smallest of 1..20 is 19 (one replication may miss).
    assert t.value(list(range(1, 21))) == 19.0
    assert parse_target("backups.jobs>=10@p95").value(list(range(1, 21))) == 2.0


def test_all_is_the_worst_replication_and_mean_the_mean():
    assert parse_target("a.b<=5").value([1, 7, 3]) == 7.0
    assert parse_target("a.b>=5").value([1, 7, 3]) == 1.0
    assert parse_target("a.b<=5@mean").value([1, 7, 4]) == 4.0


def test_violation_is_zero_when_met_and_relative_otherwise():
    t = parse_target("a.b<=100")
    assert t.violation([50, 100]) == 0.0
    # misses by 50 of 100.
    assert t.violation([150]) == pytest.approx(0.5)
    # a KPI not measured (null) never counts as met.
    assert not t.meets(math.nan) and t.violation([math.nan]) > 0


def test_a_target_is_clearly_missed_once_it_cannot_hold():
    every = parse_target("a.b<=1")
    assert every.clearly_missed([2.0], 5)  # @all: one miss is enough
    p60 = parse_target("a.b<=1@p60")  # 3 of 5 must hold: 2 may miss
    assert not p60.clearly_missed([2.0, 2.0], 5)
    assert p60.clearly_missed([2.0, 2.0, 2.0], 5)
    mean = parse_target("a.b<=1@mean")
    assert mean.clearly_missed([2.0], 5) and not mean.clearly_missed([2.0, 0.0], 5)


def test_objectives():
    assert parse_objective("night").kpi == "backups.night_span_max_s"
    assert parse_objective("cost").kpi == "cost"
    o = parse_objective("downtime.total_s@max")
    assert o.value([1.0, 3.0]) == 3.0 and parse_objective("x.y").value([1.0, 3.0]) == 2.0
    with pytest.raises(ScenarioError):
        parse_objective("x.y@p95")
