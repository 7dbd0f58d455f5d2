"""The service-profit chain: how each people-side metric goes with each customer-side metric.

Pure statistics on the department-month panel (``Panel.units``: one row per analysis unit and
month, one Float64 column per metric, null where there is no figure or the anonymity minimum
hides it). No database, no translation: the report and the dashboards turn what is returned here
into words, and they never claim causation (``method_summary`` carries that caveat as data).

Lag L pairs the people metric of month t with the customer metric of month t+L of the same unit.
Two views of each pair and lag:

* "across" (between units): each unit's mean of the people metric over the months it has a pair
  for, against its mean of the customer metric L months later; Pearson and Spearman across units.
* "within" (department fixed effects): both series demeaned per unit over the paired months, the
  pooled demeaned values correlated; the sample loses one per unit. Spearman here is the
  pooled correlation of within-unit ranks (each metric ranked over the unit's months in the
  window, then demeaned over the paired months like the values): an average within-unit rank
  correlation. Ranks are not recomputed per pair, so where two metrics miss different months it
  is close to, not exactly, Spearman's coefficient on the paired months.

p is two-sided from a t statistic. Across: the classical t of Pearson's r, n-2 degrees of freedom.
Within: the t of the fixed-effects slope with a cluster-robust (by unit) standard error and
units-1 degrees of freedom. A unit's months are not independent: a department's engagement and
scores drift for months, and the classical t on pooled demeaned months (n-units-1 df) then calls
about one independent pair in five significant at 5 % (AR(1) 0.7, tests/analytics/test_chain.py);
the cluster-robust t holds its level. q is Benjamini–Hochberg over every pair, lag and view that
produced a p. The 95 % intervals use Fisher's z with standard error 1/sqrt(n-3); Spearman's the
Bonett–Wright sqrt((1 + r²/2)/(n-3)). Within, n counts unit-months, the intervals use the effective
n - units + 1, widened by the design effect (cluster-robust over classical variance of the slope).

A unit takes part in a pair only with at least ``MIN_UNIT_MONTHS`` months holding both figures.
A pair is ``too_small`` (no figures at all) with fewer than ``MIN_UNITS_ACROSS`` such units across,
or fewer than ``MIN_UNITS_WITHIN`` units or an effective n under ``MIN_EFFECTIVE_N`` within.
A pair whose values do not vary has figures None but is not too small.

The elasticity is the slope of the fixed-effects regression of the customer metric (t+L) on the
people metric (t): one point more of the people metric goes with ``slope`` points of the customer
metric within a unit. Its interval is cluster-robust by unit (CR1: G/(G-1)·(N-1)/(N-2), t with
G-1 degrees of freedom) — the same t as the within p, so a within pair is significant before
correction exactly when this interval leaves out zero. Simulated with 3 to 200 units, independent
or drifting months, the test keeps 5-6 % false positives at 5 %.

Everything is computed for all pairs at once with numpy on a unit × month × metric grid: per unit
sums come from batched matrix products, so 1,400 units × 24 months × 18 × 7 metrics × 4 lags take
well under a second (bench/chain.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import polars as pl
from scipy import special, stats

View = Literal["across", "within"]
VIEWS: tuple[View, ...] = ("across", "within")
CONFIDENCE = 0.95
MIN_UNIT_MONTHS = 6  # paired months a unit needs to take part in a pair
MIN_UNITS_ACROSS = 10  # units with a pair, across
MIN_UNITS_WITHIN = 3  # units with a pair, within
MIN_EFFECTIVE_N = 10  # within: unit-months less one per unit, plus one
FOLLOW_PEOPLE_SD = 0.5  # a follower's people metric moved at least this many panel SDs
FOLLOW_CUSTOMER_SD = 0.25  # ... and its customer metric this many, in the pair's direction
_TINY = 1e-9  # relative variance below which a series counts as constant
# A scatter chart draws at most this many points, chosen at random with a fixed seed, so the
# dashboards and the monthly report draw the same ones every time: at 20,000 people a pair has
# 21,000-28,000 department-months, whose dots made a 4 MB chart (a 27 MB page) and took
# WeasyPrint minutes to set, overlapping anyway. The fitted line uses every point.
SCATTER_POINTS = 600
SCATTER_SEED = 20261


@dataclass
class PairResult:
    people: str
    customer: str
    lag: int
    view: View
    n: int  # units across; unit-months within
    departments: int  # units taking part
    pearson: float | None
    pearson_ci: tuple[float, float] | None
    spearman: float | None
    spearman_ci: tuple[float, float] | None
    p: float | None  # two-sided t test: Pearson's r across, the cluster-robust FE slope within
    q: float | None  # Benjamini–Hochberg over every pair tested
    significant: bool  # q <= alpha
    too_small: bool  # n below what can say anything; every figure is None then


@dataclass
class Elasticity:
    people: str
    customer: str
    lag: int
    slope: float  # customer points per people point, within units
    ci: tuple[float, float]  # 95 %, cluster-robust by unit
    n: int  # unit-months
    departments: int  # units (clusters)


@dataclass
class Follower:
    department_id: int
    people_change: float  # last quarter of the window minus the first, metric points
    customer_change: float  # the same, `lag` months later
    lag: int


@dataclass
class ChainResult:
    pairs: list[PairResult]
    elasticities: list[Elasticity]  # for the pairs that matter, in their order
    followers: dict[tuple[str, str], list[Follower]]  # for the pairs that matter
    alpha: float
    tested: int  # p-values that entered the correction
    units: int = 0
    months: list[date] = field(default_factory=list)
    people: tuple[str, ...] = ()
    customer: tuple[str, ...] = ()
    lags: tuple[int, ...] = ()
    # every (people, customer, lag) with an elasticity, for elasticity_for()
    all_elasticities: dict[tuple[str, str, int], Elasticity] = field(default_factory=dict, repr=False)


# --- the grid --------------------------------------------------------------------------------


@dataclass
class _Grid:
    ids: np.ndarray  # (G,) department ids
    months: list[date]  # (T,) first days, consecutive
    people: np.ndarray  # (G, T, P) NaN = no figure
    customer: np.ndarray  # (G, T, C)


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _month_from_index(i: int) -> date:
    return date(i // 12, i % 12 + 1, 1)


def _values(frame: pl.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """The metric columns as float64 with NaN for null; a key the frame lacks is all NaN."""
    cols = [
        pl.col(k).cast(pl.Float64).alias(k) if k in frame.columns else pl.lit(None, pl.Float64).alias(k)
        for k in keys
    ]
    if not keys:
        return np.empty((frame.height, 0))
    out = np.array(frame.select(cols).to_numpy(), dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def _grid(units: pl.DataFrame, people: Sequence[str], customer: Sequence[str]) -> _Grid:
    frame = units.filter(pl.col("department_id").is_not_null() & pl.col("month").is_not_null())
    if frame.height == 0:
        empty = np.empty((0, 0, 0))
        return _Grid(np.empty(0, np.int64), [], empty.reshape(0, 0, len(people)), empty.reshape(0, 0, len(customer)))
    frame = frame.with_columns(
        (pl.col("month").dt.year().cast(pl.Int64) * 12 + pl.col("month").dt.month().cast(pl.Int64) - 1).alias("_m")
    )
    ids = np.sort(frame.get_column("department_id").unique().to_numpy())
    first, last = int(frame.get_column("_m").min()), int(frame.get_column("_m").max())
    g = np.searchsorted(ids, frame.get_column("department_id").to_numpy())
    t = frame.get_column("_m").to_numpy() - first
    shape = (len(ids), last - first + 1)
    p = np.full((*shape, len(people)), np.nan)
    c = np.full((*shape, len(customer)), np.nan)
    p[g, t] = _values(frame, people)
    c[g, t] = _values(frame, customer)
    return _Grid(ids, [_month_from_index(first + i) for i in range(shape[1])], p, c)


def _centre(a: np.ndarray) -> np.ndarray:
    """Subtract each metric's median: sums of squares stay accurate for large-valued metrics
    (spend in roubles) and a constant series becomes exact zeros."""
    if a.size == 0 or np.isnan(a).all():
        return a
    with np.errstate(all="ignore"), _quiet():
        med = np.nanmedian(a.reshape(-1, a.shape[-1]), axis=0)
    return a - np.where(np.isnan(med), 0.0, med)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _rank(a: np.ndarray, axis: int) -> np.ndarray:
    """Average ranks (1-based) along ``axis``, NaN left NaN; vectorised, unlike rankdata's omit."""
    if a.size == 0:
        return a.astype(np.float64, copy=True)
    moved = np.moveaxis(a, axis, -1)
    shape = moved.shape
    flat = np.ascontiguousarray(moved).reshape(-1, shape[-1])
    order = np.argsort(flat, axis=-1)  # NaN sort last; ties are averaged below, so any order
    s = np.take_along_axis(flat, order, axis=-1)
    n = s.shape[-1]
    pos = np.arange(n, dtype=np.float64)
    new = np.ones(s.shape, bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    # first and last position of each run of equal values
    start = np.maximum.accumulate(np.where(new, pos, 0.0), axis=-1)
    last = np.ones(s.shape, bool)
    last[:, :-1] = new[:, 1:]
    end = np.minimum.accumulate(np.where(last, pos, np.inf)[:, ::-1], axis=-1)[:, ::-1]
    ranks_sorted = (start + end) / 2 + 1
    ranks_sorted[np.isnan(s)] = np.nan
    out = np.empty_like(ranks_sorted)
    np.put_along_axis(out, order, ranks_sorted, axis=-1)
    return np.moveaxis(out.reshape(shape), -1, axis)


@dataclass
class _Sums:
    """Per-unit sums over the paired months, one entry per (unit, people, customer)."""

    n: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray


def _unit_sums(x: np.ndarray, y: np.ndarray) -> _Sums:
    """x (G, T, P), y (G, T, C) aligned month by month -> sums (G, P, C) over months where both
    exist. Batched matrix products over the month axis do all pairs at once."""
    mx, my = ~np.isnan(x), ~np.isnan(y)
    x0, y0 = np.where(mx, x, 0.0), np.where(my, y, 0.0)
    mxf, myf = mx.astype(np.float64), my.astype(np.float64)
    xt, mxt = x0.transpose(0, 2, 1), mxf.transpose(0, 2, 1)
    return _Sums(
        n=np.rint(mxt @ myf),
        sx=xt @ myf,
        sy=mxt @ y0,
        sxx=(xt * xt) @ myf,
        syy=mxt @ (y0 * y0),
        sxy=xt @ y0,
    )


def _clip_var(v: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.where(v <= _TINY * np.maximum(scale, 1e-300), 0.0, v)


@dataclass
class _ViewStats:
    """Pearson and Spearman for one view and lag, arrays (P, C)."""

    n: np.ndarray
    units: np.ndarray
    r: np.ndarray
    rs: np.ndarray
    df: np.ndarray  # t-test degrees of freedom
    n_eff: np.ndarray  # n for Fisher's z
    too_small: np.ndarray
    t: np.ndarray | None = None  # the test statistic when it is not r's classical t (within)
    deff: np.ndarray | None = None  # design effect widening the intervals (within)


@dataclass
class _Within:
    """Fixed-effects sums, kept for the elasticity."""

    cxx: np.ndarray  # (G, P, C) centred per unit
    cxy: np.ndarray
    wxx: np.ndarray  # (P, C)
    wyy: np.ndarray
    wxy: np.ndarray
    n: np.ndarray
    units: np.ndarray


def _within(s: _Sums, valid: np.ndarray) -> _Within:
    with np.errstate(all="ignore"):
        nn = np.where(valid, s.n, 1.0)
        cxx = np.where(valid, s.sxx - s.sx * s.sx / nn, 0.0)
        cyy = np.where(valid, s.syy - s.sy * s.sy / nn, 0.0)
        cxy = np.where(valid, s.sxy - s.sx * s.sy / nn, 0.0)
    cxx = _clip_var(cxx, np.where(valid, s.sxx, 0.0))
    cyy = _clip_var(cyy, np.where(valid, s.syy, 0.0))
    wxx, wyy = cxx.sum(0), cyy.sum(0)
    wxx = _clip_var(wxx, np.where(valid, s.sxx, 0.0).sum(0))
    wyy = _clip_var(wyy, np.where(valid, s.syy, 0.0).sum(0))
    return _Within(cxx, cxy, wxx, wyy, cxy.sum(0), np.where(valid, s.n, 0).sum(0), valid.sum(0))


def _corr(sxy: np.ndarray, sxx: np.ndarray, syy: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    r[(sxx <= 0) | (syy <= 0)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _cluster_robust(w: _Within) -> dict[str, np.ndarray]:
    """The FE slope b, its CR1 cluster-robust standard error (clusters = units) and the classical
    one, arrays (P, C). Months of one unit are not independent (engagement drifts for months),
    so only the cluster-robust error is trusted for inference."""
    g, n = w.units.astype(np.float64), w.n.astype(np.float64)
    with np.errstate(all="ignore"):
        b = np.where(w.wxx > 0, w.wxy / w.wxx, np.nan)
        score = w.cxy - b[None] * w.cxx  # Σ_t x̃·e per unit
        corr = g / (g - 1) * (n - 1) / (n - 2)
        se = np.sqrt(corr * (score * score).sum(0)) / w.wxx
        resid = np.maximum(w.wyy - b * b * w.wxx, 0.0)
        se_ols = np.sqrt(resid / (n - g - 1) / w.wxx)
    return {"b": b, "se": se, "se_ols": se_ols, "g": g}


def _within_view(s: _Sums, ranks: _Sums, valid: np.ndarray) -> tuple[_ViewStats, _Within, dict[str, np.ndarray]]:
    w = _within(s, valid)
    wr = _within(ranks, valid)
    n, g = w.n, w.units
    too_small = (g < MIN_UNITS_WITHIN) | (n - g + 1 < MIN_EFFECTIVE_N)
    cr = _cluster_robust(w)
    with np.errstate(all="ignore"):
        t = np.abs(cr["b"]) / cr["se"]
        t = np.where(cr["se"] > 0, t, np.where(np.abs(cr["b"]) > 0, np.inf, np.nan))
        deff = (cr["se"] / cr["se_ols"]) ** 2
    deff = np.where(np.isfinite(deff) & (deff > 0), deff, 1.0)
    view = _ViewStats(
        n=n, units=g, r=_corr(w.wxy, w.wxx, w.wyy), rs=_corr(wr.wxy, wr.wxx, wr.wyy),
        df=g - 1, n_eff=n - g + 1, too_small=too_small, t=t, deff=deff,
    )
    return view, w, cr


def _pearson_across(mx: np.ndarray, my: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Correlation across units of (G, P, C) arrays, using only valid units."""
    k = valid.sum(0)
    with np.errstate(all="ignore"):
        ax = np.where(valid, mx, 0.0).sum(0) / k
        ay = np.where(valid, my, 0.0).sum(0) / k
        dx = np.where(valid, mx - ax, 0.0)
        dy = np.where(valid, my - ay, 0.0)
        sxx, syy = (dx * dx).sum(0), (dy * dy).sum(0)
    scale_x = np.where(valid, mx * mx, 0.0).sum(0)
    scale_y = np.where(valid, my * my, 0.0).sum(0)
    return _corr((dx * dy).sum(0), _clip_var(sxx, scale_x), _clip_var(syy, scale_y))


def _across_view(s: _Sums, valid: np.ndarray) -> tuple[_ViewStats, np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        mx = np.where(valid, s.sx / s.n, np.nan)
        my = np.where(valid, s.sy / s.n, np.nan)
    k = valid.sum(0)
    r = _pearson_across(mx, my, valid)
    rs = _pearson_across(_rank(mx, 0), _rank(my, 0), valid)
    view = _ViewStats(n=k, units=k, r=r, rs=rs, df=k - 2, n_eff=k, too_small=k < MIN_UNITS_ACROSS)
    return view, mx, my


# --- inference ---------------------------------------------------------------------------------


def _fisher_ci(r: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    zc = special.ndtri(0.5 + CONFIDENCE / 2)
    with np.errstate(all="ignore"):
        z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
        return np.tanh(z - zc * se), np.tanh(z + zc * se)


def _inference(v: _ViewStats) -> dict[str, np.ndarray]:
    deff = np.ones_like(v.r) if v.deff is None else v.deff
    with np.errstate(all="ignore"):
        df = np.maximum(v.df, 1).astype(np.float64)
        if v.t is None:
            r2 = np.minimum(v.r * v.r, 1.0)
            t = np.where(r2 >= 1.0, np.inf, np.abs(v.r) * np.sqrt(df / (1.0 - r2)))
        else:
            t = v.t
        p = 2 * special.stdtr(df, -t)  # = 2·stats.t.sf(t, df), without its per-call overhead
        se = np.sqrt(deff / np.maximum(v.n_eff - 3, 1))
        se_s = np.sqrt(deff * (1 + v.rs * v.rs / 2) / np.maximum(v.n_eff - 3, 1))
    lo, hi = _fisher_ci(v.r, se)
    slo, shi = _fisher_ci(v.rs, se_s)
    bad = v.too_small | np.isnan(v.r)
    p = np.where(bad, np.nan, p)
    return {"p": p, "lo": lo, "hi": hi, "slo": slo, "shi": shi}


def _elasticities(cr: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The FE slope with its cluster-robust 95 % interval (t with units - 1 degrees of freedom)."""
    with np.errstate(all="ignore"):
        tc = special.stdtrit(np.maximum(cr["g"] - 1, 1), 0.5 + CONFIDENCE / 2)  # stats.t.ppf
    return {"b": cr["b"], "lo": cr["b"] - tc * cr["se"], "hi": cr["b"] + tc * cr["se"]}


def _bh(p: np.ndarray) -> np.ndarray:
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


# --- the analysis ------------------------------------------------------------------------------


def _opt(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _pair_tuple(lo: float, hi: float) -> tuple[float, float] | None:
    return None if not (np.isfinite(lo) and np.isfinite(hi)) else (float(lo), float(hi))


def _lagged(grid: _Grid, lag: int) -> tuple[np.ndarray, np.ndarray]:
    t = len(grid.months)
    if lag >= t:
        g = len(grid.ids)
        return np.empty((g, 0, grid.people.shape[2])), np.empty((g, 0, grid.customer.shape[2]))
    return grid.people[:, : t - lag], grid.customer[:, lag:]


def analyse(
    units: pl.DataFrame,
    people: Sequence[str],
    customer: Sequence[str],
    lags: Sequence[int] = (0, 1, 2, 3),
    alpha: float = 0.05,
) -> ChainResult:
    """Every people × customer pair at every lag, across and within units, BH-corrected.

    ``units`` is ``Panel.units`` (department_id, month, one column per metric key); a key it lacks
    counts as a metric with no figures. Pure and deterministic.
    """
    people, customer, lags = tuple(people), tuple(customer), tuple(sorted({int(x) for x in lags}))
    if any(x < 0 for x in lags):
        raise ValueError("lags are months of delay, 0 or more")
    if not 0 < alpha < 1:
        raise ValueError("alpha is a probability between 0 and 1")
    grid = _grid(units, people, customer)
    px, cy = _centre(grid.people), _centre(grid.customer)
    centred = _Grid(grid.ids, grid.months, px, cy)
    # within-unit ranks of each metric over the whole window, for the within-unit Spearman
    ranked = _Grid(grid.ids, grid.months, _rank(px, 1), _rank(cy, 1))

    collected: list[tuple[int, View, _ViewStats, dict[str, np.ndarray]]] = []
    slopes: dict[int, dict[str, np.ndarray]] = {}
    within_by_lag: dict[int, _Within] = {}
    for lag in lags:
        x, y = _lagged(centred, lag)
        s = _unit_sums(x, y)
        valid = s.n >= MIN_UNIT_MONTHS
        ranks = _unit_sums(*_lagged(ranked, lag))
        across, _mx, _my = _across_view(s, valid)
        within, w, cr = _within_view(s, ranks, valid)
        within_by_lag[lag] = w
        slopes[lag] = _elasticities(cr)
        collected.append((lag, "across", across, _inference(across)))
        collected.append((lag, "within", within, _inference(within)))

    all_p = np.concatenate([inf["p"].ravel() for *_, inf in collected]) if collected else np.empty(0)
    all_q = _bh(all_p)
    size = len(people) * len(customer)
    for i, (_lag, _view, _v, inf) in enumerate(collected):
        inf["q"] = all_q[i * size : (i + 1) * size].reshape(len(people), len(customer))

    by_key: dict[tuple[int, View], tuple[_ViewStats, dict[str, np.ndarray]]] = {
        (lag, view): (v, inf) for lag, view, v, inf in collected
    }
    pairs: list[PairResult] = []
    for i, pk in enumerate(people):
        for j, ck in enumerate(customer):
            for lag in lags:
                for view in VIEWS:
                    v, inf = by_key[(lag, view)]
                    pairs.append(_pair(pk, ck, lag, view, v, inf, i, j, alpha))

    table: dict[tuple[str, str, int], Elasticity] = {}
    for lag in lags:
        w, e = within_by_lag[lag], slopes[lag]
        v = by_key[(lag, "within")][0]
        for i, pk in enumerate(people):
            for j, ck in enumerate(customer):
                if v.too_small[i, j] or not np.isfinite(e["b"][i, j]) or not np.isfinite(e["lo"][i, j]):
                    continue
                table[(pk, ck, lag)] = Elasticity(
                    pk, ck, lag, float(e["b"][i, j]), (float(e["lo"][i, j]), float(e["hi"][i, j])),
                    int(w.n[i, j]), int(w.units[i, j]),
                )

    result = ChainResult(
        pairs=pairs, elasticities=[], followers={}, alpha=alpha, tested=int((~np.isnan(all_p)).sum()),
        units=len(grid.ids), months=grid.months, people=people, customer=customer, lags=lags,
        all_elasticities=table,
    )
    # the pairs any page or report is likely to show: the top six with and without spreading over
    # metrics, and every significant relationship
    matter = (pairs_that_matter(result) + pairs_that_matter(result, per_metric=2)
              + pairs_that_matter(result, limit=None, only_significant=True))
    for pr in matter:
        key = (pr.people, pr.customer, pr.lag)
        if key in table and table[key] not in result.elasticities:
            result.elasticities.append(table[key])
        if (pr.people, pr.customer) not in result.followers:
            result.followers[(pr.people, pr.customer)] = _followers(
                grid, people.index(pr.people), customer.index(pr.customer), pr.lag, pr.pearson or 0.0
            )
    return result


def _pair(pk, ck, lag, view, v: _ViewStats, inf, i, j, alpha) -> PairResult:
    n, units = int(v.n[i, j]), int(v.units[i, j])
    if v.too_small[i, j]:
        return PairResult(pk, ck, lag, view, n, units, None, None, None, None, None, None, False, True)
    r, rs, q = _opt(v.r[i, j]), _opt(v.rs[i, j]), _opt(inf["q"][i, j])
    return PairResult(
        people=pk, customer=ck, lag=lag, view=view, n=n, departments=units,
        pearson=r, pearson_ci=_pair_tuple(inf["lo"][i, j], inf["hi"][i, j]) if r is not None else None,
        spearman=rs, spearman_ci=_pair_tuple(inf["slo"][i, j], inf["shi"][i, j]) if rs is not None else None,
        p=_opt(inf["p"][i, j]), q=q, significant=q is not None and q <= alpha, too_small=False,
    )


def pairs_that_matter(
    result: ChainResult, limit: int | None = 6, *, only_significant: bool = False, per_metric: int | None = None
) -> list[PairResult]:
    """The pairs to chart: significant first, then by |r|; one entry per (people, customer) —
    its strongest lag and view — so six charts show six different relationships.

    ``per_metric``: at most that many entries for any one metric on either side (the four pulse
    traits move with engagement, which they make up, and would otherwise fill every slot against
    the same customer score); slots left empty are filled from the rest in the same order."""
    usable = [p for p in result.pairs if not p.too_small and p.pearson is not None]
    if only_significant:
        usable = [p for p in usable if p.significant]
    usable.sort(key=lambda p: (not p.significant, -abs(p.pearson), p.q if p.q is not None else 1.0, p.lag))
    seen: set[tuple[str, str]] = set()
    ranked: list[PairResult] = []
    for p in usable:
        if (p.people, p.customer) not in seen:
            seen.add((p.people, p.customer))
            ranked.append(p)
    if per_metric is None:
        return ranked if limit is None else ranked[:limit]
    chosen: list[PairResult] = []
    uses: dict[str, int] = {}
    for p in ranked:
        if uses.get(p.people, 0) < per_metric and uses.get(p.customer, 0) < per_metric:
            chosen.append(p)
            uses[p.people] = uses.get(p.people, 0) + 1
            uses[p.customer] = uses.get(p.customer, 0) + 1
    if limit is None:
        return chosen
    chosen = chosen[:limit]
    rest = [p for p in ranked if p not in chosen]
    fill = rest[: limit - len(chosen)]
    return sorted(chosen + fill, key=ranked.index)


CHARTED_PAIRS = 6


def charted_pairs(result: ChainResult) -> list[PairResult]:
    """The pairs the dashboards and the monthly report chart, the same ones in both: the six
    strongest, at most two for any one metric (the four pulse traits make up engagement and
    would otherwise fill every slot against one customer score)."""
    return pairs_that_matter(result, CHARTED_PAIRS, per_metric=2)


def elasticity_for(result: ChainResult, people: str, customer: str, lag: int | None = None) -> Elasticity | None:
    """The elasticity of one pair (e.g. engagement → csat for the Sears-style headline); without
    ``lag``, at the lag whose within-unit test has the smallest p. None when too small."""
    if lag is not None:
        return result.all_elasticities.get((people, customer, lag))
    within = [
        p for p in result.pairs
        if p.people == people and p.customer == customer and p.view == "within" and p.p is not None
    ]
    for p in sorted(within, key=lambda p: (p.p, p.lag)):
        if (people, customer, p.lag) in result.all_elasticities:
            return result.all_elasticities[(people, customer, p.lag)]
    return None


# --- followers ---------------------------------------------------------------------------------


def _followers(grid: _Grid, i: int, j: int, lag: int, r: float) -> list[Follower]:
    """Units whose people metric moved at least FOLLOW_PEOPLE_SD panel SDs between the first and
    the last quarter of the window, and whose customer metric moved at least FOLLOW_CUSTOMER_SD
    SDs `lag` months later in the direction of the pair's correlation (the same direction when r
    is positive). Quarter = a fourth of the paired window; each needs half its months present."""
    x, y = _lagged(grid, lag)
    x, y = x[:, :, i], y[:, :, j]
    t = x.shape[1]
    quarter = t // 4
    if quarter < 1 or len(grid.ids) == 0 or r == 0:
        return []
    need = max(1, (quarter + 1) // 2)
    with np.errstate(all="ignore"), _quiet():
        sd_x, sd_y = np.nanstd(grid.people[:, :, i]), np.nanstd(grid.customer[:, :, j])

        def change(a):
            first, last = a[:, :quarter], a[:, t - quarter :]
            ok = ((~np.isnan(first)).sum(1) >= need) & ((~np.isnan(last)).sum(1) >= need)
            return np.where(ok, np.nanmean(last, 1) - np.nanmean(first, 1), np.nan)

        dx, dy = change(x), change(y)
    if not (np.isfinite(sd_x) and sd_x > 0 and np.isfinite(sd_y) and sd_y > 0):
        return []
    sign = 1.0 if r > 0 else -1.0
    moved = (np.abs(dx) >= FOLLOW_PEOPLE_SD * sd_x) & (np.sign(dy) == sign * np.sign(dx))
    moved &= np.abs(dy) >= FOLLOW_CUSTOMER_SD * sd_y
    idx = np.flatnonzero(np.nan_to_num(moved, nan=False))
    idx = idx[np.argsort(-np.abs(dx[idx] / sd_x), kind="stable")]
    return [Follower(int(grid.ids[k]), float(dx[k]), float(dy[k]), lag) for k in idx]


def find_followers(units: pl.DataFrame, people: str, customer: str, lag: int, *, direction: int = 1) -> list[Follower]:
    """Followers of any one pair and lag (``ChainResult.followers`` holds those of the pairs that
    matter only): ``direction`` +1 when the customer metric should move the same way as the
    people metric, -1 the opposite way (use the sign of the pair's r)."""
    grid = _grid(units, (people,), (customer,))
    return _followers(grid, 0, 0, lag, float(direction))


# --- charts and method -------------------------------------------------------------------------


def scatter_points(
    units: pl.DataFrame, people: str, customer: str, lag: int, view: View
) -> pl.DataFrame:
    """The points behind one pair's chart: x (people metric), y (customer metric `lag` months
    later), department_id, month (the people month; null across).

    Across: one point per unit, its means over the paired months. Within: one point per
    unit-month, each value minus its unit's mean plus the pair's overall mean, so the axes keep
    the metric's units and the least-squares line (``fit_line``) is exactly the elasticity.
    Only units that take part in the pair (MIN_UNIT_MONTHS paired months) appear.
    """
    if view not in VIEWS:
        raise ValueError(f"view is one of {', '.join(VIEWS)}, not {view!r}")
    if lag < 0:
        raise ValueError("lag is months of delay, 0 or more")
    schema = {"x": pl.Float64, "y": pl.Float64, "department_id": pl.Int64, "month": pl.Date}
    grid = _grid(units, (people,), (customer,))
    x, y = _lagged(grid, lag)
    x, y = x[:, :, 0], y[:, :, 0]
    both = ~np.isnan(x) & ~np.isnan(y)
    keep = both.sum(1) >= MIN_UNIT_MONTHS
    if not keep.any():
        return pl.DataFrame(schema=schema)
    x, y, both, ids = x[keep], y[keep], both[keep], grid.ids[keep]
    with np.errstate(all="ignore"), _quiet():
        mx = np.nanmean(np.where(both, x, np.nan), 1)
        my = np.nanmean(np.where(both, y, np.nan), 1)
    if view == "across":
        return pl.DataFrame(
            {"x": mx, "y": my, "department_id": ids.astype(np.int64), "month": [None] * len(ids)}, schema=schema
        )
    gx, gy = x[both].mean(), y[both].mean()
    g_idx, t_idx = np.nonzero(both)
    return pl.DataFrame(
        {
            "x": x[g_idx, t_idx] - mx[g_idx] + gx,
            "y": y[g_idx, t_idx] - my[g_idx] + gy,
            "department_id": ids[g_idx].astype(np.int64),
            "month": [grid.months[k] for k in t_idx],
        },
        schema=schema,
    )


def fit_line(points: pl.DataFrame) -> tuple[float, float] | None:
    """Least-squares (slope, intercept) of y on x, for scatter_chart's ``fit``; None under 3
    points or with x constant."""
    if points.height < 3:
        return None
    x, y = points.get_column("x").to_numpy(), points.get_column("y").to_numpy()
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx <= _TINY * float(x @ x):
        return None
    slope = float(dx @ (y - y.mean())) / sxx
    return slope, float(y.mean() - slope * x.mean())


@dataclass(frozen=True)
class Scatter:
    """One pair's chart as the dashboards and the report draw it."""

    drawn: pl.DataFrame  # the points drawn (scatter_points' columns): all, or SCATTER_POINTS of them
    total: int  # every point of the pair
    fit: tuple[float, float] | None  # fit_line over every point, not only those drawn

    @property
    def sampled(self) -> bool:
        return self.drawn.height < self.total


def scatter(units: pl.DataFrame, people: str, customer: str, lag: int, view: View) -> Scatter:
    """The points to draw for one pair and the line fitted to all of them: the one rule for the
    dashboards' charts and the report's, so both show the same dots and the same line."""
    points = scatter_points(units, people, customer, lag, view).drop_nulls(["x", "y"])
    drawn = points if points.height <= SCATTER_POINTS else points.sample(SCATTER_POINTS, seed=SCATTER_SEED)
    return Scatter(drawn=drawn, total=points.height, fit=fit_line(points))


def method_summary(result: ChainResult) -> dict:
    """What was tested and how, as data for the report's method page (which words it in the
    reader's language). ``causal_claim`` is False: the figures show association only."""
    usable = [p for p in result.pairs if not p.too_small]
    return {
        "people_metrics": len(result.people),
        "customer_metrics": len(result.customer),
        "metric_pairs": len(result.people) * len(result.customer),
        "lags": list(result.lags),
        "views": list(VIEWS),
        "tested": result.tested,
        "reported": len(usable),
        "too_small": len(result.pairs) - len(usable),
        "significant": sum(p.significant for p in result.pairs),
        "alpha": result.alpha,
        "confidence": CONFIDENCE,
        "correction": "benjamini_hochberg",
        "p_value_across": "pearson_t",
        "p_value_within": "cluster_robust_t",
        "interval": "fisher_z",
        "interval_within": "fisher_z_design_effect",
        "spearman_interval": "bonett_wright",
        "within": "unit_fixed_effects",
        "elasticity_interval": "cluster_robust_by_unit",
        "units": result.units,
        "months": len(result.months),
        "first_month": result.months[0] if result.months else None,
        "last_month": result.months[-1] if result.months else None,
        "min_unit_months": MIN_UNIT_MONTHS,
        "min_units_across": MIN_UNITS_ACROSS,
        "min_units_within": MIN_UNITS_WITHIN,
        "min_effective_n_within": MIN_EFFECTIVE_N,
        "follower_people_sd": FOLLOW_PEOPLE_SD,
        "follower_customer_sd": FOLLOW_CUSTOMER_SD,
        "follower_window": "first_and_last_quarter",
        "causal_claim": False,
    }
