"""What the analytics pages show, computed from the latest stored snapshot.

Executives, HR and admins see the company; managers the departments they head with everything
below them (``security.analytics_scope``): their headline is their department's, the chain runs
on the analysis units inside their subtree only, and no table, chart or mover shows a department
outside it. Nothing here reads the live tables: every figure comes from the snapshot that the
monthly report reads too, so the page and the PDF agree.

Survey-based figures of a department under the anonymity minimum are null in the panel; the
pages show "—" and say why. The chain's wording states associations only and says when there is
too little data to say anything.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import polars as pl
from markupsafe import Markup

from servicechain.platform import db, i18n
from servicechain.platform.analytics import chain, charts
from servicechain.platform.analytics import snapshot as snapshots
from servicechain.platform.analytics import metrics
from servicechain.platform.analytics import movers as moves
from servicechain.platform.analytics.metrics import CUSTOMER, METRICS, PEOPLE, Metric, metric
from servicechain.platform.analytics.metrics import value as _value
from servicechain.platform.analytics.snapshot import SnapshotDamaged
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import ngettext
from servicechain.platform.lib.dates import BadMonth, month_start, parse_month, shift_month
from servicechain.platform.people.tables import Department
from servicechain.platform.security import Actor, AnalyticsScope, analytics_department_for, analytics_scope, can

# The figures at the top of the page, people side first.
HEADLINE = ("engagement", "enps", "service_received", "goal_progress", "csat", "nps", "qa_score", "follow_up_rate")
# Trend charts in pairs: a people-side metric beside the customer-side one it is read against.
TREND_PAIRS = (("engagement", "csat"), ("enps", "nps"), ("service_received", "qa_score"),
               ("goal_progress", "follow_up_rate"))
# The department table's columns.
TABLE_PEOPLE = ("engagement", "enps", "service_received", "goal_progress")
TABLE_CUSTOMER = ("csat", "nps", "qa_score", "follow_up_rate")
SPARK_MONTHS = 12
MOVERS = 5
# Levels of the tree the company table shows before "show all departments".
TABLE_LEVELS = 3
LAGS = (0, 1, 2, 3)
VIEWS = ("within", "across")
DEFAULT_PAIR = ("engagement", "csat")


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """What the visitor chose, validated: unknown values fall back to the defaults, so a
    hand-edited link shows the page rather than an error."""

    sort: str | None = None
    order: str = "desc"
    all_departments: bool = False
    people: str | None = None
    customer: str | None = None
    lag: int | None = None
    view: str | None = None
    movers: str = "engagement"
    month: date | None = None  # the snapshot's month asked for; None: the default month

    def carry(self, *leave: str) -> list[tuple[str, str]]:
        """The choices that differ from the defaults, as query pairs, for forms and links that
        change one thing and keep the rest (``leave`` names what they change)."""
        default = Params()
        pairs = [("sort", self.sort), ("order", self.order if self.sort else None),
                 ("all", "1" if self.all_departments else None), ("people", self.people),
                 ("customer", self.customer), ("lag", self.lag), ("view", self.view),
                 ("movers", self.movers if self.movers != default.movers else None),
                 ("month", f"{self.month:%Y-%m}" if self.month else None)]
        return [(k, str(v)) for k, v in pairs if v is not None and k not in leave]


def parse_params(query: Mapping[str, str]) -> Params:
    keys = {m.key for m in METRICS}
    sort = query.get("sort") or None
    if sort not in keys and sort not in ("name", "headcount"):
        sort = None
    lag = query.get("lag", "")
    return Params(
        month=asked_month(query)[0],
        sort=sort,
        order="asc" if query.get("order") == "asc" else "desc",
        all_departments=query.get("all") == "1",
        people=query.get("people") if query.get("people") in PEOPLE else None,
        customer=query.get("customer") if query.get("customer") in CUSTOMER else None,
        lag=int(lag) if lag.isdigit() and int(lag) in LAGS else None,
        view=query.get("view") if query.get("view") in VIEWS else None,
        movers=query.get("movers") if query.get("movers") in keys else "engagement",
    )


def asked_month(query: Mapping[str, str]) -> tuple[date | None, str | None]:
    """The month named in the query, read as everywhere else (``lib.dates.parse_month``), and
    what is wrong with it when it is not one ("2026-13", "", "26-01"), in the words the report
    form and the command line use: the page then shows its default month and says why. (None,
    None) when no month is named."""
    if "month" not in query:
        return None, None
    try:
        return parse_month(query["month"]), None
    except BadMonth as exc:
        return None, str(exc)


# --- small helpers --------------------------------------------------------------------------------


def label(key: str) -> str:
    return str(metric(key).label)


def _name(row: Mapping[str, Any]) -> str:
    ru, en = row.get("name_ru"), row.get("name_en")
    return (ru if i18n.current_language() == "ru" else en) or ru or en or "?"


def figure(row: Mapping[str, Any] | None, key: str, surveyed: bool) -> dict[str, Any]:
    """One cell: the value as text in the reader's language, and why it is empty when it is:
    ``hidden`` (fewer answers than the anonymity minimum, as ``metrics.hidden`` guesses it, the
    report's footnote too) or ``none`` (no data)."""
    m = metric(key)
    value = _value(row, key)
    why = None
    if value is None:
        why = "hidden" if metrics.hidden(row, key, surveyed) else "none"
    return {"key": key, "value": value, "text": charts.format_value(value, m.decimals),
            "display": charts.with_unit(value, m.unit, m.decimals), "unit": m.unit, "why": why}


def _change(now: float | None, before: float | None, m: Metric) -> dict[str, Any] | None:
    if now is None or before is None:
        return None
    delta = now - before
    unit = charts.unit_sign(m.unit, change=True)  # a share moves in percentage points: say so
    if not m.moved(delta):
        return {"delta": 0.0, "text": charts.format_value(0.0, m.decimals) + unit, "good": None, "direction": "same"}
    sign = "+" if delta > 0 else ""
    return {"delta": delta, "text": sign + charts.format_value(delta, m.decimals) + unit,
            "good": (delta > 0) == m.higher_is_better, "direction": "up" if delta > 0 else "down"}


# --- the snapshot, read once per page -----------------------------------------------------------


@dataclass
class Context:
    """The snapshot and what of it the actor may see."""

    snapshot: Any
    scope: AnalyticsScope
    month: date
    departments: dict[int, dict[str, Any]]  # every panel department the actor may see, by id
    roots: list[int]  # the top ones of those (the company root for company scope)
    min_group: int
    surveyed: frozenset[date]  # months in which the company has survey figures
    key: tuple = ()  # what the context was made from, for what is derived from it

    @property
    def panel(self) -> Any:
        return self.snapshot.panel


def running_month() -> date:
    from servicechain.platform.people.service import today

    return month_start(today())


def default_month(months: Sequence[date], running: date) -> date | None:
    """The month a page opens on: the last complete month with a snapshot (a running month's
    figures are partial and move daily), else the newest stored (the running month, early on)."""
    complete = [m for m in months if m < running]
    if complete:
        return max(complete)
    return max(months) if months else None


def month_picker(months: Sequence[date], shown: date | None, asked: date | None, running: date) -> dict[str, Any]:
    """The months a page may show, newest first (only months with a snapshot), the running one
    labelled as month to date; ``missing`` names a month asked for that has no snapshot."""
    def title(m: date) -> str:
        text = charts.month_title(m)
        return _("%(month)s (month to date)", month=text) if m == running else text

    return {"options": [{"value": f"{m:%Y-%m}", "label": title(m), "selected": m == shown}
                        for m in sorted(set(months), reverse=True)],
            "shown": shown, "month_to_date": shown == running,
            "missing": title(asked) if asked is not None and asked != shown else None}


async def _select(asked: date | None) -> tuple[Any, dict[str, Any] | None]:
    """The snapshot to show and the month picker: one small query for the stored months (no
    payloads), then the decoded snapshot, which each process keeps per id and checksum.
    SnapshotDamaged when its bytes fail the checksum."""
    rows = await snapshots.stored()
    if not rows:
        return None, None
    running = running_month()
    by_month = {r.month: r for r in rows}
    shown = asked if asked in by_month else default_month(list(by_month), running)
    picker = month_picker(list(by_month), shown, asked, running)
    return await snapshots.decoded(by_month[shown]), picker


async def _paths() -> dict[int, str]:
    # A plain query: 1,400 rows through Piccolo's objects cost several ms of CPU per view.
    return {r["id"]: r["path"] for r in await db.fetch("SELECT id, path FROM department")}


def _tree_paths(rows: dict[int, dict[str, Any]], current: dict[int, str]) -> dict[int, str]:
    """Each snapshot department's path: today's (the scope is about whom a manager leads now),
    or for a department since removed, its parent's path and its id, as it stood in the snapshot."""
    out: dict[int, str] = {}

    def path(d: int, depth: int = 0) -> str:
        if d in out:
            return out[d]
        if d in current:
            out[d] = current[d]
        else:
            parent = rows.get(d, {}).get("parent_id")
            out[d] = (path(parent, depth + 1) if parent in rows and depth < 64 else "/") + f"{d}/"
        return out[d]

    for d in rows:
        path(d)
    return out


# What a page derives from a snapshot and is the same for every viewer with the same scope and
# language is kept per process, keyed by the snapshot (month and checksum), today's department
# paths (a moved or removed department changes the key) and the scope: a warm view reads only
# the small rows that name these and renders the template.
_CONTEXTS: OrderedDict[tuple, Context] = OrderedDict()
_CONTEXT_CACHE_SIZE = 16
_PAGES: OrderedDict[tuple, tuple[dict[str, Any], int]] = OrderedDict()
PAGE_CACHE_BYTES = 48 * 1024 * 1024
PAGE_CACHE_ENTRIES = 256


def _remember(cache: OrderedDict, key: tuple, value: Any, limit: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


def forget_pages() -> None:
    """Drop what this process keeps of the pages (tests)."""
    _CONTEXTS.clear()
    _PAGES.clear()
    _CHAIN_CACHE.clear()


def _snapshot_key(snapshot: Any) -> tuple:
    return (getattr(snapshot, "month", None), getattr(snapshot, "checksum", None) or id(snapshot))


async def load_context(actor: Actor, snapshot: Any = None) -> Context | None:
    """A snapshot seen through the actor's scope; None when there is no snapshot."""
    scope = await analytics_scope(actor)
    if snapshot is None:
        return None
    current = await _paths()
    key = (_snapshot_key(snapshot), hash(frozenset(current.items())), scope.company, scope.paths,
           i18n.current_language())
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        ctx = _build_context(scope, snapshot, current)
        ctx.key = key
        _remember(_CONTEXTS, key, ctx, _CONTEXT_CACHE_SIZE)
    else:
        _CONTEXTS.move_to_end(key)
    return ctx


def _build_context(scope: AnalyticsScope, snapshot: Any, current: dict[int, str]) -> Context:
    panel = snapshot.panel
    rows = {r["department_id"]: r for r in panel.departments.to_dicts()}
    paths = _tree_paths(rows, current)
    visible = {d: r for d, r in rows.items() if scope.company or scope.covers(paths.get(d))}
    for r in visible.values():
        r["name"] = _name(r)
        r["path"] = paths.get(r["department_id"], "")
        r["linked"] = r["department_id"] in current  # a department since removed has no page
    roots = sorted((d for d, r in visible.items() if r.get("parent_id") not in visible),
                   key=lambda d: (visible[d].get("depth") or 0, visible[d]["path"], d))
    month = month_start(snapshot.month)
    company = panel.company
    surveyed = frozenset(r["month"] for r in company.to_dicts() if metrics.surveyed(r))
    return Context(snapshot=snapshot, scope=scope, month=month, departments=visible, roots=roots,
                   min_group=int(getattr(panel, "min_group", 0) or 0), surveyed=surveyed)


def _series_rows(frame: pl.DataFrame, ids: Sequence[int] | None, since: date, until: date) -> pl.DataFrame:
    out = frame.filter((pl.col("month") >= since) & (pl.col("month") <= until))
    if ids is not None:
        out = out.filter(pl.col("department_id").is_in(list(ids)))
    return out


def _by_month(rows: list[dict[str, Any]]) -> dict[date, dict[str, Any]]:
    return {r["month"]: r for r in rows}


# --- headline and trends ------------------------------------------------------------------------


def headline(by_month: dict[date, dict[str, Any]], month: date, surveyed: frozenset[date],
             keys: Sequence[str] = HEADLINE) -> list[dict[str, Any]]:
    """Each headline metric this month, its change against last month and the same month last
    year, and a sparkline of the last twelve months."""
    now, last, year = by_month.get(month), by_month.get(shift_month(month, -1)), by_month.get(shift_month(month, -12))
    out = []
    for key in keys:
        m = metric(key)
        cell = figure(now, key, month in surveyed)
        history = [_value(by_month.get(shift_month(month, -i)), key) for i in range(SPARK_MONTHS - 1, -1, -1)]
        out.append({
            **cell, "label": str(m.label), "side": m.side,
            "vs_month": _change(cell["value"], _value(last, key), m),
            "vs_year": _change(cell["value"], _value(year, key), m),
            "spark": charts.sparkline(history, width=120, height=28, title=str(m.label)),
        })
    return out


def trend_chart(by_month: dict[date, dict[str, Any]], month: date, months: int, key: str, *, width: int = 420,
                height: int = 200) -> Markup:
    m = metric(key)
    points = [(shift_month(month, -i), _value(by_month.get(shift_month(month, -i)), key)) for i in range(months - 1, -1, -1)]
    return charts.line_chart([("", points)], y_label=str(m.label), width=width, height=height,
                             title=str(m.label), decimals=m.decimals)


def _has_figures(by_month: dict[date, dict[str, Any]], key: str) -> bool:
    return any(_value(r, key) is not None for r in by_month.values())


def trends(by_month: dict[date, dict[str, Any]], month: date, months: int,
           pairs: Sequence[tuple[str, str]] = TREND_PAIRS) -> list[dict[str, Any]]:
    """Trend charts in pairs; a metric with no figure in the whole window gets None (the page
    says so instead of drawing an empty axis)."""
    def chart(key: str) -> Markup | None:
        return trend_chart(by_month, month, months, key) if _has_figures(by_month, key) else None

    return [{"people": label(p), "customer": label(c), "people_chart": chart(p), "customer_chart": chart(c)}
            for p, c in pairs]


# --- the chain ------------------------------------------------------------------------------------

_CHAIN_CACHE: OrderedDict[tuple, chain.ChainResult] = OrderedDict()
_CHAIN_CACHE_SIZE = 16


def _units_in_scope(ctx: Context) -> pl.DataFrame:
    units = ctx.panel.units
    if ctx.scope.company:
        return units
    return units.filter(pl.col("department_id").is_in(list(ctx.departments)))


def chain_result(ctx: Context, units: pl.DataFrame) -> chain.ChainResult:
    """The chain over the units in scope, kept per snapshot and scope: a page view reuses it."""
    key = (getattr(ctx.snapshot, "checksum", id(ctx.snapshot)), ctx.scope.company, ctx.scope.paths)
    if key in _CHAIN_CACHE:
        _CHAIN_CACHE.move_to_end(key)
        return _CHAIN_CACHE[key]
    result = chain.analyse(units, PEOPLE, CUSTOMER, lags=LAGS)
    _CHAIN_CACHE[key] = result
    while len(_CHAIN_CACHE) > _CHAIN_CACHE_SIZE:
        _CHAIN_CACHE.popitem(last=False)
    return result


def when(lag: int) -> str:
    if lag == 0:
        return _("in the same month")
    return ngettext("%(num)d month later", "%(num)d months later", lag)


def _r(value: float | None) -> str:
    return charts.format_value(value, 2)


def _q(value: float | None) -> str:
    """A corrected p as "q = 0.012", or "q < 0.001" (``charts.format_p``, as the report)."""
    return "q\u00a0" + charts.format_p(value)


def describe_pair(pair: chain.PairResult, elasticity: chain.Elasticity | None, tested: int) -> list[str]:
    """The pair in plain words: what goes with what, how strongly and how sure, and never more
    than an association. Sentences, in the reader's language."""
    people, customer = label(pair.people), label(pair.customer)
    if pair.too_small:
        return [ngettext(
            "Only %(num)d department has both figures for enough months: too few to say anything about "
            "“%(people)s” and “%(customer)s”.",
            "Only %(num)d departments have both figures for enough months: too few to say anything about "
            "“%(people)s” and “%(customer)s”.", pair.departments, people=people, customer=customer)]
    if pair.pearson is None:
        return [_("“%(people)s” or “%(customer)s” did not vary, so nothing can be said about them together.",
                  people=people, customer=customer)]
    higher = pair.pearson > 0
    if pair.view == "across":
        text = (_("Across departments: the higher “%(people)s”, the higher “%(customer)s” %(when)s.", people=people,
                  customer=customer, when=when(pair.lag)) if higher else
                _("Across departments: the higher “%(people)s”, the lower “%(customer)s” %(when)s.", people=people,
                  customer=customer, when=when(pair.lag)))
        size = ngettext("%(num)d department", "%(num)d departments", pair.n)
    else:
        text = (_("Within departments over time: in months with more “%(people)s” than usual, “%(customer)s” was "
                  "higher %(when)s.", people=people, customer=customer, when=when(pair.lag)) if higher else
                _("Within departments over time: in months with more “%(people)s” than usual, “%(customer)s” was "
                  "lower %(when)s.", people=people, customer=customer, when=when(pair.lag)))
        size = ngettext("%(num)d department-month", "%(num)d department-months", pair.n) + ", " + ngettext(
            "%(num)d department", "%(num)d departments", pair.departments)
    sentences = [text]
    if pair.pearson_ci:
        sentences.append(_("r = %(r)s (95 %% interval %(low)s to %(high)s), %(size)s.", r=_r(pair.pearson),
                           low=_r(pair.pearson_ci[0]), high=_r(pair.pearson_ci[1]), size=size))
    else:
        sentences.append(_("r = %(r)s, %(size)s.", r=_r(pair.pearson), size=size))
    if pair.significant:
        sentences.append(ngettext("This holds after allowing for the %(num)d comparisons made (%(q)s).",
                                  "This holds after allowing for the %(num)d comparisons made (%(q)s).",
                                  tested, q=_q(pair.q)))
    else:
        sentences.append(ngettext("After allowing for the %(num)d comparisons made, this may be chance (%(q)s).",
                                  "After allowing for the %(num)d comparisons made, this may be chance (%(q)s).",
                                  tested, q=_q(pair.q)))
    if elasticity is not None:
        m = metric(pair.customer)
        sentences.append(_("Within a department, one point more of “%(people)s” went with %(slope)s points of "
                           "“%(customer)s” %(when)s (95 %% interval %(low)s to %(high)s).", people=people,
                           customer=customer, when=when(elasticity.lag),
                           slope=charts.format_value(elasticity.slope, max(2, m.decimals)),
                           low=charts.format_value(elasticity.ci[0], max(2, m.decimals)),
                           high=charts.format_value(elasticity.ci[1], max(2, m.decimals))))
    return sentences


def pair_view(ctx: Context, units: pl.DataFrame, result: chain.ChainResult, pair: chain.PairResult, *,
              width: int = 360, height: int = 260) -> dict[str, Any]:
    """One pair: its words, its scatter chart with the fitted line, and who followed."""
    scatter = chain.scatter(units, pair.people, pair.customer, pair.lag, pair.view)
    names = {d: r["name"] for d, r in ctx.departments.items()}
    fit = scatter.fit if not pair.too_small else None
    total = scatter.total
    rows = scatter.drawn.to_dicts()
    tips = [names.get(r["department_id"], str(r["department_id"])) + (
        ", " + charts.month_label(r["month"]) if r["month"] else "") for r in rows]
    y_label = f"{label(pair.customer)}, {when(pair.lag)}"
    chart = charts.scatter_chart([(r["x"], r["y"]) for r in rows], x_label=label(pair.people), y_label=y_label,
                                 fit=fit, width=width, height=height, point_labels=tips,
                                 title=f"{label(pair.people)} / {y_label}")
    elasticity = chain.elasticity_for(result, pair.people, pair.customer, pair.lag)
    found = [f for f in result.followers.get((pair.people, pair.customer), []) if f.lag == pair.lag]
    if not found and not pair.too_small and pair.pearson:
        # The chain keeps followers for the pairs that matter; the explorer may show any other.
        found = chain.find_followers(units, pair.people, pair.customer, pair.lag, direction=1 if pair.pearson > 0 else -1)
    followers = [
        {"department_id": f.department_id, "name": names.get(f.department_id, str(f.department_id)),
         "linked": ctx.departments[f.department_id]["linked"],
         "people_change": charts.format_value(f.people_change, metric(pair.people).decimals),
         "customer_change": charts.format_value(f.customer_change, metric(pair.customer).decimals)}
        for f in found if f.department_id in ctx.departments
    ][:8]
    return {"pair": pair, "people": label(pair.people), "customer": label(pair.customer), "when": when(pair.lag),
            "view_label": _("across departments") if pair.view == "across" else _("within departments over time"),
            "sentences": describe_pair(pair, elasticity, result.tested), "chart": chart, "points": total,
            "sampled": _("%(shown)s of %(total)s points drawn, chosen at random; the line fits them all.",
                         shown=charts.format_value(len(rows), 0), total=charts.format_value(total, 0))
            if total > len(rows) else None,
            "followers": followers}


def find_pair(result: chain.ChainResult, people: str, customer: str, lag: int, view: str) -> chain.PairResult | None:
    for p in result.pairs:
        if (p.people, p.customer, p.lag, p.view) == (people, customer, lag, view):
            return p
    return None


def chain_section(ctx: Context, params: Params) -> dict[str, Any]:
    units = _units_in_scope(ctx)
    result = chain_result(ctx, units)
    matters = chain.charted_pairs(result)
    cards = [pair_view(ctx, units, result, p) for p in matters]
    # The explorer: the chosen pair, else the strongest lag of engagement and CSAT.
    people = params.people or (matters[0].people if matters else DEFAULT_PAIR[0])
    customer = params.customer or (matters[0].customer if matters else DEFAULT_PAIR[1])
    view = params.view or "within"
    lag = params.lag
    if lag is None:
        candidates = [p for p in result.pairs if p.people == people and p.customer == customer and p.view == view
                      and p.pearson is not None]
        lag = min(candidates, key=lambda p: (p.p if p.p is not None else 1.0, p.lag)).lag if candidates else 2
    chosen = find_pair(result, people, customer, lag, view)
    explorer = pair_view(ctx, units, result, chosen, width=520, height=300) if chosen else None
    return {
        "cards": cards, "explorer": explorer, "tested": result.tested, "units": result.units,
        "significant": sum(p.significant for p in result.pairs),
        "choice": {"people": people, "customer": customer, "lag": lag, "view": view},
        "people_options": [(k, label(k)) for k in PEOPLE], "customer_options": [(k, label(k)) for k in CUSTOMER],
        "lag_options": [(lag_, when(lag_)) for lag_ in LAGS],
        "view_options": [("within", _("within departments over time")), ("across", _("across departments"))],
    }


# --- departments ----------------------------------------------------------------------------------


def department_rows(ctx: Context, ids: Sequence[int], params: Params, *, base_depth: int = 0) -> list[dict[str, Any]]:
    """A row per department: this month's figures on both sides, twelve-month sparklines of
    engagement and CSAT; in tree order, or sorted by a column (missing figures last)."""
    if not ids:
        return []
    since = shift_month(ctx.month, -(SPARK_MONTHS - 1))
    rows = _series_rows(ctx.panel.frame, ids, since, ctx.month).to_dicts()
    by_department: dict[int, dict[date, dict[str, Any]]] = {}
    for r in rows:
        by_department.setdefault(r["department_id"], {})[r["month"]] = r
    months = [shift_month(ctx.month, -i) for i in range(SPARK_MONTHS - 1, -1, -1)]
    out = []
    for d in ids:
        info = ctx.departments[d]
        history = by_department.get(d, {})
        now = history.get(ctx.month)
        out.append({
            "id": d, "name": info["name"], "linked": info["linked"], "depth": max(0, (info.get("depth") or 0) - base_depth),
            "path": info["path"], "headcount": (now or {}).get("headcount"),
            "people": [figure(now, k, ctx.month in ctx.surveyed) for k in TABLE_PEOPLE],
            "customer": [figure(now, k, ctx.month in ctx.surveyed) for k in TABLE_CUSTOMER],
            "spark_people": charts.sparkline([_value(history.get(m), "engagement") for m in months],
                                             title=f"{info['name']}: {label('engagement')}"),
            "spark_customer": charts.sparkline([_value(history.get(m), "csat") for m in months],
                                               title=f"{info['name']}: {label('csat')}"),
        })
    if params.sort:
        def key(row: dict[str, Any]):
            if params.sort == "name":
                return (False, row["name"].casefold())
            if params.sort == "headcount":
                value = row["headcount"]
            else:
                value = next((c["value"] for c in row["people"] + row["customer"] if c["key"] == params.sort), None)
            if value is None:
                return (True, 0.0)
            return (False, -value if params.order == "desc" else value)

        if params.sort == "name":
            out.sort(key=lambda r: r["name"].casefold(), reverse=params.order == "desc")
        else:
            out.sort(key=key)
    else:
        out.sort(key=lambda r: r["path"])
    return out


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    return "?" + urlencode(list(pairs))


def table_columns(params: Params) -> dict[str, Any]:
    """Column headers with their sort links (the next click flips the order; the other choices
    on the page stay as they are)."""

    def column(key: str, text: str) -> dict[str, Any]:
        active = params.sort == key
        order = ("asc" if params.order == "desc" else "desc") if active else ("asc" if key == "name" else "desc")
        return {"key": key, "label": text, "active": active, "order": params.order if active else None,
                "href": query_string([("sort", key), ("order", order), *params.carry("sort", "order")])}

    return {
        "name": column("name", _("Department")), "headcount": column("headcount", _("People")),
        "people": [column(k, label(k)) for k in TABLE_PEOPLE],
        "customer": [column(k, label(k)) for k in TABLE_CUSTOMER],
    }


def movers(ctx: Context, ids: Sequence[int], key: str) -> dict[str, Any]:
    """The departments whose figure rose or fell most since last month (of those with both
    months; ``analytics.movers``, the report's rule too), as two signed bar charts."""
    m = metric(key)
    found = moves.movers(ctx.panel.frame, key, ctx.month, ids, MOVERS)
    up = [(mv.change, ctx.departments[mv.department_id]["name"], mv.department_id) for mv in found.better]
    down = [(mv.change, ctx.departments[mv.department_id]["name"], mv.department_id) for mv in found.worse]

    def bars(items, colour: str):
        if not items:
            return None
        return charts.bar_chart([(name, delta) for delta, name, _d in items], unit=m.unit, colour=colour,
                                width=420, height=24 * len(items) + 30, title=str(m.label), decimals=m.decimals)

    # Coloured by better and worse, not by sign: fewer goals at risk is a gain drawn leftwards.
    return {"key": key, "label": str(m.label), "better": bars(up, charts.POSITIVE), "worse": bars(down, charts.NEGATIVE),
            "better_list": [{"id": d, "name": n, "linked": ctx.departments[d]["linked"],
                             "change": charts.format_value(v, m.decimals)} for v, n, d in up],
            "worse_list": [{"id": d, "name": n, "linked": ctx.departments[d]["linked"],
                            "change": charts.format_value(v, m.decimals)} for v, n, d in down],
            "options": [(k.key, str(k.label)) for k in METRICS]}


# --- the pages ------------------------------------------------------------------------------------


def _snapshot_facts(ctx: Context, picker: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"month": ctx.month, "month_label": i18n.format_date(ctx.month, "LLLL yyyy"),
            "built_at": getattr(ctx.snapshot, "built_at", None), "min_group": ctx.min_group,
            "picker": picker, "month_to_date": bool(picker and picker["month_to_date"])}


def month_query(params: Params) -> str:
    """What links to another analytics page add to stay on the month chosen."""
    return f"?month={params.month:%Y-%m}" if params.month else ""


async def _context(actor: Actor, params: Params, snapshot: Any,
                   query: Mapping[str, str]) -> tuple[Context | None, dict[str, Any] | None]:
    """The chosen month's snapshot through the actor's scope, and the month picker (None when a
    caller passed the snapshot itself) with ``bad_month``, what is wrong with a month asked for
    that is not one (the picker is per view, never kept with the page)."""
    picker = None
    if snapshot is None:
        snapshot, picker = await _select(params.month)
        if snapshot is None:
            return None, None
        picker = {**picker, "bad_month": asked_month(query)[1]}
    return await load_context(actor, snapshot), picker


def empty_page(actor: Actor) -> dict[str, Any]:
    """No snapshot to read (or, with ``damaged``, one that fails its checksum): what to run."""
    return {"empty": True, "damaged": False, "may_refresh": can(actor, "analytics.company")}


def _visible_ids(ctx: Context, params: Params) -> list[int]:
    ids = sorted(ctx.departments, key=lambda d: ctx.departments[d]["path"])
    if params.all_departments or params.sort:
        return ids
    base = min((ctx.departments[r].get("depth") or 0) for r in ctx.roots) if ctx.roots else 0
    return [d for d in ids if (ctx.departments[d].get("depth") or 0) - base < TABLE_LEVELS]


def _page_size(page: dict[str, Any]) -> int:
    """A rough size of a kept page: its table rows carry two sparklines each, the rest is a few
    dozen charts."""
    rows = len((page.get("table") or {}).get("rows") or ())
    return 200_000 + 3_000 * rows


def _kept_page(ctx: Context, kind: str, params: Params, build, *extra) -> dict[str, Any]:
    """The page's body for this context and these choices, built once per process. The month
    picker is not part of it: the months stored and the running month are read per view. The
    caller may keep what it renders from the body in it (``kept`` in the page: the controller
    keeps the sections' HTML there)."""
    key = (kind, ctx.key, params, *extra)
    hit = _PAGES.get(key) if ctx.key else None
    if hit is not None:
        _PAGES.move_to_end(key)
        return hit[0]
    page = build()
    if ctx.key:
        size = _page_size(page)
        if size <= PAGE_CACHE_BYTES:
            _PAGES[key] = (page, size)
            while len(_PAGES) > PAGE_CACHE_ENTRIES or sum(v[1] for v in _PAGES.values()) > PAGE_CACHE_BYTES:
                _PAGES.popitem(last=False)
    return page


async def company_page(actor: Actor, query: Mapping[str, str], *, snapshot: Any = None) -> dict[str, Any]:
    """/analytics/: the company (analytics.company) or the actor's subtree (analytics.subtree).
    403 for anyone else; an empty state when no snapshot has been built."""
    params = parse_params(query)
    try:
        ctx, picker = await _context(actor, params, snapshot, query)
    except SnapshotDamaged:
        return {**empty_page(actor), "damaged": True}
    if ctx is None:
        return empty_page(actor)
    body = _kept_page(ctx, "company", params, lambda: _company_body(ctx, params))
    return {**body, "facts": _snapshot_facts(ctx, picker), "kept": body}


def _company_body(ctx: Context, params: Params) -> dict[str, Any]:
    panel = ctx.panel
    months = int(getattr(panel, "months", 24) or 24)
    if ctx.scope.company:
        focus_rows = panel.company.to_dicts()
        focus_name = _("The whole company")
    elif ctx.roots:
        root = ctx.roots[0]
        focus_rows = _series_rows(panel.frame, [root], shift_month(ctx.month, -(months - 1)), ctx.month).to_dicts()
        focus_name = ctx.departments[root]["name"]
    else:
        return {"empty": False, "nothing_headed": True}
    by_month = _by_month(focus_rows)
    ids = _visible_ids(ctx, params)
    base_depth = min((ctx.departments[r].get("depth") or 0) for r in ctx.roots) if ctx.roots else 0
    return {
        "empty": False, "nothing_headed": False, "company": ctx.scope.company,
        "focus_name": focus_name, "roots": [{"id": r, "name": ctx.departments[r]["name"]} for r in ctx.roots],
        "headline": headline(by_month, ctx.month, ctx.surveyed),
        "trends": trends(by_month, ctx.month, months),
        "chain": chain_section(ctx, params),
        "movers": movers(ctx, moves.below_the_top({d: r.get("parent_id") for d, r in ctx.departments.items()}), params.movers),
        "table": {"rows": department_rows(ctx, ids, params, base_depth=base_depth), "columns": table_columns(params),
                  "all_href": query_string([("all", "1"), *params.carry("all")]),
                  "tree_href": query_string(params.carry("sort", "order")),
                  "sorted": bool(params.sort), "all": params.all_departments or bool(params.sort),
                  "hidden": len(ctx.departments) - len(ids)},
        "params": params,
    }


async def department_page(actor: Actor, department_id: int, query: Mapping[str, str], *,
                          snapshot: Any = None) -> dict[str, Any]:
    """/analytics/departments/{id}: one department with everything below it. 404 for no such
    department, 403 outside the actor's scope (a manager's own subtree only)."""
    department, _scope = await analytics_department_for(actor, department_id)
    params = parse_params(query)
    try:
        ctx, picker = await _context(actor, params, snapshot, query)
    except SnapshotDamaged:
        ctx, damaged = None, True
    else:
        damaged = False
    if ctx is None:
        return {**empty_page(actor), "damaged": damaged, "department": {"id": department_id, "name": _name(department)}}
    info = ctx.departments.get(department_id)
    base = {"empty": False, "facts": _snapshot_facts(ctx, picker),
            "department": {"id": department_id, "name": info["name"] if info else _name(department)}}
    if info is None:
        return {**base, "missing": True}
    body = _kept_page(ctx, "department", params, lambda: _department_body(ctx, department_id, info, params),
                      department_id)
    return {**base, **body, "kept": body}


def _department_body(ctx: Context, department_id: int, info: dict[str, Any], params: Params) -> dict[str, Any]:
    months = int(getattr(ctx.panel, "months", 24) or 24)
    rows = _series_rows(ctx.panel.frame, [department_id], shift_month(ctx.month, -(months - 1)), ctx.month).to_dicts()
    by_month = _by_month(rows)
    now = by_month.get(ctx.month)
    # Up the tree as far as the actor may see, for the breadcrumbs.
    trail = []
    parent = info.get("parent_id")
    while parent in ctx.departments:
        trail.insert(0, {"id": parent, "name": ctx.departments[parent]["name"]})
        parent = ctx.departments[parent].get("parent_id")
    children = [d for d, r in ctx.departments.items() if r.get("parent_id") == department_id]
    chain_here = chain_for_department(ctx, info)
    hidden_note = any(figure(now, k, ctx.month in ctx.surveyed)["why"] == "hidden" for k in PEOPLE if metric(k).anonymous)
    all_trends = [{"side": side, "charts": [{"label": label(k), "chart": trend_chart(by_month, ctx.month, months, k)}
                                             for k in keys if any(_value(r, k) is not None for r in rows)]}
                  for side, keys in (("people", PEOPLE), ("customer", CUSTOMER))]
    return {
        "missing": False, "trail": trail, "headcount": (now or {}).get("headcount"),
        "respondents": (now or {}).get("respondents"), "hidden_note": hidden_note,
        "headline": headline(by_month, ctx.month, ctx.surveyed),
        "trends": all_trends,
        "unit_note": _unit_note(ctx, department_id), "chain_here": chain_here,
        "table": {"rows": department_rows(ctx, children, params, base_depth=(info.get("depth") or 0) + 1),
                  "columns": table_columns(params), "sorted": bool(params.sort), "all": True, "hidden": 0,
                  "all_href": "", "tree_href": query_string(params.carry("sort", "order"))},
        "movers": movers(ctx, children, params.movers) if children else None,
        "params": params,
    }


def chain_for_department(ctx: Context, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain's pairs that matter in which this department, or a department below it, is
    among those whose people side moved and whose customer side followed."""
    units = _units_in_scope(ctx)
    result = chain_result(ctx, units)
    inside = {d for d, r in ctx.departments.items() if r["path"].startswith(info["path"])}
    out = []
    for p in chain.charted_pairs(result):
        followers = [f for f in result.followers.get((p.people, p.customer), [])
                     if f.lag == p.lag and f.department_id in inside]
        if followers:
            out.append({"people": label(p.people), "customer": label(p.customer), "when": when(p.lag),
                        "followers": [{"id": f.department_id, "name": ctx.departments[f.department_id]["name"],
                                       "linked": ctx.departments[f.department_id]["linked"],
                                       "people_change": charts.format_value(f.people_change, metric(p.people).decimals),
                                       "customer_change": charts.format_value(f.customer_change,
                                                                              metric(p.customer).decimals)}
                                      for f in followers[:8]]})
    return out


def _unit_note(ctx: Context, department_id: int) -> str | None:
    """Where the department stands in the chain: its own unit, or rolled into a parent's."""
    info = ctx.departments[department_id]
    unit = info.get("unit_id")
    if unit is None or unit == department_id or not info.get("is_leaf"):
        return None  # a department above the units is read through the units below it
    name = ctx.departments.get(unit, {}).get("name")
    if name is None:
        return _("Too few people answered here for its own place in the chain: it counts with a department above it.")
    return _("Too few people answered here for its own place in the chain: it counts with “%(name)s”.", name=name)
