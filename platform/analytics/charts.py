"""Charts drawn on the server as inline SVG: one code for the web dashboards and the PDF report.

Every function returns :class:`markupsafe.Markup` holding one ``<svg>`` with an explicit width,
height and viewBox, a ``<title>`` for screen readers, "DejaVu Sans" (Cyrillic in WeasyPrint) and
presentation attributes only: our CSP forbids inline styles, and WeasyPrint reads attributes best.

Rules kept everywhere:

* Labels arrive translated; charts never translate. Numbers and month names follow the current
  language (``platform.i18n``), so a Russian report reads "1,5" and "янв.".
* Every text node and attribute is escaped (department names come from users) and stripped of
  the control characters XML forbids.
* A missing value (None) leaves a gap, never a zero.
* Series differ by dash pattern and marker as well as colour, so a grey printout still reads.
* The default width, 640 px, is 169 mm at 96 px per inch: A4 portrait's 170 mm text column.
  On the web, ``svg.chart { max-width: 100%; height: auto }`` scales them down.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.numbers import get_decimal_symbol, get_group_symbol
from markupsafe import Markup, escape

from servicechain.platform import i18n
from servicechain.platform.i18n import gettext as _

FONT = "DejaVu Sans, Verdana, sans-serif"
FONT_SIZE = 11
INK = "#1d2a2a"       # text
MUTED = "#5f6b6a"     # axis labels
GRID = "#dde3e2"
AXIS = "#8a9696"
# Dark to light, so neighbours differ in grey too; with DASHES and MARKERS they stay apart in print.
PALETTE = ("#1f4e8c", "#c2571a", "#2e7d5b", "#7b3f99", "#8c6d1f", "#4d4d4d")
DASHES = (None, "6 3", "2 3", "8 3 2 3", "4 2", "1 2")
MARKERS = ("circle", "square", "triangle", "diamond", "circle", "square")
POSITIVE = "#1f4e8c"
NEGATIVE = "#c2571a"
NEUTRAL = "#9aa5a5"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


# --- small helpers ----------------------------------------------------------------------------


def _text(value: object) -> str:
    """Escaped text for a node or an attribute, without the characters XML cannot hold."""
    return str(escape(_CONTROL.sub("", str(value))))


def _n(value: float) -> str:
    """A coordinate: one decimal, no trailing zeros, no "-0"."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    """A fair estimate of DejaVu Sans' advance (it is wide: about 0.6 em a character)."""
    return len(text) * size * 0.6


def _shorten(text: str, max_width: float, size: float = FONT_SIZE) -> str:
    if _text_width(text, size) <= max_width:
        return text
    keep = max(1, int(max_width / (size * 0.6)) - 1)
    return text[:keep].rstrip() + "…"


@lru_cache(maxsize=8)
def _symbols(language: str) -> tuple[str, str]:
    """The language's group and decimal signs (Babel's, read once: a chart writes thousands
    of numbers and Babel's formatter costs a tenth of a millisecond each)."""
    locale = Locale.parse(language)
    return get_group_symbol(locale), get_decimal_symbol(locale)


def format_value(value: float | None, decimals: int | None = None) -> str:
    """A figure in the current language (as ``i18n.format_number`` writes it), with a real
    minus sign; "—" for no figure."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if decimals is None:
        decimals = 0 if abs(value) >= 100 else 1
    group, point = _symbols(i18n.current_language())
    text = f"{round(value, decimals) + 0.0:,.{decimals}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # -0.0 rounds to zero, which has no sign
    return text.replace(",", "\x00").replace(".", point).replace("\x00", group).replace("-", "\u2212")


def format_p(value: float | None, space: str = "\u00a0") -> str:
    """A p or q value with its relation, for the pages and the report alike: "= 0.034", and
    "< 0.001" rather than a row of zeros; "= —" for none."""
    if value is not None and value < 0.001:
        return "<" + space + format_value(0.001, 3)
    return "=" + space + format_value(value, 3)


UNIT_SUFFIX = {"percent": "\u00a0%", "rub": "\u00a0₽", "index": "", "points": "", "per_head": "", "count": ""}


def unit_sign(unit: str, *, change: bool = False) -> str:
    """What follows a figure of a metric's ``unit``, on the pages and in the report alike: " %",
    " ₽", " h"; nothing for indexes, points, counts and per-head figures. A ``change`` of a share
    is in percentage points, not per cent of itself. Any other unit is written out."""
    if change and unit == "percent":
        return "\u00a0" + _("pp")
    if unit == "hours":
        return "\u00a0" + _("h")
    return UNIT_SUFFIX.get(unit, ("\u00a0" + unit) if unit else "")


def _with_unit(text: str, unit: str) -> str:
    if text == "—":
        return text
    return text + unit_sign(unit)


def with_unit(value: float | None, unit: str, decimals: int | None = None) -> str:
    """A figure with its unit's sign where it has one ("12.5 %", "3,200 ₽"); "—" for none."""
    return _with_unit(format_value(value, decimals), unit)


def nice_ticks(low: float, high: float, target: int = 5) -> tuple[list[float], int]:
    """Round tick values covering [low, high] at a 1, 2 or 5 step, and the decimals they need."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(1, target)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    count = int(round((end - start) / step))
    return [round(start + i * step, decimals) + 0.0 for i in range(count + 1)], decimals


def _ticks_within(low: float, high: float, target: int = 5) -> tuple[list[float], int]:
    """Nice ticks that stay inside a fixed range (a scale given by the caller, e.g. 1-5)."""
    ticks, decimals = nice_ticks(low, high, target)
    inside = [t for t in ticks if low - 1e-9 <= t <= high + 1e-9]
    return (inside or [low, high]), decimals


def _month_number(day: date) -> float:
    """Months since year 0, with the day as a fraction: monthly points sit evenly apart."""
    return day.year * 12 + day.month - 1 + (day.day - 1) / calendar.monthrange(day.year, day.month)[1]


def month_label(day: date, pattern: str = "LLLL yyyy") -> str:
    """A month's name in the current language ("октябрь 2026"), cached: charts write many."""
    return _month_label_in(day, pattern, i18n.current_language())


def month_title(day: date) -> str:
    """"October 2026" / "Октябрь 2026": the stand-alone month name as a title (the month picker,
    the report's title and archive); ``month_label`` is the form for inside a sentence."""
    text = month_label(day)
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=4096)
def _month_label_in(day: date, pattern: str, language: str) -> str:
    return _babel_date(day, format=pattern, locale=language)


_month_label = month_label


def _svg(width: float, height: float, title: str, body: list[str], css: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" font-family="{FONT}" font-size="{FONT_SIZE}" '
            f'fill="{INK}"><title>{_text(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _label(x: float, y: float, text: str, *, anchor: str = "start", fill: str = MUTED, size: float | None = None,
           weight: str | None = None, extra: str = "") -> str:
    attrs = f' font-size="{_n(size)}"' if size else ""
    attrs += f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{attrs}{extra}>'
            f"{_text(text)}</text>")


def _marker(kind: str, x: float, y: float, r: float, colour: str, title: str | None = None) -> str:
    tip = f"<title>{_text(title)}</title>" if title else ""
    if kind == "square":
        return (f'<rect x="{_n(x - r)}" y="{_n(y - r)}" width="{_n(2 * r)}" height="{_n(2 * r)}" fill="{colour}">'
                f"{tip}</rect>")
    if kind == "triangle":
        pts = f"{_n(x)},{_n(y - r * 1.2)} {_n(x + r * 1.1)},{_n(y + r * 0.8)} {_n(x - r * 1.1)},{_n(y + r * 0.8)}"
        return f'<polygon points="{pts}" fill="{colour}">{tip}</polygon>'
    if kind == "diamond":
        pts = f"{_n(x)},{_n(y - r * 1.3)} {_n(x + r * 1.3)},{_n(y)} {_n(x)},{_n(y + r * 1.3)} {_n(x - r * 1.3)},{_n(y)}"
        return f'<polygon points="{pts}" fill="{colour}">{tip}</polygon>'
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{colour}">{tip}</circle>'


def _legend(items: list[tuple[str, str, str | None, str]], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    """Legend entries (label, colour, dash, marker) flowing in rows; returns parts and height used."""
    parts: list[str] = []
    x, y, row_height = x0, y0, 16
    for label, colour, dash, marker in items:
        text = _shorten(label, width - 44)
        item_width = 30 + _text_width(text) + 14
        if x > x0 and x + item_width > x0 + width:
            x, y = x0, y + row_height
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="legend-item"><line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 22)}" y2="{_n(y - 4)}" '
                     f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
        parts.append(_marker(marker, x + 11, y - 4, 2.6, colour))
        parts.append(_label(x + 28, y, text, fill=INK) + "</g>")
        x += item_width
    return parts, (y - y0) + row_height


def _y_axis(ticks: list[float], decimals: int, y_of, left: float, right: float, unit: str = "") -> list[str]:
    parts = []
    for t in ticks:
        y = y_of(t)
        parts.append(f'<line class="grid" x1="{_n(left)}" x2="{_n(right)}" y1="{_n(y)}" y2="{_n(y)}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(_label(left - 5, y + 4, _with_unit(format_value(t, decimals), unit), anchor="end"))
    return parts


def _y_label_width(ticks: list[float], decimals: int, unit: str = "") -> float:
    return max(_text_width(_with_unit(format_value(t, decimals), unit)) for t in ticks) + 10


# --- line chart -------------------------------------------------------------------------------


def line_chart(series: Sequence[tuple[str, Sequence[tuple[date, float | None]]]], *, y_label: str, width: int = 640,
               height: int = 220, y_range: tuple[float, float] | None = None, title: str | None = None,
               decimals: int | None = None, join_gaps: bool = False) -> Markup:
    """Lines over months (or any dates): a gap where a value is None, a marker on every point
    when there are few, and always on a point standing alone between gaps. ``y_range`` fixes
    the scale (e.g. (1, 5) for CSAT); otherwise it is the data's range rounded to nice ticks.
    The x axis labels months, thinned to every 2, 3, 6 or 12 months as space requires.
    ``join_gaps`` draws the line on through months without a figure, for measures taken every
    few months (quarterly rounds), where a gap is the rhythm rather than something missing."""
    series = [(label, list(points)) for label, points in series]
    title = title or y_label
    dates = sorted({d for _label_, points in series for d, _v in points})
    values = [v for _label_, points in series for _d, v in points if v is not None and math.isfinite(v)]
    body: list[str] = []
    top = 8.0
    if len(series) > 1 or (series and series[0][0]):
        items = [(label, PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)], MARKERS[i % len(MARKERS)])
                 for i, (label, _p) in enumerate(series)]
        parts, used = _legend(items, 8, top + 10, width - 16)
        body += parts
        top += used + 2
    if y_label:
        body.append(_label(8, top + 10, _shorten(y_label, width - 16), fill=MUTED))
        top += 16
    if y_range is not None:
        ticks, tick_decimals = _ticks_within(float(y_range[0]), float(y_range[1]))
        y_low, y_high = float(y_range[0]), float(y_range[1])
    else:
        ticks, tick_decimals = nice_ticks(min(values, default=0.0), max(values, default=1.0))
        y_low, y_high = ticks[0], ticks[-1]
    left = max(28.0, _y_label_width(ticks, tick_decimals))
    right = width - 12.0
    bottom = height - 34.0
    top += 6

    def y_of(v: float) -> float:
        v = min(max(v, y_low), y_high)
        return bottom - (v - y_low) / ((y_high - y_low) or 1) * (bottom - top)

    months = [_month_number(d) for d in dates]
    x_low, x_high = (min(months), max(months)) if months else (0.0, 1.0)

    def x_of(d: date) -> float:
        if x_high == x_low:
            return (left + right) / 2
        return left + 6 + (_month_number(d) - x_low) / (x_high - x_low) * (right - left - 12)

    body += _y_axis(ticks, tick_decimals, y_of, left, right)
    body.append(f'<line class="axis" x1="{_n(left)}" x2="{_n(right)}" y1="{_n(bottom)}" y2="{_n(bottom)}" '
                f'stroke="{AXIS}" stroke-width="1"/>')
    body += _month_axis(dates, x_of, bottom, right - left)
    if not values:
        body.append(_label((left + right) / 2, (top + bottom) / 2, "—", anchor="middle", size=16))
    for i, (label, points) in enumerate(series):
        colour, dash, marker = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)], MARKERS[i % len(MARKERS)]
        points = sorted(points, key=lambda p: p[0])
        segments: list[list[tuple[float, float, date, float]]] = [[]]
        for d, v in points:
            if v is None or not math.isfinite(v):
                if segments[-1] and not join_gaps:
                    segments.append([])
                continue
            segments[-1].append((x_of(d), y_of(v), d, v))
        segments = [s for s in segments if s]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(f'<g class="series" data-series="{i}">')
        for seg in segments:
            if len(seg) > 1:
                path = " ".join(f"{_n(x)},{_n(y)}" for x, y, _d, _v in seg)
                body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                            f'stroke-linejoin="round"{dash_attr}/>')
        few = sum(len(s) for s in segments) <= 36
        for seg in segments:
            for x, y, d, v in seg:
                if few or len(seg) == 1:
                    tip = f"{label}, {_month_label(d, 'LLLL yyyy')}: {format_value(v, decimals)}".lstrip(", ")
                    body.append(_marker(marker, x, y, 3 if len(seg) == 1 else 2.4, colour, tip))
        body.append("</g>")
    return _svg(width, height, title, body, "chart-line")


def _month_axis(dates: list[date], x_of, bottom: float, plot_width: float) -> list[str]:
    """Month names under the axis, the year under January and under the first label."""
    if not dates:
        return []
    first, last = dates[0], dates[-1]
    start = first.year * 12 + first.month - 1
    end = last.year * 12 + last.month - 1
    span = end - start + 1
    room = max(1, int(plot_width // 44))
    step = next((k for k in (1, 2, 3, 6, 12, 24, 60) if span / k <= room), 120)
    parts: list[str] = []
    shown_year = False
    for index in range(start, end + 1):
        if index % step and span > 1:
            continue
        day = date(index // 12, index % 12 + 1, 1)
        x = x_of(day) if day >= first else x_of(first)
        if day < first and index != start:
            continue
        parts.append(f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(bottom)}" y2="{_n(bottom + 4)}" stroke="{AXIS}"/>')
        parts.append(_label(x, bottom + 15, _month_label(day, "LLL"), anchor="middle"))
        if day.month == 1 or not shown_year:
            parts.append(_label(x, bottom + 27, str(day.year), anchor="middle"))
            shown_year = True
    return parts


# --- scatter chart ----------------------------------------------------------------------------


def scatter_chart(points: Sequence[tuple[float, float]], *, x_label: str, y_label: str,
                  fit: tuple[float, float] | None = None, width: int = 360, height: int = 260,
                  title: str | None = None, point_labels: Sequence[str] | None = None,
                  decimals: int | None = None) -> Markup:
    """A dot per (x, y), and with ``fit`` = (slope, intercept) the fitted line across the x
    range with its equation. ``point_labels`` (as many as points) become each dot's tooltip."""
    pts = [(float(x), float(y), i) for i, (x, y) in enumerate(points)
           if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    title = title or f"{y_label} / {x_label}"
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x_ticks, x_dec = nice_ticks(min(xs, default=0.0), max(xs, default=1.0), 4)
    y_ticks, y_dec = nice_ticks(min(ys, default=0.0), max(ys, default=1.0), 4)
    body: list[str] = []
    top = 8.0
    body.append(_label(8, top + 10, _shorten(y_label, width - 16), fill=MUTED))
    top += 20
    left = max(28.0, _y_label_width(y_ticks, y_dec))
    right = width - 14.0
    bottom = height - 36.0

    def x_of(v: float) -> float:
        return left + (v - x_ticks[0]) / ((x_ticks[-1] - x_ticks[0]) or 1) * (right - left)

    def y_of(v: float) -> float:
        return bottom - (v - y_ticks[0]) / ((y_ticks[-1] - y_ticks[0]) or 1) * (bottom - top)

    body += _y_axis(y_ticks, y_dec, y_of, left, right)
    for t in x_ticks:
        x = x_of(t)
        body.append(f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top)}" y2="{_n(bottom)}" stroke="{GRID}"/>')
        body.append(_label(x, bottom + 14, format_value(t, x_dec), anchor="middle"))
    body.append(f'<line class="axis" x1="{_n(left)}" x2="{_n(right)}" y1="{_n(bottom)}" y2="{_n(bottom)}" stroke="{AXIS}"/>')
    body.append(_label((left + right) / 2, height - 6, _shorten(x_label, width - 16), anchor="middle", fill=MUTED))
    if not pts:
        body.append(_label((left + right) / 2, (top + bottom) / 2, "—", anchor="middle", size=16))
    body.append('<g class="points">')
    for x, y, i in pts:
        name = point_labels[i] if point_labels is not None and i < len(point_labels) else ""
        tip = f"{name}: {format_value(x, decimals)}; {format_value(y, decimals)}".lstrip(": ")
        body.append(f'<circle cx="{_n(x_of(x))}" cy="{_n(y_of(y))}" r="3.2" fill="{PALETTE[0]}" fill-opacity="0.55" '
                    f'stroke="{PALETTE[0]}" stroke-width="0.8"><title>{_text(tip)}</title></circle>')
    body.append("</g>")
    if fit is not None and pts and all(math.isfinite(v) for v in fit):
        slope, intercept = fit
        segment = _clip_line(slope, intercept, x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1])
        if segment:
            (xa, ya), (xb, yb) = segment
            body.append(f'<line class="fit" x1="{_n(x_of(xa))}" y1="{_n(y_of(ya))}" x2="{_n(x_of(xb))}" '
                        f'y2="{_n(y_of(yb))}" stroke="{PALETTE[1]}" stroke-width="2" stroke-dasharray="6 3"/>')
        sign = "+" if intercept >= 0 else "\u2212"
        equation = f"y = {format_value(slope, _fit_decimals(slope))}x {sign} {format_value(abs(intercept), _fit_decimals(intercept))}"
        box = _text_width(equation) + 10
        body.append(f'<rect x="{_n(right - box - 2)}" y="{_n(top + 2)}" width="{_n(box)}" height="16" fill="#ffffff" '
                    f'fill-opacity="0.85" stroke="{GRID}"/>')
        body.append(_label(right - 7, top + 14, equation, anchor="end", fill=PALETTE[1], extra=' class="equation"'))
    return _svg(width, height, title, body, "chart-scatter")


def _fit_decimals(value: float) -> int:
    size = abs(value)
    return 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 0.1 else 3


def _clip_line(slope: float, intercept: float, x0: float, x1: float, y0: float, y1: float):
    """The part of y = slope·x + intercept inside the box, or None."""
    candidates = []
    for x in (x0, x1):
        y = slope * x + intercept
        if y0 - 1e-9 <= y <= y1 + 1e-9:
            candidates.append((x, y))
    if slope:
        for y in (y0, y1):
            x = (y - intercept) / slope
            if x0 - 1e-9 <= x <= x1 + 1e-9:
                candidates.append((x, y))
    if len(candidates) < 2:
        return None
    candidates.sort()
    return candidates[0], candidates[-1]


# --- bar chart --------------------------------------------------------------------------------


def bar_chart(bars: Sequence[tuple[str, float | None]], *, unit: str, width: int = 640, height: int = 220,
              signed: bool = False, title: str | None = None, decimals: int | None = None,
              colour: str | None = None) -> Markup:
    """Horizontal bars, one row per label (department names stay readable at any length; a long
    one is shortened and kept whole in the tooltip). The value is written at the bar's end; a
    None gets "—" and no bar. Negative values grow left from zero; ``signed`` colours falls and
    rises apart, ``colour`` paints every bar one colour (e.g. "better" and "worse" lists).
    The chart grows taller when the rows need it."""
    bars = list(bars)
    title = title or ", ".join(label for label, _v in bars[:3])
    values = [v for _l, v in bars if v is not None and math.isfinite(v)]
    row = 18.0
    top, bottom_pad = 8.0, 22.0
    height = max(float(height), top + bottom_pad + row * max(1, len(bars)) + 4)
    label_width = min(width * 0.38, max((_text_width(label) for label, _v in bars), default=40) + 12)
    value_room = max((_text_width(_with_unit(format_value(v, decimals), unit)) for v in values), default=20) + 10
    # Room for the written values: left of the zero line for falls, right of it for rises.
    room_left = value_room if any(v < 0 for v in values) else 0.0
    room_right = value_room if any(v >= 0 for v in values) or len(values) < len(bars) else 0.0
    plot_left = 8 + label_width + room_left
    plot_right = width - 10.0 - room_right
    bottom = height - bottom_pad
    row = (bottom - top) / max(1, len(bars))
    ticks, tick_dec = nice_ticks(min(0.0, min(values, default=0.0)), max(0.0, max(values, default=1.0)), 4)
    low, high = ticks[0], ticks[-1]

    def x_of(v: float) -> float:
        return plot_left + (v - low) / ((high - low) or 1) * (plot_right - plot_left)

    body: list[str] = []
    for t in ticks:
        x = x_of(t)
        body.append(f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top)}" y2="{_n(bottom)}" stroke="{GRID}"/>')
        body.append(_label(x, bottom + 14, _with_unit(format_value(t, tick_dec), unit), anchor="middle"))
    zero = x_of(0.0 if low <= 0 <= high else low)
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        mid = y + row / 2 + 4
        body.append(f'<g class="bar" data-index="{i}"><title>{_text(label)}: '
                    f'{_text(_with_unit(format_value(value, decimals), unit))}</title>')
        body.append(_label(plot_left - room_left - 6, mid, _shorten(label, label_width - 10),
                           anchor="end", fill=INK))
        if value is None or not math.isfinite(value):
            body.append(_label(zero + 4, mid, "—", fill=MUTED))
        else:
            x = x_of(value)
            fill = colour or ((NEGATIVE if value < 0 else POSITIVE) if signed else PALETTE[0])
            bar_x, bar_w = min(x, zero), abs(x - zero)
            body.append(f'<rect x="{_n(bar_x)}" y="{_n(y + row * 0.18)}" width="{_n(bar_w)}" height="{_n(row * 0.64)}" '
                        f'fill="{fill}"/>')
            text = _with_unit(format_value(value, decimals), unit)
            if value < 0:
                body.append(_label(bar_x - 4, mid, text, anchor="end", fill=INK))
            else:
                body.append(_label(bar_x + bar_w + 4, mid, text, fill=INK))
        body.append("</g>")
    body.append(f'<line class="axis" x1="{_n(zero)}" x2="{_n(zero)}" y1="{_n(top)}" y2="{_n(bottom)}" stroke="{AXIS}"/>')
    return _svg(width, height, title, body, "chart-bar")


# --- plan against actual --------------------------------------------------------------------------


def progress_chart(points: Sequence[tuple[date, float, str]], *, start: date, end: date, baseline: float,
                   target: float, today: date | None, title: str, today_label: str, baseline_label: str,
                   target_label: str, expected_label: str, point_colours: dict[str, str] | None = None,
                   point_labels: Sequence[str] | None = None, width: int = 640, height: int = 240) -> Markup:
    """A goal's check-ins (date, value, kind) between ``start`` and ``end`` against its plan: the
    baseline and the target as dashed lines, the straight path of expected progress between
    them, and a mark for ``today`` while the goal runs. ``point_colours`` colours each check-in
    by its kind (e.g. its confidence); ``point_labels`` are their tooltips. The x axis is days."""
    points = sorted(points, key=lambda p: p[0])
    colours = point_colours or {}
    values = [baseline, target, *[v for _d, v, _k in points]]
    low, high = min(values), max(values)
    if high == low:
        high = low + 1
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    body: list[str] = []
    items = [(baseline_label, AXIS, "4 3", ""), (target_label, PALETTE[2], "4 3", ""), (expected_label, "#c9a227", None, "")]
    x_cursor = 8.0
    for text, colour, dash, _m in items:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(f'<line x1="{_n(x_cursor)}" y1="14" x2="{_n(x_cursor + 22)}" y2="14" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        body.append(_label(x_cursor + 28, 18, text, fill=INK))
        x_cursor += 28 + _text_width(text) + 16
    tick_texts = [format_value(baseline), format_value(target)]
    left = max(40.0, max(_text_width(t) for t in tick_texts) + 12)
    right, top, bottom = width - 14.0, 30.0, height - 34.0
    days = max(1, (end - start).days)

    def x_of(day: date) -> float:
        return left + (right - left) * min(max((day - start).days, 0), days) / days

    def y_of(value: float) -> float:
        return top + (bottom - top) * (high - value) / (high - low)

    body.append(f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(right - left)}" height="{_n(bottom - top)}" '
                f'fill="#fbfcfc" stroke="{GRID}"/>')
    for value, colour, css in ((baseline, AXIS, "baseline"), (target, PALETTE[2], "target")):
        y = y_of(value)
        body.append(f'<line class="{css}" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="{colour}" '
                    f'stroke-width="1.2" stroke-dasharray="4 3"/>')
        body.append(_label(left - 5, y + 4, format_value(value), anchor="end", fill=colour if css == "target" else MUTED))
    body.append(f'<line class="expected" x1="{_n(x_of(start))}" y1="{_n(y_of(baseline))}" x2="{_n(x_of(end))}" '
                f'y2="{_n(y_of(target))}" stroke="#c9a227" stroke-width="1.5"/>')
    if today is not None and start <= today <= end:
        x = x_of(today)
        body.append(f'<line class="today" x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="{MUTED}" '
                    f'stroke-dasharray="2 3"/>')
        body.append(_label(min(max(x, left + 20), right - 20), bottom + 13, today_label, anchor="middle"))
    body.append(_label(left, height - 8, format_date_short(start)))
    body.append(_label(right, height - 8, format_date_short(end), anchor="end"))
    if len(points) > 1:
        path = " ".join(f"{_n(x_of(d))},{_n(y_of(v))}" for d, v, _k in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for i, (d, v, kind) in enumerate(points):
        tip = point_labels[i] if point_labels is not None and i < len(point_labels) else f"{d.isoformat()}: {format_value(v)}"
        body.append(_marker("circle", x_of(d), y_of(v), 4, colours.get(kind, PALETTE[0]), tip))
    return _svg(width, height, title, body, "chart-line chart-progress")


def format_date_short(day: date) -> str:
    """A date as the reader writes it ("24.11.2026", "11/24/26")."""
    return _babel_date(day, format="short", locale=i18n.current_language())


# --- heat matrix ------------------------------------------------------------------------------


def _blend(a: str, b: str, t: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


LOW, MID, HIGH = "#b2432a", "#f4f1ec", "#1f5f9e"


def diverging_colour(value: float, scale: tuple[float, float]) -> str:
    """Red below the scale's middle, blue above, pale at the middle."""
    low, high = scale
    middle = (low + high) / 2
    if value <= middle:
        t = (middle - max(value, low)) / ((middle - low) or 1)
        return _blend(MID, LOW, min(1.0, t))
    t = (min(value, high) - middle) / ((high - middle) or 1)
    return _blend(MID, HIGH, min(1.0, t))


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def heat_matrix(rows: Sequence[str], cols: Sequence[str], cells: dict[tuple[int, int], float | None], *,
                scale: tuple[float, float] = (1, 5), width: int = 640, title: str | None = None,
                decimals: int = 1, suppressed_label: str | None = None) -> Markup:
    """A grid (row i, column j): ``cells[(i, j)]`` coloured on a diverging scale around the
    middle of ``scale`` with its value written in; None means suppressed (too few answers):
    hatched with "—"; a missing key means no data: an empty cell. Column labels slant when
    they do not fit. ``suppressed_label`` (translated by the caller) explains the hatch."""
    rows, cols = list(rows), list(cols)
    title = title or ""
    label_width = min(width * 0.3, max((_text_width(r) for r in rows), default=40) + 12)
    grid_left = 8 + label_width
    grid_right = width - 8.0
    cell_w = (grid_right - grid_left) / max(1, len(cols))
    cell_h = 22.0
    slant = any(_text_width(c) > cell_w - 4 for c in cols)
    longest = max((_text_width(c) for c in cols), default=0)
    header = min(130.0, longest * 0.72 + 14) if slant else 20.0
    top = 8 + header
    legend_h = 44.0
    height = top + cell_h * max(1, len(rows)) + legend_h
    body: list[str] = []
    for j, name in enumerate(cols):
        cx = grid_left + (j + 0.5) * cell_w
        if slant:
            shown = _shorten(name, min(175.0, (width - cx) * 1.38))
            body.append(f'<text x="{_n(cx)}" y="{_n(top - 5)}" transform="rotate(-45 {_n(cx)} {_n(top - 5)})" '
                        f'fill="{INK}" font-size="10">{_text(shown)}<title>{_text(name)}</title></text>')
        else:
            body.append(_label(cx, top - 6, name, anchor="middle", fill=INK, size=10))
    for i, name in enumerate(rows):
        y = top + i * cell_h
        shown = _shorten(name, label_width - 10)
        tip = f"<title>{_text(name)}</title>" if shown != name else ""
        body.append(_label(grid_left - 6, y + cell_h / 2 + 4, shown, anchor="end", fill=INK).replace("</text>", tip + "</text>"))
        for j, col in enumerate(cols):
            x = grid_left + j * cell_w
            body.append(_cell(x, y, cell_w, cell_h, (i, j) in cells, cells.get((i, j)), scale, decimals,
                              f"{name} → {col}"))
    # Legend: the scale at its nice ticks, then the hatch for suppressed cells.
    ly = top + cell_h * max(1, len(rows)) + 12
    ticks, tick_dec = _ticks_within(float(scale[0]), float(scale[1]))
    x = grid_left
    for t in ticks:
        colour = diverging_colour(t, scale)
        body.append(f'<rect x="{_n(x)}" y="{_n(ly)}" width="26" height="12" fill="{colour}" stroke="{GRID}"/>')
        body.append(_label(x + 13, ly + 24, format_value(t, tick_dec), anchor="middle"))
        x += 30
    if suppressed_label:
        x += 12
        body.append(_hatch(x, ly, 26, 12))
        body.append(_label(x + 32, ly + 10, suppressed_label, fill=MUTED))
    return _svg(width, height, title, body, "chart-heat")


def _hatch(x: float, y: float, w: float, h: float, gap: float = 5.0) -> str:
    """Diagonal lines clipped to the box by arithmetic (no <pattern>: no ids to clash on a page
    holding several matrices, and nothing for a renderer to get wrong)."""
    lines = [f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="#f2f2f2" stroke="{GRID}"/>']
    c = -h
    while c < w:
        # the line x' - y' = c, in cell coordinates, between the box's edges
        x_a, y_a = max(c, 0.0), max(c, 0.0) - c
        x_b, y_b = min(w, c + h), min(w, c + h) - c
        if x_b > x_a:
            lines.append(f'<line x1="{_n(x + x_a)}" y1="{_n(y + h - y_a)}" x2="{_n(x + x_b)}" y2="{_n(y + h - y_b)}" '
                         f'stroke="#a7afae" stroke-width="0.8"/>')
        c += gap
    return '<g class="hatch">' + "".join(lines) + "</g>"


def _cell(x: float, y: float, w: float, h: float, present: bool, value: float | None, scale, decimals: int,
          tip: str) -> str:
    if not present:
        return (f'<rect class="cell empty" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="#ffffff" '
                f'stroke="{GRID}"><title>{_text(tip)}</title></rect>')
    cx, cy = x + w / 2, y + h / 2 + 4
    if value is None or not math.isfinite(value):
        return (f'<g class="cell suppressed"><title>{_text(tip)}: —</title>{_hatch(x, y, w, h)}'
                + _label(cx, cy, "—", anchor="middle", fill=INK) + "</g>")
    colour = diverging_colour(value, scale)
    ink = "#ffffff" if _luminance(colour) < 0.45 else INK
    text = format_value(value, decimals)
    return (f'<g class="cell"><title>{_text(tip)}: {_text(text)}</title>'
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{colour}" stroke="#ffffff"/>'
            + (_label(cx, cy, text, anchor="middle", fill=ink, size=10) if _text_width(text, 10) < w - 2 else "")
            + "</g>")


# --- sparkline --------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None], width: int = 80, height: int = 20, *, title: str | None = None) -> Markup:
    """A tiny line of the values on their own range, gaps kept, the last figure marked."""
    values = [v if v is not None and math.isfinite(v) else None for v in values]
    known = [v for v in values if v is not None]
    tip = title or " · ".join(format_value(v) for v in values[-6:])
    pad = 2.5
    body: list[str] = []
    if not known:
        body.append(f'<line x1="{_n(pad)}" x2="{_n(width - pad)}" y1="{_n(height / 2)}" y2="{_n(height / 2)}" '
                    f'stroke="{GRID}" stroke-dasharray="2 2"/>')
        return _svg(width, height, tip or "—", body, "sparkline")
    low, high = min(known), max(known)

    def x_of(i: int) -> float:
        return pad + (i / (len(values) - 1) if len(values) > 1 else 0.5) * (width - 2 * pad)

    def y_of(v: float) -> float:
        if high == low:
            return height / 2
        return height - pad - (v - low) / (high - low) * (height - 2 * pad)

    segment: list[str] = []
    segments: list[list[str]] = []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_n(x_of(i))},{_n(y_of(v))}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            body.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.4"/>')
        else:
            x, y = seg[0].split(",")
            body.append(f'<circle cx="{x}" cy="{y}" r="1.4" fill="{PALETTE[0]}"/>')
    last = max(i for i, v in enumerate(values) if v is not None)
    body.append(f'<circle class="last" cx="{_n(x_of(last))}" cy="{_n(y_of(values[last]))}" r="2" fill="{PALETTE[1]}"/>')
    return _svg(width, height, tip, body, "sparkline")
