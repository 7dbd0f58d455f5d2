"""Properties of the progress maths, over arbitrary goals (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from servicechain.goals import service

numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(numbers, numbers, numbers)
def test_progress_is_always_between_0_and_100(baseline, target, value):
    assert 0.0 <= service.progress_of(baseline, target, value) <= 100.0


@given(numbers, numbers, numbers, numbers)
def test_moving_toward_the_target_never_lowers_progress(baseline, target, a, b):
    if target == baseline:
        return
    # whichever of a, b is nearer the target's side counts at least as much
    # (compared by sign, not by a product: tiny floats multiply to zero and pick the wrong one)
    nearer, farther = (a, b) if (a >= b) == (target > baseline) else (b, a)
    assert service.progress_of(baseline, target, nearer) >= service.progress_of(baseline, target, farther) - 1e-9


@given(numbers, numbers)
def test_reaching_the_target_is_100_and_standing_at_the_baseline_is_0(baseline, target):
    if target == baseline:
        return
    assert service.progress_of(baseline, target, target) == 100.0
    assert service.progress_of(baseline, target, baseline) == 0.0


@given(st.lists(st.tuples(st.floats(0, 100), st.integers(1, 100)), min_size=1, max_size=30))
def test_a_roll_up_lies_between_its_childrens_least_and_greatest(children):
    rolled = service.rolled_up(children)
    progresses = [p for p, _w in children]
    assert min(progresses) - 1e-9 <= rolled <= max(progresses) + 1e-9


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)), st.integers(1, 400), st.integers(-50, 500))
def test_expected_progress_grows_with_time_from_0_to_100(start, length, offset):
    deadline = start + timedelta(days=length)
    on = start + timedelta(days=offset)
    expected = service.expected_progress(start, deadline, on)
    assert 0.0 <= expected <= 100.0
    assert service.expected_progress(start, deadline, on + timedelta(days=1)) >= expected
