"""The monthly executive report: context from the stored analytics snapshot, HTML from one
print template, PDF from WeasyPrint, and the archive.

Everything printed comes from the snapshot's panel (figures already hidden where the anonymity
minimum was not met), the chain's statistics on its analysis units, the internal service
matrix (suppressed cells stay suppressed) and the case comparison for authority use. The
report never computes a figure twice in its own way: where a number appears both here and on
the dashboards, both read the same panel.

The language is the report's, not the request's: ``build_context`` and ``render_html`` run
inside ``use_language(lang)``, so a Russian report asked for from an English page is Russian.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from markupsafe import Markup

from servicechain.platform import db
from servicechain.platform.analytics.charts import month_title
from servicechain.platform.analytics.metrics import value as _value
from servicechain.platform.config import LANGUAGES, get_settings
from servicechain.platform.i18n import format_date, format_datetime, gettext as _, lazy_gettext, use_language
from servicechain.platform.lib.dates import month_end, month_key, month_start, shift_month
from servicechain.platform.reports import formatting as fmt
from servicechain.platform.security import Actor

TEMPLATE = "reports/monthly.html"
# The department table's columns: a few of each side, so it fits an A4 page across.
TABLE_PEOPLE = ("engagement", "enps", "service_received", "thanks_received", "goal_progress")
TABLE_CUSTOMER = ("csat", "nps", "qa_score", "follow_up_rate")
# Column heads short enough for a narrow column; the method page names each in full.
SHORT_LABELS = {
    "engagement": lazy_gettext("Engagement"),
    "enps": lazy_gettext("eNPS"),
    "service_received": lazy_gettext("Service received"),
    "thanks_received": lazy_gettext("Thanks per head"),
    "goal_progress": lazy_gettext("Goal progress"),
    "csat": lazy_gettext("CSAT"),
    "nps": lazy_gettext("NPS"),
    "qa_score": lazy_gettext("QA score"),
    "follow_up_rate": lazy_gettext("Follow-ups closed"),
}
# Summary: the figures an executive reads first, people side then customer side.
SUMMARY = ("engagement", "enps", "service_received", "service_given", "thanks_received", "reward_preference_match",
           "goal_progress", "goals_at_risk", "authority_uses", "authority_spend",
           "csat", "nps", "qa_score", "mystery_score", "low_score_share", "follow_up_rate", "follow_up_hours")
MOVER_METRICS = ("engagement", "csat")
MOVERS = 5
STORIES = 3


class ReportError(Exception):
    """The report cannot be made; the message says why, in the caller's language."""


class NoData(ReportError):
    pass


class UnsupportedLanguage(ReportError):
    pass


def supported_languages() -> tuple[str, ...]:
    return LANGUAGES


def check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise UnsupportedLanguage(_("Language %(lang)s is not supported; choose one of: %(choices)s.",
                                    lang=repr(lang), choices=", ".join(LANGUAGES)))


# --- the snapshot -------------------------------------------------------------------------------


async def stored_snapshot(month: date, *, build_missing: bool = True) -> tuple[Any, bool]:
    """The stored analytics snapshot of ``month`` and whether it had to be built now."""
    from servicechain.platform.analytics import snapshot

    month = month_start(month)
    found = await snapshot.load(month)
    if found is not None or not build_missing:
        return found, False
    return await snapshot.refresh(month), True


def _has_data(snap: Any, month: date) -> bool:
    from servicechain.platform.analytics import snapshot

    return snap is not None and snapshot.has_data(snap.panel, month)


# --- the context --------------------------------------------------------------------------------


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def _delta(now: float | None, then: float | None) -> float | None:
    return None if now is None or then is None else now - then


def _company_rows(panel: Any, month: date) -> dict[date, dict[str, Any]]:
    return {r["month"]: r for r in _rows(panel.company)}


def _summary(panel: Any, month: date) -> dict[str, Any]:
    from servicechain.platform.analytics.metrics import metric

    by_month = _company_rows(panel, month)
    now, last, year = by_month.get(month), by_month.get(shift_month(month, -1)), by_month.get(shift_month(month, -12))
    rows = []
    for key in SUMMARY:
        if key not in panel.company.columns:
            continue
        m = metric(key)
        value = _value(now, key)
        d_month, d_year = _delta(value, _value(last, key)), _delta(value, _value(year, key))
        rows.append({
            "key": key, "side": m.side, "label": str(m.label), "value": fmt.figure(key, value), "raw": value,
            "vs_month": fmt.change(key, d_month), "vs_month_class": fmt.trend(key, d_month),
            "vs_year": fmt.change(key, d_year), "vs_year_class": fmt.trend(key, d_year),
        })
    headcount = _value(now, "headcount")
    return {
        "people": [r for r in rows if r["side"] == "people"],
        "customer": [r for r in rows if r["side"] == "customer"],
        "headcount": fmt.number(headcount, 0),
        "respondents": fmt.number(_value(now, "respondents"), 0),
    }


def _names(panel: Any, lang: str) -> dict[int, str]:
    column = "name_ru" if lang == "ru" else "name_en"
    other = "name_en" if lang == "ru" else "name_ru"
    return {r["department_id"]: (r[column] or r[other] or "") for r in _rows(panel.departments)}


def _top_level(panel: Any) -> tuple[int | None, list[int], dict[int, list[int]]]:
    """The company root (when there is one), its first level of departments and their children,
    in name order as the departments frame gives them."""
    deps = _rows(panel.departments)
    children: dict[int | None, list[int]] = {}
    for d in deps:
        children.setdefault(d["parent_id"], []).append(d["department_id"])
    roots = children.get(None, [])
    root = roots[0] if len(roots) == 1 else None
    top = children.get(root, []) if root is not None else roots
    return root, top, {t: children.get(t, []) for t in top}


def _department_table(panel: Any, month: date, names: dict[int, str]) -> dict[str, Any]:
    from servicechain.platform.analytics import metrics
    from servicechain.platform.analytics.metrics import metric

    frame = panel.frame.filter(pl.col("month") == month)
    by_id = {r["department_id"]: r for r in _rows(frame)}
    _root, top, children = _top_level(panel)
    # Survey figures exist in a month a pulse closed; a department with people but none then
    # had too few answers, or its figure would give a smaller group's away: it says so.
    surveyed = metrics.surveyed(_company_rows(panel, month).get(month))
    columns = [*TABLE_PEOPLE, *TABLE_CUSTOMER]
    columns = [c for c in columns if c in panel.frame.columns]
    rows = []
    any_hidden = False

    def row_for(dept: int, depth: int) -> dict[str, Any]:
        nonlocal any_hidden
        r = by_id.get(dept)
        headcount = _value(r, "headcount")
        # A survey figure is null both for "no pulse answered" and "too few answered": the
        # footnote is for the second (metrics.hidden, as the dashboards mark their cells).
        blank = {key for key in columns if metrics.hidden(r, key, surveyed)}
        hidden = bool(blank)
        any_hidden = any_hidden or hidden
        cells = []
        for key in columns:
            cells.append({"text": "" if key in blank else fmt.figure(key, _value(r, key)),
                          "side": metric(key).side})
        return {"name": names.get(dept, str(dept)), "depth": depth, "headcount": fmt.number(headcount, 0),
                "hidden": hidden, "cells": cells}

    for t in top:
        rows.append(row_for(t, 0))
        for c in children[t]:
            rows.append(row_for(c, 1))
    return {
        "columns": [{"key": k, "label": str(SHORT_LABELS.get(k, metric(k).label)), "full": str(metric(k).label),
                     "side": metric(k).side} for k in columns],
        "people_count": sum(1 for k in columns if metric(k).side == "people"),
        "customer_count": sum(1 for k in columns if metric(k).side == "customer"),
        "rows": rows, "any_hidden": any_hidden, "min_group": panel.min_group,
    }


def _movers(panel: Any, month: date, names: dict[int, str]) -> list[dict[str, Any]]:
    """For each mover metric, the departments whose figure rose and fell most since last month
    (``analytics.movers``, the dashboards' rule). Only departments below the top ones (``below_the_top``);
    hidden figures are null and drop out."""
    from servicechain.platform.analytics.metrics import metric
    from servicechain.platform.analytics.movers import below_the_top, movers

    departments = below_the_top({d["department_id"]: d["parent_id"] for d in _rows(panel.departments)})
    result = []
    for key in MOVER_METRICS:
        if key not in panel.frame.columns:
            continue
        found = movers(panel.frame, key, month, departments, MOVERS)

        def rows(items: list[Any], _key: str = key) -> list[dict[str, Any]]:
            return [{"name": names.get(mv.department_id, ""), "before": fmt.figure(_key, mv.before),
                     "now": fmt.figure(_key, mv.now), "change": fmt.change(_key, mv.change),
                     "class": fmt.trend(_key, mv.change)} for mv in items]

        result.append({"key": key, "label": str(metric(key).label), "up": rows(found.better),
                       "down": rows(found.worse), "compared": found.compared})
    return result


def _chain(panel: Any, names: dict[int, str]) -> dict[str, Any]:
    from servicechain.platform.analytics import chain, charts
    from servicechain.platform.analytics.metrics import CUSTOMER, PEOPLE, metric

    people = [k for k in PEOPLE if k in panel.units.columns]
    customer = [k for k in CUSTOMER if k in panel.units.columns]
    result = chain.analyse(panel.units, people, customer)
    pairs = chain.charted_pairs(result)  # the dashboards' six
    elasticities = {(e.people, e.customer, e.lag): e for e in result.elasticities}
    out = []
    for p in pairs:
        pm, cm = metric(p.people), metric(p.customer)
        item: dict[str, Any] = {
            "people": str(pm.label), "customer": str(cm.label), "lag": p.lag, "view": p.view,
            "n": p.n, "departments": p.departments, "too_small": p.too_small, "significant": p.significant,
            "r": fmt.number(p.pearson, 2), "r_ci": _ci(p.pearson_ci, 2), "rho": fmt.number(p.spearman, 2),
            "p": _p(p.p), "q": _p(p.q),
        }
        if p.too_small:
            item["chart"] = None
        else:
            # The dashboards' rule: the same dots drawn and the same line, fitted to every point.
            scatter = chain.scatter(panel.units, p.people, p.customer, p.lag, p.view)
            drawn = scatter.drawn
            points = [(float(x), float(y)) for x, y in zip(drawn["x"].to_list(), drawn["y"].to_list(), strict=True)]
            item["points_total"] = fmt.number(scatter.total, 0)
            item["points_shown"] = fmt.number(len(points), 0) if scatter.sampled else None
            x_label, y_label = str(pm.label), str(cm.label)
            if p.view == "within":
                x_label = _("%(metric)s, adjusted for the department's own level", metric=x_label)
                y_label = _("%(metric)s, adjusted for the department's own level", metric=y_label)
            item["chart"] = charts.scatter_chart(points, x_label=x_label, y_label=y_label, fit=scatter.fit,
                                                 width=320, height=240)
        e = elasticities.get((p.people, p.customer, p.lag))
        if e is None:
            e = getattr(result, "all_elasticities", {}).get((p.people, p.customer, p.lag))
        if e is not None:
            places = fmt.significant_decimals(e.ci[1] - e.ci[0] if e.ci else e.slope)
            item["elasticity"] = {"slope": fmt.number(e.slope, places, signed=True), "ci": _ci(e.ci, places),
                                  "n": e.n, "departments": e.departments}
        else:
            item["elasticity"] = None
        followers = result.followers.get((p.people, p.customer), []) if result.followers else []
        item["followers"] = [{
            "name": names.get(f.department_id, str(f.department_id)),
            "people_change": fmt.change(p.people, f.people_change),
            "customer_change": fmt.change(p.customer, f.customer_change), "lag": f.lag,
        } for f in followers[:5]]
        out.append(item)
    return {"pairs": out, "tested": result.tested, "alpha": fmt.number(result.alpha, 2),
            "significant": sum(1 for p in result.pairs if p.significant)}


def _ci(ci: tuple[float, float] | None, decimals: int) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "—"
    return f"{fmt.number(ci[0], decimals)} … {fmt.number(ci[1], decimals)}"


def _p(value: float | None) -> str:
    """A p or q value with its relation sign: "= 0.034", "< 0.001" (as the dashboards write it)."""
    from servicechain.platform.analytics import charts

    return charts.format_p(value, " ")


REPORT_READER = Actor(kind="person", role="executive", name="monthly report")


async def _service_matrix(month: date) -> dict[str, Any]:
    """The internal service matrix at the top level for the 12 months to the report's month,
    through internal_service.matrix: its primary and complementary suppression decide what is
    shown. The reader is a role, not a person: the report is for executives."""
    from servicechain.internal_service.service import matrix

    from servicechain.platform.analytics import charts

    m = await matrix(REPORT_READER, on=month_end(month))
    rows = [r["label"] for r in m["rows"]]
    cols = [c["label"] for c in m["cols"]]
    cells: dict[tuple[int, int], float | None] = {}
    for i, r in enumerate(m["rows"]):
        for j, cell in enumerate(r["cells"]):
            if cell["hidden"]:
                cells[(i, j)] = None
            elif cell["mean"] is not None:
                cells[(i, j)] = float(cell["mean"])
    chart = charts.heat_matrix(rows, cols, cells, scale=(1, 5), width=680, decimals=1,
                               suppressed_label=_("hidden: fewer than %(k)s people", k=m["k"])) if rows and cols else None
    return {"chart": chart, "since": format_date(m["since"], "long"), "until": format_date(m["until"], "long"),
            "k": m["k"], "empty": not cells,
            "hidden": sum(1 for v in cells.values() if v is None)}


async def _authority(panel: Any, month: date) -> dict[str, Any]:
    from servicechain.platform.analytics import charts
    from servicechain.platform.analytics.metrics import metric

    since = shift_month(month, -11)
    try:
        from servicechain.platform.analytics import cases
    except ImportError:  # the case comparison ships with the chain; the rest of the page stands
        comparison = None
    else:
        # The report's month, as the rest of the report: at 20,000 people a month holds some
        # 6,000 scores after a use, and a year's comparison cost four times the CPU (6 s on
        # SQLite) for a monthly document. A small company's month says "too few cases".
        comparison = await cases.authority_outcomes(month, month_end(month))
    series = [(r["month"], _value(r, "authority_uses")) for r in _rows(panel.company.sort("month"))
              if since <= r["month"] <= month]
    spend = [(r["month"], _value(r, "authority_spend")) for r in _rows(panel.company.sort("month"))
             if since <= r["month"] <= month]
    now = _company_rows(panel, month).get(month)
    return {
        "since": format_date(month, "long"), "until": format_date(month_end(month), "long"),
        "uses": fmt.figure("authority_uses", _value(now, "authority_uses")),
        "spend": fmt.figure("authority_spend", _value(now, "authority_spend")),
        "grants": fmt.figure("authority_grants", _value(now, "authority_grants")),
        "chart": charts.bar_chart([(format_date(d, "LLL yyyy"), v) for d, v in series], unit="", width=680, height=200,
                                  title=_("Authority uses by month")),
        "spend_by_month": spend,
        "comparison": _comparison(comparison, metric) if comparison is not None else None,
    }


def _comparison(c: Any, metric: Any) -> dict[str, Any]:
    """The case comparison as printed (analytics.cases.CaseComparison): CSAT and the low-score
    share after a use of authority against similar cases without one."""

    def outcome(d: Any, key: str, decimals: int) -> dict[str, Any]:
        return {"too_small": d.too_small, "with_n": fmt.number(d.with_use_n, 0), "without_n": fmt.number(d.without_n, 0),
                "with_mean": fmt.figure(key, d.with_use_mean), "without_mean": fmt.figure(key, d.without_mean),
                "difference": fmt.change(key, d.difference), "ci": _ci(d.ci, decimals),
                "before_mean": fmt.figure(key, d.before_mean), "before_n": fmt.number(d.before_n, 0),
                "class": fmt.trend(key, d.difference)}

    return {"cases": fmt.number(c.cases, 0), "matched": fmt.number(c.matched_cases, 0), "strata": fmt.number(c.strata, 0),
            "min_cases": c.min_cases, "too_small": c.csat.too_small and c.low_score_share.too_small,
            "rows": [{"label": str(metric("csat").label), **outcome(c.csat, "csat", 1)},
                     {"label": str(metric("low_score_share").label), **outcome(c.low_score_share, "low_score_share", 1)}]}


async def _recognition(month: date, lang: str) -> dict[str, Any]:
    """Values most named in public thanks this month, and the month's inspiring-service stories
    (public thanks with a story, the most reacted-to first) with the values they name. The text
    is the senders' own: the template escapes it."""
    since = datetime.combine(month, datetime.min.time(), tzinfo=get_settings().tz)
    until = datetime.combine(shift_month(month, 1), datetime.min.time(), tzinfo=get_settings().tz)
    name = "v.name_ru" if lang == "ru" else "v.name_en"
    values = await db.fetch(
        f"SELECT {name} AS name, COUNT(*) AS n FROM recognition_value rv JOIN recognition r ON r.id = rv.recognition"
        " JOIN company_value v ON v.id = rv.value WHERE r.public = {} AND r.created_at >= {} AND r.created_at < {}"
        f" GROUP BY {name} ORDER BY n DESC, {name} LIMIT 6", True, since, until)
    total = await db.fetch("SELECT COUNT(*) AS n FROM recognition r WHERE r.public = {} AND r.created_at >= {}"
                           " AND r.created_at < {}", True, since, until)
    stories = await db.fetch(
        "SELECT r.id, r.message, r.story, r.created_at, p.full_name AS sender,"
        " (SELECT COUNT(*) FROM recognition_reaction x WHERE x.recognition = r.id) AS reactions"
        " FROM recognition r JOIN person p ON p.id = r.sender"
        " WHERE r.public = {} AND r.story <> '' AND r.created_at >= {} AND r.created_at < {}"
        " ORDER BY reactions DESC, r.created_at DESC, r.id LIMIT {}", True, since, until, STORIES)
    ids = [s["id"] for s in stories]
    recipients: dict[int, list[str]] = {}
    named: dict[int, list[str]] = {}
    if ids:
        marks = db.placeholders(len(ids))
        for r in await db.fetch(f"SELECT rr.recognition AS id, p.full_name AS name FROM recognition_recipient rr"
                                f" JOIN person p ON p.id = rr.person WHERE rr.recognition IN ({marks}) ORDER BY p.full_name",
                                *ids):
            recipients.setdefault(r["id"], []).append(r["name"])
        for r in await db.fetch(f"SELECT rv.recognition AS id, {name} AS name FROM recognition_value rv"
                                f" JOIN company_value v ON v.id = rv.value WHERE rv.recognition IN ({marks})"
                                f" ORDER BY v.position", *ids):
            named.setdefault(r["id"], []).append(r["name"])
    return {
        "total": fmt.number(total[0]["n"] if total else 0, 0),
        "values": [{"name": v["name"], "n": fmt.number(v["n"], 0)} for v in values],
        "stories": [{"sender": s["sender"], "to": ", ".join(recipients.get(s["id"], [])), "message": s["message"],
                     "story": s["story"], "values": named.get(s["id"], []), "reactions": s["reactions"]}
                    for s in stories],
    }


def _follow_ups(panel: Any, month: date, names: dict[int, str]) -> dict[str, Any]:
    from servicechain.platform.analytics import charts

    since = shift_month(month, -11)
    company = panel.company.filter((pl.col("month") >= since) & (pl.col("month") <= month)).sort("month")
    rate = [(r["month"], _value(r, "follow_up_rate")) for r in _rows(company)]
    hours = [(r["month"], _value(r, "follow_up_hours")) for r in _rows(company)]
    now = _company_rows(panel, month).get(month)
    _root, top, _children = _top_level(panel)
    frame = {r["department_id"]: r for r in _rows(panel.frame.filter(pl.col("month") == month))}
    rows = []
    for t in top:
        r = frame.get(t)
        if r is None or (_value(r, "follow_up_rate") is None and _value(r, "follow_up_hours") is None):
            continue
        rows.append({"name": names.get(t, ""), "rate": fmt.figure("follow_up_rate", _value(r, "follow_up_rate")),
                     "hours": fmt.figure("follow_up_hours", _value(r, "follow_up_hours")),
                     "n": fmt.number(_value(r, "follow_up_rate_n"), 0) if "follow_up_rate_n" in r else "—",
                     "low": fmt.figure("low_score_share", _value(r, "low_score_share"))})
    return {
        "rate": fmt.figure("follow_up_rate", _value(now, "follow_up_rate")),
        "hours": fmt.figure("follow_up_hours", _value(now, "follow_up_hours")),
        "chart": charts.line_chart([(_("Follow-ups closed within the window"), rate)], y_label="%", width=680,
                                   height=200, y_range=(0, 100)),
        "hours_chart": charts.line_chart([(_("Median hours to close"), hours)], y_label=_("hours"), width=680,
                                         height=180),
        "rows": rows,
    }


async def build_context(month: date, lang: str, *, snap: Any = None) -> dict[str, Any]:
    """Everything the template prints for ``month`` in ``lang``. Reads the stored snapshot
    (``snap`` when the caller has it already); raises NoData for a month without data."""
    check_language(lang)
    month = month_start(month)
    if snap is None:
        snap, _built = await stored_snapshot(month, build_missing=False)
    if not _has_data(snap, month):  # in the caller's language: the web page shows it
        raise NoData(_("There is no data for %(month)s: nothing to report.", month=month_key(month)))
    with use_language(lang):
        panel = snap.panel
        names = _names(panel, lang)
        root, _top, _children = _top_level(panel)
        company = names.get(root, "") if root is not None else ""
        title = month_title(month)
        context = {
            "lang": lang,
            "month": month,
            "month_key": month_key(month),
            "month_title": title,
            "company": company or _("Our company"),
            "header": _("Monthly report · %(month)s", month=title),
            "page_counter": fmt.page_counter_css(_("page %(page)s of %(pages)s")),
            "generated_on": format_datetime(datetime.now(UTC), "long"),
            "snapshot": {"checksum": snap.checksum, "built_at": format_datetime(snap.built_at, "medium"),
                         "months": panel.months},
            "min_group": panel.min_group,
            "summary": _summary(panel, month),
            "chain": _chain(panel, names),
            "departments": _department_table(panel, month, names),
            "movers": _movers(panel, month, names),
            "matrix": await _service_matrix(month),
            "authority": await _authority(panel, month),
            "recognition": await _recognition(month, lang),
            "follow_ups": _follow_ups(panel, month, names),
        }
    return context


def render_html(context: dict[str, Any]) -> str:
    """The finished HTML (styles inline): what WeasyPrint typesets."""
    from servicechain.platform.web import ENVIRONMENT

    with use_language(context["lang"]):
        return ENVIRONMENT.get_template(TEMPLATE).render(
            **{**context, "page_counter": Markup(context["page_counter"])}, css=Markup(_stylesheet()), company_css=Markup(fmt.css_string(context["company"])),
            header_css=Markup(fmt.css_string(context["header"])),)


def _stylesheet() -> str:
    from servicechain.platform.config import REPO_ROOT

    return (REPO_ROOT / "templates" / "reports" / "print.css").read_text(encoding="utf-8")


def render_pdf(html: str) -> bytes:
    """Typeset ``html`` to PDF. No base URL: the report carries every style and chart inline
    and fetches nothing."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


# --- the archive --------------------------------------------------------------------------------


@dataclass
class ArchivedReport:
    id: int
    month: date
    lang: str
    generated_at: datetime
    generated_by: int | None
    sha256: str
    size: int
    snapshot_checksum: str
    pdf: bytes | None = None


def checksum(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()


async def make_pdf(month: date, lang: str, *, snap: Any = None) -> tuple[bytes, Any]:
    """The finished PDF for the month and the snapshot it was made from."""
    check_language(lang)
    if snap is None:
        snap, _built = await stored_snapshot(month, build_missing=True)
    context = await build_context(month, lang, snap=snap)
    # Seconds of typesetting in a thread: a worker running inside `serve` keeps answering.
    return await asyncio.to_thread(render_pdf, render_html(context)), snap


async def generate(month: date, lang: str, actor: Actor | None, *, snap: Any = None) -> ArchivedReport:
    """Make the report and store it in the archive, replacing the month's report in that
    language if there was one (callers decide whether to regenerate). ``actor`` None: the
    command line. Audited with the checksum."""
    from servicechain.platform import audit
    from servicechain.platform.reports.tables import ReportArchive

    month = month_start(month)
    pdf, snap = await make_pdf(month, lang, snap=snap)
    digest = checksum(pdf)
    at = datetime.now(UTC)
    person = actor.person_id if actor is not None and actor.is_person else None
    values = {ReportArchive.generated_at: at, ReportArchive.generated_by: person, ReportArchive.sha256: digest,
              ReportArchive.size: len(pdf), ReportArchive.pdf: pdf, ReportArchive.snapshot_checksum: snap.checksum}
    async with db.write():
        existing = await ReportArchive.select(ReportArchive.id).where(
            (ReportArchive.month == month) & (ReportArchive.lang == lang)).first().run()
        if existing:
            report_id = existing["id"]
            await ReportArchive.update(values).where(ReportArchive.id == report_id).run()
        else:
            row = ReportArchive(month=month, lang=lang, **{c._meta.name: v for c, v in values.items()})
            await row.save().run()
            report_id = row.id
        from servicechain.platform.security import SYSTEM

        await audit.record(actor or SYSTEM, "reports.generated", object_type="report_archive", object_id=report_id,
                           summary=f"{month_key(month)} {lang}",
                           after={"sha256": digest, "size": len(pdf), "snapshot": snap.checksum,
                                  "replaced": bool(existing)})
    return ArchivedReport(report_id, month, lang, at, person, digest, len(pdf), snap.checksum, pdf)


ARCHIVE_COLUMNS = ("id", "month", "lang", "generated_at", "generated_by", "sha256", "size", "snapshot_checksum")


async def archive() -> list[dict[str, Any]]:
    """Every stored report, newest month first, without the PDFs; with who generated it."""
    rows = await db.fetch(
        "SELECT a.id, a.month, a.lang, a.generated_at, a.generated_by, a.sha256, a.size, a.snapshot_checksum,"
        " p.full_name AS generated_by_name FROM report_archive a LEFT JOIN person p ON p.id = a.generated_by"
        " ORDER BY a.month DESC, a.lang")
    for r in rows:
        r["month"] = _as_date(r["month"])
    return rows


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def archived(month: date, lang: str) -> dict[str, Any] | None:
    from servicechain.platform.reports.tables import ReportArchive

    return await ReportArchive.select(*(getattr(ReportArchive, c) for c in ARCHIVE_COLUMNS)).where(
        (ReportArchive.month == month_start(month)) & (ReportArchive.lang == lang)).first().run()


class ChecksumMismatch(ReportError):
    pass


async def download(report_id: int) -> tuple[dict[str, Any], bytes]:
    """The stored PDF after checking it against its checksum; ChecksumMismatch if the bytes
    changed since they were stored (the caller refuses to send them)."""
    from servicechain.platform.reports.tables import ReportArchive
    from servicechain.platform.security import NotFound

    row = await ReportArchive.select().where(ReportArchive.id == report_id).first().run()
    if row is None:
        raise NotFound()
    pdf = bytes(row["pdf"])
    if checksum(pdf) != row["sha256"] or len(pdf) != row["size"]:
        raise ChecksumMismatch(_("The stored report for %(month)s does not match its checksum; generate it again.",
                                 month=month_key(_as_date(row["month"]))))
    row["month"] = _as_date(row["month"])
    return row, pdf


def filename(month: date, lang: str) -> str:
    return f"servicechain-report-{month_key(month)}-{lang}.pdf"
