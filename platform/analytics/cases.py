"""Authority use and the customer's score of the same case, against similar cases without one.

A *case* is a customer score's ``case_ref``; it *has an authority use* when ``authority_use``
holds the same ``case_ref``. The score that can reflect the use is one given after the case's
first use (``given_on > used_on``); scores on or before it are the complaint that led to the use
(reported as ``before_mean``, never compared). Scores of cases without any use are the controls.

Each score with a use is compared only with controls of its *stratum*: the same department (as
stored on the score), channel and month. Strata without a control drop out (``matched`` counts
what remains). The controls' mean is weighted to the with-use scores' strata, so a department or
month with many uses does not weigh the comparison by its controls' number:

    difference = mean(with use) − Σ_s (n_use,s / N_use) · mean(control in s)

Its 95 % interval is Welch's: variance mean(with use) = s²_use / N_use (around the overall mean,
which is conservative), variance of the weighted control mean = σ²_c · Σ_s (n_use,s / N_use)² /
n_c,s with σ²_c pooled within strata, Welch–Satterthwaite degrees of freedom. Fewer than
``MIN_CASES`` matched scores on either side: ``too_small``, no figure.

This is an association among cases as they happened; the cases someone chose to use authority on
differ from others in ways no stratum removes. The report says so and claims no effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy import stats

from servicechain.platform import db
from servicechain.platform.analytics.panel import SATISFIED_SQL

CONFIDENCE = 0.95
MIN_CASES = 10  # matched scores needed on each side
MEASURES = ("csat", "low_score_share")

SCORES_SCHEMA = {
    "score_id": pl.Int64,
    "case_ref": pl.String,
    "given_on": pl.Date,
    "channel": pl.String,
    "department_id": pl.Int64,
    "csat": pl.Float64,
    "low": pl.Boolean,
    "first_use": pl.Date,
}


@dataclass
class OutcomeDifference:
    measure: str  # "csat" (percent of scores that were satisfied) or "low_score_share" (percent that were low)
    with_use_n: int  # matched scores given after an authority use on their case
    without_n: int  # control scores in the same strata
    with_use_mean: float | None
    without_mean: float | None  # weighted to the with-use scores' strata
    difference: float | None  # with use − without, in the measure's units (points, percentage points)
    ci: tuple[float, float] | None  # 95 %, Welch
    p: float | None
    too_small: bool  # fewer than MIN_CASES on a side: no figures
    before_n: int  # the same cases' scores on or before the use (the complaint)
    before_mean: float | None


@dataclass
class CaseComparison:
    since: date
    until: date
    department_ids: tuple[int, ...] | None
    cases: int  # cases with a score after an authority use in the window
    matched_cases: int  # of them, with at least one control in their stratum
    strata: int  # (department, channel, month) strata holding both sides
    csat: OutcomeDifference
    low_score_share: OutcomeDifference
    min_cases: int = MIN_CASES

    # The headline is CSAT; these read it without reaching into ``csat``.
    @property
    def difference(self) -> float | None:
        return self.csat.difference

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.csat.ci

    @property
    def n_with(self) -> int:
        return self.csat.with_use_n

    @property
    def n_without(self) -> int:
        return self.csat.without_n

    @property
    def too_small(self) -> bool:
        return self.csat.too_small


# --- the comparison (pure) ---------------------------------------------------------------------

# Control scores, summed per stratum: for each measure its count, sum and sum of squares.
CONTROLS_SCHEMA = {
    "department_id": pl.Int64,
    "channel": pl.String,
    "month": pl.Date,
    "csat_n": pl.Int64,
    "csat_sum": pl.Float64,
    "csat_sumsq": pl.Float64,
    "low_n": pl.Int64,
    "low_sum": pl.Float64,  # low scores; as a share in percent, each counts 100
}


def _stratum(month: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [pl.col("department_id").cast(pl.String), pl.col("channel"), month.cast(pl.String)], separator="|"
    ).alias("stratum")


def _control_sums(controls: pl.DataFrame) -> pl.DataFrame:
    """Per-score controls (SCORES_SCHEMA rows) summed per stratum like CONTROLS_SCHEMA."""
    low = pl.col("low").cast(pl.Float64)
    return controls.group_by("department_id", "channel", pl.col("given_on").dt.truncate("1mo").alias("month")).agg(
        pl.col("csat").count().cast(pl.Int64).alias("csat_n"),
        pl.col("csat").sum().cast(pl.Float64).alias("csat_sum"),
        (pl.col("csat") ** 2).sum().cast(pl.Float64).alias("csat_sumsq"),
        pl.col("low").count().cast(pl.Int64).alias("low_n"),
        low.sum().alias("low_sum"),
    ).select(list(CONTROLS_SCHEMA)).cast(CONTROLS_SCHEMA)


def _per_stratum(sums: pl.DataFrame, measure: str) -> pl.DataFrame:
    """stratum, n_c, sum_c, sumsq_c of one measure (low-score share in percent)."""
    if measure == "csat":
        n, total, squares = pl.col("csat_n"), pl.col("csat_sum"), pl.col("csat_sumsq")
    else:  # a 0/100 variable: its squares sum to 100 × its sum
        n, total, squares = pl.col("low_n"), pl.col("low_sum") * 100, pl.col("low_sum") * 10_000
    return sums.select(_stratum(pl.col("month")), n.alias("n_c"), total.alias("sum_c"), squares.alias("sumsq_c")).filter(
        pl.col("n_c") > 0
    ).group_by("stratum").agg(pl.col("n_c").sum(), pl.col("sum_c").sum(), pl.col("sumsq_c").sum())


def _stratified(with_use: pl.DataFrame, per_c: pl.DataFrame, y: str) -> dict:
    """with_use carries a `stratum` and the measure `y` (no nulls); per_c the controls' sums."""
    matched = with_use.join(per_c.select("stratum"), on="stratum", how="semi")
    per_t = matched.group_by("stratum").agg(pl.len().alias("n_t")).join(per_c, on="stratum")
    n_t, n_c = matched.height, int(per_t.get_column("n_c").sum() or 0)
    out = {"n_t": n_t, "n_c": n_c, "matched": matched, "mean_t": None, "mean_c": None,
           "difference": None, "ci": None, "p": None, "too_small": n_t < MIN_CASES or n_c < MIN_CASES}
    if n_t == 0 or out["too_small"]:
        return out
    yt = matched.get_column(y).to_numpy().astype(np.float64)
    w = per_t.get_column("n_t").to_numpy() / n_t
    nc = per_t.get_column("n_c").to_numpy().astype(np.float64)
    sc, qc = per_t.get_column("sum_c").to_numpy(), per_t.get_column("sumsq_c").to_numpy()
    mean_t = float(yt.mean())
    mean_c = float((w * sc / nc).sum())
    difference = mean_t - mean_c
    out |= {"mean_t": mean_t, "mean_c": mean_c, "difference": difference}
    var_t = float(yt.var(ddof=1))
    df_c = float((nc - 1).sum())
    if df_c >= 1:  # pooled within strata
        var_c = float(np.maximum(qc - sc * sc / nc, 0).sum()) / df_c
    else:  # every stratum holds one control: their spread around their overall mean
        total_n, total = float(nc.sum()), float(sc.sum())
        var_c, df_c = max(float(qc.sum()) - total * total / total_n, 0.0) / (total_n - 1), total_n - 1
    v1 = var_t / n_t
    v2 = var_c * float((w * w / nc).sum())
    se = (v1 + v2) ** 0.5
    if not se > 0:
        return out
    df = (v1 + v2) ** 2 / ((v1 * v1 / (n_t - 1) if v1 else 0.0) + (v2 * v2 / df_c if v2 else 0.0))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * se
    out["ci"] = (difference - half, difference + half)
    out["p"] = float(2 * stats.t.sf(abs(difference) / se, df))
    return out


def _compare(use_scores: pl.DataFrame, control_sums: pl.DataFrame) -> tuple[OutcomeDifference, OutcomeDifference, dict]:
    """use_scores: SCORES_SCHEMA rows of cases with a use; control_sums: CONTROLS_SCHEMA rows."""
    frame = use_scores.filter(pl.col("first_use").is_not_null()).with_columns(
        _stratum(pl.col("given_on").dt.truncate("1mo")),
        (pl.col("low").cast(pl.Float64) * 100).alias("low_score_share"),
    )
    after = frame.filter(pl.col("given_on") > pl.col("first_use"))
    before = frame.filter(pl.col("given_on") <= pl.col("first_use"))
    results, matched_cases, strata = [], set(), set()
    for measure in MEASURES:
        s = _stratified(after.filter(pl.col(measure).is_not_null()), _per_stratum(control_sums, measure), measure)
        cases = s["matched"].get_column("case_ref").unique()
        matched_cases |= set(cases.to_list())
        strata |= set(s["matched"].get_column("stratum").to_list())
        prior = before.filter(pl.col("case_ref").is_in(cases.implode()) & pl.col(measure).is_not_null())
        results.append(OutcomeDifference(
            measure=measure, with_use_n=s["n_t"], without_n=s["n_c"],
            with_use_mean=s["mean_t"], without_mean=s["mean_c"],
            difference=s["difference"], ci=s["ci"], p=s["p"], too_small=s["too_small"],
            before_n=prior.height,
            before_mean=float(prior.get_column(measure).mean()) if prior.height and not s["too_small"] else None,
        ))
    counts = {"cases": after.get_column("case_ref").n_unique(), "matched_cases": len(matched_cases),
              "strata": len(strata)}
    return results[0], results[1], counts


def compare(scores: pl.DataFrame) -> tuple[OutcomeDifference, OutcomeDifference, dict[str, int]]:
    """The comparison on scores shaped like SCORES_SCHEMA (one row per score with a case_ref;
    ``first_use`` = the day of the case's first authority use, null without one).

    Returns (csat, low_score_share, counts) where counts holds cases, matched_cases and strata.
    """
    frame = scores.filter(pl.col("case_ref").is_not_null() & (pl.col("case_ref") != ""))
    controls = frame.filter(pl.col("first_use").is_null())
    return _compare(frame.filter(pl.col("first_use").is_not_null()), _control_sums(controls))


# --- reading -----------------------------------------------------------------------------------


def _queries(since: date, until: date, department_ids: Iterable[int] | None, postgres: bool) -> dict:
    """Two reads: the scores of cases with a use (few), with their case's first use; and the
    other cases' scores summed per stratum (department, channel, month). Whether a case had a use: SQLite builds an index of the uses' case refs
    once for IN / NOT IN; PostgreSQL gets EXISTS, which it runs as a hashed (anti-)join, where a
    NOT IN too large for work_mem would be scanned per score. A subtree's departments let the
    (department, given_on) index narrow the scan; the whole company reads the window in order."""
    where = f"s.given_on >= '{since.isoformat()}' AND s.given_on <= '{until.isoformat()}' AND s.case_ref <> ''"
    if department_ids is not None:
        ids = sorted({int(i) for i in department_ids}) or [-1]
        where = f"s.department IN ({', '.join(map(str, ids))}) AND {where}"
    if postgres:
        used = "EXISTS (SELECT 1 FROM authority_use a WHERE a.case_ref = s.case_ref)"
        unused = f"NOT {used}"
    else:
        used = "s.case_ref IN (SELECT case_ref FROM authority_use WHERE case_ref IS NOT NULL)"
        unused = "s.case_ref NOT IN (SELECT case_ref FROM authority_use WHERE case_ref IS NOT NULL)"
    # CSAT per score as satisfied (100) or not (0): its mean is the product's CSAT, the share of
    # satisfied scores, and the difference in means is in percentage points.
    # (A float, not PostgreSQL's numeric, which the driver hands over as decimals.)
    sat = (f"CAST(CASE WHEN s.csat IS NULL AND s.csat_good IS NULL THEN NULL ELSE 100 * ({SATISFIED_SQL}) END"
           " AS DOUBLE PRECISION)")
    use_scores = (
        f"SELECT s.id AS score_id, s.case_ref, s.given_on, s.channel, s.department AS department_id, {sat} AS csat, s.low, "
        "(SELECT MIN(a.used_on) FROM authority_use a WHERE a.case_ref = s.case_ref) AS first_use "
        f"FROM customer_score s WHERE {where} AND {used}"
    )
    # The controls summed per stratum in the database: for the report's month at 20,000 people
    # (215,000 control scores) this took the read from 1.4 s to 0.75 s on SQLite, most of which is
    # the scan itself; moving every row into Python cost more than SQLite's GROUP BY sort.
    month = "CAST(date_trunc('month', s.given_on) AS date)" if postgres else "substr(s.given_on, 1, 7) || '-01'"
    low = "CASE WHEN s.low THEN 1 ELSE 0 END" if postgres else "s.low"
    controls = (
        f"SELECT s.department AS department_id, s.channel, {month} AS month, COUNT({sat}) AS csat_n,"
        f" SUM({sat}) AS csat_sum, SUM({sat} * {sat}) AS csat_sumsq, COUNT(s.low) AS low_n, SUM({low}) AS low_sum"
        f" FROM customer_score s WHERE {where} AND {unused} GROUP BY s.department, s.channel, {month}"
    )
    return {"use_scores": (use_scores, SCORES_SCHEMA), "controls": (controls, CONTROLS_SCHEMA)}


async def authority_outcomes(since: date, until: date, department_ids: Iterable[int] | None = None) -> CaseComparison:
    """Customer scores of cases after an authority use against similar cases without one (same
    department, channel and month), for scores given from ``since`` to ``until`` inclusive.

    ``department_ids``: only scores stored on these departments (a manager's subtree: pass all of
    it); None = the whole company. Reads committed data through the panel's reader. Permissions
    are the caller's (analytics capabilities)."""
    from servicechain.platform.analytics.panel import read_frames

    ids = None if department_ids is None else tuple(sorted({int(i) for i in department_ids}))
    frames = await read_frames(_queries(since, until, ids, db.engine().engine_type == "postgres"))
    csat, low, counts = _compare(frames["use_scores"], frames["controls"])
    return CaseComparison(since=since, until=until, department_ids=ids, csat=csat, low_score_share=low, **counts)
