"""The monthly summary of ratings (``MonthlySummary``): kept in the transaction that saves each
rating, so the figures read from it are never behind the ratings; rebuilt from the ratings after
bulk loads (the demo, benchmarks), and checked against them where a page could otherwise show
stale figures without saying so.

A figure made of summary rows has the ratings and sums of its rows. Its distinct people are not
the sum of the rows' people (one person rates in several months and services), but suppression
only needs to know whether they are at least the minimum — true when any one row has that many
— and, when there are fewer, who they are: then every row is small too, and the union of the
rows' ``raters`` lists is exact.

Every change of the summary also changes ``internal_service_version`` in the same transaction
(``bump_version``), which schedules the job that decides the period's figures again (one job
per bucket of ``FIGURES_BUCKET``, however many changes fall in it): pages read
the stored figures and compare their version with this one, so whoever writes the summary
without ``add_rating`` or ``rebuild`` must call it too.
"""

from __future__ import annotations

import secrets

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servicechain.platform import db

FIGURES_JOB = "internal_service.figures"  # see service.py: decides a period and stores its figures
# The figures job of the current period is keyed by a bucket of time: every change of the summary
# in the same 5 seconds shares one job. A decision costs ~1-1.5 s of CPU at 20,000 people, so under
# a steady stream of ratings the worker decides at most once per bucket (under a third of a core)
# while the figures follow the ratings within the bucket, the worker's poll (2 s) and the decision.
FIGURES_BUCKET = timedelta(seconds=5)
# A transaction that read its bucket just before the bucket ended may commit a moment later: the
# job waits this long more, so it reads that change too.
FIGURES_GRACE = timedelta(seconds=1)
KEY = ("month", "rater_department", "provider_department", "service", "round")
SUMS = ("overall", "speed", "quality", "courtesy", "willingness")
COLUMNS = (*KEY, "ratings", *SUMS, "people", "raters")


def month_of(day: date) -> date:
    return date(day.year, day.month, 1)


def raters_text(people: Iterable[int]) -> str:
    return "," + "".join(f"{p}," for p in sorted(set(people)))


def parse_raters(text: str | None) -> set[str]:
    """The people of concatenated ``raters`` lists, as the ids' text: suppression only counts
    and compares them, and skipping int() makes the index over every department and month
    several times cheaper."""
    people = set((text or "").split(","))
    people.discard("")
    return people


async def add_rating(*, rater: int, rater_department: int, provider_department: int, service: int,
                     round_id: int | None, rated_on: date, scores: dict[str, int]) -> None:
    """Add one rating to its row, inside the rating's write transaction. One statement, so two
    ratings saved at once on PostgreSQL both count (the conflict locks the row); the rater joins
    ``raters`` only if not already there."""
    if not db.in_transaction():
        raise RuntimeError("the summary changes with its rating, inside db.write()")
    me = f",{int(rater)},"
    t = "internal_service_monthly"
    await db.fetch(
        f"INSERT INTO {t} ({', '.join(COLUMNS)}) VALUES ({db.placeholders(len(COLUMNS))})"
        f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET ratings = {t}.ratings + 1, "
        + ", ".join(f"{name} = {t}.{name} + excluded.{name}" for name in SUMS)
        + f", people = {t}.people + CASE WHEN {t}.raters LIKE '%' || excluded.raters || '%' THEN 0 ELSE 1 END"
        f", raters = CASE WHEN {t}.raters LIKE '%' || excluded.raters || '%' THEN {t}.raters"
        f" ELSE {t}.raters || substr(excluded.raters, 2) END",
        month_of(rated_on), rater_department, provider_department, service, round_id or 0, 1,
        *(scores[name] for name in SUMS), 1, me,
    )
    await bump_version()


async def bump_version() -> None:
    """Give the summary a new version (in the transaction that changes it) and make sure the job
    that decides the current period again (``FIGURES_JOB``) follows: pages read the figures that
    job stores and say, meanwhile, how many newer ratings are being counted. A random number,
    not a counter: a transaction that rolls back would hand its number to the next change."""
    version = secrets.randbits(62)
    await db.fetch("UPDATE internal_service_version SET version = {} WHERE id = 1", version)
    await schedule_figures()


def figures_bucket(at: datetime) -> tuple[str, datetime]:
    """The figures job's unique key for the bucket ``at`` falls in, and when that job runs: at
    the bucket's end (plus ``FIGURES_GRACE``), so it reads every change made during the bucket."""
    seconds = int(FIGURES_BUCKET.total_seconds())
    start = datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, UTC)
    return f"{FIGURES_JOB}@{start:%Y-%m-%dT%H:%M:%S}", start + FIGURES_BUCKET + FIGURES_GRACE


async def schedule_figures(at: datetime | None = None) -> None:
    """Schedule the current period's figures job for the bucket of ``at`` (now): a burst of
    ratings schedules one job, not one per rating. The job of a bucket runs after the bucket
    ends, so a change made in a bucket whose job has already run cannot be keyed to it."""
    from servicechain.platform import outbox

    key, run_at = figures_bucket(at or outbox.now())
    await outbox.schedule(FIGURES_JOB, {}, run_at=run_at, unique_key=key)


async def version() -> int:
    rows = await db.fetch("SELECT version FROM internal_service_version WHERE id = 1")
    return int(rows[0]["version"]) if rows else 0


def rebuild_sql() -> str:
    month = "substr(CAST(rated_on AS TEXT), 1, 7) || '-01'" if db.is_sqlite() else "CAST(date_trunc('month', rated_on) AS date)"
    raters = ("',' || group_concat(DISTINCT rater) || ','" if db.is_sqlite()
              else "',' || string_agg(DISTINCT rater::text, ',') || ','")
    return (
        f"INSERT INTO internal_service_monthly ({', '.join(COLUMNS)})"
        f" SELECT {month}, rater_department, provider_department, service, COALESCE(round, 0), COUNT(*),"
        + ", ".join(f"SUM({name})" for name in SUMS)
        + f", COUNT(DISTINCT rater), {raters} FROM internal_service_rating"
        f" GROUP BY {month}, rater_department, provider_department, service, COALESCE(round, 0)"
    )


async def rebuild() -> int:
    """The whole summary again from the ratings, in one write transaction (after bulk loads that
    bypass ``add_rating``). Returns the number of rows."""
    async with db.write():
        await db.fetch("DELETE FROM internal_service_monthly")
        await db.fetch(rebuild_sql())
        await bump_version()
        rows = await db.fetch("SELECT COUNT(*) AS n FROM internal_service_monthly")
    return rows[0]["n"]


def month_after(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


async def fold(since: date, until: date) -> dict[str, int]:
    """For the months from ``since`` to ``until``: how many ratings there are, how many the
    summary holds, and in how many rows. Two counts off indexes."""
    first, last = month_of(since), month_of(until)
    raw = await db.fetch("SELECT COUNT(*) AS n FROM internal_service_rating WHERE rated_on >= {} AND rated_on < {}",
                         first, month_after(last))
    summed = await db.fetch("SELECT COALESCE(SUM(ratings), 0) AS n, COUNT(*) AS rows FROM internal_service_monthly"
                            " WHERE month >= {} AND month <= {}", first, last)
    return {"ratings": int(raw[0]["n"]), "summarised": int(summed[0]["n"]), "rows": int(summed[0]["rows"])}


async def is_current(since: date, until: date) -> bool:
    """Whether the summary holds every rating of the months from ``since`` to ``until``: true
    whenever ratings went through ``add_rating``; false after a bulk load without ``rebuild``."""
    counts = await fold(since, until)
    return counts["ratings"] == counts["summarised"]


def rows_from_ratings(ratings: Iterable[Sequence[Any] | dict[str, Any]]) -> list[tuple]:
    """The summary rows (in ``COLUMNS`` order, no id) of ratings given as dicts or as tuples of
    (rater, rater_department, provider_department, service, round, rated_on, overall, speed,
    quality, courtesy, willingness): for the demo, which plans rows before inserting them, and
    for tests that compare the summary with the ratings."""
    rows: dict[tuple, dict[str, Any]] = {}
    for r in ratings:
        if isinstance(r, dict):
            rater, rd, pd, svc, rnd, on = (r["rater"], r["rater_department"], r["provider_department"], r["service"],
                                          r["round"], r["rated_on"])
            scores = [r[name] for name in SUMS]
        else:
            rater, rd, pd, svc, rnd, on, *scores = r
        key = (month_of(on), rd, pd, svc, rnd or 0)
        row = rows.setdefault(key, {"ratings": 0, "sums": [0] * len(SUMS), "raters": set()})
        row["ratings"] += 1
        row["sums"] = [a + b for a, b in zip(row["sums"], scores, strict=True)]
        row["raters"].add(rater)
    return [(*key, row["ratings"], *row["sums"], len(row["raters"]), raters_text(row["raters"]))
            for key, row in sorted(rows.items(), key=lambda kv: tuple(str(x) for x in kv[0]))]
