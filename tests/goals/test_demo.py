"""The demo's goals, built in memory: a consistent cascade, history up to today, seasonality."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from servicechain.goals.demo import GOAL_COLUMNS
from servicechain.platform.demo.generate import build_demo

TODAY = date(2026, 11, 23)


def goals_of(**overrides):
    ctx = build_demo(**{"employees": 400, "months": 24, "seed": 3, "today": TODAY, **overrides}, password_hash="x")
    rows = [dict(zip(GOAL_COLUMNS, r)) for r in ctx.tables["goal"].rows]
    return ctx, rows


def test_every_goal_is_aligned_one_level_up_inside_its_cycle_and_check_ins_stop_at_today():
    ctx, rows = goals_of()
    by_id = {g["id"]: g for g in rows}
    units = {u.id: u for u in ctx.units}
    assert any(g["level"] == "department" and by_id[g["parent"]]["level"] == "department" for g in rows)
    assert len(ctx.tables["cycle"].rows) == 9  # two years of quarters, the current one included
    for g in rows:
        if g["level"] == "company":
            assert g["parent"] is None
        else:
            parent = by_id[g["parent"]]
            if g["level"] == "department" and parent["level"] == "department":
                # a sub-department's goal under its division's goal
                assert units[g["owner_department"]].parent is units[parent["owner_department"]]
            else:
                assert parent["level"] == {"department": "company", "person": "department"}[g["level"]]
            assert parent["cycle"] == g["cycle"] and parent["id"] < g["id"]  # loaded before its children
        assert g["starts_on"] <= g["deadline"] and 0 <= g["progress"] <= 100
    for row in ctx.tables["goal_check_in"].rows:
        assert row[5] <= TODAY
        goal = by_id[row[1]]
        assert goal["starts_on"] <= row[5] <= goal["deadline"]


def test_the_same_seed_gives_the_same_goals():
    assert goals_of()[0].tables["goal"].rows == goals_of()[0].tables["goal"].rows


def test_winter_quarters_are_harder_than_summer_ones():
    _ctx, rows = goals_of(employees=2000)
    done: dict[int, list[bool]] = defaultdict(list)
    for g in rows:
        if g["status"] in ("achieved", "missed"):
            done[int(g["deadline"].month - 1) // 3 + 1].append(g["status"] == "achieved")
    rate = {q: sum(v) / len(v) for q, v in done.items()}
    assert rate[4] < rate[3] and rate[1] < rate[2]


def test_the_demo_employee_has_a_current_goal_with_a_check_in_overdue():
    ctx, rows = goals_of()
    employee = ctx.accounts["employee@example.com"]
    current = [g for g in rows if g["owner_person"] == employee.id and g["starts_on"] <= TODAY <= g["deadline"]]
    assert current and current[0]["status"] == "agreed"
    last = current[0]["last_check_in_on"] or current[0]["starts_on"]
    assert (TODAY - last).days >= 14
