"""The demo's customer scores: two years for the teams that face customers, following the
engagement dips a month or two later, with follow-ups and compensated cases."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from servicechain.platform.customers.demo import _facing_units
from servicechain.platform.demo.generate import build_demo
from servicechain.platform.demo.story import customer_dip

TODAY = date(2026, 11, 23)


def test_two_years_of_scores_that_follow_the_dips_with_follow_ups_of_the_low_ones():
    ctx = build_demo(employees=300, months=24, seed=1, today=TODAY, password_hash="not-a-real-hash")
    scores = [dict(zip(ctx.tables["customer_score"].columns, r)) for r in ctx.tables["customer_score"].rows]
    follow_ups = [dict(zip(ctx.tables["customer_follow_up"].columns, r)) for r in ctx.tables["customer_follow_up"].rows]
    assert 80_000 < len(scores) < 120_000, "about 100,000 for the default company"
    assert min(s["given_on"] for s in scores) >= ctx.start and max(s["given_on"] for s in scores) <= TODAY
    assert len({(s["source"], s["external_id"]) for s in scores}) == len(scores)
    facing = {u.id for u in _facing_units(ctx)}
    assert {s["channel"] for s in scores} == {"phone", "chat", "email", "courier", "store"}

    # Each score names someone who worked in that team that day.
    members = {m.id: m for m in ctx.people}
    for s in scores[::997]:
        member = members[s["employee"]]
        assert any(p.unit.id == s["department"] and p.start <= s["given_on"] and (p.end is None or s["given_on"] < p.end)
                   for p in member.placements)

    # Dipping teams score lower while the dip lasts.
    units = {u.id: u for u in ctx.units}
    calm, dipped = [], []
    for s in scores:
        if s["csat"] is None or s["department"] not in facing:
            continue
        dip = customer_dip(ctx, units[s["department"]], s["given_on"].replace(day=1))
        (dipped if dip <= -0.6 else calm if dip == 0 else []).append(s["csat"] >= 4)
    assert dipped and sum(calm) / len(calm) - sum(dipped) / len(dipped) > 0.15

    # Every low score opened a follow-up; most are closed, the newest open, some overdue.
    low = {s["id"] for s in scores if s["low"]}
    assert {f["score"] for f in follow_ups} == low
    assert 0.1 < len(low) / len(scores) < 0.3
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    open_ = [f for f in follow_ups if f["status"] == "open"]
    assert 0 < len(open_) < 0.1 * len(follow_ups) and any(f["due_at"] < now for f in open_)
    assert all(f["closed_at"] >= f["created_at"] for f in follow_ups if f["status"] == "closed")

    # Authority uses: the complaint before is closed as compensated, linked to the use; the case scores better after.
    uses = {r[0]: r for r in ctx.tables["authority_use"].rows}
    compensated = [f for f in follow_ups if f["outcome"] == "compensated"]
    assert compensated and all(f["authority_use"] in uses for f in compensated)
    by_case = defaultdict(list)
    for s in scores:
        by_case[s["case_ref"]].append(s)
    cases = {uses[f["authority_use"]][5] for f in compensated}
    after = [s for case in cases for s in by_case[case] if not s["low"]]
    assert len(after) > 0.3 * len(cases)
    assert build_demo(employees=300, months=24, seed=1, today=TODAY, password_hash="x").tables[
        "customer_score"].rows[:50] == ctx.tables["customer_score"].rows[:50]
