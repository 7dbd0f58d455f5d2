"""How the report prints a figure: the dashboards' numbers for the report's language, the
metric's own decimals and unit, and signed changes. Call inside ``i18n.use_language(lang)``."""

from __future__ import annotations

import math

from servicechain.platform.analytics.charts import format_value, unit_sign
from servicechain.platform.analytics.metrics import metric



def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: float | None, decimals: int = 0, *, signed: bool = False) -> str:
    """``value`` with ``decimals`` places in the report's language; "—" for no figure. Written
    by the dashboards' ``charts.format_value``, so a figure reads the same in print and on
    screen; ``signed`` adds "+" to a change that does not round to zero."""
    if _missing(value):
        return "—"
    text = format_value(float(value), decimals)  # type: ignore[arg-type]
    if signed and round(float(value), decimals) > 0:  # type: ignore[arg-type]
        return "+" + text
    return text


def significant_decimals(scale: float | None, digits: int = 2) -> int:
    """Decimals that show ``digits`` significant digits of ``scale`` (an interval's width, a
    slope): 0.0123 gets 3, 1.5 gets 1, 250 gets 0."""
    if _missing(scale) or scale == 0:
        return 2
    return max(0, min(4, digits - 1 - math.floor(math.log10(abs(float(scale))))))  # type: ignore[arg-type]




def figure(key: str, value: float | None) -> str:
    """A metric's value as printed in tables: its decimals and its unit."""
    if _missing(value):
        return "—"
    m = metric(key)
    return number(value, m.decimals) + unit_sign(m.unit)


def change(key: str, delta: float | None) -> str:
    """A change of a metric, signed; percentages change by percentage points."""
    if _missing(delta):
        return "—"
    m = metric(key)
    return number(delta, m.decimals, signed=True) + unit_sign(m.unit, change=True)


def trend(key: str, delta: float | None) -> str:
    """"up", "down" or "flat" as better/worse for the reader: a CSS class for the change."""
    if _missing(delta) or not metric(key).moved(float(delta)):  # type: ignore[arg-type]
        return "flat"
    better = (delta > 0) == metric(key).higher_is_better  # type: ignore[operator]
    return "better" if better else "worse"


def css_string(text: str) -> str:
    """``text`` as a CSS string literal (for @page content)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def page_counter_css(template: str) -> str:
    """A translated "page %(page)s of %(pages)s" as a CSS ``content`` value with counters,
    so each language orders the words its own way."""
    out: list[str] = []
    rest = template
    while rest:
        positions = [(rest.find(token), token, css) for token, css in
                     (("%(page)s", "counter(page)"), ("%(pages)s", "counter(pages)")) if rest.find(token) >= 0]
        if not positions:
            out.append(css_string(rest))
            break
        at, token, css = min(positions)
        if at:
            out.append(css_string(rest[:at]))
        out.append(css)
        rest = rest[at + len(token):]
    return " ".join(out)
