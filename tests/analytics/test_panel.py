"""The department-month panel on a small company built by hand, July to September 2023:

    A (no people of its own)
    ├── B   (1 person: the head)
    │   ├── B1 (2 people)   a team below the anonymity minimum of 3
    │   └── B2 (4 people)
    └── C   (3 people)

Every figure is checked against a value worked out by hand below, and against the domain's
own function for the same data where one exists. The data is committed to a private copy of
the test database: the panel reads through its own (ADBC) connections, which cannot see an
uncommitted transaction.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from servicechain.platform import db
from servicechain.platform.analytics import snapshot as snapshots
from servicechain.platform.analytics.metrics import CUSTOMER, METRICS, PEOPLE, SURVEY, metric
from servicechain.platform.analytics.panel import build_panel
from servicechain.platform.config import get_settings
from servicechain.platform.people.tables import Assignment, Department, Person
from servicechain.platform.security import utcnow
from servicechain.platform.surveys.figures import Stat, generalise
from tests.conftest import copied_database

JUL, AUG, SEP = date(2023, 7, 1), date(2023, 8, 1), date(2023, 9, 1)
MSK = ZoneInfo(get_settings().timezone)
K = 3
# Pulse answers: (score of items 1-6, eNPS); reward items 7-8 get one point less (at least 1).
ANSWERS = {
    "B": [(4, 8)],
    "B1": [(4, 9), (2, 3)],
    "B2": [(5, 10), (4, 8), (3, 6), (4, 9)],
    "C": [(3, 7), (5, 10), (4, 9)],
}
TRAITS = {1: "company", 2: "company", 3: "people", 4: "people", 5: "goals", 6: "goals", 7: "reward", 8: "reward"}


def to_100(mean: float) -> float:
    return (mean - 1) / 4 * 100


# --- a private database ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def private_db(cast):
    """A copy of the test database every table points at while this module runs."""
    async with copied_database("panel"):
        yield


async def _department(code: str, parent: dict | None) -> dict:
    row = Department(code=f"panel.{code}", name_en=f"Panel {code}", name_ru=f"Панель {code}",
                     parent=parent["id"] if parent else None, depth=parent["depth"] + 1 if parent else 0)
    await row.save().run()
    path = (parent["path"] if parent else "/") + f"{row.id}/"
    await Department.update({Department.path: path}).where(Department.id == row.id).run()
    return {"id": row.id, "path": path, "depth": row.depth, "parent": parent["id"] if parent else None}


def _moscow(*args) -> datetime:
    return datetime(*args, tzinfo=MSK)


@pytest.fixture(scope="module")
async def company(private_db) -> dict:
    """The company above, with pulses, ratings, recognition, rewards, goals, authority, customer
    scores and quality checks, committed."""
    from servicechain.goals.authority.tables import AuthorityGrant, AuthorityScope, AuthorityUse
    from servicechain.goals.tables import CheckIn, Cycle, Goal
    from servicechain.internal_service import summary
    from servicechain.platform.customers.quality.tables import Audit, Checklist, Scorecard, WeightSet
    from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp
    from servicechain.platform.surveys.tables import Pulse, PulseDepartment, PulseItem, PulseSummary
    from servicechain.recognition.tables import Recognition, RecognitionRecipient, Reward

    now = utcnow()
    d: dict[str, dict] = {}
    people: dict[str, list[int]] = {}
    async with db.write():
        d["A"] = await _department("A", None)
        d["B"] = await _department("B", d["A"])
        d["B1"] = await _department("B1", d["B"])
        d["B2"] = await _department("B2", d["B"])
        d["C"] = await _department("C", d["A"])
        for code, count in (("B", 1), ("B1", 2), ("B2", 4), ("C", 3)):
            people[code] = []
            for i in range(count):
                person = Person(full_name=f"Panel {code} {i}", employee_number=f"PANEL-{code}-{i}",
                                department=d[code]["id"], created_at=now, updated_at=now)
                await person.save().run()
                await Assignment(person=person.id, department=d[code]["id"], valid_from=date(2023, 1, 1)).save().run()
                people[code].append(person.id)

        # Pulses. September: published as the close publishes them, generalised to the minimum
        # (B1's two answers go to B, which has one of its own). August: B1's two answers stand
        # under B1 itself, so only the hiding rules keep it unseen.
        for closes_on, generalised in ((date(2023, 9, 20), True), (date(2023, 8, 20), False)):
            pulse = Pulse(title=f"Panel {closes_on}", opens_on=closes_on - timedelta(days=10), closes_on=closes_on,
                          min_group_size=K, status="closed", created_at=now, closed_at=now)
            await pulse.save().run()
            for position, trait in TRAITS.items():
                await PulseItem(pulse=pulse.id, position=position, trait=trait, text_en="x", text_ru="x").save().run()
            snap: dict[str, int] = {}
            for code in ("A", "B", "B1", "B2", "C"):
                parent = {"A": None, "B": "A", "C": "A", "B1": "B", "B2": "B"}[code]
                row = PulseDepartment(pulse=pulse.id, source=d[code]["id"], parent=snap.get(parent) if parent else None,
                                      name_en=code, name_ru=code, path="/", depth=d[code]["depth"])
                await row.save().run()
                snap[code] = row.id
            parents = {snap[c]: (snap[p] if p else None) for c, p in
                       {"A": None, "B": "A", "C": "A", "B1": "B", "B2": "B"}.items()}
            counts = {snap[c]: len(a) for c, a in ANSWERS.items()}
            tags = generalise(parents, counts, K) if generalised else {snap[c]: snap[c] for c in ANSWERS}
            stats: dict[int, Stat] = {}
            for code, answers in ANSWERS.items():
                if code == "B" and not generalised:
                    continue  # August: the head did not answer
                for score, enps in answers:
                    scores = {p: (score if p <= 6 else max(score - 1, 1)) for p in TRAITS}
                    stats.setdefault(tags[snap[code]], Stat()).add_answer(scores, enps)
            for snap_id, stat in stats.items():
                n, items, enps = stat.to_row()
                await PulseSummary(pulse=pulse.id, department=snap_id, n=n, items=items, enps=enps).save().run()

        # Internal service, September, as its monthly summary holds it (the ratings' minimum is 5
        # here): 6 people of B2 rate C, B1's 2 rate C, 5 people of C rate B2.
        for rater, provider, ratings, overall, who in (("B2", "C", 6, 24, range(9001, 9007)), ("B1", "C", 2, 10, people["B1"]),
                                                       ("C", "B2", 5, 15, range(9101, 9106))):
            who = list(who)
            await db.fetch(
                f"INSERT INTO internal_service_monthly ({', '.join(summary.COLUMNS)}) VALUES ({db.placeholders(len(summary.COLUMNS))})",
                SEP, d[rater]["id"], d[provider]["id"], 1, 0, ratings, overall, overall, overall, overall, overall,
                len(who), summary.raters_text(who))

        # Recognition: two thanks from B2 in September (one late on the 30th, Moscow time), one
        # from C on 31 August at 22:30 Moscow (still August), one on 1 October at 01:00 Moscow.
        for sender, when, recipient, dept in (
            (people["B2"][0], _moscow(2023, 9, 10, 12, 0), people["C"][0], "C"),
            (people["B2"][1], _moscow(2023, 9, 30, 23, 30), people["B1"][0], "B1"),
            (people["C"][0], _moscow(2023, 8, 31, 22, 30), people["B2"][0], "B2"),
            (people["C"][1], _moscow(2023, 10, 1, 1, 0), people["C"][2], "C"),
        ):
            rec = Recognition(sender=sender, message="Thank you", created_at=when)
            await rec.save().run()
            await RecognitionRecipient(recognition=rec.id, person=recipient, department=d[dept]["id"]).save().run()
        # Rewards in September: B2 gets three (ranks 1, 4, none), C one (rank 2).
        for recipient, dept, rank in ((people["B2"][0], "B2", 1), (people["B2"][1], "B2", 4), (people["B2"][2], "B2", None),
                                      (people["C"][0], "C", 2)):
            await Reward(giver=people["B"][0], recipient=recipient, kind="thanks_card", reason="r", preference_rank=rank,
                         department=d[dept]["id"], created_at=_moscow(2023, 9, 12, 10, 0)).save().run()

        # Goals: a person goal in B2 (0 → 100 over the quarter; 20 by 15 August, 90 by 10
        # September) and a department goal of C (100 → 50 by December; 90 in July, "at risk").
        cycle = Cycle(code="panel-2023-Q3", starts_on=date(2023, 7, 1), ends_on=date(2023, 9, 30))
        await cycle.save().run()
        g1 = Goal(cycle=cycle.id, level="person", owner_person=people["B2"][0], title="g1", status="agreed",
                  starts_on=date(2023, 7, 1), deadline=date(2023, 9, 30), baseline=0.0, target=100.0, current_value=90.0,
                  progress=90.0, created_at=now, updated_at=now)
        g2 = Goal(cycle=cycle.id, level="department", owner_department=d["C"]["id"], title="g2", status="agreed",
                  starts_on=date(2023, 7, 1), deadline=date(2023, 12, 31), baseline=100.0, target=50.0, current_value=90.0,
                  progress=20.0, confidence="at_risk", created_at=now, updated_at=now)
        await g1.save().run()
        await g2.save().run()
        for goal, day, value, confidence in ((g1, date(2023, 8, 15), 20.0, "on_track"), (g1, date(2023, 9, 10), 90.0, "on_track"),
                                             (g2, date(2023, 7, 20), 90.0, "at_risk")):
            await CheckIn(goal=goal.id, value=value, confidence=confidence, taken_on=day, created_at=now).save().run()

        # Authority: C's first person holds a grant all year; B2's first person one from 15 August,
        # revoked on 10 September. Uses: C 500 and 250 roubles in September and one count-kind
        # use; B2 100 roubles in August.
        money = AuthorityScope(code="panel.money", name_en="Money", name_ru="Деньги", kind="money")
        count = AuthorityScope(code="panel.count", name_en="Calls", name_ru="Звонки", kind="count")
        await money.save().run()
        await count.save().run()
        grant_c = AuthorityGrant(scope=money.id, grantee=people["C"][0], per_case_limit=100000, budget=1000000,
                                 valid_from=date(2023, 1, 1), created_at=now)
        grant_b2 = AuthorityGrant(scope=money.id, grantee=people["B2"][0], per_case_limit=100000, budget=1000000,
                                  valid_from=date(2023, 8, 15), valid_until=date(2023, 12, 31),
                                  revoked_at=datetime(2023, 9, 10, 9, 0, tzinfo=MSK), created_at=now)
        await grant_c.save().run()
        await grant_b2.save().run()
        for grant, scope, grantee, amount, day in ((grant_c, money, people["C"][0], 50000, date(2023, 9, 5)),
                                                   (grant_c, money, people["C"][0], 25000, date(2023, 9, 20)),
                                                   (grant_c, count, people["C"][0], 1, date(2023, 9, 21)),
                                                   (grant_b2, money, people["B2"][0], 10000, date(2023, 8, 20))):
            await AuthorityUse(grant_id=grant.id, scope=scope.id, grantee=grantee, case_ref=f"panel-{amount}-{day}",
                               amount=amount, used_on=day, created_at=now).save().run()

        # Customer scores in September, and the follow-ups the low ones opened.
        for i, (dept, csat, csat_good, nps) in enumerate((("B2", 5, None, 10), ("B2", 4, None, 9), ("B2", 2, None, 3),
                                                          ("B2", None, True, 7), ("C", 3, None, 6), ("C", 5, None, 9))):
            low = (csat is not None and csat <= 3) or (nps is not None and nps <= 6)
            score = CustomerScore(source="panel", external_id=f"s{i}", given_on=date(2023, 9, 4), channel="phone",
                                  department=d[dept]["id"], csat=csat, csat_good=csat_good, nps=nps, low=low, created_at=now)
            await score.save().run()
            if low:
                opened = datetime(2023, 9, 5 + i % 3, 10, 0, tzinfo=ZoneInfo("UTC"))
                closed = opened + timedelta(hours=18) if dept == "B2" else None
                await ScoreFollowUp(score=score.id, department=d[dept]["id"], due_at=opened + timedelta(days=2),
                                    status="closed" if closed else "open", closed_at=closed, created_at=opened).save().run()

        # Quality: two QA scorecards in B2 in September (80 and 60), one in C in August (90);
        # one mystery-shopper audit of C in September (75).
        weights = WeightSet(created_at=now)
        await weights.save().run()
        for dept, person, day, value in (("B2", people["B2"][0], date(2023, 9, 6), 80.0), ("B2", people["B2"][1], date(2023, 9, 7), 60.0),
                                         ("C", people["C"][0], date(2023, 8, 8), 90.0)):
            await Scorecard(employee=person, department=d[dept]["id"], weight_set=weights.id, channel="phone",
                            contact_on=day, score=value, created_at=now).save().run()
        checklist = Checklist(name_en="Visit", name_ru="Визит", channel="store", created_at=now, updated_at=now)
        await checklist.save().run()
        await Audit(checklist=checklist.id, channel="store", department=d["C"]["id"], visited_on=date(2023, 9, 14),
                    shopper="S", score=75.0, created_at=now).save().run()
    return {"d": d, "ids": {code: row["id"] for code, row in d.items()}, "people": people}


@pytest.fixture(scope="module")
async def panel(company):
    return await build_panel(date(2023, 9, 15), months=3)


def cell(panel, code_or_id, month: date, column: str, company=None):
    department = company["ids"][code_or_id] if company else code_or_id
    rows = panel.frame.filter((pl.col("department_id") == department) & (pl.col("month") == month))
    assert rows.height == 1, f"one row per department and month, got {rows.height}"
    return rows[column][0]


def near(value, expected, tol=1e-6) -> bool:
    return value is not None and abs(value - expected) <= tol


# --- the catalogue ----------------------------------------------------------------------------------


def test_the_catalogue_names_every_metric_the_contract_lists():
    assert PEOPLE[:2] == ("engagement", "enps")
    assert {"trait_company", "trait_people", "trait_goals", "trait_reward"} <= set(PEOPLE)
    assert CUSTOMER == ("csat", "nps", "qa_score", "mystery_score", "low_score_share", "follow_up_rate", "follow_up_hours")
    assert set(SURVEY) == {"engagement", "enps", "trait_company", "trait_people", "trait_goals", "trait_reward"}
    assert metric("authority_spend").unit == "rub" and not metric("goals_at_risk").higher_is_better
    assert len({m.key for m in METRICS}) == len(METRICS)
    with pytest.raises(KeyError, match="no metric"):
        metric("happiness")


# --- the shape ----------------------------------------------------------------------------------------


async def test_every_department_has_a_row_for_every_month_with_the_contract_columns(company, panel):
    frame = panel.frame
    assert frame.schema["department_id"] == pl.Int64 and frame.schema["month"] == pl.Date
    assert frame.schema["headcount"] == pl.Int64 and frame.schema["respondents"] == pl.Int64
    for m in METRICS:
        assert frame.schema[m.key] == pl.Float64
    for key in CUSTOMER:
        assert frame.schema[f"{key}_n"] == pl.Int64
    assert sorted(frame["month"].unique().to_list()) == [JUL, AUG, SEP]
    assert frame.height == panel.departments.height * 3
    assert frame.select("department_id", "month").is_duplicated().sum() == 0
    assert panel.company.height == 3 and panel.months == 3 and panel.min_group >= K
    assert set(panel.company.columns) == set(frame.columns) - {"department_id"}


async def test_headcount_covers_the_whole_subtree(company, panel):
    assert [cell(panel, c, SEP, "headcount", company) for c in ("A", "B", "B1", "B2", "C")] == [10, 7, 2, 4, 3]


# --- surveys and anonymity ---------------------------------------------------------------------------


async def test_a_team_below_the_minimum_is_null_and_counted_in_its_parent(company, panel):
    # September: B1's 2 answers were published under B with B's own one; B stands for 7 with B2.
    assert cell(panel, "B1", SEP, "engagement", company) is None
    assert cell(panel, "B1", SEP, "respondents", company) is None
    assert cell(panel, "B", SEP, "respondents", company) == 7
    # Items 1-6 of the 7 answers sum to 4+4+2+5+4+3+4 = 26 each, items 7-8 to 3+3+1+4+3+2+3 = 19.
    assert near(cell(panel, "B", SEP, "engagement", company), to_100((6 * 26 + 2 * 19) / 56))
    assert near(cell(panel, "B", SEP, "trait_company", company), to_100(26 / 7))
    assert near(cell(panel, "B", SEP, "trait_reward", company), to_100(19 / 7))
    # eNPS 8, 9, 3, 10, 8, 6, 9: promoters 9, 10, 9; detractors 3, 6.
    assert near(cell(panel, "B", SEP, "enps", company), 100 * (3 - 2) / 7)
    assert near(cell(panel, "C", SEP, "engagement", company), to_100((6 * 12 + 2 * 9) / 24))
    assert near(cell(panel, "A", SEP, "engagement", company), to_100((6 * 38 + 2 * 28) / 80))
    assert near(cell(panel, "A", SEP, "enps", company), 100 * (5 - 2) / 10)


async def test_a_small_team_published_under_itself_is_hidden_with_its_complement(company, panel):
    # August: B1's 2 answers stand under B1. Hidden (2 < 3); B = B1 + B2 would give it back by
    # subtraction, so B2 is hidden too, as on the pulse's results page. B shows all 6.
    assert cell(panel, "B1", AUG, "engagement", company) is None
    assert cell(panel, "B2", AUG, "engagement", company) is None
    assert cell(panel, "B", AUG, "respondents", company) == 6
    assert near(cell(panel, "B", AUG, "engagement", company), to_100((6 * 22 + 2 * 16) / 48))
    assert near(cell(panel, "C", AUG, "engagement", company), 68.75)


async def test_survey_figures_equal_the_pulse_results(company, panel):
    from servicechain.platform.surveys.service import department_month_engagement

    mine = set(company["ids"].values())
    rows = [r for r in await department_month_engagement(JUL, date(2023, 9, 30)) if r["source_department"] in mine]
    assert len(rows) == 10  # two pulses, five departments
    for r in rows:
        month = date(int(r["month"][:4]), int(r["month"][5:7]), 1)
        for key, theirs in (("engagement", r["engagement"]), ("enps", r["enps"]),
                            *((f"trait_{t}", v) for t, v in r["traits"].items())):
            ours = cell(panel, r["source_department"], month, key)
            assert (ours is None) == (theirs is None), (r, key)
            if ours is not None:
                assert abs(ours - theirs) <= 0.05 + 1e-9  # the pulse pages round to one decimal


async def test_a_month_without_a_pulse_has_no_survey_figures(company, panel):
    for code in ("A", "B", "C"):
        assert cell(panel, code, JUL, "engagement", company) is None
        assert cell(panel, code, JUL, "respondents", company) is None


async def test_units_roll_small_teams_into_their_parent_and_never_overlap(company, panel):
    ids = company["ids"]
    unit_of = dict(zip(panel.departments["department_id"].to_list(), panel.departments["unit_id"].to_list(), strict=True))
    assert unit_of[ids["B1"]] == ids["B"] and unit_of[ids["B"]] == ids["B"]
    assert unit_of[ids["B2"]] == ids["B2"] and unit_of[ids["C"]] == ids["C"]
    assert unit_of[ids["A"]] is None  # above units
    units = panel.units.filter(pl.col("department_id").is_in(list(ids.values())))
    assert sorted(units["department_id"].unique().to_list()) == sorted([ids["B"], ids["B2"], ids["C"]])
    # Unit B stands for B's own people and B1: 3 people; its September answers are the 3 published under B.
    b = units.filter((pl.col("department_id") == ids["B"]) & (pl.col("month") == SEP)).row(0, named=True)
    assert b["headcount"] == 3 and b["respondents"] == 3
    assert near(b["engagement"], to_100((6 * 10 + 2 * 7) / 24))
    # In August unit B had only B1's 2 answers: below the minimum, so no figure.
    b_aug = units.filter((pl.col("department_id") == ids["B"]) & (pl.col("month") == AUG)).row(0, named=True)
    assert b_aug["engagement"] is None and b_aug["respondents"] is None
    # Units add up to the subtree: headcounts of B, B2 and C units are A's.
    assert units.filter(pl.col("month") == SEP)["headcount"].sum() == 10
    row = panel.departments.filter(pl.col("department_id") == ids["B1"]).row(0, named=True)
    assert row["is_leaf"] and row["parent_id"] == ids["B"] and row["name_ru"] == "Панель B1" and row["depth"] == 2


# --- internal service ---------------------------------------------------------------------------------


async def test_internal_service_is_hidden_where_the_matrix_hides_it(company, panel):
    from servicechain.internal_service.service import service_index

    from servicechain.internal_service.service import min_group

    assert await min_group() <= 5
    # Given: C was rated by B2 (24 over 6 ratings) and B1 (10 over 2): 8 people behind it.
    assert near(cell(panel, "C", SEP, "service_given", company), 34 / 8)
    assert near(cell(panel, "B2", SEP, "service_given", company), 15 / 5)
    # Received: B1's 2 raters are too few; B2 is hidden with it (B = B1 + B2); B shows both.
    assert cell(panel, "B1", SEP, "service_received", company) is None
    assert cell(panel, "B2", SEP, "service_received", company) is None
    assert near(cell(panel, "B", SEP, "service_received", company), 34 / 8)
    assert near(cell(panel, "C", SEP, "service_received", company), 3.0)
    index = await service_index(list(company["ids"].values()), on=date(2023, 9, 30))
    for department, entry in index.items():
        months = {m["month"]: m for m in entry["months"]}
        for month in (AUG, SEP):
            for side, key in (("given", "service_given"), ("received", "service_received")):
                theirs = months[f"{month:%Y-%m}"][side]["index"]
                ours = cell(panel, department, month, key)
                assert (None if ours is None else round(to_100(ours))) == theirs, (department, month, side)


async def test_the_hiding_decision_is_kept_in_the_database_until_the_ratings_change(company, panel, monkeypatch):
    """The internal service's hiding decision is kept in ``analytics_cache`` under the state it
    was made from: a build with unchanged ratings (in any process) reads it instead of deciding
    again, and a new rating (the summary's version moves) decides again."""
    from servicechain.internal_service import summary
    from servicechain.platform.analytics import panel as panels

    until = date(2023, 9, 15)
    await build_panel(until, months=3)
    name = f"{panels.SERVICE_CACHE}2023-09"
    kept = await db.fetch("SELECT fingerprint FROM analytics_cache WHERE name = {}", name)
    assert len(kept) == 1 and kept[0]["fingerprint"] == await panels._service_state(date(2023, 9, 30))

    async def no_decision(until):
        raise AssertionError("decided again although nothing changed")

    real = panels._service_hidden
    monkeypatch.setattr(panels, "_service_hidden", no_decision)
    again = await build_panel(until, months=3)
    assert again.frame.equals(panel.frame) and again.units.equals(panel.units) and again.company.equals(panel.company)

    # Three more of B1 rate C in September: B1 has 5 raters now, so neither B1 nor B2 (its
    # complement) is hidden any longer. The kept decision must not be read.
    ids = company["ids"]
    key = "month = {} AND rater_department = {} AND provider_department = {} AND service = 1 AND round = 0"
    before = (await db.fetch(f"SELECT ratings, overall, speed, quality, courtesy, willingness, people, raters"
                             f" FROM internal_service_monthly WHERE {key}", SEP, ids["B1"], ids["C"]))[0]
    decided = []

    async def counted(until):
        decided.append(until)
        return await real(until)

    monkeypatch.setattr(panels, "_service_hidden", counted)
    try:
        async with db.write():
            for rater in (9201, 9202, 9203):
                await summary.add_rating(rater=rater, rater_department=ids["B1"], provider_department=ids["C"], service=1,
                                         round_id=None, rated_on=date(2023, 9, 5), scores={n: 5 for n in summary.SUMS})
        after = await build_panel(until, months=3)
        assert decided, "the ratings changed but the kept decision was read"
        assert near(cell(after, "B1", SEP, "service_received", company), (10 + 15) / 5)
        assert near(cell(after, "B2", SEP, "service_received", company), 24 / 6)
        assert near(cell(after, "B", SEP, "service_received", company), (24 + 25) / 11)
        state = await panels._service_state(date(2023, 9, 30))
        assert (await db.fetch("SELECT fingerprint FROM analytics_cache WHERE name = {}", name))[0]["fingerprint"] == state
    finally:
        async with db.write():
            await db.fetch(f"UPDATE internal_service_monthly SET ratings = {{}}, overall = {{}}, speed = {{}}, quality = {{}},"
                           f" courtesy = {{}}, willingness = {{}}, people = {{}}, raters = {{}} WHERE {key}",
                           *before.values(), SEP, ids["B1"], ids["C"])
            await summary.bump_version()
    back = await build_panel(until, months=3)
    assert back.frame.equals(panel.frame)


# --- recognition and rewards ----------------------------------------------------------------------------


async def test_thanks_per_head_count_in_the_company_time_zone(company, panel):
    assert near(cell(panel, "B2", SEP, "thanks_given", company), 2 / 4)  # the 30th at 23:30 Moscow is September
    assert near(cell(panel, "B", SEP, "thanks_given", company), 2 / 7)
    assert cell(panel, "C", SEP, "thanks_given", company) == 0.0  # others thanked that month; C did not
    assert near(cell(panel, "C", AUG, "thanks_given", company), 1 / 3)  # 31 August 22:30 Moscow
    assert near(cell(panel, "C", SEP, "thanks_received", company), 1 / 3)  # 1 October 01:00 is outside
    assert near(cell(panel, "B1", SEP, "thanks_received", company), 1 / 2)
    assert near(cell(panel, "A", SEP, "thanks_received", company), 2 / 10)
    # Nobody in the company thanked anyone in July: no figure rather than a zero.
    assert cell(panel, "A", JUL, "thanks_given", company) is None


async def test_rewards_matching_preferences_equal_the_recognition_share(company, panel):
    from servicechain.recognition.service import top_three_share

    assert near(cell(panel, "B2", SEP, "reward_preference_match", company), 100 / 3)
    assert near(cell(panel, "A", SEP, "reward_preference_match", company), 50.0)
    for code in ("A", "B", "B2", "C"):
        share = await top_three_share(department_id=company["ids"][code], since=SEP, until=date(2023, 9, 30))
        assert near(cell(panel, code, SEP, "reward_preference_match", company), 100 * share["share"])
    assert cell(panel, "B2", AUG, "reward_preference_match", company) is None


# --- goals and authority -------------------------------------------------------------------------------


async def test_goal_progress_and_risk_follow_the_goals_rule_month_by_month(company, panel):
    from servicechain.goals.service import is_at_risk

    ends = {JUL: date(2023, 7, 31), AUG: date(2023, 8, 31), SEP: date(2023, 9, 30)}
    g1 = {"status": "agreed", "starts_on": date(2023, 7, 1), "deadline": date(2023, 9, 30)}
    for month, progress, confidence in ((JUL, 0.0, ""), (AUG, 20.0, "on_track"), (SEP, 90.0, "on_track")):
        assert near(cell(panel, "B2", month, "goal_progress", company), progress)
        at_risk = is_at_risk({**g1, "progress": progress, "confidence": confidence}, ends[month])
        assert cell(panel, "B2", month, "goals_at_risk", company) == (100.0 if at_risk else 0.0)
    assert [cell(panel, "B2", m, "goals_at_risk", company) for m in (JUL, AUG, SEP)] == [100.0, 100.0, 0.0]
    # C's department goal went from 100 to 90 of a way down to 50: 20 %, and its check-in said "at risk".
    assert near(cell(panel, "C", SEP, "goal_progress", company), 20.0)
    assert cell(panel, "C", SEP, "goals_at_risk", company) == 100.0
    assert near(cell(panel, "A", SEP, "goal_progress", company), (90 + 20) / 2)
    assert near(cell(panel, "A", SEP, "goals_at_risk", company), 50.0)
    assert cell(panel, "B1", SEP, "goal_progress", company) is None  # no goals: no figure


async def test_authority_grants_uses_and_spend(company, panel):
    assert near(cell(panel, "C", SEP, "authority_grants", company), 1 / 3)
    assert near(cell(panel, "B2", AUG, "authority_grants", company), 1 / 4)
    assert cell(panel, "B2", SEP, "authority_grants", company) == 0.0  # revoked on 10 September
    assert cell(panel, "C", SEP, "authority_uses", company) == 3.0
    assert cell(panel, "C", SEP, "authority_spend", company) == 750.0  # roubles; the count-kind use costs nothing
    assert cell(panel, "B2", AUG, "authority_spend", company) == 100.0
    assert cell(panel, "A", SEP, "authority_uses", company) == 3.0
    assert cell(panel, "B2", SEP, "authority_uses", company) == 0.0
    assert cell(panel, "C", JUL, "authority_uses", company) is None  # nobody used any in July


# --- customers --------------------------------------------------------------------------------------------


async def test_customer_figures_by_hand(company, panel):
    # CSAT: the share of satisfied scores, 4-5 or "good" (5, 4, 2 and a "good": 3 of 4)
    assert near(cell(panel, "B2", SEP, "csat", company), 100 * 3 / 4)
    assert cell(panel, "B2", SEP, "csat_n", company) == 4  # the good/bad score counts too
    assert near(cell(panel, "B2", SEP, "nps", company), 100 * (2 - 1) / 4)
    assert near(cell(panel, "B2", SEP, "low_score_share", company), 25.0)
    assert cell(panel, "B2", SEP, "follow_up_rate", company) == 100.0
    assert near(cell(panel, "B2", SEP, "follow_up_hours", company), 18.0)
    assert cell(panel, "C", SEP, "follow_up_rate", company) == 0.0
    assert cell(panel, "C", SEP, "follow_up_hours", company) is None
    assert near(cell(panel, "A", SEP, "csat", company), 100 * 4 / 6)  # 5, 4, good, 5 of 5, 4, 2, good, 3, 5
    assert near(cell(panel, "A", SEP, "nps", company), 100 * (3 - 2) / 6)
    assert cell(panel, "A", SEP, "nps_n", company) == 6
    assert cell(panel, "A", SEP, "follow_up_rate", company) == 50.0
    for key in ("csat", "nps", "low_score_share", "follow_up_rate"):
        assert cell(panel, "A", AUG, key, company) is None
        assert cell(panel, "A", AUG, f"{key}_n", company) == 0


async def test_customer_figures_equal_the_customers_domain(company, panel):
    from servicechain.platform.customers.metrics import department_months, totals

    for code in ("A", "B", "B2", "C"):
        rows = await department_months(SEP, date(2023, 9, 30), paths=[company["d"][code]["path"]])
        t = totals(rows)
        assert near(cell(panel, code, SEP, "nps", company), t["nps"], 0.05)
        assert near(cell(panel, code, SEP, "low_score_share", company), 100 * t["low_share"], 0.01)
        assert near(cell(panel, code, SEP, "follow_up_rate", company), 100 * t["closed_loop_rate"], 0.01)
        hours = cell(panel, code, SEP, "follow_up_hours", company)
        assert (hours is None) == (t["median_close_hours"] is None)
        if hours is not None:
            assert near(hours, t["median_close_hours"], 0.05)


async def test_quality_scores_equal_the_quality_domain(company, panel):
    from servicechain.platform.customers.quality.service import monthly_by_department

    assert near(cell(panel, "B2", SEP, "qa_score", company), 70.0)
    assert cell(panel, "B2", SEP, "qa_score_n", company) == 2
    assert near(cell(panel, "C", AUG, "qa_score", company), 90.0)
    assert near(cell(panel, "C", SEP, "mystery_score", company), 75.0)
    assert cell(panel, "C", AUG, "mystery_score", company) is None
    found = await monthly_by_department(JUL, date(2023, 9, 30), list(company["ids"].values()))
    for department, months in found.items():
        for key, figure in months.items():
            month = date(int(key[:4]), int(key[5:7]), 1)
            for ours, theirs in (("qa_score", figure["qa"]["score"]), ("mystery_score", figure["ms"]["score"])):
                value = cell(panel, department, month, ours)
                assert (value is None) == (theirs is None) and (value is None or abs(value - theirs) <= 0.05)


async def test_score_sums_kept_between_builds_follow_new_and_removed_scores(company, panel):
    from servicechain.platform.analytics import panel as panels
    from servicechain.platform.customers.tables import CustomerScore

    await build_panel(date(2023, 9, 15), months=3)  # the sums are stored
    async with db.write():
        extra = CustomerScore(source="panel", external_id="late", given_on=date(2023, 9, 25), channel="phone",
                              department=company["ids"]["C"], csat=1, nps=0, low=True, created_at=utcnow())
        await extra.save().run()
    after = await build_panel(date(2023, 9, 15), months=3)
    assert near(cell(after, "C", SEP, "csat", company), 100 * 1 / 3)  # 3, 5, 1
    assert cell(after, "C", SEP, "nps_n", company) == 3
    kept = await panels._score_months()
    assert kept.sort("department", "month").equals((await panels._read_scores()).sort("department", "month"))
    async with db.write():
        await CustomerScore.delete().where(CustomerScore.id == extra.id).run()
    back = await build_panel(date(2023, 9, 15), months=3)  # a count that no longer adds up: read all again
    assert near(cell(back, "C", SEP, "csat", company), 50.0)  # 3, 5
    assert cell(back, "C", SEP, "nps_n", company) == 2


async def test_follow_up_figures_kept_between_builds_follow_closings(company, panel):
    from servicechain.platform.analytics import panel as panels

    await build_panel(date(2023, 9, 15), months=3)  # the figures are stored
    c = company["ids"]["C"]
    opened = await db.fetch("SELECT id, created_at FROM customer_follow_up WHERE department = {} AND status = 'open'", c)
    assert len(opened) == 1
    async with db.write():
        await db.fetch("UPDATE customer_follow_up SET status = 'closed', closed_at = {} WHERE id = {}",
                       utcnow(), opened[0]["id"])
    after = await build_panel(date(2023, 9, 15), months=3)
    assert cell(after, "C", SEP, "follow_up_rate", company) == 100.0
    assert cell(after, "A", SEP, "follow_up_rate", company) == 100.0
    kept = await panels._follow_up_months()
    assert kept.sort("department", "month").equals((await panels._read_follow_ups()).sort("department", "month"))
    async with db.write():  # back as it was (the app never reopens; the totals then force a full read)
        await db.fetch("UPDATE customer_follow_up SET status = 'open', closed_at = NULL WHERE id = {}", opened[0]["id"])
    back = await build_panel(date(2023, 9, 15), months=3)
    assert cell(back, "C", SEP, "follow_up_rate", company) == 0.0
    assert near(cell(back, "A", SEP, "follow_up_hours", company), 18.0)


async def test_follow_up_medians_are_kept_per_month_and_computed_again_when_their_hours_change(company, panel):
    """The medians of hours to close are kept month by month with a digest of the hours and the
    department mapping they came from: read back while that holds, computed again for a month
    whose follow-ups changed, on either engine, equal to a build that keeps nothing."""
    import io

    from servicechain.platform.analytics import panel as panels

    until = date(2023, 9, 15)
    await build_panel(until, months=3)
    for kind in ("frame", "units", "company"):
        assert await db.fetch("SELECT 1 AS x FROM analytics_cache WHERE name = {}", f"{panels.MEDIANS_CACHE}{kind}")

    async def kept() -> pl.DataFrame:
        row = await db.fetch("SELECT payload FROM analytics_cache WHERE name = {}", f"{panels.MEDIANS_CACHE}frame")
        return pl.read_parquet(io.BytesIO(bytes(row[0]["payload"])))

    async def forget() -> None:
        async with db.write():
            await db.fetch("DELETE FROM analytics_cache WHERE name LIKE {}", f"{panels.MEDIANS_CACHE}%")

    # Read back, not computed: a kept figure planted under the same digest is what the build shows.
    c, a = company["ids"]["C"], company["ids"]["A"]
    planted = (await kept()).with_columns(
        pl.when((pl.col("target") == a) & (pl.col("month") == SEP)).then(999.0).otherwise(pl.col("fu_hours")).alias("fu_hours"))
    assert planted.filter(pl.col("fu_hours") == 999.0).height == 1
    await panels._keep(f"{panels.MEDIANS_CACHE}frame", "v1", planted, utcnow())
    assert cell(await build_panel(until, months=3), "A", SEP, "follow_up_hours", company) == 999.0

    # C's open follow-up is closed: September's digest changes, its medians are computed again.
    opened = await db.fetch("SELECT id FROM customer_follow_up WHERE department = {} AND status = 'open'", c)
    assert len(opened) == 1
    closed_at = utcnow()
    async with db.write():
        await db.fetch("UPDATE customer_follow_up SET status = 'closed', closed_at = {} WHERE id = {}", closed_at, opened[0]["id"])
    try:
        after = await build_panel(until, months=3)
        assert cell(after, "C", SEP, "follow_up_hours", company) is not None
        assert cell(after, "A", SEP, "follow_up_hours", company) not in (None, 999.0)
        assert cell(after, "C", SEP, "follow_up_hours_n", company) == (cell(panel, "C", SEP, "follow_up_hours_n", company) or 0) + 1
        await forget()
        fresh = await build_panel(until, months=3)
        assert after.frame.equals(fresh.frame) and after.units.equals(fresh.units) and after.company.equals(fresh.company)
    finally:
        async with db.write():
            await db.fetch("UPDATE customer_follow_up SET status = 'open', closed_at = NULL WHERE id = {}", opened[0]["id"])
    back = await build_panel(until, months=3)
    assert back.frame.equals(panel.frame) and back.company.equals(panel.company)
    assert near(cell(back, "A", SEP, "follow_up_hours", company), 18.0)


async def test_survey_sums_are_kept_until_a_pulse_or_the_tree_changes(company, panel):
    """The parsed pulse sums and the pulses' hidden departments are kept in ``analytics_cache``
    under a digest of the window's pulses, summaries, items and tree: read back while that holds,
    parsed again when a published summary changes."""
    import io

    from servicechain.platform.analytics import panel as panels

    until = date(2023, 9, 15)
    await build_panel(until, months=3)
    rows = await db.fetch("SELECT name, fingerprint, payload FROM analytics_cache WHERE name IN ({}, {})", *panels.SURVEY_CACHE)
    assert {r["name"] for r in rows} == set(panels.SURVEY_CACHE) and len({r["fingerprint"] for r in rows}) == 1

    # Read back: C's respondents planted in the kept sums are what the build shows.
    facts = pl.read_parquet(io.BytesIO(bytes(next(r for r in rows if r["name"] == "survey_facts")["payload"])))
    c = company["ids"]["C"]
    assert facts.filter((pl.col("department_id") == c) & (pl.col("month") == SEP))["sv_n"].to_list() == [3]
    planted = facts.with_columns(pl.when((pl.col("department_id") == c) & (pl.col("month") == SEP)).then(7)
                                 .otherwise(pl.col("sv_n")).alias("sv_n"))
    await panels._keep("survey_facts", rows[0]["fingerprint"], planted, utcnow())
    assert cell(await build_panel(until, months=3), "C", SEP, "respondents", company) == 7

    # A published summary changes (C has one answer more): parsed again, the planted sums are gone.
    row = (await db.fetch("SELECT s.id, s.n FROM pulse_summary s JOIN pulse_department pd ON pd.id = s.department"
                          " JOIN pulse p ON p.id = s.pulse WHERE pd.source = {} AND p.closes_on = {}", c, date(2023, 9, 20)))[0]
    async with db.write():
        await db.fetch("UPDATE pulse_summary SET n = {} WHERE id = {}", row["n"] + 1, row["id"])
    try:
        assert cell(await build_panel(until, months=3), "C", SEP, "respondents", company) == 4
    finally:
        async with db.write():
            await db.fetch("UPDATE pulse_summary SET n = {} WHERE id = {}", row["n"], row["id"])
    back = await build_panel(until, months=3)
    assert back.frame.equals(panel.frame) and back.units.equals(panel.units) and back.company.equals(panel.company)


# --- the snapshot -----------------------------------------------------------------------------------------


async def test_a_refreshed_snapshot_loads_back_equal_and_replaces_the_old_one(company):
    first = await snapshots.refresh(date(2023, 9, 20))
    assert first.month == SEP and len(first.checksum) == 64
    loaded = await snapshots.load(date(2023, 9, 1))
    assert loaded is not None and loaded.checksum == first.checksum
    for name in ("frame", "units", "company", "departments"):
        assert getattr(loaded.panel, name).equals(getattr(first.panel, name)), name
    assert loaded.panel.min_group == first.panel.min_group and loaded.panel.until == SEP
    again = await snapshots.refresh(SEP)
    assert again.checksum == first.checksum  # the same data stores the same bytes
    rows = await db.fetch("SELECT COUNT(*) AS n FROM analytics_snapshot WHERE month = {}", SEP)
    assert rows[0]["n"] == 1
    assert (await snapshots.latest()).month >= SEP
    assert await snapshots.load(date(2023, 6, 1)) is None
    assert snapshots.has_data(loaded.panel, SEP)
    assert not snapshots.has_data(loaded.panel, date(2022, 6, 1))  # in the 24 months, before any data
    assert not snapshots.has_data(loaded.panel, date(2021, 6, 1))  # before the 24 months


async def test_a_damaged_snapshot_is_refused(company):
    await snapshots.refresh(AUG)
    async with db.write():
        await db.fetch("UPDATE analytics_snapshot SET checksum = {} WHERE month = {}", "0" * 64, AUG)
    with pytest.raises(snapshots.SnapshotDamaged, match="checksum"):
        await snapshots.load(AUG)
    await snapshots.refresh(AUG)  # a refresh repairs it
    assert (await snapshots.load(AUG)).month == AUG


async def test_a_month_without_any_data_has_none(company):
    panel = await build_panel(date(2019, 3, 1), months=2)
    assert not snapshots.has_data(panel, date(2019, 3, 1))
    assert panel.frame.height == panel.departments.height * 2
    assert panel.frame.select(pl.col(m.key).is_not_null().sum() for m in METRICS).sum_horizontal().item() == 0


# --- the daily job -------------------------------------------------------------------------------------------


def test_the_daily_job_refreshes_the_running_month_and_in_the_first_week_the_one_before():
    from servicechain.platform.analytics.jobs import months_to_refresh

    assert months_to_refresh(date(2026, 11, 24)) == [date(2026, 11, 1)]
    assert months_to_refresh(date(2026, 1, 3)) == [date(2025, 12, 1), date(2026, 1, 1)]
    assert months_to_refresh(date(2026, 1, 8)) == [date(2026, 1, 1)]


async def test_the_worker_runs_the_daily_refresh(company, monkeypatch):
    from servicechain.platform import outbox
    from servicechain.platform.analytics import jobs
    from servicechain.platform.people import service as people

    outbox.load_job_modules()
    assert outbox.JOB_HANDLERS["analytics.refresh"] is jobs.refresh_daily
    assert outbox.PERIODIC["analytics.refresh"] == timedelta(hours=24)
    async with db.write():
        await db.fetch("DELETE FROM analytics_snapshot WHERE month >= {}", AUG)
    monkeypatch.setattr(people, "today", lambda: date(2023, 10, 3))
    await jobs.refresh_daily({})
    assert (await snapshots.load(SEP)).panel.until == SEP
    assert (await snapshots.load(date(2023, 10, 1))) is not None
    assert await snapshots.load(AUG) is None  # not the job's to refresh


# --- the command line -----------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    from pathlib import Path

    servicechain = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "servicechain"
    return subprocess.run([str(servicechain), "analytics", "refresh", *args], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)


@pytest.mark.parametrize("month", ["10-2026", "2026-13", "2099-01"])
def test_the_refresh_command_refuses_a_malformed_or_future_month(month):
    done = _cli("--month", month)
    assert done.returncode == 2
    assert done.stderr.startswith("servicechain: ") and done.stdout == ""


async def test_the_refresh_command_stores_nothing_for_a_month_without_data(database):
    done = await asyncio.to_thread(_cli, "--month", "2019-03")
    assert done.returncode == 1, done.stderr
    assert "2019-03 holds no data" in done.stderr
    assert not await db.fetch("SELECT id FROM analytics_snapshot WHERE month = {}", date(2019, 3, 1))
