"""The demo's authority, built in memory: employee@example.com's grant, and a history that never
overspends anything up a chain."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from servicechain.goals.authority.service import period_start
from servicechain.platform.demo.generate import build_demo

TODAY = date(2026, 11, 23)


def test_the_demo_employee_may_compensate_5000_per_case_and_40000_a_month_with_30000_left():
    ctx = build_demo(employees=300, months=24, seed=7, today=TODAY, password_hash="x")
    employee = ctx.accounts["employee@example.com"]
    scopes = {row[1]: row[0] for row in ctx.tables["authority_scope"].rows}
    grant = next(r for r in ctx.tables["authority_grant"].rows if r[3] == employee.id and r[1] == scopes["compensation"])
    assert (grant[7], grant[8], grant[9]) == (500_000, 4_000_000, "month")
    this_month = sum(u[7] for u in ctx.tables["authority_use"].rows
                     if u[1] == grant[0] and u[9] >= period_start(TODAY, "month"))
    assert 4_000_000 - this_month >= 3_000_000


def test_the_demo_history_keeps_every_budget_and_case_limit_up_the_chain_and_has_seasons():
    ctx = build_demo(employees=300, months=24, seed=7, today=TODAY, password_hash="x")
    grants = {r[0]: r for r in ctx.tables["authority_grant"].rows}
    uses = ctx.tables["authority_use"].rows
    assert len(uses) > 1000 and max(u[9] for u in uses) <= TODAY
    spent: dict = defaultdict(int)
    for use in uses:
        for grant_id in (int(p) for p in use[2].strip("/").split("/")):
            grant = grants[grant_id]
            assert use[7] <= grant[7] and grant[10] <= use[9]
            spent[(grant_id, period_start(use[9], "month"))] += use[7]
    assert all(total <= grants[grant_id][8] for (grant_id, _month), total in spent.items())
    for grant in grants.values():
        if grant[4] is not None:
            parent = grants[grant[4]]
            assert grant[7] <= parent[7] and grant[8] <= parent[8] and grant[10] >= parent[10]
    by_month = defaultdict(int)
    for use in uses:
        by_month[use[9].month] += 1
    assert by_month[12] > by_month[3]  # New Year is busier than early spring
    stored = {(r[1], r[2]): r[4] for r in ctx.tables["authority_spent"].rows}
    assert stored == dict(spent)
