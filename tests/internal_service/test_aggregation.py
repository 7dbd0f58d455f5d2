"""How figures look; which are shown is tested in test_disclosure and test_pages_disclosure."""

from __future__ import annotations

from servicechain.internal_service.aggregation import colour_class, index_of


def test_colour_classes_and_the_index():
    assert [colour_class(v) for v in (None, 1.0, 2.4, 3.6, 5.0)] == ["is-none", "is-1", "is-2", "is-4", "is-5"]
    assert (index_of(1.0), index_of(3.0), index_of(5.0), index_of(None)) == (0, 50, 100, None)
