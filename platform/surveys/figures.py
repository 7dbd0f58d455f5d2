"""Scores of a group of answers, and the two rules that keep small groups unseen.

Everything here is plain Python on counts, so the rules are tested without a database.

**Scores.** Items are answered 1-5; an item's or a trait's score and the engagement index are
means put on 0-100 (1 → 0, 5 → 100). eNPS is the percentage of 9-10 minus the percentage of 0-6
on "how likely are you to recommend working here" (-100 … 100).

**Generalisation at close** (:func:`generalise`): before answers are published, each answer's
department is replaced by the deepest department above it (itself included) whose answers,
together with those of small departments below it, number at least the minimum. Every
department a published answer names therefore stands for at least ``k`` answers, so even a
reader of the raw ``pulse_answer`` table, who knows from ``pulse_participant`` who answered in
each department, can only place an answer among ``k`` people.

**Suppression on pages** (:func:`suppress`): a figure with fewer than ``k`` answers is hidden
(primary), and in every equation a page shows (*a department = its sub-departments + its own
people*) the hidden parts must together stand for at least ``k`` answers, else the smallest shown
part is hidden too (complementary), so no subtraction gives a small group back. Generalisation
makes this rarely needed; both hold on their own.
"""

from __future__ import annotations

import json

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

TRAIT_ORDER = ("company", "people", "goals", "reward")


@dataclass
class Stat:
    """Counts behind one group's figures: answers, item sums, and the eNPS histogram."""

    n: int = 0
    item_sum: dict[int, int] = field(default_factory=dict)
    item_count: dict[int, int] = field(default_factory=dict)
    enps: list[int] = field(default_factory=lambda: [0] * 11)

    def add_answer(self, scores: Mapping[int, int], enps: int) -> None:
        self.n += 1
        for position, score in scores.items():
            self.item_sum[position] = self.item_sum.get(position, 0) + score
            self.item_count[position] = self.item_count.get(position, 0) + 1
        self.enps[enps] += 1

    def to_row(self) -> tuple[int, str, str]:
        """(n, items JSON, eNPS JSON) as ``pulse_summary`` keeps them."""
        items = {str(p): [self.item_sum[p], self.item_count[p]] for p in sorted(self.item_sum)}
        return self.n, json.dumps(items, separators=(",", ":")), json.dumps(self.enps, separators=(",", ":"))

    @classmethod
    def from_row(cls, n: int, items: str, enps: str) -> Stat:
        stat = cls(n=n, enps=list(json.loads(enps)))
        for p, (total, count) in json.loads(items).items():
            stat.item_sum[int(p)] = total
            stat.item_count[int(p)] = count
        return stat

    def merge(self, other: Stat) -> None:
        self.n += other.n
        for position, total in other.item_sum.items():
            self.item_sum[position] = self.item_sum.get(position, 0) + total
            self.item_count[position] = self.item_count.get(position, 0) + other.item_count[position]
        self.enps = [a + b for a, b in zip(self.enps, other.enps, strict=True)]

    @classmethod
    def total(cls, stats: Iterable[Stat]) -> Stat:
        result = cls()
        for s in stats:
            result.merge(s)
        return result

    def item_score(self, position: int) -> float | None:
        count = self.item_count.get(position, 0)
        return to_100(self.item_sum[position] / count) if count else None

    def trait_scores(self, traits: Mapping[int, str]) -> dict[str, float | None]:
        """Per trait, the 0-100 mean of every answer to its items."""
        sums: dict[str, int] = {}
        counts: dict[str, int] = {}
        for position, trait in traits.items():
            if self.item_count.get(position):
                sums[trait] = sums.get(trait, 0) + self.item_sum[position]
                counts[trait] = counts.get(trait, 0) + self.item_count[position]
        return {t: (to_100(sums[t] / counts[t]) if counts.get(t) else None) for t in TRAIT_ORDER}

    @property
    def engagement(self) -> float | None:
        count = sum(self.item_count.values())
        return to_100(sum(self.item_sum.values()) / count) if count else None

    @property
    def enps_score(self) -> float | None:
        return enps_of(self.enps)


def to_100(mean: float) -> float:
    """A 1-5 mean on 0-100."""
    return round((mean - 1) / 4 * 100, 1)


def enps_of(histogram: Sequence[int]) -> float | None:
    n = sum(histogram)
    if not n:
        return None
    promoters = histogram[9] + histogram[10]
    detractors = sum(histogram[:7])
    return round(100 * (promoters - detractors) / n, 1)


# --- generalisation -----------------------------------------------------------------------------


def generalise(parents: Mapping[int, int | None], counts: Mapping[int, int], k: int) -> dict[int, int]:
    """For every department with answers, the department its answers are published under.

    ``parents`` maps each department of the snapshot to its parent (None at a root); ``counts``
    gives the answers per department. Bottom-up, a department keeps its own answers and those
    still unplaced below it when together they reach ``k``; otherwise they move up. Whatever is
    left at a root (fewer than ``k``) joins the smallest group already placed under that root,
    which then moves to the root too. Every resulting group has at least ``k`` answers, unless a
    whole root has fewer than ``k`` (the caller discards those answers).
    """
    children: dict[int | None, list[int]] = {}
    for d, p in parents.items():
        children.setdefault(p, []).append(d)
    tag: dict[int, int] = {}
    placed_size: dict[int, int] = {}  # group (department it is published under) → answers

    def walk(node: int) -> list[int]:
        """Departments whose answers are still unplaced after this subtree."""
        pending = [node] if counts.get(node, 0) else []
        for child in sorted(children.get(node, [])):
            pending += walk(child)
        size = sum(counts.get(d, 0) for d in pending)
        if size >= k:
            for d in pending:
                tag[d] = node
            placed_size[node] = placed_size.get(node, 0) + size
            return []
        return pending

    for root in sorted(children.get(None, [])):
        left = walk(root)
        if not left:
            continue
        below = _subtree(root, children)
        under = [g for g in placed_size if g in below]
        if under:
            smallest = min(under, key=lambda g: (placed_size[g], g))
            for d, g in list(tag.items()):
                if g == smallest:
                    tag[d] = root
            placed_size[root] = placed_size.pop(smallest) + (placed_size.pop(root, 0) if smallest != root else 0)
        for d in left:
            tag[d] = root
        placed_size[root] = placed_size.get(root, 0) + sum(counts.get(d, 0) for d in left)
    return tag


def _subtree(root: int, children: Mapping[int | None, list[int]]) -> set[int]:
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        seen.add(node)
        stack.extend(children.get(node, []))
    return seen


# --- suppression --------------------------------------------------------------------------------


def suppress(parts: Mapping[object, int], k: int, *, total_hidden: bool = False) -> set[object]:
    """Which parts of one equation to hide: ``parts`` maps each part to its number of answers;
    their sum is the parent, shown unless ``total_hidden``. Parts with 1..k-1 answers are hidden;
    then, if the hidden parts together have fewer than ``k`` answers and the parent is shown,
    the smallest other part with answers is hidden too, until they reach ``k``."""
    hidden = {p for p, n in parts.items() if 0 < n < k}
    if total_hidden or not hidden:
        return hidden
    hidden_total = sum(parts[p] for p in hidden)
    candidates = sorted((n, str(p), p) for p, n in parts.items() if p not in hidden and n > 0)
    while hidden_total < k and candidates:
        n, _key, p = candidates.pop(0)
        hidden.add(p)
        hidden_total += n
    return hidden


def hidden_departments(parents: Mapping[int, int | None], own: Mapping[int, int], k: int) -> set[int]:
    """Departments whose figure (with everything below them) no page may show.

    Every department is a part of its parent's equation (*parent = its sub-departments + its own
    people*); :func:`suppress` decides each equation on its own counts, so a department gets the
    same answer on its parent's page, on its own page and in the figures other domains read.
    Below a hidden department everything with answers is hidden too: its parts would add back
    up to it.
    """
    children: dict[int | None, list[int]] = {}
    for d, p in parents.items():
        children.setdefault(p, []).append(d)
    depth: dict[int, int] = {}

    def depth_of(d: int) -> int:
        if d not in depth:
            p = parents.get(d)
            depth[d] = 0 if p is None else depth_of(p) + 1
        return depth[d]

    order = sorted(parents, key=depth_of)
    sub: dict[int, int] = {d: own.get(d, 0) for d in parents}
    for d in reversed(order):
        p = parents[d]
        if p is not None:
            sub[p] += sub[d]
    hidden: set[int] = set()
    for parent, kids in children.items():
        parts: dict[object, int] = {("s", c): sub[c] for c in kids}
        if parent is not None:
            parts[("a", parent)] = own.get(parent, 0)
        parent_n = sub[parent] if parent is not None else 0
        hidden |= {key[1] for key in suppress(parts, k, total_hidden=0 < parent_n < k) if key[0] == "s"}  # type: ignore[index]
    hidden |= {d for d, n in sub.items() if 0 < n < k}
    for d in order:
        p = parents[d]
        if p in hidden and sub[d]:
            hidden.add(d)
    return hidden


def page_hidden(parts: Mapping[object, int], k: int, *, total_hidden: bool, hidden_below: set[object]) -> set[object]:
    """The parts one results page hides: the equation's own suppression, the sub-departments
    hidden in their own right, and everything when the page's total is hidden."""
    hidden = suppress(parts, k, total_hidden=total_hidden) | {p for p in parts if p in hidden_below}
    if total_hidden:
        hidden |= {p for p, n in parts.items() if n}
    return hidden
