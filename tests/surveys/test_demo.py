"""The demo's pulses: two years of monthly pulses, published as closing publishes them, with the
teams of the demo's plot dipping and recovering."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from statistics import mean

from servicechain.platform.demo.generate import build_demo
from servicechain.platform.demo.story import engagement_dip
from servicechain.platform.surveys.demo import K


def _rows(ctx, table):
    columns = ctx.tables[table].columns
    return [dict(zip(columns, r)) for r in ctx.tables[table].rows]


def test_two_years_of_monthly_pulses_follow_the_plot():
    today = date(2026, 11, 23)
    ctx = build_demo(employees=300, months=24, seed=5, today=today, password_hash="not-a-real-hash")
    pulses = _rows(ctx, "pulse")
    assert len(pulses) == 25 and sum(p["status"] == "open" for p in pulses) == 1  # this month's is open to answer
    assert all(p["min_group_size"] == K for p in pulses)
    answers = _rows(ctx, "pulse_answer")
    departments = {d["id"]: d for d in _rows(ctx, "pulse_department")}
    # Published as closing publishes them: every department an answer names stands for at least K answers.
    per_group = defaultdict(int)
    for a in answers:
        per_group[(a["pulse"], a["department"])] += 1
    assert per_group and min(per_group.values()) >= K
    for p in pulses:
        published = sum(n for (pulse, _d), n in per_group.items() if pulse == p["id"])
        assert published == p["answers"]
    # Participants answered in closed pulses only, and nobody twice.
    participants = _rows(ctx, "pulse_participant")
    seen = set()
    for row in participants:
        assert (row["pulse"], row["person"]) not in seen
        seen.add((row["pulse"], row["person"]))
    open_id = next(p["id"] for p in pulses if p["status"] == "open")
    assert not any(r["answered"] for r in participants if r["pulse"] == open_id)
    # The demo team's dip shows in the answers published under it (or the departments above it).
    team = ctx.unit("support.line1.team001")
    calm, dipped = [], []
    pulse_month = {p["id"]: p["opens_on"] for p in pulses}
    for a in answers:
        d = departments[a["department"]]
        if d["source"] not in (team.id, team.parent.id):
            continue
        score = mean(json.loads(a["scores"]).values())
        (dipped if engagement_dip(ctx, team, pulse_month[a["pulse"]]) <= -0.6 else calm).append(score)
    assert calm and dipped and mean(calm) - mean(dipped) > 0.5
    assert build_demo(employees=300, months=24, seed=5, today=today, password_hash="x").checksum() == ctx.checksum()
