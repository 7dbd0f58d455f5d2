"""The SVG charts: well-formed XML, points and bars where the data put them, gaps for missing
values, every user-given text escaped, Cyrillic intact, ticks at 1/2/5 steps."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from servicechain.platform import i18n
from servicechain.platform.analytics import charts

NS = "{http://www.w3.org/2000/svg}"
MONTHS = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, m, 1) for m in range(1, 13)]
EVIL = '<script>alert("x")</script> & Co'


def parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == NS + "svg"
    assert root.get("width") and root.get("height") and root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert "DejaVu Sans" in root.get("font-family")
    assert root.find(NS + "title") is not None
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(NS + "text")]


def points_of(polyline: ET.Element) -> list[tuple[float, float]]:
    return [tuple(float(c) for c in p.split(",")) for p in polyline.get("points").split()]


def grid_y(root: ET.Element) -> dict[str, float]:
    """Horizontal grid lines by the label written beside them."""
    labels = {}
    lines = [e for e in root.iter() if e.tag == NS + "line" and e.get("class") == "grid"]
    label_texts = [t for t in root.iter(NS + "text") if t.get("text-anchor") == "end"]
    for line in lines:
        y = float(line.get("y1"))
        for t in label_texts:
            if abs(float(t.get("y")) - 4 - y) < 0.11:
                labels["".join(t.itertext())] = y
    return labels


# --- ticks --------------------------------------------------------------------------------------


def test_ticks_are_round_numbers_at_one_two_or_five_steps():
    assert charts.nice_ticks(0.3, 9.7)[0] == [0, 2, 4, 6, 8, 10]
    assert charts.nice_ticks(-100, 100, 4)[0] == [-100, -50, 0, 50, 100]
    assert charts.nice_ticks(3.12, 4.48) == ([3.0, 3.5, 4.0, 4.5], 1)
    assert charts.nice_ticks(3.12, 4.48, 10) == ([3.0, 3.2, 3.4, 3.6, 3.8, 4.0, 4.2, 4.4, 4.6], 1)
    rng = random.Random(7)
    for _ in range(300):
        low = rng.uniform(-1e4, 1e4)
        high = low + 10 ** rng.uniform(-3, 4)
        ticks, decimals = charts.nice_ticks(low, high)
        step = round(ticks[1] - ticks[0], decimals + 2)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 5), (low, high, ticks)
        assert ticks[0] <= low and ticks[-1] >= high and 3 <= len(ticks) <= 12


def test_a_flat_series_still_gets_an_axis():
    ticks, _ = charts.nice_ticks(4.0, 4.0)
    assert ticks[0] < 4.0 < ticks[-1]


# --- line chart -----------------------------------------------------------------------------------


def test_line_points_land_where_the_values_say():
    values = [0.0, 40.0, 100.0, 30.0]
    svg = charts.line_chart([("CSAT", list(zip(MONTHS[:4], values)))], y_label="Index", y_range=(0, 100))
    root = parse(svg)
    (line,) = root.iter(NS + "polyline")
    pts = points_of(line)
    grid = grid_y(root)
    assert [y for _x, y in pts] == pytest.approx([grid["0"], grid["40"], grid["100"], (grid["20"] + grid["40"]) / 2], abs=0.11)
    xs = [x for x, _y in pts]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2) == pytest.approx(xs[3] - xs[2], abs=0.2)


def test_missing_values_leave_gaps_not_zeros():
    values = [60.0, 62.0, None, None, 70.0, 71.0, None, 75.0]
    svg = charts.line_chart([("Engagement", list(zip(MONTHS[:8], values)))], y_label="Index", y_range=(0, 100))
    root = parse(svg)
    lines = list(root.iter(NS + "polyline"))
    assert [len(points_of(p)) for p in lines] == [2, 2]
    markers = [c for c in root.iter(NS + "circle")]
    # a marker on every known point, the one standing alone included; none on the zero line
    assert len([m for m in markers if m.find(NS + "title") is not None]) == 5
    zero = grid_y(root)["0"]
    assert all(abs(float(m.get("cy")) - zero) > 1 for m in markers)
    assert any("75" in "".join(m.itertext()) for m in markers)


def test_series_differ_by_dash_as_well_as_colour_and_have_a_legend():
    series = [("Engagement", [(m, 60.0 + i) for i, m in enumerate(MONTHS)]), ("CSAT x20", [(m, 80.0 - i) for i, m in enumerate(MONTHS)])]
    root = parse(charts.line_chart(series, y_label="Index"))
    first, second = root.iter(NS + "polyline")
    assert first.get("stroke") != second.get("stroke")
    assert first.get("stroke-dasharray") != second.get("stroke-dasharray")
    assert {"Engagement", "CSAT x20"} <= set(texts(root))


def test_the_month_axis_is_thinned_and_names_the_years():
    root = parse(charts.line_chart([("A", [(m, 1.0) for m in MONTHS])], y_label="x"))
    labels = texts(root)
    assert "Jan" in labels and "2025" in labels and "2026" in labels
    assert "Feb" not in labels  # 24 months do not fit one label each into 640 px: every other one
    assert labels.count("Mar") == 2 and labels.count("Nov") == 2


def test_labels_are_escaped_text_never_markup():
    svg = charts.line_chart([(EVIL, [(MONTHS[0], 1.0), (MONTHS[1], 2.0)])], y_label=EVIL, title=EVIL)
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert EVIL in texts(root)
    assert "<script>" not in str(svg) and "&lt;script&gt;" in str(svg)


def test_russian_labels_and_numbers():
    with i18n.use_language("ru"):
        svg = charts.line_chart([("Отдел продаж «Север»", list(zip(MONTHS[:6], [3.5, 4.25, 4.0, 3.75, 4.5, 4.0])))],
                                y_label="Удовлетворённость", y_range=(1, 5))
    root = parse(svg)
    labels = texts(root)
    assert "Отдел продаж «Север»" in labels and "Удовлетворённость" in labels
    assert "янв." in labels and "2025" in labels
    tips = ["".join(t.itertext()) for t in root.iter(NS + "title")]
    assert any("4,2" in t for t in tips)  # a Russian decimal comma


def test_an_empty_chart_is_still_a_chart():
    root = parse(charts.line_chart([("A", [(MONTHS[0], None)])], y_label="x"))
    assert "—" in texts(root) and not list(root.iter(NS + "polyline"))
    parse(charts.line_chart([], y_label="x"))


def test_control_characters_from_imports_do_not_break_the_xml():
    parse(charts.bar_chart([("Склад\x01\x0b", 1.0)], unit="count"))


# --- scatter --------------------------------------------------------------------------------------


def test_scatter_points_and_fit_line_follow_the_data():
    pts = [(10.0, 2.0), (20.0, 3.0), (30.0, 4.0), (40.0, 5.0)]
    root = parse(charts.scatter_chart(pts, x_label="Engagement", y_label="CSAT", fit=(0.1, 1.0)))
    circles = [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(NS + "circle")]
    assert len(circles) == 4
    # on a straight line: equal steps in x and y
    dx = [b[0] - a[0] for a, b in zip(circles, circles[1:])]
    dy = [b[1] - a[1] for a, b in zip(circles, circles[1:])]
    assert dx == pytest.approx([dx[0]] * 3, abs=0.2) and dy == pytest.approx([dy[0]] * 3, abs=0.2)
    assert dx[0] > 0 and dy[0] < 0  # higher values go up
    (fit,) = [e for e in root.iter(NS + "line") if e.get("class") == "fit"]
    # the data lie exactly on y = 0.1x + 1, so the fit passes through every point
    x1, y1, x2, y2 = (float(fit.get(k)) for k in ("x1", "y1", "x2", "y2"))
    slope = (y2 - y1) / (x2 - x1)
    for cx, cy in circles:
        assert cy == pytest.approx(y1 + slope * (cx - x1), abs=0.3)
    assert "y = 0.10x + 1.00" in texts(root)


def test_scatter_with_a_negative_intercept_writes_a_minus():
    root = parse(charts.scatter_chart([(1.0, 1.0), (2.0, 3.0)], x_label="a", y_label="b", fit=(2.0, -1.0)))
    assert "y = 2.00x \u2212 1.00" in texts(root)


def test_scatter_tooltips_escape_department_names():
    root = parse(charts.scatter_chart([(1.0, 2.0)], x_label="a", y_label="b", fit=None, point_labels=[EVIL]))
    assert any(EVIL in "".join(t.itertext()) for t in root.iter(NS + "title"))


# --- bars -----------------------------------------------------------------------------------------


def test_bars_are_as_long_as_their_values_and_none_is_a_dash():
    root = parse(charts.bar_chart([("Sales", 40.0), ("Warehouse", 20.0), ("IT", None)], unit="percent"))
    rects = list(root.iter(NS + "rect"))
    assert len(rects) == 2
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.2)
    assert float(rects[0].get("x")) == pytest.approx(float(rects[1].get("x")))
    labels = texts(root)
    assert "40.0\u00a0%" in labels and "—" in labels and "IT" in labels


def test_signed_bars_grow_both_ways_from_zero():
    root = parse(charts.bar_chart([("Up", 5.0), ("Down", -5.0)], unit="points", signed=True))
    up, down = list(root.iter(NS + "rect"))
    assert float(up.get("x")) == pytest.approx(float(down.get("x")) + float(down.get("width")), abs=0.11)
    assert float(up.get("width")) == pytest.approx(float(down.get("width")), abs=0.11)
    assert up.get("fill") != down.get("fill")
    assert "\u22125.0" in texts(root)


def test_many_bars_make_the_chart_taller_not_the_rows_thinner():
    root = parse(charts.bar_chart([(f"Dept {i}", float(i)) for i in range(30)], unit="count", height=220))
    assert float(root.get("height")) >= 30 * 18


# --- heat matrix ----------------------------------------------------------------------------------


def test_heat_matrix_diverges_and_hatches_suppressed_cells():
    rows, cols = ["Sales", EVIL], ["Sales", "Warehouse", "IT"]
    cells = {(0, 0): 1.0, (0, 1): 5.0, (0, 2): 3.0, (1, 0): None}
    svg = charts.heat_matrix(rows, cols, cells, scale=(1, 5), suppressed_label="fewer than 5 answers")
    root = parse(svg)
    filled = {g.find(NS + "title").text.split(":")[0]: g for g in root.iter(NS + "g") if g.get("class") == "cell"}
    low = filled["Sales → Sales"].find(NS + "rect").get("fill")
    high = filled["Sales → Warehouse"].find(NS + "rect").get("fill")
    middle = filled["Sales → IT"].find(NS + "rect").get("fill")
    red = lambda c: int(c[1:3], 16)  # noqa: E731
    blue = lambda c: int(c[5:7], 16)  # noqa: E731
    assert red(low) > blue(low) and blue(high) > red(high) and charts._luminance(middle) > 0.85
    (suppressed,) = [g for g in root.iter(NS + "g") if g.get("class") == "cell suppressed"]
    assert "—" in texts(suppressed) and suppressed.find(NS + "g").get("class") == "hatch"
    empty = [r for r in root.iter(NS + "rect") if r.get("class") == "cell empty"]
    assert len(empty) == 2  # (1, 1) and (1, 2) have no data: blank, not hatched, not zero
    assert "fewer than 5 answers" in texts(root)
    assert any(EVIL in "".join(t.itertext()) for t in root.iter(NS + "title"))  # shortened on screen, whole in the tooltip


# --- sparkline ------------------------------------------------------------------------------------


def test_sparkline_keeps_gaps_and_marks_the_last_value():
    root = parse(charts.sparkline([1.0, 2.0, None, 3.0, 4.0]))
    assert [len(points_of(p)) for p in root.iter(NS + "polyline")] == [2, 2]
    last = [c for c in root.iter(NS + "circle") if c.get("class") == "last"][0]
    assert float(last.get("cy")) == pytest.approx(2.5, abs=0.01)  # the highest value at the top
    parse(charts.sparkline([None, None]))
    parse(charts.sparkline([]))


def test_numbers_read_as_the_rest_of_the_app_writes_them():
    rng = random.Random(11)
    for language in ("en", "ru"):
        with i18n.use_language(language):
            for _ in range(400):
                value, decimals = rng.uniform(-2e6, 2e6) / 10 ** rng.randint(0, 5), rng.randint(0, 3)
                expected = i18n.format_number(round(value, decimals) + 0.0, decimals).replace("-", "\u2212")
                if not expected.strip("\u22120.,"):
                    expected = expected.lstrip("\u2212")
                assert charts.format_value(value, decimals) == expected
    with i18n.use_language("ru"):
        assert charts.format_value(-1234.5, 1) == "\u22121\u00a0234,5" and charts.format_value(-0.001, 1) == "0,0"


def test_no_text_falls_outside_the_chart():
    """Every label fits inside the viewBox (estimated with DejaVu's width): nothing is clipped in
    the PDF, where an SVG does not overflow its box."""
    long = "Очень длинное название подразделения по обслуживанию клиентов"
    svgs = [
        charts.line_chart([(long, [(m, float(i)) for i, m in enumerate(MONTHS)]), ("B", [(m, 5.0) for m in MONTHS])],
                          y_label=long, width=320, height=180),
        charts.scatter_chart([(1.0, 2.0), (3.0, 5.0), (10.0, 1.0)], x_label=long, y_label=long, fit=(-0.3, 4.1)),
        charts.bar_chart([(long, -1234.5), ("IT", 20.0), ("Склад", None)], unit="rub", width=420),
        charts.heat_matrix([long, "Склад"], ["Продажи", long, "ИТ"], {(0, 0): 1.0, (1, 1): None, (0, 2): 4.5},
                           suppressed_label="меньше 5 ответов"),
        charts.sparkline([1.0, None, 3.0]),
        charts.progress_chart([(date(2026, 2, 1), 10.0, "x")], start=date(2026, 1, 1), end=date(2026, 12, 31),
                              baseline=0.0, target=12345.0, today=date(2026, 12, 30), title="t", today_label="сегодня",
                              baseline_label="Исходное значение", target_label="Цель", expected_label="Ожидаемый ход"),
    ]
    for svg in svgs:
        root = parse(svg)
        width, height = float(root.get("width")), float(root.get("height"))
        for t in root.iter(NS + "text"):
            if t.get("transform"):
                continue  # slanted column heads are shortened to the room they have
            x, y = float(t.get("x")), float(t.get("y"))
            size = float(t.get("font-size") or charts.FONT_SIZE)
            w = charts._text_width(t.text or "", size)  # its own text, not a tooltip inside it
            left = {"start": x, "middle": x - w / 2, "end": x - w}[t.get("text-anchor", "start")]
            assert y - size * 0.8 >= -0.5 and y + size * 0.25 <= height + 0.5, (t.text, y, height)
            assert left >= -2 and left + w <= width + 2, (t.text, left, w, width)


# --- plan against actual --------------------------------------------------------------------------


def test_progress_chart_draws_the_plan_and_the_check_ins_where_they_belong():
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    svg = charts.progress_chart(
        [(date(2026, 7, 2), 50.0, "at_risk"), (date(2026, 4, 1), 30.0, "on_track")], start=start, end=end,
        baseline=0.0, target=100.0, today=date(2026, 7, 2), title=EVIL, today_label="today", baseline_label="Baseline",
        target_label="Target", expected_label="Expected path", point_colours={"on_track": "#2e7d32", "at_risk": "#c77700"},
        point_labels=["2 Jul: 50 (<b>at risk</b>)", "1 Apr: 30"])
    root = parse(svg)
    line = {e.get("class"): e for e in root.iter(NS + "line") if e.get("class")}
    base_y, target_y = float(line["baseline"].get("y1")), float(line["target"].get("y1"))
    expected = line["expected"]
    assert float(expected.get("y1")) == pytest.approx(base_y, abs=0.11) and float(expected.get("y2")) == pytest.approx(target_y, abs=0.11)
    (path,) = root.iter(NS + "polyline")
    (x1, y1), (x2, y2) = points_of(path)  # sorted by date
    assert y1 == pytest.approx(base_y + (target_y - base_y) * 0.3, abs=0.2) and y2 == pytest.approx((base_y + target_y) / 2, abs=0.2)
    # the check-in of 2 July sits on the expected path (half the value, half the year) and on the today line
    ex1, ex2 = float(expected.get("x1")), float(expected.get("x2"))
    assert x2 == pytest.approx(ex1 + (ex2 - ex1) * (date(2026, 7, 2) - start).days / (end - start).days, abs=0.2)
    assert float(line["today"].get("x1")) == pytest.approx(x2, abs=0.11)
    fills = [c.get("fill") for c in root.iter(NS + "circle")]
    assert fills == ["#2e7d32", "#c77700"]
    assert "2 Jul: 50 (<b>at risk</b>)" in ["".join(t.itertext()) for t in root.iter(NS + "title")]
    assert root.find(NS + "title").text == EVIL


def test_join_gaps_runs_one_line_through_quarterly_figures():
    values = [4.0, None, None, 3.5, None, None, 3.0]
    root = parse(charts.line_chart([("", list(zip(MONTHS[:7], values)))], y_label="", y_range=(1, 5), join_gaps=True))
    assert [len(points_of(p)) for p in root.iter(NS + "polyline")] == [3]
