"""The report's tables on a panel built by hand: a department under the anonymity minimum has
blank people-side cells and a footnote, never a figure; movers skip hidden figures."""

from __future__ import annotations

from datetime import date

import polars as pl

from servicechain.platform.analytics.panel import Panel
from servicechain.platform.i18n import use_language
from servicechain.platform.reports import monthly

OCT, SEP = date(2026, 10, 1), date(2026, 9, 1)


def panel(*, pulse_in_october: bool = True) -> Panel:
    departments = pl.DataFrame({
        "department_id": [1, 2, 3, 4], "parent_id": [None, 1, 2, 2],
        "name_en": ["Company", "Support", "Big team", "Tiny team"], "name_ru": ["Компания", "Поддержка", "Большая", "Малая"],
        "depth": [0, 1, 2, 2], "is_leaf": [False, False, True, True], "unit_id": [None, None, 3, 2],
    }, schema_overrides={"parent_id": pl.Int64, "unit_id": pl.Int64})
    engaged = 71.0 if pulse_in_october else None
    frame = pl.DataFrame({
        "department_id": [1, 2, 3, 4] * 2,
        "month": [SEP] * 4 + [OCT] * 4,
        "headcount": [40, 40, 37, 3] * 2,
        "respondents": [30, 30, 28, 2] * 2 if pulse_in_october else [30, 30, 28, 2] + [None] * 4,
        # Tiny team: 2 respondents, under the minimum of 5: its survey figures are null.
        "engagement": [60.0, 60.0, 61.0, None, engaged, engaged, 72.6 if pulse_in_october else None, None],
        "enps": [10.0, 10.0, 12.0, None, 20.0, 20.0, 22.0, None] if pulse_in_october else [10.0, 10.0, 12.0, None] + [None] * 4,
        "csat": [81.0, 81.0, 80.0, 95.0, 83.0, 83.0, 82.0, 62.5],
        "nps": [30.0, 30.0, 28.0, 60.0, 35.0, 35.0, 33.0, 10.0],
    }, schema_overrides={"respondents": pl.Int64, "engagement": pl.Float64, "enps": pl.Float64})
    company = frame.filter(pl.col("department_id") == 1).drop("department_id")
    return Panel(frame=frame, units=frame.filter(pl.col("department_id") != 1), company=company,
                 departments=departments, until=OCT, months=2, min_group=5)


def test_a_department_under_the_minimum_has_blank_people_cells_and_a_footnote():
    p = panel()
    with use_language("en"):
        table = monthly._department_table(p, OCT, monthly._names(p, "en"))
    rows = {r["name"]: r for r in table["rows"]}
    keys = [c["key"] for c in table["columns"]]
    tiny, big = rows["Tiny team"], rows["Big team"]
    assert tiny["hidden"] and table["any_hidden"]
    assert [c["text"] for c, k in zip(tiny["cells"], keys) if k in ("engagement", "enps")] == ["", ""]
    assert [c["text"] for c, k in zip(tiny["cells"], keys) if k == "csat"] == ["62.5\u00a0%"]  # the customer side stays
    assert not big["hidden"] and [c["text"] for c, k in zip(big["cells"], keys) if k == "engagement"] == ["73"]
    assert [r["depth"] for r in table["rows"]] == [0, 1, 1]  # Support, then its teams: one table


def test_a_single_hidden_survey_figure_is_blank_and_footnoted_as_on_the_dashboards():
    """metrics.hidden decides per figure for the report as for the dashboards' cells: eNPS under
    the minimum next to an engagement figure is blank and footnoted, not "no data"."""
    p = panel()
    frame = p.frame.with_columns(pl.when((pl.col("department_id") == 3) & (pl.col("month") == OCT))
                                 .then(None).otherwise(pl.col("enps")).alias("enps"))
    p = Panel(frame=frame, units=p.units, company=p.company, departments=p.departments, until=OCT, months=2,
              min_group=5)
    with use_language("en"):
        table = monthly._department_table(p, OCT, monthly._names(p, "en"))
    big = {r["name"]: r for r in table["rows"]}["Big team"]
    keys = [c["key"] for c in table["columns"]]
    assert big["hidden"] and [c["text"] for c, k in zip(big["cells"], keys) if k in ("engagement", "enps")] == ["73", ""]


def test_no_footnote_in_a_month_without_a_pulse():
    p = panel(pulse_in_october=False)
    with use_language("en"):
        table = monthly._department_table(p, OCT, monthly._names(p, "en"))
    assert not table["any_hidden"] and not any(r["hidden"] for r in table["rows"])


def test_movers_leave_out_hidden_figures_and_the_company():
    p = panel()
    with use_language("ru"):
        movers = {m["key"]: m for m in monthly._movers(p, OCT, monthly._names(p, "ru"))}
    names = [r["name"] for r in movers["engagement"]["up"] + movers["engagement"]["down"]]
    assert "Малая" not in names and "Компания" not in names
    assert [r["name"] for r in movers["csat"]["down"]] == ["Малая"]
    assert movers["csat"]["down"][0]["change"] == "\u221232,5\u00a0п. п."  # 95 % to 62.5 %, in points

