"""analytics.movers: the departments whose figure moved most since last month, the rule both the
dashboards and the monthly report use."""

from __future__ import annotations

from datetime import date

import polars as pl

from servicechain.platform.analytics import dashboards
from servicechain.platform.analytics.metrics import metric
from servicechain.platform.analytics.movers import movers

OCT, SEP = date(2026, 10, 1), date(2026, 9, 1)


def frame(before: dict[int, float | None], now: dict[int, float | None], key: str = "engagement") -> pl.DataFrame:
    rows = [{"department_id": d, "month": SEP, key: v} for d, v in before.items()]
    rows += [{"department_id": d, "month": OCT, key: v} for d, v in now.items()]
    return pl.DataFrame(rows, schema={"department_id": pl.Int64, "month": pl.Date, key: pl.Float64})


def test_better_and_worse_follow_the_metric_and_ties_go_by_department():
    f = frame({1: 60.0, 2: 60.0, 3: 60.0, 4: 60.0, 5: 60.0, 6: None, 7: 60.0},
              {1: 65.0, 2: 63.0, 3: 65.0, 4: 55.0, 5: 60.2, 6: 70.0, 7: float("nan")})
    found = movers(f, "engagement", OCT, [1, 2, 3, 4, 5, 6, 7], limit=2)
    assert [m.department_id for m in found.better] == [1, 3]  # 2 rose less; the tie by id
    assert [m.department_id for m in found.worse] == [4]
    assert found.compared == 5  # 6 had no figure in September, 7 none (NaN) in October
    # 5's +0.2 shows as 0 at engagement's no decimals: no move either way.
    assert 5 not in {m.department_id for m in found.better + found.worse}
    # Fewer goals at risk is the better way.
    risk = movers(frame({1: 10.0, 2: 10.0}, {1: 4.0, 2: 12.0}, "goals_at_risk"), "goals_at_risk", OCT, [1, 2], limit=5)
    assert [m.department_id for m in risk.better] == [1] and [m.department_id for m in risk.worse] == [2]


def test_only_the_departments_asked_for_count():
    found = movers(frame({1: 60.0, 2: 60.0}, {1: 70.0, 2: 50.0}), "engagement", OCT, [2], limit=5)
    assert found.better == [] and [m.department_id for m in found.worse] == [2]


def test_a_change_that_prints_as_zero_is_no_change_on_the_page():
    # Half a step rounds to even (0): the page says "0", neither better nor worse, as the report.
    assert dashboards._change(70.5, 70.0, metric("engagement"))["direction"] == "same"
    assert dashboards._change(71.5, 70.0, metric("engagement"))["direction"] == "up"


def test_the_movers_rank_every_department_below_the_top_ones_whatever_the_shape_of_the_tree():
    from servicechain.platform.analytics.movers import below_the_top

    one_root = {1: None, 2: 1, 3: 1, 4: 2}
    assert below_the_top(one_root) == [2, 3, 4]
    # Several top-level departments (no company root): none of them is a mover, as on the
    # dashboards' company page; the report left them in.
    two_tops = {1: None, 2: None, 3: 1, 4: 2, 5: 4}
    assert below_the_top(two_tops) == [3, 4, 5]
    # A branch seen without its parent (a head's dashboard): its top is the branch itself.
    branch = {4: 2, 5: 4, 6: 5}
    assert below_the_top(branch) == [5, 6]
