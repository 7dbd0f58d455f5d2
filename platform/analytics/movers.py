"""The departments whose figure moved most since last month, for the dashboards' movers and the
monthly report's: one rule, so both name the same departments with the same changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from servicechain.platform.analytics.metrics import metric, value
from servicechain.platform.lib.dates import shift_month


@dataclass(frozen=True)
class Move:
    department_id: int
    before: float
    now: float

    @property
    def change(self) -> float:
        return self.now - self.before


@dataclass(frozen=True)
class Movers:
    better: list[Move]  # the best change first
    worse: list[Move]  # the worst change first
    compared: int  # departments with a figure in both months


def below_the_top(parents: Mapping[int, int | None]) -> list[int]:
    """Of departments (id -> parent id), those the movers rank: all but the top ones, whose parent
    is not among them (the company root, or every top-level department when there are several):
    a top department's figure is its whole company's or branch's, not a department that moved."""
    return [d for d, parent in parents.items() if parent is not None and parent in parents]


def movers(frame: pl.DataFrame, key: str, month: date, departments: Iterable[int], limit: int) -> Movers:
    """Of ``departments`` (panel ``frame`` rows, one per department and month), those whose
    ``key`` changed most for the better and for the worse from the month before ``month``, at
    most ``limit`` each. Only departments with a figure both months count (a figure hidden below
    the anonymity minimum is null and drops out); a change that rounds to zero at the metric's
    decimals is no move. Which way is better is the metric's; ties go by department id."""
    m = metric(key)
    if key not in frame.columns:
        return Movers([], [], 0)
    previous = shift_month(month, -1)
    wanted = list(departments)
    rows = frame.filter(pl.col("month").is_in([previous, month]) & pl.col("department_id").is_in(wanted)) \
        .select("department_id", "month", key).to_dicts()
    by_department: dict[int, dict[date, float | None]] = {}
    for r in rows:
        by_department.setdefault(r["department_id"], {})[r["month"]] = value(r, key)
    both = [Move(d, by[previous], by[month]) for d, by in by_department.items()  # type: ignore[arg-type]
            if by.get(previous) is not None and by.get(month) is not None]
    moved = [mv for mv in both if m.moved(mv.change)]
    sign = -1 if m.higher_is_better else 1
    best_first = sorted(moved, key=lambda mv: (sign * mv.change, mv.department_id))
    better = [mv for mv in best_first if (mv.change > 0) == m.higher_is_better][:limit]
    worst_first = sorted(moved, key=lambda mv: (-sign * mv.change, mv.department_id))
    worse = [mv for mv in worst_first if (mv.change > 0) != m.higher_is_better][:limit]
    return Movers(better, worse, len(both))
