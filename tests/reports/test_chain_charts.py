"""The monthly report shows the dashboards' figures (one rule each): on a small company, the
chain charts the same pairs (``chain.charted_pairs``), each with the same dots and line
(``chain.scatter``), point count and printed r and q; the movers are the same departments with
the same changes (``analytics.movers``)."""

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
    assert list(in_report) == list(on_page)  # the same pairs, in the same order
    both = in_report.keys()
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
        assert "(q\u00a0" + item["q"].replace(" ", "\u00a0") + ")" in card["sentences"][2]
    assert sampled  # the sample rule was compared, not only charts small enough to draw whole
    dashboards.forget_pages()


@pytest.mark.parametrize("key", monthly.MOVER_METRICS)
async def test_the_report_and_the_dashboards_name_the_same_movers(cast, key):
    snapshot = data.build(cast.departments)
    dashboards.forget_pages()
    with use_language("en"):
        ids = {d: str(d) for d in snapshot.panel.frame.get_column("department_id").unique().to_list()}
        report = {m["key"]: m for m in monthly._movers(snapshot.panel, snapshot.month, ids)}[key]
        page = (await dashboards.company_page(cast.actor("ceo"), {"movers": key}, snapshot=snapshot))["movers"]
    dashboards.forget_pages()
    assert report["up"] and report["down"]
    for printed, shown in ((report["up"], page["better_list"]), (report["down"], page["worse_list"])):
        assert [r["name"] for r in printed] == [str(s["id"]) for s in shown]
        # The page's bars carry the change unsigned; the report's table signs it and adds the unit.
        assert [r["change"].lstrip("+").split("\u00a0")[0] for r in printed] == [s["change"] for s in shown]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_figure_and_its_change_read_the_same_on_the_page_and_in_the_report(lang):
    from servicechain.platform.analytics.metrics import METRICS
    from servicechain.platform.reports import formatting as fmt

    with use_language(lang):
        for m in METRICS:
            for now, before in ((12.5, 10.0), (1800.0, 5000.0), (0.4, 0.1)):
                shown = dashboards.figure({"headcount": 5, m.key: now}, m.key, True)["display"]
                assert shown == fmt.figure(m.key, now), m.key
                change = dashboards._change(now, before, m)
                assert change["text"] == fmt.change(m.key, now - before), m.key
        assert fmt.change("follow_up_hours", 2.5) == ("+2.5\u00a0h" if lang == "en" else "+2,5\u00a0ч")
