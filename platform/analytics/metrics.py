"""The metric catalogue: every figure the department-month panel holds, in display order.

One place says what a key means, its unit, how many decimals it is shown with and which way is
better, so the dashboards, the chain and the PDF never disagree about a metric. ``anonymous``
marks survey-based figures: they exist only where the pulse's minimum group size answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from babel.support import LazyProxy

from servicechain.platform.i18n import lazy_gettext
from servicechain.platform.surveys.figures import TRAIT_ORDER

Side = Literal["people", "customer"]
UNITS = ("index", "percent", "points", "per_head", "count", "rub", "hours")


@dataclass(frozen=True)
class Metric:
    key: str
    side: Side
    label: LazyProxy  # English msgid, Russian through the catalogue; str(label) in the current language
    unit: str  # one of UNITS
    decimals: int
    higher_is_better: bool
    anonymous: bool  # survey-based: null below the pulse's minimum group size

    def moved(self, delta: float) -> bool:
        """Whether a change of ``delta`` shows at this metric's decimals: one that rounds to zero
        is no change, printed as 0 and neither better nor worse (pages, movers and the report)."""
        return round(delta, self.decimals) != 0


_TRAIT_LABELS = {
    "company": lazy_gettext("Loves the company"),
    "people": lazy_gettext("Loves people"),
    "goals": lazy_gettext("Understands the goals and holds the authority to act"),
    "reward": lazy_gettext("Feels fairly rewarded"),
}

METRICS: tuple[Metric, ...] = (
    Metric("engagement", "people", lazy_gettext("Engagement index"), "index", 0, True, True),
    Metric("enps", "people", lazy_gettext("eNPS"), "points", 0, True, True),
    *(Metric(f"trait_{t}", "people", _TRAIT_LABELS[t], "index", 0, True, True) for t in TRAIT_ORDER),
    Metric("service_received", "people", lazy_gettext("Internal service received"), "index", 2, True, False),
    Metric("service_given", "people", lazy_gettext("Internal service given"), "index", 2, True, False),
    Metric("thanks_given", "people", lazy_gettext("Thanks given per head"), "per_head", 2, True, False),
    Metric("thanks_received", "people", lazy_gettext("Thanks received per head"), "per_head", 2, True, False),
    Metric("reward_preference_match", "people", lazy_gettext("Rewards matching preferences"), "percent", 0, True, False),
    Metric("goal_progress", "people", lazy_gettext("Goal progress"), "percent", 0, True, False),
    Metric("goals_at_risk", "people", lazy_gettext("Goals at risk"), "percent", 0, False, False),
    Metric("authority_grants", "people", lazy_gettext("Authority grants per head"), "per_head", 2, True, False),
    Metric("authority_uses", "people", lazy_gettext("Authority uses"), "count", 0, True, False),
    Metric("authority_spend", "people", lazy_gettext("Authority spend"), "rub", 0, True, False),
    # CSAT is the share of satisfied customers (4-5 of 5, or "good"), as the industry and the
    # customers pages read it; the 1-5 mean is not a product figure.
    Metric("csat", "customer", lazy_gettext("CSAT"), "percent", 1, True, False),
    Metric("nps", "customer", lazy_gettext("NPS"), "points", 0, True, False),
    Metric("qa_score", "customer", lazy_gettext("Quality check score"), "index", 0, True, False),
    Metric("mystery_score", "customer", lazy_gettext("Mystery shopper score"), "index", 0, True, False),
    Metric("low_score_share", "customer", lazy_gettext("Low scores"), "percent", 1, False, False),
    Metric("follow_up_rate", "customer", lazy_gettext("Follow-ups closed"), "percent", 0, True, False),
    Metric("follow_up_hours", "customer", lazy_gettext("Follow-up time, median hours"), "hours", 1, False, False),
)

PEOPLE: tuple[str, ...] = tuple(m.key for m in METRICS if m.side == "people")
CUSTOMER: tuple[str, ...] = tuple(m.key for m in METRICS if m.side == "customer")
TRAITS: tuple[str, ...] = tuple(f"trait_{t}" for t in TRAIT_ORDER)
SURVEY: tuple[str, ...] = tuple(m.key for m in METRICS if m.anonymous)

_BY_KEY = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    """The metric called ``key``; KeyError names it when there is none."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no metric {key!r}; known: {', '.join(_BY_KEY)}") from None


def value(row: Mapping[str, Any] | None, key: str) -> float | None:
    """A panel row's figure as a float; None for no row, no figure or NaN (no figure either)."""
    if row is None:
        return None
    found = row.get(key)
    return None if found is None or found != found else float(found)


def surveyed(company_row: Mapping[str, Any] | None) -> bool:
    """Whether the company has survey figures in a month (a pulse closed with enough answers):
    only then can a department's missing survey figure be one hidden below the minimum."""
    return any(value(company_row, k) is not None for k in SURVEY)


def hidden(row: Mapping[str, Any] | None, key: str, surveyed: bool) -> bool:
    """Whether ``key`` is missing from a department-month ``row`` because too few of its people
    answered: a survey figure with no value, in a month the company has survey figures, in a
    department with people. The panel nulls such figures and cannot tell them from no pulse at
    all; this is the one guess, for the dashboards' cells and notes and the report's footnote."""
    return (metric(key).anonymous and surveyed and value(row, key) is None
            and (value(row, "headcount") or 0) > 0)
