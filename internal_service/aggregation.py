"""Figures about internal service that never single anyone out.

A *figure* is the ratings a set of raters gave a set of providers in a period: how many, their
mean, and the distinct people behind them. A figure is shown only when at least the minimum
group size of distinct people stands behind it (primary suppression).

Hiding small figures is not enough when their parent total is shown too: total minus the shown
siblings gives the hidden one back. Every figure on a page is a child in *equations* of the form
``parent = sum(children)`` (a matrix row, a column, months of a period). In each equation, if
the hidden children together stand for fewer than the minimum people, the smallest shown sibling
is hidden as well (complementary suppression). A complement has at least the minimum people
itself, so hiding it never needs another complement: the decision for an equation depends on
that equation's figures alone, and the same figure gets the same answer on every page it is on
(a drill-down's total is the cell of the level above). Known limit: figures of a live period
change as ratings arrive, so comparing a page today with the same page yesterday shows what
arrived in between; the minimum protects each figure, not every difference over time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class Figure:
    """``raters`` holds the people behind the figure when they are counted here (``add``); a
    figure aggregated in SQL carries its count in ``known_people`` and its people only when
    they are fewer than the minimum, which is all complementary suppression needs."""

    key: tuple
    raters: set = field(default_factory=set)  # ids (int), or their text when read from the summary
    count: int = 0
    total: int = 0
    hidden: bool = False
    known_people: int | None = None

    def add(self, rater: int, count: int, total: int) -> None:
        self.raters.add(rater)
        self.count += count
        self.total += total

    @property
    def people(self) -> int:
        return self.known_people if self.known_people is not None else len(self.raters)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


def primary(figures: Iterable[Figure], k: int) -> None:
    """Hide every figure with some, but fewer than ``k``, people behind it."""
    for figure in figures:
        if 0 < figure.people < k:
            figure.hidden = True


def complement(children: Sequence[Figure], k: int) -> Figure | None:
    """The sibling to hide so the hidden part of ``parent = sum(children)`` stands for at least
    ``k`` people, or None when nothing more needs hiding. Reads only primary status, so call it
    on children whose ``hidden`` comes from :func:`primary` alone."""
    small = [c for c in children if 0 < c.people < k]
    if not small:
        return None
    together: set[int] = set()
    for c in small:
        together |= c.raters
    if len(together) >= k:
        return None
    candidates = [c for c in children if c.people >= k]
    if not candidates:
        return None  # the parent itself stands for fewer than k people and is hidden anyway
    # The fewest ratings: exact on every page, so the same sibling is chosen wherever the
    # equation is shown.
    return min(candidates, key=lambda c: (c.count, str(c.key)))


def combine(key: tuple, parts: Iterable[Figure], k: int) -> Figure:
    """The figure of several disjoint groups of ratings. Counts and sums add up; people do not
    (one person may be in several parts), but all suppression needs is whether there are at
    least ``k`` (true when any part has) and, when there are fewer, who they are (the parts'
    raters, all known since each part is then small too)."""
    parts = list(parts)
    result = Figure(key, count=sum(p.count for p in parts), total=sum(p.total for p in parts))
    largest = max((p.people for p in parts), default=0)
    if largest >= k:
        result.known_people = largest  # a lower bound, and at least k: enough to decide
        return result
    for p in parts:
        result.raters |= p.raters
    result.known_people = len(result.raters)
    return result


def protect(figures: Iterable[Figure], equations: Iterable[Sequence[Figure]], k: int) -> None:
    """Primary suppression of every figure, then one complement per equation that needs one."""
    figures = list(figures)
    primary(figures, k)
    chosen = [complement(children, k) for children in equations]
    for figure in chosen:
        if figure is not None:
            figure.hidden = True


def cover(pairs: Iterable[tuple[Figure, Sequence[Figure]]]) -> None:
    """A hidden total whose parts are all shown is shown after all: their sum. For each such
    (total, parts), hide the part with the fewest ratings too (it has at least the minimum
    people, or primary suppression would have hidden it), repeating until nothing changes, as
    hiding a part may uncover another total it is in."""
    pairs = list(pairs)
    changed = True
    while changed:
        changed = False
        for total, parts in pairs:
            with_data = [p for p in parts if p.count]
            if total.hidden and total.count and with_data and not any(p.hidden for p in with_data):
                min(with_data, key=lambda p: (p.count, str(p.key))).hidden = True
                changed = True


def colour_class(mean: float | None) -> str:
    """The CSS class of a mean on the 1-5 scale (five steps, red to green)."""
    if mean is None:
        return "is-none"
    return f"is-{min(5, max(1, int(round(mean))))}"


def index_of(mean: float | None) -> int | None:
    """The internal service index: the mean overall score on 0-100 (1 → 0, 5 → 100)."""
    return None if mean is None else int(round((mean - 1) / 4 * 100))
