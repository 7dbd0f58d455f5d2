"""The monthly report's chain charts are the dashboards' (one rule, ``chain.scatter``): on a
small company, every pair both show draws the same dots with the same line, counts the same
points and prints the same r."""

from __future__ import annotations

import pytest

from servicechain.platform.analytics import chain, charts, dashboards
from servicechain.platform.i18n import use_language
from servicechain.platform.reports import monthly
from tests.analytics import dashboard_data as data


def _record(monkeypatch) -> list[tuple[list[tuple[float, float]], tuple[float, float] | None]]:
    drawn: list = []
    real = charts.scatter_chart

    def recorded(points, **kwargs):
        drawn.append(([(float(x), float(y)) for x, y in points], kwargs.get("fit")))
        return real(points, **kwargs)

    monkeypatch.setattr(charts, "scatter_chart", recorded)
    return drawn


async def test_the_report_and_the_dashboards_draw_the_same_scatter_charts(cast, monkeypatch):
    snapshot = data.build(cast.departments)
    monkeypatch.setattr(chain, "SCATTER_POINTS", 40)  # a small company: sampling too, not only all dots
    drawn = _record(monkeypatch)
    with use_language("en"):
        report = [p for p in monthly._chain(snapshot.panel, {})["pairs"] if p["chart"] is not None]
        in_report = {(p["people"], p["customer"], p["lag"], p["view"]): (p, d) for p, d in zip(report, drawn, strict=True)}
        drawn.clear()
        dashboards.forget_pages()
        cards = (await dashboards.company_page(cast.actor("ceo"), {}, snapshot=snapshot))["chain"]["cards"]
        on_page = {(dashboards.label(c["pair"].people), dashboards.label(c["pair"].customer), c["pair"].lag,
                    c["pair"].view): (c, d) for c, d in zip(cards, drawn, strict=False)}
    both = in_report.keys() & on_page.keys()
    assert both, (in_report.keys(), on_page.keys())
    sampled = 0
    for key in both:
        (item, (report_dots, report_fit)), (card, (page_dots, page_fit)) = in_report[key], on_page[key]
        assert report_dots == page_dots  # the same dots, in the same order
        assert report_fit == pytest.approx(page_fit) and report_fit is not None
        assert item["points_total"] == charts.format_value(card["points"], 0)
        assert (item["points_shown"] is not None) == (card["sampled"] is not None)
        sampled += card["sampled"] is not None
        low, high = item["r_ci"].split(" … ")
        assert f"r = {item['r']} (95 % interval {low} to {high})" in card["sentences"][1]
    assert sampled  # the sample rule was compared, not only charts small enough to draw whole
    dashboards.forget_pages()
