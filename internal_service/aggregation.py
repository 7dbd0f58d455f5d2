"""How a figure looks: the colour step of a mean and the internal service index.

Which figures may be shown is decided once per period for every page in ``disclosure``.
"""

from __future__ import annotations


def colour_class(mean: float | None) -> str:
    """The CSS class of a mean on the 1-5 scale (five steps, red to green)."""
    if mean is None:
        return "is-none"
    return f"is-{min(5, max(1, int(round(mean))))}"


def index_of(mean: float | None) -> int | None:
    """The internal service index: the mean overall score on 0-100 (1 → 0, 5 → 100)."""
    return None if mean is None else int(round((mean - 1) / 4 * 100))
