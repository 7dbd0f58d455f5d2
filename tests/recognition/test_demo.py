"""The demo's recognition step, built in memory: deterministic, in time order, by the rules."""

from __future__ import annotations

from datetime import date

from servicechain.platform.demo.generate import build_demo
from servicechain.recognition.demo import RECOGNITION_COLUMNS, REWARD_COLUMNS


def build(seed: int = 3):
    return build_demo(employees=300, months=24, seed=seed, today=date(2026, 11, 23), password_hash="x")


def rows(ctx, table):
    data = ctx.tables[table]
    return [dict(zip(data.columns, row)) for row in data.rows]


def test_two_years_of_thanks_follow_the_rules():
    ctx = build()
    values = {v["code"]: v for v in rows(ctx, "company_value")}
    assert {"customer", "colleagues", "ownership", "beyond"} <= set(values)
    recognitions = rows(ctx, "recognition")
    assert len(recognitions) > 500
    stamps = [r["created_at"] for r in recognitions]
    assert stamps == sorted(stamps)  # ids grow with time, as the feeds expect
    assert (stamps[-1] - stamps[0]).days > 600
    assert [r["id"] for r in recognitions] == list(range(1, len(recognitions) + 1))
    senders = {r["id"]: r["sender"] for r in recognitions}
    recipients = rows(ctx, "recognition_recipient")
    assert all(r["person"] != senders[r["recognition"]] for r in recipients)  # nobody thanks themselves
    stories = [r["story"] for r in recognitions if r["story"]]
    assert any("customer" in s for s in stories) and any("покупател" in s.lower() for s in stories)
    retired = values["speed"]
    for link in rows(ctx, "recognition_value"):
        if link["value"] == retired["id"]:
            assert recognitions[link["recognition"] - 1]["created_at"] < retired["retired_at"]


def test_rewards_stay_within_their_budget_and_record_the_preference_rank():
    ctx = build()
    budgets = {b["id"]: b for b in rows(ctx, "reward_budget")}
    spent: dict[int, int] = {}
    rankings = {p["person"]: p["ranking"].split(",") for p in rows(ctx, "reward_preference")}
    rewards = rows(ctx, "reward")
    assert rewards
    for reward in rewards:
        if reward["from_budget"]:
            spent[reward["from_budget"]] = spent.get(reward["from_budget"], 0) + reward["amount"]
            assert budgets[reward["from_budget"]]["manager"] == reward["giver"]
        ranking = rankings.get(reward["recipient"], [])
        assert reward["preference_rank"] == (ranking.index(reward["kind"]) + 1 if reward["kind"] in ranking else None)
    assert all(spent[b] <= budgets[b]["amount"] for b in spent)


def test_the_same_seed_gives_the_same_rows():
    first, second = build(), build()
    for table, columns in (("recognition", RECOGNITION_COLUMNS), ("reward", REWARD_COLUMNS)):
        assert first.tables[table].columns == columns
        assert first.tables[table].rows == second.tables[table].rows
