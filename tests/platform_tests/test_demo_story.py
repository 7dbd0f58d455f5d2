"""The demo's shared plot: dips are deterministic, shaped, and the customer side lags."""

from __future__ import annotations

from datetime import date

from servicechain.platform.demo.generate import DEMO_TEAM, build_demo
from servicechain.platform.demo.story import CUSTOMER_LAG_MONTHS, customer_dip, engagement_dip


def _ctx():
    return build_demo(employees=300, months=24, seed=7, today=date(2026, 11, 23), password_hash="x")


def _months(ctx):
    first = ctx.start.year * 12 + ctx.start.month - 1
    last = ctx.today.year * 12 + ctx.today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(first, last + 1)]


def test_the_demo_team_dips_to_the_bottom_and_recovers_before_today():
    ctx = _ctx()
    curve = [engagement_dip(ctx, ctx.unit(DEMO_TEAM), m) for m in _months(ctx)]
    assert min(curve) == -1.0
    assert curve[0] == 0.0 and curve[-1] == 0.0
    assert all(-1.0 <= value <= 0.0 for value in curve)


def test_some_teams_dip_and_most_stay_calm():
    ctx = _ctx()
    teams = [u for u in ctx.units if u.profile is not None]
    dipping = [u for u in teams if any(engagement_dip(ctx, u, m) < 0 for m in _months(ctx))]
    assert 0 < len(dipping) < len(teams)


def test_the_customer_side_follows_with_the_lag():
    ctx = _ctx()
    unit = ctx.unit(DEMO_TEAM)
    months = _months(ctx)
    for early, late in zip(months, months[CUSTOMER_LAG_MONTHS:]):
        assert customer_dip(ctx, unit, late) == engagement_dip(ctx, unit, early)


def test_the_same_seed_tells_the_same_story():
    first, second = _ctx(), _ctx()
    for unit_a, unit_b in zip(first.units, second.units):
        assert [engagement_dip(first, unit_a, m) for m in _months(first)] == \
               [engagement_dip(second, unit_b, m) for m in _months(second)]
