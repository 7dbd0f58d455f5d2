"""The demo's plot: which teams' engagement falls and recovers, and when.

Several domains must tell one consistent story so that the monthly report has something real
to find: the pulses show a team's engagement dropping, and that team's customer scores follow a
month or two later. Each domain's demo step asks this module rather than inventing its own dips.

``engagement_dip(ctx, unit, month)`` is 0 for a calm month and falls towards -1 at the bottom of
a dip. Customer-side steps read the same curve shifted by :data:`CUSTOMER_LAG_MONTHS`.
Everything is derived from the seed and the unit code: no clock, no global random.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

# The customer side follows the people side this many months later.
CUSTOMER_LAG_MONTHS = 2
# The share of teams with one dip somewhere in the history.
DIPPING_SHARE = 0.22
# Months the fall, the bottom and the recovery take.
FALL, BOTTOM, RECOVERY = 3, 2, 4
# The demo manager's team always has a dip, ending about four months before today, so the
# people who sign in to the demo see the effect on their own team.
DEMO_TEAM_DIP_ENDS_BEFORE_TODAY = 4


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _dip_start(ctx: Any, unit: Any) -> int | None:
    """The month index where this unit's dip begins, or None for a calm unit."""
    cache: dict[str, int | None] = ctx.__dict__.setdefault("_story_dips", {})
    if unit.code in cache:
        return cache[unit.code]
    first, last = month_index(ctx.start), month_index(ctx.today)
    length = FALL + BOTTOM + RECOVERY
    start: int | None = None
    if last - first >= length + 1:
        if unit.code == "support.line1.team001":
            start = last - DEMO_TEAM_DIP_ENDS_BEFORE_TODAY - length
        else:
            rng = random.Random(f"servicechain-demo:{ctx.seed}:story:{unit.code}")
            if rng.random() < DIPPING_SHARE:
                start = rng.randint(first + 1, last - length)
        if start is not None and start < first:
            start = first
    cache[unit.code] = start
    return start


def engagement_dip(ctx: Any, unit: Any, month: date) -> float:
    """How far this unit's engagement is below normal in the month holding ``month``: 0 … -1.

    A team's dip also counts for a unit below it; a parent is calm unless it dips itself (its
    average shows the team's dip diluted, as real data would).
    """
    deepest = 0.0
    current = unit
    while current is not None:
        start = _dip_start(ctx, current)
        if start is not None:
            deepest = min(deepest, _shape(month_index(month) - start))
        current = current.parent
    return deepest


def customer_dip(ctx: Any, unit: Any, month: date) -> float:
    """The same curve as :func:`engagement_dip`, seen on the customer side with its lag."""
    index = month_index(month) - CUSTOMER_LAG_MONTHS
    year, month_zero = divmod(index, 12)
    return engagement_dip(ctx, unit, date(year, month_zero + 1, 1))


def _shape(offset: int) -> float:
    if offset < 0 or offset >= FALL + BOTTOM + RECOVERY:
        return 0.0
    if offset < FALL:
        return -(offset + 1) / FALL
    if offset < FALL + BOTTOM:
        return -1.0
    return -1.0 + (offset - FALL - BOTTOM + 1) / (RECOVERY + 1)
