"""Scoring, generalisation and suppression on plain counts (no database)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from servicechain.platform.surveys.figures import Stat, enps_of, generalise, hidden_departments, page_hidden, suppress, to_100


def test_enps_is_promoters_minus_detractors():
    histogram = [0] * 11
    histogram[10], histogram[9], histogram[8], histogram[7], histogram[3] = 3, 2, 1, 1, 3  # 5 promoters, 3 detractors of 10
    assert enps_of(histogram) == 20.0
    assert enps_of([0] * 11) is None


def test_scores_are_means_on_0_to_100():
    stat = Stat()
    stat.add_answer({1: 5, 2: 1}, 10)
    stat.add_answer({1: 3, 2: 1}, 0)
    assert stat.item_score(1) == to_100(4) == 75.0
    assert stat.item_score(2) == 0.0
    assert stat.engagement == to_100(2.5)
    assert stat.trait_scores({1: "company", 2: "reward"}) == {"company": 75.0, "people": None, "goals": None, "reward": 0.0}
    assert stat.enps_score == 0.0


def test_a_summary_row_gives_back_the_same_figures():
    answers = Stat()
    for scores, enps in (({1: 4, 2: 5}, 9), ({1: 2, 2: 5}, 6), ({1: 4, 2: 3}, 10)):
        answers.add_answer(scores, enps)
    stored = Stat.from_row(*answers.to_row())
    assert (stored.n, stored.engagement, stored.enps_score, stored.item_score(2)) == (
        answers.n, answers.engagement, answers.enps_score, answers.item_score(2))
    merged = Stat.total([stored, stored])
    assert merged.n == 6 and merged.engagement == answers.engagement


def test_a_small_part_is_hidden_with_its_smallest_sibling():
    assert suppress({"a": 2, "b": 10, "c": 7}, 5) == {"a", "c"}
    assert suppress({"a": 2, "b": 10, "c": 7}, 5, total_hidden=True) == {"a"}
    assert suppress({"a": 0, "b": 10}, 5) == set()
    assert suppress({"a": 3, "b": 3, "c": 9}, 5) == {"a", "b"}  # together they stand for 6


def test_a_small_department_is_published_under_its_parent():
    parents = {1: None, 2: 1, 3: 1, 4: 3}
    tags = generalise(parents, {1: 3, 2: 6, 3: 1, 4: 2}, 5)
    assert tags[2] == 2
    assert tags[3] == tags[4] == tags[1] == 1  # 3 and 4 together are too few: they join the root's own
    # At the root, leftovers join the smallest group placed below, which moves up too.
    assert set(generalise(parents, {2: 6, 4: 2}, 5).values()) == {1}


# --- properties ---------------------------------------------------------------------------------


@st.composite
def trees(draw):
    """A forest of up to 14 departments with answers per department, and a minimum."""
    size = draw(st.integers(1, 14))
    parents: dict[int, int | None] = {0: None}
    for d in range(1, size):
        parents[d] = draw(st.one_of(st.none(), st.integers(0, d - 1))) if draw(st.booleans()) and d > 3 else draw(
            st.integers(0, d - 1))
    counts = {d: draw(st.integers(0, 9)) for d in parents}
    k = draw(st.integers(3, 7))
    return parents, counts, k


def _ancestors(parents, d):
    chain = [d]
    while parents[chain[-1]] is not None:
        chain.append(parents[chain[-1]])
    return chain


@settings(max_examples=300, deadline=None)
@given(trees())
def test_every_published_group_has_at_least_the_minimum(data):
    parents, counts, k = data
    tags = generalise(parents, counts, k)
    sizes: dict[int, int] = {}
    for d, g in tags.items():
        assert g in _ancestors(parents, d), "an answer is only ever moved up its own line"
        sizes[g] = sizes.get(g, 0) + counts[d]
    for d in parents:
        if counts[d]:
            assert d in tags
    roots_total = {r: sum(counts[d] for d in parents if _ancestors(parents, d)[-1] == r) for r in parents if parents[r] is None}
    for g, n in sizes.items():
        root = _ancestors(parents, g)[-1]
        assert n >= k or roots_total[root] < k, "only a root with fewer than k answers in all may stay small (and is discarded)"


@settings(max_examples=400, deadline=None)
@given(trees())
def test_no_page_gives_a_small_group_back_by_subtraction(data):
    """The attacker reads every results page (each department's total, its sub-departments and
    its own people) and subtracts what is shown from what is shown: whatever stays unknown
    must be nobody or at least k answers."""
    parents, own, k = data
    hidden = hidden_departments(parents, own, k)
    sub = {d: sum(own[x] for x in parents if d in _ancestors(parents, x)) for d in parents}
    children = {d: [c for c in parents if parents[c] == d] for d in parents}
    for d in parents:
        total_hidden = d in hidden or 0 < sub[d] < k
        parts = {("s", c): sub[c] for c in children[d]}
        parts[("a", d)] = own[d]
        page = page_hidden(parts, k, total_hidden=total_hidden, hidden_below={("s", c) for c in hidden})
        for part, n in parts.items():
            if part not in page:
                assert n == 0 or n >= k, f"a shown part of {n} answers"
        if not total_hidden:
            unknown = sum(n for part, n in parts.items() if part in page)
            assert unknown == 0 or unknown >= k, f"{sub[d]} minus what is shown leaves {unknown}"
            assert sub[d] == 0 or sub[d] >= k
        # The same department is judged the same on its parent's page and on its own.
        for c in children[d]:
            if ("s", c) in page and sub[c]:
                assert c in hidden or total_hidden or c in {p[1] for p in page}
    # The top level: the roots side by side.
    roots = {("s", r): sub[r] for r in parents if parents[r] is None}
    everyone = sum(roots.values())
    top = page_hidden(roots, k, total_hidden=0 < everyone < k, hidden_below={("s", c) for c in hidden})
    unknown = sum(n for part, n in roots.items() if part in top)
    assert unknown == 0 or unknown >= k or everyone < k


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 12), min_size=1, max_size=8), st.integers(3, 6))
def test_suppression_of_one_equation(parts, k):
    hidden = suppress(parts, k)
    for p, n in parts.items():
        if p not in hidden:
            assert n == 0 or n >= k
    unknown = sum(parts[p] for p in hidden)
    assert unknown == 0 or unknown >= k or sum(parts.values()) == unknown
