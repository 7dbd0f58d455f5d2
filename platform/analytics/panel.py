"""The department-month panel: every people-side and customer-side figure, per department (with
everything below it) and calendar month, read with polars' database reader (ADBC) and computed
column-wise, never row by row in Python.

How it is built:

1. One SQL read per source, filtered to the window (large tables are grouped by department and
   month in SQL first). Reads run in threads at once; each opens its own ADBC connection to the
   database the Piccolo engine points at, so they see committed data only.
2. Each source becomes *own-level facts*: additive sums per (department, month) — the
   department the row belongs to, not its ancestors. Medians and distinct raters keep their
   raw rows.
3. Facts are mapped to *targets* and summed: every ancestor of the department (``frame``: a
   department's figure covers its whole subtree), its analysis unit (``units``), or the whole
   company (``company``). Ratios are taken after summing, so a parent's figure is the pooled
   figure of its subtree, not a mean of its children's.

Anonymity: survey figures come from each closed pulse's published per-department counts
(``pulse_summary``), month = the month the pulse closed. A department's figure of a pulse is
left out when it has fewer answers than that pulse's snapshotted minimum, or when the results
page hides it to stop subtraction (``surveys.figures.hidden_departments``). Internal service
figures are left out below the ratings' minimum (``internal_service.service.min_group``)
distinct raters. Units are built bottom-up like ``surveys.figures.generalise``: a leaf that
usually has the minimum of respondents is a unit; a smaller one rolls into its parent, which
stands for it (and its own people) as one unit.

Kept between builds (``analytics_cache``, in the database so every worker and the CLI share it;
each entry is used only while what it was made from still holds, and a build from them stores
the same bytes as one from nothing): customer score sums and follow-up figures per department and
month, the internal service's hiding result, the follow-up medians month by month, and the
parsed pulse sums with the pulses' hidden departments.

Definitions follow the domains: customer figures are ``customers.metrics.department_months``'s
(CSAT: the share of satisfied scores, 4-5 or "good", among the ``csat_n`` scores with a CSAT; NPS,
low-score share, follow-ups closed among those the month's scores opened and the median hours to
close them); QA and mystery-shopper scores are
``customers.quality.service.monthly_by_department``'s; the top-three share is
``recognition.service.top_three_share``'s; goals at risk use ``goals.service.is_at_risk``'s rule.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from servicechain.goals.service import AT_RISK_MARGIN
from servicechain.platform import db
from servicechain.platform.analytics.metrics import CUSTOMER, METRICS
from servicechain.platform.config import get_settings
from servicechain.platform.lib.dates import first_of_month, month_end, month_start, months_back, shift_month
from servicechain.platform.surveys.figures import TRAIT_ORDER, hidden_departments

DEPT = "department_id"
MONTH = "month"
TARGET = "target"
METRIC_KEYS = tuple(m.key for m in METRICS)


@dataclass
class Panel:
    frame: pl.DataFrame  # (department_id, month) for every department, figures over its subtree
    units: pl.DataFrame  # the same columns per analysis unit (department_id = the unit)
    company: pl.DataFrame  # one row per month, the whole company
    departments: pl.DataFrame  # department_id, parent_id, name_en, name_ru, depth, is_leaf, unit_id
    until: date
    months: int
    min_group: int


# --- reading ---------------------------------------------------------------------------------------


def _postgres() -> bool:
    return db.engine().engine_type == "postgres"


def _month_sql(column: str) -> str:
    """'YYYY-MM' of a date column, on either engine."""
    return f"to_char({column}, 'YYYY-MM')" if _postgres() else f"substr(CAST({column} AS TEXT), 1, 7)"


def _hours_sql(start: str, end: str) -> str:
    if _postgres():  # EXTRACT gives numeric, which ADBC hands over as an opaque extension type
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0 AS DOUBLE PRECISION)"
    return f"(julianday({end}) - julianday({start})) * 24.0"


def _concat_sql(column: str) -> str:
    """The column's non-null values of a group as one comma-separated text."""
    return f"string_agg(CAST({column} AS TEXT), ',')" if _postgres() else f"group_concat({column}, ',')"


def _read_sync(uri: str, sql: str) -> pl.DataFrame:
    return pl.read_database_uri(sql, uri, engine="adbc")


def _coerce(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The columns as asked, whatever the engine gave: SQLite returns dates and timestamps as
    text, booleans as integers, and an empty result may have no types at all."""
    columns = []
    for name, dtype in schema.items():
        col = pl.col(name)
        have = df.schema[name] if name in df.columns else pl.Null
        if name not in df.columns or df[name].null_count() == len(df):
            # SQLite types an all-null column as integers; nothing in it to convert.
            columns.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        if dtype == pl.Date:
            if have == pl.String:
                col = col.str.slice(0, 10).str.to_date("%Y-%m-%d")
            elif isinstance(have, pl.Datetime):
                col = col.dt.date()
        elif isinstance(dtype, pl.Datetime):
            if have == pl.String:
                col = col.str.to_datetime(time_zone="UTC", time_unit="us")
            elif isinstance(have, pl.Datetime) and have.time_zone is None:
                col = col.dt.replace_time_zone("UTC")
            col = col.dt.convert_time_zone("UTC")
        elif dtype == pl.Boolean and have != pl.Boolean:
            col = col.cast(pl.Int64) != 0
        columns.append(col.cast(dtype).alias(name))
    if df.is_empty():
        return pl.DataFrame(schema=schema)
    # with_columns, not select: a frame of null literals alone would collapse to one row.
    return df.with_columns(columns).select(list(schema))


def _read_sqlite_sync(path: str, queries: list[tuple[str, dict[str, pl.DataType]]]) -> list[pl.DataFrame]:
    """Every query on one connection of Python's own sqlite3, inside one read transaction (one
    consistent snapshot). Not ADBC here: its driver carries a second copy of the SQLite library,
    and two copies in one process release each other's file locks (sqlite.org/howtocorrupt.html,
    "multiple copies of SQLite"); it also read a stale snapshot in our tests. The queries return
    few rows (grouped in SQL), so converting them costs little."""
    conn = sqlite3.connect(path, timeout=db.SQLITE_BUSY_TIMEOUT_S)
    try:
        conn.execute("BEGIN")
        frames = []
        for sql, schema in queries:
            # Text for dates and timestamps (SQLite stores them so), integers for booleans.
            text = {k: (pl.String if v == pl.Date or isinstance(v, pl.Datetime) else pl.Int64 if v == pl.Boolean else v)
                    for k, v in schema.items()}
            frames.append(pl.read_database(sql, conn, schema_overrides=text))
        conn.rollback()
        return frames
    finally:
        conn.close()


async def read_frames(queries: dict[str, tuple[str, dict[str, pl.DataType]]]) -> dict[str, pl.DataFrame]:
    """Run ``{name: (sql, {column: dtype})}`` against the database the Piccolo engine points at
    and return polars frames with exactly those types: PostgreSQL through ADBC, one connection
    per query in threads; SQLite through Python's sqlite3 in one read transaction (see
    ``_read_sqlite_sync`` for why not ADBC there). For other analytics modules too (cases)."""
    return await _read(queries)


async def _read(queries: dict[str, tuple[str, dict[str, pl.DataType]]]) -> dict[str, pl.DataFrame]:
    names = list(queries)
    engine = db.engine()
    if engine.engine_type == "postgres":
        # One connection per query, in threads: PostgreSQL works on several at once.
        uri = engine.config["dsn"]
        frames = await asyncio.gather(*(asyncio.to_thread(_read_sync, uri, queries[n][0]) for n in names))
    else:
        frames = await asyncio.to_thread(_read_sqlite_sync, str(Path(engine.path).resolve()), [queries[n] for n in names])
    return {n: _coerce(f, queries[n][1]) for n, f in zip(names, frames, strict=True)}


def _lit(day: date) -> str:
    return f"'{day.isoformat()}'"


# --- the window --------------------------------------------------------------------------------------


@dataclass
class _Window:
    months: list[date]
    first: date
    end: date  # the first day after the last month
    today: date
    tz: str

    def grid(self) -> pl.DataFrame:
        return pl.DataFrame({MONTH: self.months}, schema={MONTH: pl.Date})

    def month_ends(self) -> pl.DataFrame:
        """Each month with the day its standing figures (headcount, active grants and goals) are
        taken on: its last day, or today for the month that is still running."""
        ends = []
        for m in self.months:
            ends.append(min(month_end(m), self.today))
        return pl.DataFrame({MONTH: self.months, "on": ends}, schema={MONTH: pl.Date, "on": pl.Date})


def _window(until: date, months: int) -> _Window:
    keys = months_back(until, months)
    starts = [first_of_month(k) for k in keys]
    end = shift_month(starts[-1], 1)
    settings = get_settings()
    today = datetime.now(settings.tz).date()
    return _Window(starts, starts[0], end, today, settings.timezone)


def _local_day(column: str, tz: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz).dt.date()


def _month_of(expr: pl.Expr) -> pl.Expr:
    return expr.dt.truncate("1mo")


def _month_text(column: str = "m") -> pl.Expr:
    return (pl.col(column) + "-01").str.to_date("%Y-%m-%d").alias(MONTH)


# --- queries -----------------------------------------------------------------------------------------


def _queries(w: _Window) -> dict[str, tuple[str, dict[str, pl.DataType]]]:
    first, end = _lit(w.first), _lit(w.end)
    # Timestamps are filtered a day wider than the window and cut exactly in the company's time zone.
    ts_first, ts_end = _lit(w.first - timedelta(days=1)), _lit(w.end + timedelta(days=1))
    i64, f64, d, s, b = pl.Int64, pl.Float64, pl.Date, pl.String, pl.Boolean
    ts = pl.Datetime("us", "UTC")
    score_month = _month_sql("s.given_on")
    return {
        "departments": ("SELECT id, parent, path, depth, name_en, name_ru FROM department",
                        {"id": i64, "parent": i64, "path": s, "depth": i64, "name_en": s, "name_ru": s}),
        "assignments": ("SELECT person, department, valid_from, valid_to FROM assignment WHERE department IS NOT NULL"
                        f" AND valid_from < {end} AND (valid_to IS NULL OR valid_to > {first})",
                        {"person": i64, "department": i64, "valid_from": d, "valid_to": d}),
        "pulses": ("SELECT id, closes_on, min_group_size FROM pulse WHERE status = 'closed'"
                   f" AND closes_on >= {first} AND closes_on < {end}",
                   {"id": i64, "closes_on": d, "min_group_size": i64}),
        "pulse_summary": ("SELECT s.pulse, pd.source AS department, s.n, s.items, s.enps FROM pulse_summary s"
                          " JOIN pulse_department pd ON pd.id = s.department JOIN pulse p ON p.id = s.pulse"
                          f" WHERE p.status = 'closed' AND p.closes_on >= {first} AND p.closes_on < {end}",
                          {"pulse": i64, "department": i64, "n": i64, "items": s, "enps": s}),
        "pulse_items": ("SELECT i.pulse, i.position, i.trait FROM pulse_item i JOIN pulse p ON p.id = i.pulse"
                        f" WHERE p.status = 'closed' AND p.closes_on >= {first} AND p.closes_on < {end}",
                        {"pulse": i64, "position": i64, "trait": s}),
        "service": ("SELECT month, rater_department, provider_department, ratings, overall, people, raters"
                    f" FROM internal_service_monthly WHERE month >= {first} AND month < {end}",
                    {"month": d, "rater_department": i64, "provider_department": i64, "ratings": i64, "overall": i64,
                     "people": i64, "raters": s}),
        "thanks_sent": (f"SELECT sender, created_at FROM recognition WHERE created_at >= {ts_first} AND created_at < {ts_end}",
                        {"sender": i64, "created_at": ts}),
        "thanks_received": ("SELECT rr.department, r.created_at FROM recognition_recipient rr"
                            " JOIN recognition r ON r.id = rr.recognition WHERE rr.department IS NOT NULL"
                            f" AND r.created_at >= {ts_first} AND r.created_at < {ts_end}",
                            {"department": i64, "created_at": ts}),
        "rewards": ("SELECT department, preference_rank, created_at FROM reward WHERE department IS NOT NULL"
                    f" AND created_at >= {ts_first} AND created_at < {ts_end}",
                    {"department": i64, "preference_rank": i64, "created_at": ts}),
        # Leaf goals only: a goal with children has their weighted progress, already counted.
        "goals": ("SELECT g.id, g.owner_person, g.owner_department, g.status, g.starts_on, g.deadline, g.baseline,"
                  " g.target FROM goal g WHERE g.status IN ('agreed', 'achieved', 'missed')"
                  f" AND g.starts_on < {end} AND g.deadline >= {first} AND (g.owner_person IS NOT NULL"
                  " OR g.owner_department IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM goal c WHERE c.parent = g.id"
                  " AND c.status <> 'cancelled')",
                  {"id": i64, "owner_person": i64, "owner_department": i64, "status": s, "starts_on": d,
                   "deadline": d, "baseline": f64, "target": f64}),
        "check_ins": ("SELECT c.goal, c.taken_on, c.value, c.confidence FROM goal_check_in c JOIN goal g ON g.id = c.goal"
                      f" WHERE c.taken_on < {end} AND g.status IN ('agreed', 'achieved', 'missed')"
                      f" AND g.starts_on < {end} AND g.deadline >= {first}",
                      {"goal": i64, "taken_on": d, "value": f64, "confidence": s}),
        "grants": ("SELECT grantee, valid_from, valid_until, revoked_at FROM authority_grant"
                   f" WHERE valid_from < {end} AND (valid_until IS NULL OR valid_until >= {first})",
                   {"grantee": i64, "valid_from": d, "valid_until": d, "revoked_at": ts}),
        "uses": ("SELECT u.grantee, u.used_on, u.amount, sc.kind FROM authority_use u"
                 f" JOIN authority_scope sc ON sc.id = u.scope WHERE u.used_on >= {first} AND u.used_on < {end}",
                 {"grantee": i64, "used_on": d, "amount": i64, "kind": s}),
        "qa": (f"SELECT department, {_month_sql('contact_on')} AS m, COUNT(*) AS n, SUM(score) AS total"
               f" FROM quality_scorecard WHERE department IS NOT NULL AND contact_on >= {first} AND contact_on < {end}"
               f" GROUP BY department, {_month_sql('contact_on')}",
               {"department": i64, "m": s, "n": i64, "total": f64}),
        "mystery": (f"SELECT department, {_month_sql('visited_on')} AS m, COUNT(*) AS n, SUM(score) AS total"
                    f" FROM quality_audit WHERE visited_on >= {first} AND visited_on < {end}"
                    f" GROUP BY department, {_month_sql('visited_on')}",
                    {"department": i64, "m": s, "n": i64, "total": f64}),
    }


# --- customer scores: cached sums ---------------------------------------------------------------------

SCORES_CACHE = "customer_score_months"
# v2: CSAT as the count of satisfied scores (v1 kept the sum of 1-5 scores); a kept v1 is read again.
SCORES_VERSION = "v2"
SCORE_SCHEMA = {"department": pl.Int64, "m": pl.String, "n": pl.Int64, "csat_ok": pl.Int64, "csat_n": pl.Int64,
                "nps_n": pl.Int64, "promoters": pl.Int64, "detractors": pl.Int64, "low": pl.Int64}


# A satisfied customer: 4 or 5 on the 1-5 scale, or "good" where the channel asks good/bad only
# (customers.metrics counts CSAT the same way).
SATISFIED_SQL = "CASE WHEN s.csat >= 4 OR s.csat_good THEN 1 ELSE 0 END"


def _scores_sql(since: date | None = None, end: date | None = None) -> str:
    """Sums of customer scores per department and month: of every score (one sequential pass),
    or of the months from ``since`` to before ``end`` (each department's range of its
    (department, given_on) index, which SQLite would otherwise not use for a date range)."""
    month = _month_sql("s.given_on")
    source, where = "customer_score s", ""
    if since is None:
        source += "" if _postgres() else " NOT INDEXED"  # in index order every row is a random read
    else:
        where = f" WHERE s.department IN (SELECT id FROM department) AND s.given_on >= {_lit(since)} AND s.given_on < {_lit(end)}"
    return (f"SELECT s.department, {month} AS m, COUNT(*) AS n, SUM({SATISFIED_SQL}) AS csat_ok,"
            " SUM(CASE WHEN s.csat IS NOT NULL OR s.csat_good IS NOT NULL THEN 1 ELSE 0 END) AS csat_n,"
            " COUNT(s.nps) AS nps_n, SUM(CASE WHEN s.nps >= 9 THEN 1 ELSE 0 END) AS promoters,"
            " SUM(CASE WHEN s.nps <= 6 THEN 1 ELSE 0 END) AS detractors, SUM(CASE WHEN s.low THEN 1 ELSE 0 END) AS low"
            f" FROM {source}{where} GROUP BY s.department, {month}")


async def _read_scores(since: date | None = None, end: date | None = None) -> pl.DataFrame:
    frame = (await _read({"scores": (_scores_sql(since, end), SCORE_SCHEMA)}))["scores"]
    return frame.with_columns(_month_text()).drop("m")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def _score_months() -> pl.DataFrame:
    """(department, month) sums of all customer scores. Scores are only ever added, so the sums
    of a build are kept (``analytics_cache``) with the row count and highest id they were made
    from: unchanged, they are reused; when every new row lies above that id, only the months the
    new rows fall in are read again; anything else (a count that does not add up) reads all.
    Re-reading 6.7 million scores costs seconds; the usual night adds one month's worth."""
    stats = (await db.fetch("SELECT COUNT(*) AS n, MAX(id) AS top FROM customer_score"))[0]
    count, top = int(stats["n"] or 0), int(stats["top"] or 0)
    fingerprint = f"{SCORES_VERSION}:{count}:{top}"
    cached = None
    rows = await db.fetch("SELECT fingerprint, payload FROM analytics_cache WHERE name = {}", SCORES_CACHE)
    if rows:
        try:
            version, old_count, old_top = rows[0]["fingerprint"].split(":")
            cached = pl.read_parquet(io.BytesIO(bytes(rows[0]["payload"]))) if version == SCORES_VERSION else None
        except (ValueError, OSError, pl.exceptions.PolarsError):
            cached = None
    frame = None
    if cached is not None:
        if (int(old_count), int(old_top)) == (count, top):
            return cached
        added = (await db.fetch("SELECT COUNT(*) AS n, MIN(given_on) AS first, MAX(given_on) AS last FROM customer_score"
                                " WHERE id > {}", int(old_top)))[0]
        if int(old_count) + int(added["n"] or 0) == count and added["first"] is not None:
            first, last = _as_date(added["first"]), _as_date(added["last"])
            since, end = month_start(first), shift_month(last, 1)
            fresh = await _read_scores(since, end)
            frame = pl.concat([cached.filter((pl.col(MONTH) < since) | (pl.col(MONTH) >= end)), fresh])
    if frame is None:
        frame = await _read_scores()
    frame = frame.sort("department", MONTH)
    await _keep(SCORES_CACHE, fingerprint, frame, datetime.now(ZoneInfo("UTC")))
    return frame


FOLLOW_UPS_CACHE = "customer_follow_up_months"
FOLLOW_UP_SCHEMA = {"department": pl.Int64, "m": pl.String, "opened": pl.Int64, "closed": pl.Int64, "hours": pl.String}
CLOSING_MARGIN = timedelta(hours=1)


def _follow_ups_sql(since: date | None = None, end: date | None = None) -> str:
    """Per department and month of the score that opened them: follow-ups opened, closed, and
    the hours each closed one took as one comma-separated list (a million follow-ups would
    otherwise cross the driver row by row). All months, or those from ``since`` to ``end``."""
    if since is None:  # follow-ups first: each finds its score by id
        source = f"customer_follow_up f {'JOIN' if _postgres() else 'CROSS JOIN'} customer_score s ON s.id = f.score"
        where = ""
    else:  # the scores of those months first, through their (department, given_on) index
        source = f"customer_score s {'JOIN' if _postgres() else 'CROSS JOIN'} customer_follow_up f ON f.score = s.id"
        where = f" WHERE s.department IN (SELECT id FROM department) AND s.given_on >= {_lit(since)} AND s.given_on < {_lit(end)}"
    closed = "f.status = 'closed' AND f.closed_at IS NOT NULL"
    return (f"SELECT department, m, COUNT(*) AS opened, SUM(closed) AS closed, {_concat_sql('hours')} AS hours"
            f" FROM (SELECT s.department, {_month_sql('s.given_on')} AS m, CASE WHEN {closed} THEN 1 ELSE 0 END AS closed,"
            f" CASE WHEN {closed} THEN {_hours_sql('f.created_at', 'f.closed_at')} END AS hours"
            f" FROM {source}{where}) x GROUP BY department, m")


async def _read_follow_ups(since: date | None = None, end: date | None = None) -> pl.DataFrame:
    frame = (await _read({"f": (_follow_ups_sql(since, end), FOLLOW_UP_SCHEMA)}))["f"]
    return frame.with_columns(_month_text()).drop("m")


async def _follow_up_months() -> pl.DataFrame:
    """The follow-ups' (department, month) figures of all months, kept between builds like the
    score sums. Follow-ups are only added and closed, never reopened or removed, so the months
    to read again are those of follow-ups added since (ids above the last highest) and of those
    closed since (closed_at from the last build's start, less a margin for transactions still
    open then); the result is kept only if its totals of opened and closed match the table's,
    else everything is read again."""
    started = datetime.now(ZoneInfo("UTC"))
    stats = (await db.fetch("SELECT COUNT(*) AS n, MAX(id) AS top, SUM(CASE WHEN status = 'closed' AND closed_at IS NOT NULL"
                            " THEN 1 ELSE 0 END) AS closed FROM customer_follow_up"))[0]
    count, top, closed = int(stats["n"] or 0), int(stats["top"] or 0), int(stats["closed"] or 0)
    fingerprint = f"v1:{count}:{top}:{closed}"
    cached, old = None, None
    rows = await db.fetch("SELECT fingerprint, built_at, payload FROM analytics_cache WHERE name = {}", FOLLOW_UPS_CACHE)
    if rows:
        try:
            old = rows[0]["fingerprint"].split(":")
            if old[0] == "v1":
                cached = pl.read_parquet(io.BytesIO(bytes(rows[0]["payload"])))
        except (ValueError, OSError, pl.exceptions.PolarsError):
            cached = None
    frame = None
    if cached is not None and old is not None:
        if old[1:] == [str(count), str(top), str(closed)]:
            return cached
        built = rows[0]["built_at"]
        built = datetime.fromisoformat(built) if isinstance(built, str) else built
        changed = (await db.fetch(
            "SELECT MIN(s.given_on) AS first, MAX(s.given_on) AS last FROM customer_follow_up f"
            " JOIN customer_score s ON s.id = f.score WHERE f.id > {} OR f.closed_at >= {}",
            int(old[2]), built - CLOSING_MARGIN))[0]
        if changed["first"] is not None:
            first, last = _as_date(changed["first"]), _as_date(changed["last"])
            since, end = month_start(first), shift_month(last, 1)
            fresh = await _read_follow_ups(since, end)
            frame = pl.concat([cached.filter((pl.col(MONTH) < since) | (pl.col(MONTH) >= end)), fresh])
            if (int(frame["opened"].sum() or 0), int(frame["closed"].sum() or 0)) != (count, closed):
                frame = None  # something changed that the two markers cannot see: read all
    if frame is None:
        frame = await _read_follow_ups()
    frame = frame.sort("department", MONTH)
    await _keep(FOLLOW_UPS_CACHE, fingerprint, frame, started)
    return frame


async def _keep(name: str, fingerprint: str, frame: pl.DataFrame, built_at: datetime) -> None:
    if db.in_transaction():  # a caller's read transaction cannot take the write lock
        return
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    async with db.write():
        await db.fetch(
            "INSERT INTO analytics_cache (name, fingerprint, built_at, payload) VALUES ({}, {}, {}, {})"
            " ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, built_at = excluded.built_at,"
            " payload = excluded.payload", name, fingerprint, built_at, buffer.getvalue())


# --- own-level facts ---------------------------------------------------------------------------------


def _in_window(df: pl.DataFrame, w: _Window) -> pl.DataFrame:
    return df.filter(pl.col(MONTH).is_in(w.months))


def _department_on(events: pl.DataFrame, assignments: pl.DataFrame, person: str, day: str) -> pl.DataFrame:
    """Each event with the department its person was assigned to on its day (valid_to is the
    first day of the next assignment); events of people with none are dropped."""
    return (events.join(assignments, left_on=person, right_on="person")
            .filter((pl.col("valid_from") <= pl.col(day)) & (pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col(day))))
            .rename({"department": DEPT}))


def _people_months(assignments: pl.DataFrame, w: _Window) -> pl.DataFrame:
    """(person, department_id, month): where each person worked on each month's standing day."""
    return (assignments.join(w.month_ends(), how="cross")
            .filter((pl.col("valid_from") <= pl.col("on")) & (pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("on"))))
            .select("person", pl.col("department").alias(DEPT), MONTH, "on")
            .unique(["person", MONTH], keep="first"))


def _count(df: pl.DataFrame, name: str) -> pl.DataFrame:
    return df.group_by(DEPT, MONTH).agg(pl.len().cast(pl.Int64).alias(name))


def _survey_facts(r: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per (pulse, department at launch): answers, the sums and counts of all item scores and
    per trait, promoters and detractors."""
    summary = r["pulse_summary"]
    items = (summary.select("pulse", pl.col("department").alias(DEPT), "items")
             .with_columns(pl.col("items").str.extract_all(r'"\d+"\s*:\s*\[\s*-?\d+\s*,\s*\d+\s*\]').alias("pair"))
             .explode("pair").drop_nulls("pair")
             .with_columns(pl.col("pair").str.extract(r'"(\d+)"', 1).cast(pl.Int64).alias("position"),
                           pl.col("pair").str.extract(r"\[\s*(-?\d+)", 1).cast(pl.Int64).alias("total"),
                           pl.col("pair").str.extract(r",\s*(\d+)\s*\]", 1).cast(pl.Int64).alias("count"))
             .join(r["pulse_items"], on=["pulse", "position"], how="left"))
    aggs = [pl.col("total").sum().alias("sv_sum"), pl.col("count").sum().alias("sv_cnt")]
    for t in TRAIT_ORDER:
        aggs += [pl.col("total").filter(pl.col("trait") == t).sum().alias(f"sv_sum_{t}"),
                 pl.col("count").filter(pl.col("trait") == t).sum().alias(f"sv_cnt_{t}")]
    sums = items.group_by("pulse", DEPT).agg(aggs)
    hist = pl.col("enps").str.json_decode(pl.List(pl.Int64))
    enps = (summary.select("pulse", pl.col("department").alias(DEPT), pl.col("n").alias("sv_n"),
                           (hist.list.get(9, null_on_oob=True).fill_null(0) + hist.list.get(10, null_on_oob=True).fill_null(0)).alias("sv_prom"),
                           hist.list.slice(0, 7).list.sum().alias("sv_detr"))
            .group_by("pulse", DEPT).agg(pl.all().sum()))
    facts = enps.join(sums, on=["pulse", DEPT], how="left").fill_null(0)
    pulses = r["pulses"].select(pl.col("id").alias("pulse"), _month_of(pl.col("closes_on")).alias(MONTH),
                                pl.col("min_group_size").alias("k"))
    return facts.join(pulses, on="pulse")


SURVEY_SUMS = ("sv_n", "sv_prom", "sv_detr", "sv_sum", "sv_cnt", *(f"sv_{x}_{t}" for t in TRAIT_ORDER for x in ("sum", "cnt")))


def _survey_hidden(facts: pl.DataFrame, parents: dict[int, int | None]) -> pl.DataFrame:
    """(pulse, department_id) pairs the pulse's results page hides (small, or a complement)."""
    rows: list[tuple[int, int]] = []
    for (pulse, k), part in facts.group_by("pulse", "k"):
        own = dict(zip(part[DEPT].to_list(), part["sv_n"].to_list(), strict=True))
        own = {d: n for d, n in own.items() if d in parents}
        rows += [(pulse, d) for d in hidden_departments(parents, own, k)]
    return pl.DataFrame(rows, schema={"pulse": pl.Int64, DEPT: pl.Int64}, orient="row")


SURVEY_CACHE = ("survey_facts", "survey_hidden")


def _frames_digest(*frames: pl.DataFrame, extra: object = None) -> str:
    """A digest of the frames' contents (polars' row hashes, fixed seeds, so the polars version
    is part of it) and of ``extra``."""
    digest = hashlib.sha256(f"v1|{pl.__version__}|{extra!r}".encode())
    for frame in frames:
        digest.update(repr((frame.columns, frame.height)).encode())
        if frame.height:
            digest.update(frame.hash_rows(seed=0).sort().to_numpy().tobytes())
    return digest.hexdigest()


async def _survey_kept(r: dict[str, pl.DataFrame], parents: dict[int, int | None]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``_survey_facts`` and ``_survey_hidden``, kept in ``analytics_cache`` under a digest of the
    window's closed pulses, their published summaries and items and the department tree: closed
    pulses do not change, so a build parses their answer sums (30,000 JSON texts at 20,000
    people) only when a pulse closed or the tree moved."""
    state = _frames_digest(r["pulses"], r["pulse_summary"], r["pulse_items"], extra=sorted(parents.items()))
    rows = await db.fetch("SELECT name, fingerprint, payload FROM analytics_cache WHERE name IN ({}, {})", *SURVEY_CACHE)
    found = {row["name"]: row for row in rows if row["fingerprint"] == state}
    if len(found) == len(SURVEY_CACHE):
        try:
            facts, hidden = (pl.read_parquet(io.BytesIO(bytes(found[n]["payload"]))) for n in SURVEY_CACHE)
            return facts, hidden
        except (OSError, pl.exceptions.PolarsError):
            pass
    facts = _survey_facts(r)
    hidden = _survey_hidden(facts, parents)
    now = datetime.now(ZoneInfo("UTC"))
    for name, frame in zip(SURVEY_CACHE, (facts, hidden), strict=True):
        await _keep(name, state, frame, now)
    return facts, hidden


def _goal_facts(r: dict[str, pl.DataFrame], people: pl.DataFrame, w: _Window) -> pl.DataFrame:
    goals = r["goals"]
    if goals.is_empty():
        return pl.DataFrame(schema={DEPT: pl.Int64, MONTH: pl.Date, "g_n": pl.Int64, "g_sum": pl.Float64,
                                    "g_agreed": pl.Int64, "g_risk": pl.Int64})
    gm = (goals.join(w.month_ends(), how="cross")
          .filter((pl.col("starts_on") <= pl.col("on")) & (pl.col("deadline") >= pl.col(MONTH))))
    checks = r["check_ins"].sort("taken_on")
    gm = gm.sort("on").join_asof(checks, left_on="on", right_on="taken_on", by_left="id", by_right="goal",
                                 strategy="backward", check_sortedness=False)
    # progress_of: the distance the last check-in covered from baseline to target, 0-100.
    span = pl.col("target") - pl.col("baseline")
    progress = (pl.when(pl.col("value").is_null() | pl.col("baseline").is_null() | pl.col("target").is_null() | (span == 0))
                .then(0.0).otherwise(((pl.col("value") - pl.col("baseline")) / span * 100.0).clip(0.0, 100.0)))
    # expected_progress: even progress from start to deadline.
    length = (pl.col("deadline") - pl.col("starts_on")).dt.total_days()
    elapsed = (pl.col("on") - pl.col("starts_on")).dt.total_days()
    expected = (pl.when(pl.col("on") <= pl.col("starts_on")).then(0.0)
                .when(pl.col("on") >= pl.col("deadline")).then(100.0)
                .otherwise(elapsed / length * 100.0))
    # A goal counts as agreed in a month until its deadline has passed (achieved and missed
    # are decided then); is_at_risk only judges agreed goals.
    agreed = (pl.col("status") == "agreed") | (pl.col("deadline") >= pl.col("on"))
    at_risk = agreed & (((expected - progress) > AT_RISK_MARGIN) | pl.col("confidence").is_in(["at_risk", "off_track"]))
    gm = gm.with_columns(progress.alias("progress"), agreed.alias("agreed"), at_risk.fill_null(False).alias("at_risk"))
    by_person = (gm.filter(pl.col("owner_department").is_null())
                 .join(people.select("person", DEPT, MONTH), left_on=["owner_person", MONTH], right_on=["person", MONTH]))
    by_department = gm.filter(pl.col("owner_department").is_not_null()).with_columns(pl.col("owner_department").alias(DEPT))
    both = pl.concat([by_person.select(DEPT, MONTH, "progress", "agreed", "at_risk"),
                      by_department.select(DEPT, MONTH, "progress", "agreed", "at_risk")])
    return both.group_by(DEPT, MONTH).agg(pl.len().cast(pl.Int64).alias("g_n"), pl.col("progress").sum().alias("g_sum"),
                                          pl.col("agreed").sum().cast(pl.Int64).alias("g_agreed"),
                                          pl.col("at_risk").sum().cast(pl.Int64).alias("g_risk"))


def _facts(r: dict[str, pl.DataFrame], w: _Window) -> tuple[list[pl.DataFrame], dict[str, pl.DataFrame]]:
    """Additive facts per (department_id, month), and the raw rows of medians and distinct counts."""
    tz = w.tz
    assignments = r["assignments"]
    people = _people_months(assignments, w)
    facts = [_count(people, "hc")]

    sent = r["thanks_sent"].with_columns(_local_day("created_at", tz).alias("day"))
    sent = _department_on(sent, assignments, "sender", "day").with_columns(_month_of(pl.col("day")).alias(MONTH))
    facts.append(_count(_in_window(sent, w), "th_given"))
    received = r["thanks_received"].select(pl.col("department").alias(DEPT),
                                           _month_of(_local_day("created_at", tz)).alias(MONTH))
    facts.append(_count(_in_window(received, w), "th_received"))

    rewards = r["rewards"].select(pl.col("department").alias(DEPT), _month_of(_local_day("created_at", tz)).alias(MONTH),
                                  (pl.col("preference_rank") <= 3).fill_null(False).alias("top"))
    facts.append(_in_window(rewards, w).group_by(DEPT, MONTH).agg(pl.len().cast(pl.Int64).alias("rw_n"),
                                                                 pl.col("top").sum().cast(pl.Int64).alias("rw_top")))
    facts.append(_goal_facts(r, people, w))

    grants = (r["grants"].join(w.month_ends(), how="cross")
              .filter((pl.col("valid_from") <= pl.col("on")) & (pl.col("valid_until").is_null() | (pl.col("valid_until") >= pl.col("on")))
                      & (pl.col("revoked_at").is_null() | (_local_day("revoked_at", tz) > pl.col("on"))))
              .join(people.select("person", DEPT, MONTH), left_on=["grantee", MONTH], right_on=["person", MONTH]))
    facts.append(_count(grants, "au_grants"))
    uses = _department_on(r["uses"], assignments, "grantee", "used_on").with_columns(_month_of(pl.col("used_on")).alias(MONTH))
    facts.append(uses.group_by(DEPT, MONTH).agg(
        pl.len().cast(pl.Int64).alias("au_uses"),
        pl.col("amount").filter(pl.col("kind") == "money").sum().cast(pl.Int64).alias("au_spend")))

    scores = _in_window(r["scores"].rename({"department": DEPT}), w)
    facts.append(scores.rename({c: f"cs_{c}" for c in scores.columns if c not in (DEPT, MONTH)}))
    follow = _in_window(r["follow_ups"].rename({"department": DEPT}), w)
    facts.append(follow.select(DEPT, MONTH, pl.col("opened").alias("fu_opened"), pl.col("closed").fill_null(0).alias("fu_closed")))
    hours = follow.select(DEPT, MONTH, "hours")  # as text: parsed only for months whose medians are not kept
    for name, prefix in (("qa", "qa"), ("mystery", "ms")):
        q = r[name].with_columns(_month_text()).drop("m").rename({"department": DEPT})
        facts.append(q.rename({"n": f"{prefix}_n", "total": f"{prefix}_total"}))

    service = r["service"].with_columns(pl.col("month").alias(MONTH))
    for side, column in (("rec", "rater_department"), ("giv", "provider_department")):
        facts.append(service.group_by(pl.col(column).alias(DEPT), MONTH).agg(
            pl.col("ratings").sum().alias(f"{side}_ratings"), pl.col("overall").sum().alias(f"{side}_overall")))
    raw = {
        "hours": hours,
        "rec": service.select(pl.col("rater_department").alias(DEPT), MONTH, "people", "raters"),
        "giv": service.select(pl.col("provider_department").alias(DEPT), MONTH, "people", "raters"),
        "people": people,
    }
    return facts, raw


# --- rolling facts up to targets ------------------------------------------------------------------------


def _roll(facts: Iterable[pl.DataFrame], mapping: pl.DataFrame) -> pl.DataFrame:
    """Every fact summed per (target, month) through ``mapping`` (department_id → target)."""
    out = None
    for fact in facts:
        rolled = (fact.join(mapping, on=DEPT).group_by(TARGET, MONTH)
                  .agg(pl.exclude(DEPT, TARGET, MONTH).sum()))
        out = rolled if out is None else out.join(rolled, on=[TARGET, MONTH], how="full", coalesce=True)
    return out


def _distinct_shown(rows: pl.DataFrame, mapping: pl.DataFrame, k: int, name: str) -> pl.DataFrame:
    """(target, month, name): whether at least ``k`` distinct raters stand behind the target's
    ratings of the month. True when one summary row alone has ``k`` people; otherwise every row
    is small and the union of their ``raters`` lists is exact (``internal_service.summary``)."""
    joined = rows.join(mapping, on=DEPT)
    top = joined.group_by(TARGET, MONTH).agg(pl.col("people").max().alias("top"))
    small = top.filter(pl.col("top") < k).select(TARGET, MONTH)
    union = (joined.join(small, on=[TARGET, MONTH])
             .with_columns(pl.col("raters").str.split(",")).explode("raters").filter(pl.col("raters") != "")
             .group_by(TARGET, MONTH).agg(pl.col("raters").n_unique().alias("union")))
    return (top.join(union, on=[TARGET, MONTH], how="left")
            .select(TARGET, MONTH, ((pl.col("top") >= k) | (pl.col("union").fill_null(0) >= k)).alias(name)))


async def _service_hidden(until: date) -> tuple[int, pl.DataFrame]:
    """The minimum, and the (department, month, side) figures the internal service pages hide:
    below the minimum of distinct raters, or as a complement so no subtraction gives a hidden
    one back. Taken from ``internal_service.service.monthly_figures`` itself, so the panel never
    shows a figure the matrix and scorecards withhold."""
    from servicechain.internal_service import service as internal

    # The pages read the newest decision a job stored, which may be behind the ratings; the panel
    # sums the ratings as they are now, so it must hide by a decision made from the same ratings
    # (a stale one could leave a newly small group shown). When the stored figures are behind,
    # refresh_figures waits for (or runs, through the queue's claim) the period's figures job.
    await internal.refresh_figures(until)
    k = await internal.min_group()
    tree = await internal.Tree.load()
    rows: list[tuple[int, date, str]] = []
    for side in ("given", "received"):
        monthly = await internal.monthly_figures(side, until, k, tree)
        rows += [(d, first_of_month(m), side) for (d, m), f in monthly.figures.items() if f.hidden]
    return k, pl.DataFrame(rows, schema={TARGET: pl.Int64, MONTH: pl.Date, "side": pl.String}, orient="row")


SERVICE_CACHE = "internal_service_hidden:"  # + the month; one kept decision per month refreshed
SERVICE_SCHEMA = {TARGET: pl.Int64, MONTH: pl.Date, "side": pl.String}


async def _service_state(until: date) -> str:
    """Everything the internal service's hiding decision for ``until`` is made from, as one
    digest: the minimum, the summary's version (raised with every change of its rows), the
    rounds begun by then, the department tree (ids, parents, open or closed) and the decision's
    own code (a changed rule must not reuse a kept result). Read before the decision is made,
    so a result is never stored under a state newer than the data it came from."""
    from servicechain.internal_service import disclosure, summary
    from servicechain.internal_service import service as internal

    k = await internal.min_group()
    version = await summary.version()
    rounds = await db.fetch("SELECT id, opens_on, closes_on FROM internal_service_round WHERE opens_on <= {} ORDER BY id", until)
    tree = await db.fetch("SELECT id, parent, active FROM department ORDER BY id")
    digest = hashlib.sha256()
    for module in (internal, disclosure, summary):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(repr((until.isoformat(), k, version)).encode())
    digest.update(repr([(r["id"], str(r["opens_on"])[:10], str(r["closes_on"])[:10]) for r in rounds]).encode())
    digest.update(repr([(r["id"], r["parent"], bool(r["active"])) for r in tree]).encode())
    return f"v1:{k}:{digest.hexdigest()}"


async def _service_hidden_kept(until: date) -> tuple[int, pl.DataFrame]:
    """``_service_hidden``, kept in ``analytics_cache`` per month under ``_service_state``: the
    decision costs seconds at 20,000 people and lives only in a worker's memory, so a refresh
    in a new process (the CLI, another worker) or with unchanged ratings reads the kept result
    instead. In the database, not in memory: every worker reuses and replaces the same row."""
    name = f"{SERVICE_CACHE}{until:%Y-%m}"
    state = await _service_state(until)
    rows = await db.fetch("SELECT fingerprint, payload FROM analytics_cache WHERE name = {}", name)
    if rows and rows[0]["fingerprint"] == state:
        try:
            kept = pl.read_parquet(io.BytesIO(bytes(rows[0]["payload"])))
            if kept.schema == pl.Schema(SERVICE_SCHEMA):
                return int(state.split(":")[1]), kept
        except (OSError, pl.exceptions.PolarsError):
            pass
    k, hidden = await _service_hidden(until)
    if f"v1:{k}:" == state[: len(f"v1:{k}:")]:  # the minimum read with the state is the one decided with
        await _keep(name, state, hidden.sort(TARGET, MONTH, "side"), datetime.now(ZoneInfo("UTC")))
    return k, hidden


def _survey_rolled(survey: pl.DataFrame, mapping: pl.DataFrame, hidden: pl.DataFrame | None) -> pl.DataFrame:
    per_pulse = (survey.join(mapping, on=DEPT).group_by("pulse", TARGET, MONTH, "k")
                 .agg(pl.col(c).sum() for c in SURVEY_SUMS))
    per_pulse = per_pulse.filter(pl.col("sv_n") >= pl.col("k"))
    if hidden is not None:
        per_pulse = per_pulse.join(hidden.rename({DEPT: TARGET}), on=["pulse", TARGET], how="anti")
    return per_pulse.group_by(TARGET, MONTH).agg(pl.col(c).sum() for c in SURVEY_SUMS)


def _parse_hours(text: pl.DataFrame) -> pl.DataFrame:
    """(department_id, month, hours): one row per closed follow-up, from the comma-separated lists."""
    return (text.select(DEPT, MONTH, pl.col("hours").str.split(",")).explode("hours")
            .filter(pl.col("hours").is_not_null() & (pl.col("hours") != ""))
            .select(DEPT, MONTH, pl.col("hours").cast(pl.Float64).clip(lower_bound=0.0)))


def _median_hours(text: pl.DataFrame, mapping: pl.DataFrame) -> pl.DataFrame:
    """(target, month, fu_hours): the median hours of every closed follow-up below each target."""
    return (_parse_hours(text).join(mapping, on=DEPT).group_by(TARGET, MONTH)
            .agg(pl.col("hours").median().alias("fu_hours")))


MEDIANS_CACHE = "follow_up_medians:"  # + frame, units or company
MEDIANS_SCHEMA = {TARGET: pl.Int64, MONTH: pl.Date, "fu_hours": pl.Float64, "digest": pl.String}


def _hours_digests(text: pl.DataFrame) -> dict[date, str]:
    """Per month: a digest of its follow-up hours (every department's list, as read)."""
    joined = (text.sort(DEPT).group_by(MONTH, maintain_order=True)
              .agg(pl.format("{}:{};", pl.col(DEPT), pl.col("hours").fill_null("")).str.join("").alias("all")))
    return {m: hashlib.sha256(body.encode()).hexdigest() for m, body in joined.iter_rows()}


def _month_digests(hours: dict[date, str], mapping: pl.DataFrame) -> dict[date, str]:
    """Per month: a digest of its hours (``_hours_digests``) and of the department → target
    mapping, i.e. of everything the month's medians are made from."""
    pairs = hashlib.sha256(repr(mapping.select(DEPT, TARGET).sort(DEPT, TARGET).rows()).encode()).hexdigest()
    return {m: hashlib.sha256(f"v1|{pairs}|{h}".encode()).hexdigest() for m, h in hours.items()}


async def _median_hours_kept(text: pl.DataFrame, hours: dict[date, str], mapping: pl.DataFrame,
                             kind: str) -> pl.DataFrame:
    """``_median_hours``, kept in ``analytics_cache`` month by month: each month's medians with the
    digest of the hours and mapping they came from (``_month_digests``). A build computes only
    the months whose digest changed (new or closed follow-ups, a moved department), which on a
    nightly refresh is the running month and the late ones; the rest are read back. Medians
    cannot be summed up the tree, so computing them means joining a million hours to every
    ancestor: about a second of CPU at 20,000 people."""
    digests = _month_digests(hours, mapping)
    name = f"{MEDIANS_CACHE}{kind}"
    kept = None
    rows = await db.fetch("SELECT payload FROM analytics_cache WHERE name = {}", name)
    if rows:
        try:
            kept = pl.read_parquet(io.BytesIO(bytes(rows[0]["payload"])))
            kept = kept if kept.schema == pl.Schema(MEDIANS_SCHEMA) else None
        except (OSError, pl.exceptions.PolarsError):
            kept = None
    current = pl.DataFrame({MONTH: list(digests), "digest": list(digests.values())}, schema={MONTH: pl.Date, "digest": pl.String})
    reused = (kept.join(current, on=[MONTH, "digest"], how="semi") if kept is not None
              else pl.DataFrame(schema=MEDIANS_SCHEMA))
    done = set(reused[MONTH].unique().to_list())  # placeholders (below) count: their months are done
    stale = [m for m in digests if m not in done]
    if not stale:
        return reused.filter(pl.col(TARGET).is_not_null()).drop("digest")
    fresh = (_median_hours(text.filter(pl.col(MONTH).is_in(stale)), mapping)
             .with_columns(pl.col(MONTH).replace_strict(digests, return_dtype=pl.String).alias("digest")))
    # Months without a closed follow-up keep a row with a null median, so they count as done.
    empty = [m for m in stale if m not in set(fresh[MONTH].unique().to_list())]
    placeholder = pl.DataFrame({TARGET: [None] * len(empty), MONTH: empty, "fu_hours": [None] * len(empty),
                                "digest": [digests[m] for m in empty]}, schema=MEDIANS_SCHEMA)
    out = pl.concat([reused, fresh.select(list(MEDIANS_SCHEMA)).cast(MEDIANS_SCHEMA), placeholder])
    await _keep(name, "v1", out.sort(MONTH, TARGET, nulls_last=True), datetime.now(ZoneInfo("UTC")))
    return out.filter(pl.col(TARGET).is_not_null()).drop("digest")


def _assemble(grid: pl.DataFrame, parts: list[pl.DataFrame], company_activity: pl.DataFrame) -> pl.DataFrame:
    out = grid
    for part in parts:
        out = out.join(part, on=[TARGET, MONTH], how="left")
    out = out.join(company_activity, on=MONTH, how="left")
    return _figures(out)


def _safe_ratio(num: pl.Expr, den: pl.Expr, scale: float = 1.0) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64) * scale).otherwise(None)


def _figures(df: pl.DataFrame) -> pl.DataFrame:
    """The metric columns from the summed facts. Per-head and count metrics are 0 where the
    company had such events that month but the target had none, and null in months when
    nobody had any (the module was not in use: absence of data is not zero)."""
    def num(name: str, default=0) -> pl.Expr:
        return pl.col(name).fill_null(default) if name in df.columns else pl.lit(default)

    def to_100(total: str, count: str) -> pl.Expr:
        return ((_safe_ratio(num(total), num(count)) - 1.0) / 4.0 * 100.0)

    hc = num("hc")
    per_head = lambda count, any_col: pl.when(pl.col(any_col) & (hc > 0)).then(num(count) / hc).otherwise(None)  # noqa: E731
    columns = {
        "headcount": hc.cast(pl.Int64),
        "respondents": pl.when(num("sv_n") > 0).then(num("sv_n")).otherwise(None).cast(pl.Int64),
        "engagement": to_100("sv_sum", "sv_cnt"),
        "enps": _safe_ratio(num("sv_prom") - num("sv_detr"), num("sv_n"), 100.0),
        **{f"trait_{t}": to_100(f"sv_sum_{t}", f"sv_cnt_{t}") for t in TRAIT_ORDER},
        "service_received": pl.when(num("rec_shown", False)).then(_safe_ratio(num("rec_overall"), num("rec_ratings"))).otherwise(None),
        "service_given": pl.when(num("giv_shown", False)).then(_safe_ratio(num("giv_overall"), num("giv_ratings"))).otherwise(None),
        "thanks_given": per_head("th_given", "any_thanks"),
        "thanks_received": per_head("th_received", "any_thanks"),
        "reward_preference_match": _safe_ratio(num("rw_top"), num("rw_n"), 100.0),
        "goal_progress": _safe_ratio(num("g_sum"), num("g_n")),
        "goals_at_risk": _safe_ratio(num("g_risk"), num("g_agreed"), 100.0),
        "authority_grants": per_head("au_grants", "any_grants"),
        "authority_uses": pl.when(pl.col("any_uses") & (hc > 0)).then(num("au_uses").cast(pl.Float64))
                            .when(num("au_uses") > 0).then(num("au_uses").cast(pl.Float64)).otherwise(None),
        "authority_spend": pl.when(pl.col("any_uses") & (hc > 0)).then(num("au_spend") / 100.0)
                             .when(num("au_uses") > 0).then(num("au_spend") / 100.0).otherwise(None),
        "csat": _safe_ratio(num("cs_csat_ok"), num("cs_csat_n"), 100.0),
        "nps": _safe_ratio(num("cs_promoters") - num("cs_detractors"), num("cs_nps_n"), 100.0),
        "qa_score": _safe_ratio(num("qa_total"), num("qa_n")),
        "mystery_score": _safe_ratio(num("ms_total"), num("ms_n")),
        "low_score_share": _safe_ratio(num("cs_low"), num("cs_n"), 100.0),
        "follow_up_rate": _safe_ratio(num("fu_closed"), num("fu_opened"), 100.0),
        "follow_up_hours": pl.col("fu_hours") if "fu_hours" in df.columns else pl.lit(None),
    }
    counts = {
        "csat_n": num("cs_csat_n"), "nps_n": num("cs_nps_n"), "qa_score_n": num("qa_n"), "mystery_score_n": num("ms_n"),
        "low_score_share_n": num("cs_n"), "follow_up_rate_n": num("fu_opened"), "follow_up_hours_n": num("fu_closed"),
    }
    assert set(counts) == {f"{k}_n" for k in CUSTOMER}
    return df.select(
        pl.col(TARGET).alias(DEPT).cast(pl.Int64), pl.col(MONTH),
        columns["headcount"].alias("headcount"), columns["respondents"].alias("respondents"),
        # Rounded far below any shown decimal: parallel float sums may differ in the last bit
        # between runs, and the same data should store the same bytes.
        *(columns[k].cast(pl.Float64).round(9).alias(k) for k in METRIC_KEYS),
        *(v.cast(pl.Int64).alias(k) for k, v in counts.items()),
    ).sort(DEPT, MONTH)


# --- units -------------------------------------------------------------------------------------------


def _units(departments: pl.DataFrame, own_size: pl.DataFrame, months: list[date], k: int) -> dict[int, int]:
    """Each department with people → the unit it falls in. ``own_size`` gives per (department,
    month) the department's own size (respondents when there are pulses, else headcount).
    Bottom-up: a department and what is still unplaced below it form a unit when their size
    reaches ``k`` in at least half of the months with data; otherwise they go up to the
    parent. What is left at a root joins the root's unit."""
    sizes: dict[int, dict[date, int]] = {}
    for d, m, n in own_size.iter_rows():
        sizes.setdefault(d, {})[m] = sizes.get(d, {}).get(m, 0) + n
    active_months = sorted({m for per in sizes.values() for m, n in per.items() if n})
    need = (len(active_months) + 1) // 2
    ids = departments["id"].to_list()
    parents = dict(zip(ids, departments["parent"].to_list(), strict=True))
    children: dict[int | None, list[int]] = {}
    for d in ids:
        children.setdefault(parents[d] if parents[d] in parents else None, []).append(d)
    unit: dict[int, int] = {}

    def walk(node: int) -> tuple[list[int], dict[date, int]]:
        """What is still unplaced at ``node`` and its size per month (summed on the way up,
        not again for every group)."""
        pending = [node] if node in sizes else []
        total = dict(sizes.get(node, {}))
        for child in sorted(children.get(node, [])):
            below, size = walk(child)
            pending += below
            for m, n in size.items():
                total[m] = total.get(m, 0) + n
        if pending and active_months and sum(1 for m in active_months if total.get(m, 0) >= k) >= need:
            for d in pending:
                unit[d] = node
            return [], {}
        return pending, total

    for root in sorted(children.get(None, [])):
        for d in walk(root)[0]:
            unit[d] = root
    return unit


# --- the panel -----------------------------------------------------------------------------------------


async def build_panel(until: date, months: int = 24) -> Panel:
    """The panel of the ``months`` calendar months ending with ``until``'s month. Reads committed
    data only (its own connections); no permission check: callers decide who sees it."""
    w = _window(until, months)
    (service_k, service_hidden), r, scores, follow_ups = await asyncio.gather(
        _service_hidden_kept(min(w.end - timedelta(days=1), w.today)), _read(_queries(w)), _score_months(), _follow_up_months())
    r["scores"], r["follow_ups"] = scores, follow_ups
    settings = get_settings()
    # The minimum the window's pulses were run with (each pulse keeps its own); today's setting
    # only when there were none.
    min_group = int(r["pulses"]["min_group_size"].max()) if len(r["pulses"]) else settings.min_group_size

    depts = r["departments"]
    ancestors = (depts.select(pl.col("id").alias(DEPT), pl.col("path").str.strip_chars("/").str.split("/").alias(TARGET))
                 .explode(TARGET).filter(pl.col(TARGET) != "").with_columns(pl.col(TARGET).cast(pl.Int64))
                 .filter(pl.col(TARGET).is_in(depts["id"].implode())))
    to_company = depts.select(pl.col("id").alias(DEPT), pl.lit(0, dtype=pl.Int64).alias(TARGET))

    facts, raw = _facts(r, w)
    parents = dict(zip(depts["id"].to_list(), depts["parent"].to_list(), strict=True))
    survey, hidden = await _survey_kept(r, parents)

    # Units: own respondents per month when pulses exist, else own headcount.
    if survey.is_empty():
        own_size = facts[0].select(DEPT, MONTH, "hc")
    else:
        own_size = survey.group_by(DEPT, MONTH).agg(pl.col("sv_n").sum())
    unit_of = _units(depts, own_size, w.months, min_group)
    to_unit = pl.DataFrame({DEPT: list(unit_of), TARGET: list(unit_of.values())}, schema={DEPT: pl.Int64, TARGET: pl.Int64})

    company_sums = _roll(facts, to_company)
    activity = company_sums.select(
        MONTH,
        (pl.col("th_given").fill_null(0) + pl.col("th_received").fill_null(0) > 0).alias("any_thanks"),
        (pl.col("au_grants").fill_null(0) > 0).alias("any_grants"),
        (pl.col("au_uses").fill_null(0) > 0).alias("any_uses"),
    )
    activity = w.grid().join(activity, on=MONTH, how="left").fill_null(False)

    hours_digests = _hours_digests(raw["hours"])
    medians = await asyncio.gather(*(_median_hours_kept(raw["hours"], hours_digests, mapping, kind) for mapping, kind in
                                     ((ancestors, "frame"), (to_unit, "units"), (to_company, "company"))))

    def build(mapping: pl.DataFrame, targets: list[int], survey_hidden: pl.DataFrame | None,
              service_withheld: pl.DataFrame | None, hours: pl.DataFrame) -> pl.DataFrame:
        grid = pl.DataFrame({TARGET: targets}, schema={TARGET: pl.Int64}).join(w.grid(), how="cross")
        shown = []
        for side, name in (("rec", "received"), ("giv", "given")):
            flags = _distinct_shown(raw[side], mapping, service_k, f"{side}_shown")
            if service_withheld is not None:
                withheld = service_withheld.filter(pl.col("side") == name).select(TARGET, MONTH, pl.lit(True).alias("off"))
                flags = (flags.join(withheld, on=[TARGET, MONTH], how="left")
                         .select(TARGET, MONTH, pl.col(f"{side}_shown") & pl.col("off").is_null()))
            shown.append(flags)
        parts = [_roll(facts, mapping), _survey_rolled(survey, mapping, survey_hidden),
                 hours, *shown]
        return _assemble(grid, parts, activity)

    frame = build(ancestors, depts["id"].to_list(), hidden, service_hidden, medians[0])
    units = build(to_unit, sorted(set(unit_of.values())), None, None, medians[1])
    company = build(to_company, [0], None, None, medians[2]).drop(DEPT)

    unit_ids = set(unit_of.values())
    has_unit_below: set[int] = set()
    for row in ancestors.filter(pl.col(DEPT).is_in(list(unit_ids))).iter_rows(named=True):
        has_unit_below.add(row[TARGET])
    department_unit: dict[int, int | None] = {}
    by_depth = sorted(depts.iter_rows(named=True), key=lambda x: x["depth"])
    for row in by_depth:
        d = row["id"]
        if d in unit_of:
            department_unit[d] = unit_of[d]
        elif d in has_unit_below:
            department_unit[d] = None  # above units
        else:
            department_unit[d] = department_unit.get(row["parent"]) if row["parent"] is not None else None
    child_parents = set(depts["parent"].drop_nulls().to_list())
    departments = depts.select(
        pl.col("id").alias(DEPT), pl.col("parent").alias("parent_id"), "name_en", "name_ru", "depth",
        pl.col("id").is_in(list(child_parents)).not_().alias("is_leaf"),
        pl.col("id").replace_strict(department_unit, default=None, return_dtype=pl.Int64).alias("unit_id"),
    ).sort(DEPT)
    return Panel(frame=frame, units=units, company=company, departments=departments, until=until, months=months,
                 min_group=min_group)
