"""The demo's internal service tells two stories: IT improved, the warehouse slipped."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from statistics import mean

from servicechain.platform.demo.generate import build_demo


def test_two_years_of_rounds_with_one_department_improving_and_one_slipping():
    ctx = build_demo(employees=1500, months=24, seed=3, today=date(2026, 11, 23), password_hash="not-a-real-hash")
    rounds = ctx.tables["internal_service_round"].rows
    assert len(rounds) == 8 and all(r[4] == 5 for r in rounds)
    columns = ctx.tables["internal_service_rating"].columns
    rows = [dict(zip(columns, r)) for r in ctx.tables["internal_service_rating"].rows]
    codes = {u.id: u.code for u in ctx.units}
    by = defaultdict(list)
    for r in rows:
        by[(codes[r["provider_department"]], r["round"])].append(r["overall"])
        assert 1 <= r["overall"] <= 5 and r["rater_department"] != r["provider_department"]
    first, last = 1, len(rounds)
    assert mean(by[("it", last)]) - mean(by[("it", first)]) > 0.8, "IT improved"
    assert mean(by[("warehouse", first)]) - mean(by[("warehouse", last)]) > 0.8, "the warehouse slipped"
    low = sum(1 for r in rows if r["overall"] <= 2)
    assert len(ctx.tables["internal_service_follow_up"].rows) == low, "every low rating opened a follow-up"
    # Nobody rates their own division's services.
    units = {u.id: u for u in ctx.units}
    for r in rows[:2000]:
        assert units[r["rater_department"]].division != codes[r["provider_department"]]
    assert build_demo(employees=1500, months=24, seed=3, today=date(2026, 11, 23),
                      password_hash="x").checksum() == ctx.checksum()
