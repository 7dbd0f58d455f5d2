"""Authority use against the customer score of the same case: a planted difference is found inside
its interval once scores are compared within their department, channel and month; cases with no
similar case without a use say too_small; the database read joins scores to uses as it should."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from servicechain.goals.authority import service as authority
from servicechain.platform import db
from servicechain.platform.analytics import cases
from servicechain.platform.customers.tables import CustomerScore
from tests.goals.authority.helpers import make_chain


def scores_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=cases.SCORES_SCHEMA)


def planted(seed: int = 9, lift: float = 0.6, low_control: float = 0.3, low_use: float = 0.1) -> pl.DataFrame:
    """12 departments × 2 channels × 3 months. Department levels differ by up to 1.5 points and
    uses happen mostly where scores are low, so a plain comparison of means would understate the
    lift; within a stratum a score after a use is `lift` higher and low `low_use` of the time."""
    rng = np.random.default_rng(seed)
    rows, case = [], 0
    level = np.linspace(3.0, 4.5, 12)
    for dept in range(12):
        for channel in ("phone", "chat"):
            for month in (date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)):
                mean = level[dept] + (0.2 if channel == "chat" else 0.0)
                for _ in range(12):
                    case += 1
                    rows.append(dict(score_id=case, case_ref=f"C{case}", given_on=month + timedelta(days=3),
                                     channel=channel, department_id=dept + 1, csat=mean + rng.normal(0, 0.7),
                                     low=bool(rng.random() < low_control), first_use=None))
                uses = 3 if dept < 6 else 1  # the low-scoring half uses authority more
                for _ in range(uses):
                    case += 1
                    used_on = month + timedelta(days=10)
                    rows.append(dict(score_id=case, case_ref=f"C{case}", given_on=used_on - timedelta(days=1),
                                     channel=channel, department_id=dept + 1, csat=1.0, low=True, first_use=used_on))
                    rows.append(dict(score_id=case + 100_000, case_ref=f"C{case}", given_on=used_on + timedelta(days=2),
                                     channel=channel, department_id=dept + 1,
                                     csat=mean + lift + rng.normal(0, 0.7), low=bool(rng.random() < low_use),
                                     first_use=used_on))
    return scores_frame(rows)


def test_a_planted_lift_after_authority_use_is_inside_the_interval():
    csat, low, counts = cases.compare(planted())
    assert not csat.too_small and csat.with_use_n == 6 * 2 * 3 * 3 + 6 * 2 * 3 * 1  # 144 after-use scores
    assert csat.without_n == 12 * 2 * 3 * 12
    assert csat.ci[0] < 0.6 < csat.ci[1] and csat.ci[0] > 0 and csat.p < 0.001
    assert csat.difference == pytest.approx(csat.with_use_mean - csat.without_mean)
    # the complaint that led to each use is reported beside, never compared
    assert csat.before_n == 144 and csat.before_mean == pytest.approx(1.0)
    assert low.ci[0] < -20 < low.ci[1] and low.ci[1] < 0
    assert counts == {"cases": 144, "matched_cases": 144, "strata": 72}


def test_strata_remove_where_uses_happen_from_the_comparison():
    frame = planted()
    after = frame.filter(pl.col("first_use").is_not_null() & (pl.col("given_on") > pl.col("first_use")))
    controls = frame.filter(pl.col("first_use").is_null())
    naive = after.get_column("csat").mean() - controls.get_column("csat").mean()
    csat, _, _ = cases.compare(frame)
    assert naive < csat.ci[0]  # uses cluster in low-scoring departments: the plain difference is too small


def test_the_interval_covers_the_planted_lift_in_most_seeds():
    intervals = [cases.compare(planted(seed=s))[0].ci for s in range(40)]
    covered = sum(low < 0.6 < high for low, high in intervals)
    # 95 % intervals (conservative on the with-use side): no fewer hits than Binomial(40, 0.95) gives
    # with probability 0.999
    assert covered >= stats.binom.ppf(0.001, 40, 0.95)


def test_no_similar_case_without_a_use_is_too_small():
    frame = planted().with_columns(
        # controls only in phone, uses only on chat: no stratum holds both sides
        pl.when(pl.col("first_use").is_null()).then(pl.lit("phone")).otherwise(pl.lit("chat")).alias("channel")
    )
    csat, low, counts = cases.compare(frame)
    for outcome in (csat, low):
        assert outcome.too_small and outcome.with_use_n == 0
        assert (outcome.difference, outcome.ci, outcome.p, outcome.with_use_mean, outcome.without_mean) == (None,) * 5
    assert counts["cases"] == 144 and counts["matched_cases"] == 0


def test_few_cases_are_too_small_and_nothing_is_empty():
    few = planted().filter((pl.col("department_id") == 1) & (pl.col("channel") == "phone"))
    csat, _, _ = cases.compare(few)
    assert csat.too_small and csat.with_use_n == 9 and csat.difference is None
    csat, low, counts = cases.compare(scores_frame([]))
    assert csat.too_small and low.too_small and counts == {"cases": 0, "matched_cases": 0, "strata": 0}


# --- through the database ----------------------------------------------------------------------


async def test_authority_outcomes_reads_scores_and_uses_from_the_database(database_copy, cast):
    chain = await make_chain(cast)
    month = authority.today().replace(day=1) - timedelta(days=40)
    month = month.replace(day=1)
    line1, warehouse = cast.departments["support.line1"], cast.departments["warehouse"]
    employee = cast.ids["employee"]
    for i in range(12):
        await authority.record_use(cast.actor("employee"), grantee_id=employee, scope_id=chain.scope_id, amount=10_000,
                                   case_ref=f"AO-{i}", used_on=month + timedelta(days=5), action="refund")
    rows = []

    def score(ref: str, day: date, csat: int, department: int = line1, channel: str = "phone") -> None:
        rows.append(CustomerScore(source="test-ao", external_id=f"{ref}-{len(rows)}", given_on=day, channel=channel,
                                  case_ref=ref, department=department, employee=employee, csat=csat, low=csat <= 3))

    for i in range(12):
        score(f"AO-{i}", month + timedelta(days=4), 1)  # the complaint, before the use
        score(f"AO-{i}", month + timedelta(days=8), 4 + i % 2)  # after it: 4 or 5
    for i in range(14):
        score(f"NO-{i}", month + timedelta(days=i), 2 + i % 3)  # controls: 2, 3, 4
    score("NO-chat", month + timedelta(days=3), 5, channel="chat")  # another stratum, no uses there
    score("NO-wh", month + timedelta(days=3), 1, department=warehouse)  # another department
    score("", month + timedelta(days=3), 1)  # no case: not a case at all
    score("AO-0", month - timedelta(days=20), 5)  # outside the window
    async with db.write():
        await CustomerScore.insert(*rows).run()

    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    result = await cases.authority_outcomes(month, last, department_ids=[line1])
    # CSAT per score: satisfied (4-5) counts 100, else 0; the means are shares in percent.
    after = [100.0 * (4 + i % 2 >= 4) for i in range(12)]
    controls = [100.0 * (2 + i % 3 >= 4) for i in range(14)]
    assert (result.n_with, result.n_without, result.strata, result.cases) == (12, 14, 1, 12)
    assert result.csat.with_use_mean == pytest.approx(np.mean(after))
    assert result.csat.without_mean == pytest.approx(np.mean(controls))
    assert result.difference == pytest.approx(np.mean(after) - np.mean(controls))
    assert result.ci[0] < result.difference < result.ci[1] and result.ci[0] > 0
    assert result.csat.before_n == 12 and result.csat.before_mean == pytest.approx(0.0)
    assert result.low_score_share.with_use_mean == 0
    assert result.low_score_share.without_mean == pytest.approx(100 * np.mean([2 + i % 3 <= 3 for i in range(14)]))
    assert result.department_ids == (line1,)

    company = await cases.authority_outcomes(month, last)
    assert company.n_without == 14 and company.strata == 1  # the chat and warehouse scores have no use beside them
    nothing = await cases.authority_outcomes(month, last, department_ids=[warehouse])
    assert nothing.too_small and nothing.n_with == 0 and nothing.difference is None
