"""The demo's service quality: two years of scorecards in support and the stores, monthly audits,
weights that changed a year in (old scorecards keep theirs), and dipping teams scoring lower."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from statistics import mean

from servicechain.platform.customers.quality.demo import LATER_WEIGHTS
from servicechain.platform.customers.quality.tables import CRITERIA
from servicechain.platform.demo.generate import build_demo
from servicechain.platform.demo.story import customer_dip

TODAY = date(2026, 11, 23)


def _rows(ctx, table):
    columns = ctx.tables[table].columns
    return [dict(zip(columns, r)) for r in ctx.tables[table].rows]


def test_scorecards_and_audits_cover_two_years_and_dipping_teams_score_lower():
    ctx = build_demo(employees=600, months=24, seed=5, today=TODAY, password_hash="not-a-real-hash")
    units = {u.id: u for u in ctx.units}
    cards = _rows(ctx, "quality_scorecard")
    months = {c["contact_on"].strftime("%Y-%m") for c in cards}
    assert len(months) == 25 and all(ctx.start <= c["contact_on"] < TODAY for c in cards)  # both ends part months
    assert {units[c["department"]].division for c in cards} == {"support", "stores"}
    assert {c["channel"] for c in cards} == {"phone", "chat", "email", "store"}
    for c in cards[:3000]:
        assert 0 <= c["score"] <= 100 and all(c["score_" + k] is None or 0 <= c["score_" + k] <= 5 for k in CRITERIA)
        assert c["link"] == "" or c["link"].startswith("https://")
    per_agent_month = defaultdict(int)
    for c in cards:
        per_agent_month[(c["employee"], c["contact_on"].strftime("%Y-%m"))] += 1
    assert 1.5 <= mean(per_agent_month.values()) <= 4, "a few per agent per month"

    calm, dipping = [], []
    for c in cards:
        (dipping if customer_dip(ctx, units[c["department"]], c["contact_on"]) <= -0.6 else calm).append(c["score"])
    assert dipping and mean(calm) - mean(dipping) > 8, "teams whose engagement dipped score lower a little later"

    weights = {w[0]: dict(zip(CRITERIA, w[1:7])) for w in ctx.tables["quality_weight_set"].rows}
    assert weights[2] == LATER_WEIGHTS and {c["weight_set"] for c in cards} == {1, 2}
    first_new = min(c["contact_on"] for c in cards if c["weight_set"] == 2)
    assert all(c["contact_on"] < first_new for c in cards if c["weight_set"] == 1), "old scorecards keep the old weights"

    audits = _rows(ctx, "quality_audit")
    assert {a["channel"] for a in audits} == {"store", "phone", "chat", "email", "courier"}
    assert len({a["visited_on"].strftime("%Y-%m") for a in audits}) == 25
    answers = _rows(ctx, "quality_audit_answer")
    by_audit = defaultdict(list)
    for a in answers:
        by_audit[a["audit"]].append(a["points"])
    for a in audits[:500]:
        assert abs(a["score"] - round(mean(by_audit[a["id"]]) * 100, 1)) < 0.01
    employee = ctx.accounts["employee@example.com"]
    assert any(c["employee"] == employee.id for c in cards), "the demo employee has scorecards to read"
    assert build_demo(employees=600, months=24, seed=5, today=TODAY, password_hash="x").checksum() == ctx.checksum()
