"""The chain's statistics on generated panels: a planted lagged effect is found inside its stated
intervals, data with no effect yields no more significant pairs than Benjamini–Hochberg allows,
the figures match a plain one-pair computation, and too little data says so instead of a figure.

Pure functions on polars frames shaped like ``Panel.units``; no database, no HTTP.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from scipy import stats

from servicechain.platform.analytics import chain

ALPHA = 0.05


def months(n: int, first: date = date(2024, 11, 1)) -> list[date]:
    start = first.year * 12 + first.month - 1
    return [date((start + i) // 12, (start + i) % 12 + 1, 1) for i in range(n)]


def frame(columns: dict[str, np.ndarray], n_months: int, ids: np.ndarray | None = None) -> pl.DataFrame:
    """A units frame from (units, months) arrays, NaN -> null as the panel has it."""
    units = next(iter(columns.values())).shape[0]
    ids = np.arange(101, 101 + units) if ids is None else ids
    data = {"department_id": np.repeat(ids, n_months), "month": months(n_months) * units}
    data |= {k: v.ravel() for k, v in columns.items()}
    return pl.DataFrame(data).with_columns(pl.col("department_id").cast(pl.Int64)).fill_nan(None)


def planted(units=40, n_months=24, lag=2, b=0.5, sd_people=1.0, sd_noise=1.0, seed=20261124):
    """engagement(t) = unit level + N(0, sd_people); csat(t+lag) = unit level + b·engagement(t)
    + N(0, sd_noise); enps and nps are unrelated noise with unit levels of their own."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0, 1, (units, 1))
    people = 60 + 5 * level + rng.normal(0, sd_people, (units, n_months + lag))
    csat = 3.5 + 0.5 * rng.normal(0, 1, (units, 1)) + b * (people[:, :n_months] - 60)
    csat += rng.normal(0, sd_noise, (units, n_months))
    return frame(
        {
            "engagement": people[:, lag:],  # month m of the frame holds people[m + lag]
            "enps": rng.normal(0, 20, (units, 1)) + rng.normal(0, 10, (units, n_months)),
            "csat": csat,  # month m holds b·people[m]: engagement of month m - lag
            "nps": rng.normal(30, 10, (units, 1)) + rng.normal(0, 5, (units, n_months)),
        },
        n_months,
    )


def find(result: chain.ChainResult, people: str, customer: str, lag: int, view: str) -> chain.PairResult:
    (pair,) = [
        p for p in result.pairs if (p.people, p.customer, p.lag, p.view) == (people, customer, lag, view)
    ]
    return pair


# --- a planted effect --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted_result() -> chain.ChainResult:
    return chain.analyse(planted(), ["engagement", "enps"], ["csat", "nps"], alpha=ALPHA)


def test_planted_lag_two_effect_is_significant_within_and_across(planted_result):
    for view in ("within", "across"):
        pair = find(planted_result, "engagement", "csat", 2, view)
        assert pair.significant and pair.q <= ALPHA and pair.pearson > 0
    top = chain.pairs_that_matter(planted_result, limit=1)[0]
    assert (top.people, top.customer, top.significant) == ("engagement", "csat", True)


def test_planted_within_interval_holds_the_true_correlation(planted_result):
    # Within a unit the levels cancel: corr(e, b·e + noise) = b·sd_p / sqrt(b²·sd_p² + sd_n²).
    true_r = 0.5 * 1.0 / math.sqrt(0.5**2 * 1.0**2 + 1.0**2)
    pair = find(planted_result, "engagement", "csat", 2, "within")
    low, high = pair.pearson_ci
    assert low < true_r < high
    assert pair.n == 40 * 22 and pair.departments == 40
    # Spearman here is a pooled within-unit rank correlation, which short series (22 months)
    # pull below the population 6/π·asin(r/2); it agrees in sign and says something.
    assert 0 < pair.spearman_ci[0] < pair.spearman < pair.spearman_ci[1] < 1
    assert abs(pair.spearman - pair.pearson) < 0.1


def test_planted_elasticity_interval_holds_the_slope(planted_result):
    elasticity = chain.elasticity_for(planted_result, "engagement", "csat")
    assert elasticity.lag == 2
    assert elasticity.ci[0] < 0.5 < elasticity.ci[1]
    assert elasticity.ci[1] - elasticity.ci[0] < 0.3  # an interval that says something
    assert (elasticity.n, elasticity.departments) == (880, 40)
    assert elasticity in planted_result.elasticities


def test_planted_effect_only_at_its_lag_within(planted_result):
    # Engagement is independent month to month, so within a unit only lag 2 carries it. (Whether
    # a null pair is *significant* here depends on the seed: with five true discoveries BH's
    # threshold loosens, as it should; so the bound is on r, at n = 880 about 4 SE.)
    for lag in (0, 1, 3):
        assert abs(find(planted_result, "engagement", "csat", lag, "within").pearson) < 0.15
    for p in planted_result.pairs:
        if (p.people == "enps" or p.customer == "nps") and p.view == "within":
            assert abs(p.pearson) < 0.15


def test_pairs_that_matter_lists_each_relationship_once_significant_first(planted_result):
    pairs = chain.pairs_that_matter(planted_result, limit=6)
    assert len(pairs) == 4  # four people × customer combinations
    assert len({(p.people, p.customer) for p in pairs}) == 4
    flags = [p.significant for p in pairs]
    assert flags == sorted(flags, reverse=True) and flags[0]
    assert ("engagement", "csat") in planted_result.followers


def test_scatter_points_fit_is_the_elasticity_within_and_one_point_per_unit_across(planted_result):
    units = planted()
    within = chain.scatter_points(units, "engagement", "csat", 2, "within")
    assert within.columns == ["x", "y", "department_id", "month"]
    assert within.height == 880
    slope, _ = chain.fit_line(within)
    assert slope == pytest.approx(chain.elasticity_for(planted_result, "engagement", "csat", 2).slope)
    # the people month t is paired with the customer month t + 2
    first = within.filter(pl.col("department_id") == 101).get_column("month").min()
    assert first == date(2024, 11, 1)
    across = chain.scatter_points(units, "engagement", "csat", 2, "across")
    assert across.height == 40 and across.get_column("department_id").n_unique() == 40
    r = np.corrcoef(across.get_column("x").to_numpy(), across.get_column("y").to_numpy())[0, 1]
    assert r == pytest.approx(find(planted_result, "engagement", "csat", 2, "across").pearson)


def test_method_summary_is_data_with_the_no_causation_caveat(planted_result):
    summary = chain.method_summary(planted_result)
    assert summary["tested"] == planted_result.tested == 2 * 2 * 4 * 2
    assert summary["metric_pairs"] == 4 and summary["lags"] == [0, 1, 2, 3]
    assert summary["correction"] == "benjamini_hochberg" and summary["alpha"] == ALPHA
    assert summary["causal_claim"] is False
    assert summary["significant"] == sum(p.significant for p in planted_result.pairs)
    assert summary["first_month"] == date(2024, 11, 1) and summary["months"] == 24
    assert all(isinstance(v, (int, float, str, list, date, type(None))) for v in summary.values())


# --- the same figures as a plain computation of one pair --------------------------------------


def test_figures_match_a_plain_computation_with_gaps():
    rng = np.random.default_rng(7)
    units, n_months, lag = 14, 15, 1
    x = rng.normal(50, 8, (units, 1)) + rng.normal(0, 4, (units, n_months))
    y = rng.normal(4, 0.4, (units, 1)) + rng.normal(0, 0.3, (units, n_months))
    y[:, lag:] += 0.04 * x[:, :-lag]
    x[rng.random(x.shape) < 0.15] = np.nan
    y[rng.random(y.shape) < 0.15] = np.nan
    x[3, :10] = np.nan  # too few paired months: unit 104 takes no part
    result = chain.analyse(frame({"engagement": x, "csat": y}, n_months), ["engagement"], ["csat"], lags=(lag,))

    xs, ys, gs = [], [], []
    for g in range(units):
        a, b = x[g, : n_months - lag], y[g, lag:]
        ok = ~np.isnan(a) & ~np.isnan(b)
        if ok.sum() >= chain.MIN_UNIT_MONTHS:
            xs.append(a[ok]), ys.append(b[ok]), gs.append(g)
    mx, my = [v.mean() for v in xs], [v.mean() for v in ys]

    across = find(result, "engagement", "csat", lag, "across")
    assert across.n == across.departments == len(gs) == units - 1
    assert across.pearson == pytest.approx(stats.pearsonr(mx, my).statistic)
    assert across.p == pytest.approx(stats.pearsonr(mx, my).pvalue)
    assert across.spearman == pytest.approx(stats.spearmanr(mx, my).statistic)
    z, se = math.atanh(across.pearson), 1 / math.sqrt(len(gs) - 3)
    assert across.pearson_ci == pytest.approx((math.tanh(z - 1.959964 * se), math.tanh(z + 1.959964 * se)))

    # Within: least squares with one dummy per unit, its slope and a CR1 sandwich by unit.
    n, k = sum(len(v) for v in xs), len(gs)
    design = np.zeros((n, 1 + k))
    design[:, 0] = np.concatenate(xs)
    design[np.arange(n), 1 + np.repeat(np.arange(k), [len(v) for v in xs])] = 1
    yy = np.concatenate(ys)
    beta, *_ = np.linalg.lstsq(design, yy, rcond=None)
    resid = yy - design @ beta
    sigma2 = resid @ resid / (n - k - 1)
    bread = np.linalg.inv(design.T @ design)
    within = find(result, "engagement", "csat", lag, "within")
    assert within.n == n and within.departments == k
    demeaned_x = np.concatenate([v - v.mean() for v in xs])
    demeaned_y = np.concatenate([v - v.mean() for v in ys])
    assert within.pearson == pytest.approx(np.corrcoef(demeaned_x, demeaned_y)[0, 1])

    meat = np.zeros((1 + k, 1 + k))
    start = 0
    for v in xs:
        score = design[start : start + len(v)].T @ resid[start : start + len(v)]
        meat += np.outer(score, score)
        start += len(v)
    cr1 = k / (k - 1) * (n - 1) / (n - 2)
    se_slope = math.sqrt(cr1 * (bread @ meat @ bread)[0, 0])
    half = stats.t.ppf(0.975, k - 1) * se_slope
    elasticity = chain.elasticity_for(result, "engagement", "csat", lag)
    assert elasticity.slope == pytest.approx(beta[0])
    assert elasticity.ci == pytest.approx((beta[0] - half, beta[0] + half))
    # p is the same cluster-robust t test (units - 1 degrees of freedom), and r's interval is
    # Fisher's widened by the design effect (cluster-robust over classical variance of the slope)
    assert within.p == pytest.approx(2 * stats.t.sf(abs(beta[0]) / se_slope, k - 1))
    deff = se_slope**2 / (sigma2 * bread[0, 0])
    z, se = math.atanh(within.pearson), math.sqrt(deff / (n - k - 2))
    assert within.pearson_ci == pytest.approx((math.tanh(z - 1.959964 * se), math.tanh(z + 1.959964 * se)))


def test_q_is_benjamini_hochberg_over_every_pair_lag_and_view():
    rng = np.random.default_rng(3)
    data = {k: rng.normal(0, 1, (12, 14)) for k in ("engagement", "enps", "csat", "nps", "qa_score")}
    data["csat"][:, 1:] += 0.8 * data["engagement"][:, :-1]
    result = chain.analyse(frame(data, 14), ["engagement", "enps"], ["csat", "nps", "qa_score"])
    tested = [p for p in result.pairs if p.p is not None]
    assert result.tested == len(tested) == 2 * 3 * 4 * 2
    ps = np.array([p.p for p in tested])
    order = np.argsort(ps)
    m = len(ps)
    q_sorted = np.minimum.accumulate((ps[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(q_sorted, 1)
    assert [p.q for p in tested] == pytest.approx(list(expected))
    assert all(p.significant == (p.q <= ALPHA) for p in tested)
    assert find(result, "engagement", "csat", 1, "within").significant


# --- no effect: no more than the correction allows ---------------------------------------------


def null_panel(rng, units: int, n_months: int, keys: list[str], phi: float) -> dict[str, np.ndarray]:
    """Independent series with unit levels, AR(1) over months with coefficient phi (0 = white
    noise): department figures drift for months, and that must not pass for a relationship."""
    out = {}
    for key in keys:
        a = np.empty((units, n_months))
        a[:, 0] = rng.normal(0, 1, units) / math.sqrt(1 - phi * phi)
        for t in range(1, n_months):
            a[:, t] = phi * a[:, t - 1] + rng.normal(0, 1, units)
        out[key] = a + 2 * rng.normal(0, 1, (units, 1))
    return out


@pytest.mark.parametrize("phi", [0.0, 0.7], ids=["independent-months", "drifting-months"])
def test_null_data_significant_no_more_often_than_bh_allows(phi):
    """200 seeded panels without any effect, months independent or drifting (AR(1), 0.7).

    Under the global null BH's false discovery rate is the chance of any rejection, at most alpha:
    the number of panels with a significant pair is at most Binomial(200, alpha)'s 99.9 % quantile.
    Each raw test holds its level (within: the cluster-robust t, which drifting months do not
    fool; a classical t on the pooled months would reject about 20 % of the time there), so
    p < alpha happens at rate alpha: the count over all tests stays within the two-sided 99.9 %
    binomial interval (tests of different lags, views and pairs are nearly uncorrelated under
    this null), for each view on its own.
    """
    runs, units, n_months = 200, 40, 12
    people, customer = ["engagement", "enps"], ["csat", "nps"]
    any_significant, raw = 0, {"across": [0, 0], "within": [0, 0]}
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        data = null_panel(rng, units, n_months, people + customer, phi)
        result = chain.analyse(frame(data, n_months), people, customer, alpha=ALPHA)
        assert result.tested == 2 * 2 * 4 * 2
        any_significant += any(p.significant for p in result.pairs)
        for p in result.pairs:
            raw[p.view][0] += p.p < ALPHA
            raw[p.view][1] += 1
    assert any_significant <= stats.binom.ppf(0.999, runs, ALPHA)
    for view, (hits, tests) in raw.items():
        low, high = stats.binom.ppf([0.0005, 0.9995], tests, ALPHA)
        assert low <= hits <= high, (view, hits, tests, low, high)


# --- too small, constant, missing ---------------------------------------------------------------


def test_two_units_are_too_small_and_show_no_figure():
    rng = np.random.default_rng(1)
    data = {k: rng.normal(0, 1, (2, 24)) for k in ("engagement", "csat")}
    result = chain.analyse(frame(data, 24), ["engagement"], ["csat"])
    assert all(p.too_small for p in result.pairs)
    for p in result.pairs:
        assert (p.pearson, p.pearson_ci, p.spearman, p.spearman_ci, p.p, p.q) == (None,) * 6
        assert not p.significant
    assert result.tested == 0 and result.elasticities == [] and chain.pairs_that_matter(result) == []
    assert find(result, "engagement", "csat", 0, "within").departments == 2


def test_five_months_are_too_small_even_with_many_units():
    rng = np.random.default_rng(2)
    data = {k: rng.normal(0, 1, (60, 5)) for k in ("engagement", "csat")}
    result = chain.analyse(frame(data, 5), ["engagement"], ["csat"])
    assert all(p.too_small and p.pearson is None for p in result.pairs)
    assert chain.method_summary(result)["too_small"] == len(result.pairs)
    assert chain.scatter_points(frame(data, 5), "engagement", "csat", 0, "within").height == 0


def test_a_constant_series_gives_none_without_crashing():
    rng = np.random.default_rng(4)
    data = {"engagement": np.full((20, 12), 72.0), "enps": rng.normal(0, 1, (20, 12)),
            "csat": rng.normal(4, 0.3, (20, 12))}
    # constant within each unit, different between units: nothing within, something across
    data["enps"] = np.repeat(rng.normal(0, 10, (20, 1)), 12, axis=1)
    result = chain.analyse(frame(data, 12), ["engagement", "enps"], ["csat"])
    for p in result.pairs:
        if p.people == "engagement" or p.view == "within":
            assert not p.too_small
            assert (p.pearson, p.spearman, p.p, p.q, p.pearson_ci) == (None, None, None, None, None)
            assert not p.significant
    assert find(result, "enps", "csat", 0, "across").pearson is not None
    assert result.tested == 4  # enps across at four lags
    assert chain.elasticity_for(result, "engagement", "csat") is None
    points = chain.scatter_points(frame(data, 12), "engagement", "csat", 0, "across")
    assert points.height == 20 and chain.fit_line(points) is None


def test_units_hidden_by_the_anonymity_minimum_take_no_part():
    frame_ = planted(units=30, seed=5)
    hidden = [101, 102, 103]
    frame_ = frame_.with_columns(
        pl.when(pl.col("department_id").is_in(hidden)).then(None).otherwise(pl.col("engagement")).alias("engagement")
    )
    result = chain.analyse(frame_, ["engagement"], ["csat"], lags=(2,))
    assert find(result, "engagement", "csat", 2, "across").departments == 27
    assert find(result, "engagement", "csat", 2, "within").n == 27 * 22
    points = chain.scatter_points(frame_, "engagement", "csat", 2, "within")
    assert not points.filter(pl.col("department_id").is_in(hidden)).height


def test_a_metric_the_panel_lacks_is_too_small_not_an_error():
    result = chain.analyse(planted(units=12), ["engagement", "trait_unknown"], ["csat"], lags=(0,))
    assert all(p.too_small for p in result.pairs if p.people == "trait_unknown")
    assert chain.analyse(pl.DataFrame(schema={"department_id": pl.Int64, "month": pl.Date}), ["engagement"],
                         ["csat"]).tested == 0


# --- followers ----------------------------------------------------------------------------------


def test_followers_are_units_whose_customer_side_followed_their_people_side():
    rng = np.random.default_rng(11)
    units, n_months, lag = 30, 24, 2
    people = 60 + rng.normal(0, 0.3, (units, n_months))
    csat = 4 + rng.normal(0, 0.01, (units, n_months))
    # units 0-4: engagement up by 8 points from month 16, CSAT up 0.5 two months later;
    # units 5-7: engagement up the same, CSAT flat; the rest: flat.
    people[:8, 16:] += 8
    csat[:5, 18:] += 0.5
    data = {"engagement": people, "csat": csat}
    result = chain.analyse(frame(data, n_months), ["engagement"], ["csat"], lags=(lag,))
    followers = result.followers[("engagement", "csat")]
    assert {f.department_id for f in followers} == {101, 102, 103, 104, 105}
    for f in followers:
        assert f.lag == lag and f.people_change == pytest.approx(8, abs=0.5)
        assert f.customer_change == pytest.approx(0.5, abs=0.05)
    # the same for any pair and lag on request, and none the other way round
    assert chain.find_followers(frame(data, n_months), "engagement", "csat", lag) == followers
    assert chain.find_followers(frame(data, n_months), "engagement", "csat", lag, direction=-1) == []


def test_nonsense_arguments_are_refused_with_a_reason():
    units = planted(units=12)
    with pytest.raises(ValueError, match="lags"):
        chain.analyse(units, ["engagement"], ["csat"], lags=(-1,))
    with pytest.raises(ValueError, match="alpha"):
        chain.analyse(units, ["engagement"], ["csat"], alpha=5)
    with pytest.raises(ValueError, match="view"):
        chain.scatter_points(units, "engagement", "csat", 0, "sideways")
    # a lag longer than the window is no error: nothing pairs, so everything is too small
    result = chain.analyse(units, ["engagement"], ["csat"], lags=(30,))
    assert all(p.too_small for p in result.pairs) and result.tested == 0


def test_within_p_and_the_elasticity_interval_tell_the_same_story(planted_result):
    checked = 0
    for pair in planted_result.pairs:
        if pair.view != "within" or pair.p is None:
            continue
        e = chain.elasticity_for(planted_result, pair.people, pair.customer, pair.lag)
        assert (pair.p < 0.05) == (not e.ci[0] <= 0 <= e.ci[1])
        assert (e.slope > 0) == (pair.pearson > 0)
        checked += 1
    assert checked == 2 * 2 * 4


def test_pairs_that_matter_can_spread_over_metrics():
    rng = np.random.default_rng(12)
    base = rng.normal(0, 1, (30, 18))
    data = {f"trait_{k}": base + 0.2 * rng.normal(0, 1, (30, 18)) for k in "abcd"}
    data["enps"] = rng.normal(0, 1, (30, 18))
    data["csat"] = 0.8 * base + 0.5 * rng.normal(0, 1, (30, 18))
    data["nps"] = 0.5 * data["enps"] + rng.normal(0, 1, (30, 18))
    people = [f"trait_{k}" for k in "abcd"] + ["enps"]
    result = chain.analyse(frame(data, 18), people, ["csat", "nps"], lags=(0,))
    plain = chain.pairs_that_matter(result, limit=3)
    assert [p.customer for p in plain] == ["csat"] * 3  # four near-copies of one relationship lead
    spread = chain.pairs_that_matter(result, limit=3, per_metric=2)
    assert sum(p.customer == "csat" for p in spread) == 2
    assert ("enps", "nps") in {(p.people, p.customer) for p in spread}
    # the order stays strongest first, and a limit that cannot be spread is filled from the rest
    assert [abs(p.pearson) for p in spread if p.significant] == sorted(
        (abs(p.pearson) for p in spread if p.significant), reverse=True)
    assert len(chain.pairs_that_matter(result, limit=8, per_metric=1)) == 8
