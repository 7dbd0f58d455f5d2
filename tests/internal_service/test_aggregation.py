"""Suppression without a database: no hidden figure comes back by subtraction."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from servicechain.internal_service.aggregation import Figure, colour_class, combine, cover, index_of, protect

K = 5


def figure(name: str, raters: range | list[int], score: int = 4) -> Figure:
    f = Figure((name,))
    for r in raters:
        f.add(r, 1, score)
    return f


def test_a_small_figure_is_hidden_and_a_large_one_shown():
    small, large = figure("small", range(4)), figure("large", range(10, 15))
    protect([small, large], [], K)
    assert small.hidden and not large.hidden


def test_the_total_minus_shown_siblings_cannot_give_back_a_hidden_child():
    one = figure("one", [1, 2])  # two people: hidden
    six = figure("six", range(10, 16))
    ten = figure("ten", range(20, 30))
    protect([one, six, ten], [[one, six, ten]], K)
    assert one.hidden
    assert six.hidden, "the smallest shown sibling is hidden as well"
    assert not ten.hidden
    # What subtraction gives now: the hidden two together, 8 people, not 2.
    assert len(one.raters | six.raters) >= K


def test_two_small_children_that_together_reach_the_minimum_need_no_complement():
    a, b, c = figure("a", [1, 2, 3]), figure("b", [4, 5, 6]), figure("c", range(10, 20))
    protect([a, b, c], [[a, b, c]], K)
    assert (a.hidden, b.hidden, c.hidden) == (True, True, False)


def test_the_same_person_in_two_small_children_counts_once():
    # One person rated in both hidden cells: together they stand for 4 people, not 5.
    a, b, c = figure("a", [1, 2, 3]), figure("b", [3, 4]), figure("c", range(10, 20))
    protect([a, b, c], [[a, b, c]], K)
    assert len(a.raters | b.raters) == 4
    assert c.hidden, "4 distinct people are under the minimum, so the sibling is hidden too"


def test_empty_children_are_not_hidden_and_do_not_count_as_protection():
    empty, small, big = Figure(("empty",)), figure("small", [1]), figure("big", range(10, 20))
    protect([empty, small, big], [[empty, small, big]], K)
    assert not empty.hidden and small.hidden and big.hidden


def test_colour_classes_and_the_index():
    assert [colour_class(v) for v in (None, 1.0, 2.4, 3.6, 5.0)] == ["is-none", "is-1", "is-2", "is-4", "is-5"]
    assert (index_of(1.0), index_of(3.0), index_of(5.0), index_of(None)) == (0, 50, 100, None)


children_strategy = st.lists(st.sets(st.integers(min_value=0, max_value=30), max_size=12), min_size=1, max_size=7)


@settings(max_examples=300, deadline=None)
@given(children_strategy)
def test_after_protection_every_equation_hides_nothing_or_at_least_the_minimum(rater_sets):
    children = [Figure((i,), raters=set(s), count=len(s), total=4 * len(s)) for i, s in enumerate(rater_sets)]
    parent = Figure(("parent",), raters=set().union(*rater_sets), count=sum(len(s) for s in rater_sets))
    protect([*children, parent], [children], K)
    hidden = set().union(*(c.raters for c in children if c.hidden))
    if not parent.hidden:
        # total minus the shown children = the hidden ones together: none, or at least K people
        assert not hidden or len(hidden) >= K
    for c in children:
        assert c.hidden or c.people == 0 or c.people >= K


def test_a_hidden_total_keeps_one_of_its_parts_hidden():
    only = figure("only", range(10))
    total = combine(("total",), [only], K)
    total.hidden = True  # a complement in the equation above it
    cover([(total, [only])])
    assert only.hidden, "an only child shown would be its hidden parent"
    a, b = figure("a", range(10)), figure("b", range(20, 27))
    both = combine(("both",), [a, b], K)
    both.hidden = True
    cover([(both, [a, b])])
    assert b.hidden and not a.hidden, "the part with fewer ratings"


@settings(max_examples=300, deadline=None)
@given(children_strategy, st.booleans())
def test_after_cover_no_hidden_total_is_the_sum_of_shown_parts(rater_sets, parent_hidden):
    children = [Figure((i,), raters=set(s), count=len(s), total=4 * len(s)) for i, s in enumerate(rater_sets)]
    parent = combine(("parent",), children, K)
    protect([*children, parent], [children], K)
    parent.hidden = parent.hidden or parent_hidden
    cover([(parent, children)])
    with_data = [c for c in children if c.count]
    if parent.hidden and with_data:
        assert any(c.hidden for c in with_data)
    hidden = set().union(*(c.raters for c in children if c.hidden))
    if not parent.hidden:
        assert not hidden or len(hidden) >= K
