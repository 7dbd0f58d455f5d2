"""The monthly summary says what the ratings say: row by row, after each rating and after a
rebuild, and every figure (count, mean, people, hidden or shown) read from it equals the same
figure aggregated from the raw ratings."""

from __future__ import annotations

import random
import uuid
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicechain.internal_service import service, summary
from servicechain.internal_service.disclosure import people_of
from servicechain.internal_service.tables import MonthlySummary, Rating
from servicechain.platform import db
from servicechain.platform.people.service import today
from servicechain.platform.security import utcnow
from tests.internal_service import helpers as h

K = 5
rating_strategy = st.tuples(
    st.integers(min_value=0, max_value=11),  # rater
    st.integers(min_value=0, max_value=2),  # rater department
    st.integers(min_value=0, max_value=1),  # provider
    st.integers(min_value=0, max_value=1),  # service of that provider
    st.sampled_from([None, 1, 2]),  # round
    st.integers(min_value=0, max_value=3),  # months ago
    st.integers(min_value=1, max_value=5),  # overall
)


def _month(ago: int) -> date:
    year, month = 2026, 11 - ago
    return date(year, month, 3 + ago)


def _raw_figure(ratings: list[tuple], keep) -> tuple[int, int, set[int]]:
    chosen = [r for r in ratings if keep(r)]
    return len(chosen), sum(r[6] for r in chosen), {r[0] for r in chosen}


def _summary_figure(rows: list[tuple], keep) -> tuple[int, int, int, set[str] | None]:
    """What the period's decision (``disclosure``) reads of a figure from its summary rows:
    sums, and its people as ``people_of`` counts them (the rows' rater lists only when every
    row is under the minimum)."""
    chosen = [r for r in rows if keep(r)]
    people, who = people_of(((r[11], r[12]) for r in chosen), K)
    return sum(r[5] for r in chosen), sum(r[6] for r in chosen), people, who


@settings(max_examples=300, deadline=None)
@given(st.lists(rating_strategy, max_size=60))
def test_every_figure_from_the_summary_equals_the_one_from_the_ratings(ratings):
    # (rater, rater_department, provider, service, round, rated_on, five scores)
    as_rows = [(r[0], r[1], r[2], r[2] * 10 + r[3], r[4], _month(r[5]), r[6], r[6], r[6], r[6], r[6]) for r in ratings]
    rows = summary.rows_from_ratings(as_rows)
    assert sum(r[5] for r in rows) == len(ratings)
    # Groupings the pages use: a cell (rater department × provider), a row or column total,
    # a service, a round, a run of months, everything.
    groupings = [lambda rd, pd, svc, rnd, m: True]
    for d in range(3):
        for p in range(2):
            groupings.append(lambda rd, pd, svc, rnd, m, d=d, p=p: rd == d and pd == p)
        groupings.append(lambda rd, pd, svc, rnd, m, d=d: rd == d)
    for svc in (0, 1, 10, 11):
        groupings.append(lambda rd, pd, s, rnd, m, svc=svc: s == svc)
    for rnd in (1, 2):
        groupings.append(lambda rd, pd, svc, r, m, rnd=rnd: r == rnd)
        groupings.append(lambda rd, pd, svc, r, m, rnd=rnd: r != rnd and m >= _month(2).replace(day=1))
    for keep in groupings:
        count, total, people = _raw_figure(as_rows, lambda r, keep=keep: keep(r[1], r[2], r[3], r[4] or 0, r[5]))
        n, s, figure_people, who = _summary_figure(rows, lambda r, keep=keep: keep(r[1], r[2], r[3], r[4], r[0]))
        assert (n, s) == (count, total)
        assert (figure_people >= K) == (len(people) >= K), "the same figures are hidden"
        if len(people) < K:
            assert who == {str(p) for p in people} and figure_people == len(people), "unions see the same people"
        else:
            assert K <= figure_people <= len(people)


async def _company(cast, seed: int) -> tuple[list[int], list[int], list[int], dict[int, int]]:
    """Three rater departments of 4-8 people and two providers with two services each."""
    rng = random.Random(seed)
    root = await h.department(f"Summary {seed}", cast.departments["company"])
    raters = [await h.department(f"R{i}", root) for i in range(3)]
    providers = [await h.department(f"P{i}", root) for i in range(2)]
    people: dict[int, int] = {}
    for d in raters:
        for p in await h.people(d, rng.randint(4, 8)):
            people[p] = d
    services = [await h.service(p, f"S{p}.{i}") for p in providers for i in range(2)]
    return raters, providers, services, people


async def _add(service_id: int, provider: int, rater: int, department: int, round_id: int | None, on: date,
               score: int) -> None:
    async with db.write():
        await Rating(service=service_id, rater=rater, rater_department=department, provider_department=provider,
                     round=round_id, request_ref=f"Q-{uuid.uuid4().hex}", overall=score, speed=score,
                     quality=score, courtesy=score, willingness=score, comment="", rated_on=on,
                     created_at=utcnow()).save().run()
        await summary.add_rating(rater=rater, rater_department=department, provider_department=provider,
                                 service=service_id, round_id=round_id, rated_on=on,
                                 scores={name: score for name in summary.SUMS})


def _table(rows: list[dict]) -> list[tuple]:
    return sorted((str(r["month"])[:10], r["rater_department"], r["provider_department"], r["service"], r["round"],
                   r["ratings"], r["overall"], r["speed"], r["quality"], r["courtesy"], r["willingness"], r["people"],
                   ",".join(sorted(r["raters"].strip(",").split(",")))) for r in rows)


def _expected(ratings: list[dict]) -> list[tuple]:
    return sorted((str(r[0]), *r[1:12], ",".join(sorted(r[12].strip(",").split(","))))
                  for r in summary.rows_from_ratings(ratings))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=10_000))
async def test_the_table_kept_rating_by_rating_equals_the_ratings_and_a_rebuild(cast, rollback, seed):
    rng = random.Random(seed)
    raters, providers, services, people = await _company(cast, seed)
    closed = await h.closed_round()
    on = today()
    months = [on, on.replace(day=1), date(on.year - 1, on.month, 1)]
    for _i in range(rng.randint(1, 60)):
        rater = rng.choice(list(people))
        svc = rng.choice(services)
        provider = providers[services.index(svc) // 2]
        await _add(svc, provider, rater, people[rater], rng.choice([None, closed]), rng.choice(months), rng.randint(1, 5))
    mine = list(people)
    kept = await MonthlySummary.select().where(MonthlySummary.service.is_in(services)).run()
    ratings = await Rating.select().where(Rating.rater.is_in(mine)).run()
    assert _table(kept) == _expected(ratings)
    await summary.rebuild()
    rebuilt = await MonthlySummary.select().where(MonthlySummary.service.is_in(services)).run()
    assert _table(rebuilt) == _table(kept)
    assert await summary.is_current(months[-1], on)


async def test_the_matrix_from_the_summary_equals_the_matrix_from_the_ratings(cast, rollback):
    raters, providers, services, people = await _company(cast, 7)
    rng = random.Random(7)
    for rater, department in people.items():
        for svc in rng.sample(services, 3):
            await _add(svc, providers[services.index(svc) // 2], rater, department, None, today(), rng.randint(1, 5))
    root = (await db.fetch("SELECT parent FROM department WHERE id = {}", raters[0]))[0]["parent"]
    m = await service.matrix(cast.actor("hr"), root, root)
    assert m["source"] == "summary"
    k = m["k"]
    ratings = await Rating.select().where(Rating.rater.is_in(list(people))).run()
    shown = 0
    for row in m["rows"]:
        for col, cell in zip(m["cols"], row["cells"], strict=True):
            if row["key"][0] != "s" or col["key"][0] != "s":
                continue
            chosen = [r for r in ratings if r["rater_department"] == row["id"] and r["provider_department"] == col["id"]]
            distinct = {r["rater"] for r in chosen}
            if 0 < len(distinct) < k:
                assert cell["hidden"], "under the minimum: hidden"
            if not chosen:
                assert not cell["count"] and cell["mean"] is None
            elif not cell["hidden"]:
                assert cell["count"] == len(chosen) and cell["mean"] == sum(r["overall"] for r in chosen) / len(chosen)
                shown += 1
    assert shown >= 2, "the comparison covered shown cells"


async def test_a_bulk_load_past_the_summary_is_noticed_and_a_rebuild_catches_up(cast, rollback):
    await h.decoy(cast)  # the complement other tests' small figures need, so this provider stays shown
    provider = await h.department("Bulk provider", cast.departments["company"])
    svc = await h.service(provider, "Bulk")
    raters = await h.people(cast.departments["warehouse"], 6)
    assert await summary.is_current(today(), today())
    async with db.write():
        for r in raters:  # as an import would: ratings only
            await Rating(service=svc, rater=r, rater_department=cast.departments["warehouse"], provider_department=provider,
                         request_ref="BULK", overall=4, speed=4, quality=4, courtesy=4, willingness=4, rated_on=today(),
                         created_at=utcnow()).save().run()
    assert not await summary.is_current(today(), today())
    m = await service.matrix(cast.actor("hr"))
    assert m["stale"], "the matrix reads the summary only, and says it is behind"
    assert (await service.scorecard(cast.actor("hr"), provider))["stale"], "a scorecard reads the summary only: it says so"
    await summary.rebuild()
    assert await summary.is_current(today(), today())
    assert not (await service.matrix(cast.actor("hr")))["stale"]
    card = await service.scorecard(cast.actor("hr"), provider)
    assert not card["stale"] and card["period"]["count"] == 6
