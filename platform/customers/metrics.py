"""Customer score figures, as plain functions for the pages here and for the monthly analytics.

- :func:`department_months` — per department and calendar month: ``n`` scores, ``csat_n`` and
  ``csat_pct`` (share of 4–5 or "good" among scores with a CSAT, 0–100), ``nps_n`` and ``nps``
  (% promoters 9–10 minus % detractors 0–6, −100…100), ``low_share`` (0–1), and of the
  follow-ups those scores opened: ``follow_ups``, ``closed``, ``closed_loop_rate`` (0–1, closed
  ones among them) and ``median_close_hours``. Departments are those stored on the scores
  (as they were on the day), never today's. Figures are None where there is nothing to count.
- :func:`scores_by_case` — the scores given on cases, by case reference, to set beside the
  authority uses on the same cases (did compensating the customer help?).
- :func:`totals` — the same figures over any set of rows from :func:`department_months`
  (a department's subtree, a period).

No permission checks here: callers decide which departments the reader may see
(:func:`servicechain.platform.security.score_departments_for`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from servicechain.platform import db


def _month_sql(column: str) -> str:
    if db.engine().engine_type == "postgres":
        return f"to_char({column}, 'YYYY-MM')"
    return f"substr({column}, 1, 7)"


def _month(key: str) -> date:
    return date(int(key[:4]), int(key[5:7]), 1)


async def department_months(since: date, until: date, department_ids: Iterable[int] | None = None,
                            paths: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Figures per (department, month) for scores given from ``since`` to ``until`` inclusive;
    limited to ``department_ids``, or to the departments under ``paths``, when given."""
    where, args = ["s.given_on >= {}", "s.given_on <= {}"], [since, until]
    join = ""
    if department_ids is not None:
        ids = sorted(set(department_ids))
        if not ids:
            return []
        where.append(f"s.department IN ({db.placeholders(len(ids))})")
        args += ids
    if paths is not None:
        paths = list(paths)
        if not paths:
            return []
        join = " JOIN department d ON d.id = s.department"
        where.append("(" + " OR ".join(["d.path LIKE {}"] * len(paths)) + ")")
        args += [p + "%" for p in paths]
    month = _month_sql("s.given_on")
    rows = await db.fetch(
        f"SELECT s.department, {month} AS month, COUNT(*) AS n,"
        " SUM(CASE WHEN s.csat IS NOT NULL OR s.csat_good IS NOT NULL THEN 1 ELSE 0 END) AS csat_n,"
        " SUM(CASE WHEN s.csat >= 4 OR s.csat_good = {} THEN 1 ELSE 0 END) AS csat_ok,"
        " SUM(CASE WHEN s.nps IS NOT NULL THEN 1 ELSE 0 END) AS nps_n,"
        " SUM(CASE WHEN s.nps >= 9 THEN 1 ELSE 0 END) AS promoters,"
        " SUM(CASE WHEN s.nps <= 6 THEN 1 ELSE 0 END) AS detractors,"
        " SUM(CASE WHEN s.low = {} THEN 1 ELSE 0 END) AS low"
        f" FROM customer_score s{join} WHERE {' AND '.join(where)} GROUP BY s.department, {month}",
        True, True, *args,
    )
    loops = await db.fetch(
        f"SELECT s.department, {month} AS month, f.status, f.created_at, f.closed_at"
        f" FROM customer_follow_up f JOIN customer_score s ON s.id = f.score{join} WHERE {' AND '.join(where)}",
        *args,
    )
    closing: dict[tuple[int, str], list[float]] = {}
    opened: dict[tuple[int, str], int] = {}
    for loop in loops:
        key = (loop["department"], loop["month"])
        opened[key] = opened.get(key, 0) + 1
        if loop["status"] == "closed" and loop["closed_at"] is not None:
            closing.setdefault(key, []).append(_hours(loop["created_at"], loop["closed_at"]))
    result = []
    for row in rows:
        key = (row["department"], row["month"])
        result.append(_figures({
            "department": row["department"], "month": _month(row["month"]), "n": row["n"],
            "csat_n": row["csat_n"] or 0, "csat_ok": row["csat_ok"] or 0, "nps_n": row["nps_n"] or 0,
            "promoters": row["promoters"] or 0, "detractors": row["detractors"] or 0, "low": row["low"] or 0,
            "follow_ups": opened.get(key, 0), "close_hours": closing.get(key, []),
        }))
    result.sort(key=lambda r: (r["department"], r["month"]))
    return result


def _hours(start: Any, end: Any) -> float:
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if isinstance(end, str):
        end = datetime.fromisoformat(end)
    return max((end - start).total_seconds() / 3600, 0.0)


def _figures(raw: dict[str, Any]) -> dict[str, Any]:
    n, csat_n, nps_n = raw["n"], raw["csat_n"], raw["nps_n"]
    hours = raw["close_hours"]
    raw.update(
        csat_pct=round(100 * raw["csat_ok"] / csat_n, 1) if csat_n else None,
        nps=round(100 * (raw["promoters"] - raw["detractors"]) / nps_n, 1) if nps_n else None,
        low_share=round(raw["low"] / n, 4) if n else None,
        closed=len(hours),
        closed_loop_rate=round(len(hours) / raw["follow_ups"], 4) if raw["follow_ups"] else None,
        median_close_hours=round(statistics.median(hours), 1) if hours else None,
    )
    return raw


def totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The figures of several (department, month) rows taken together."""
    raw: dict[str, Any] = {"n": 0, "csat_n": 0, "csat_ok": 0, "nps_n": 0, "promoters": 0, "detractors": 0, "low": 0,
                           "follow_ups": 0, "close_hours": []}
    for row in rows:
        for key in ("n", "csat_n", "csat_ok", "nps_n", "promoters", "detractors", "low", "follow_ups"):
            raw[key] += row[key]
        raw["close_hours"] = raw["close_hours"] + row["close_hours"]
    return _figures(raw)


async def scores_by_case(case_refs: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every score given on these cases: {case_ref: [{given_on, channel, csat, csat_good, nps,
    low, department, employee}]}, oldest first."""
    refs = sorted({r for r in case_refs if r})
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(refs), 500):
        part = refs[start:start + 500]
        rows = await db.fetch(
            "SELECT case_ref, given_on, channel, csat, csat_good, nps, low, department, employee FROM customer_score"
            f" WHERE case_ref IN ({db.placeholders(len(part))}) ORDER BY given_on, id", *part)
        for row in rows:
            if isinstance(row["given_on"], str):
                row["given_on"] = date.fromisoformat(row["given_on"])
            row["low"] = bool(row["low"])
            if row["csat_good"] is not None:
                row["csat_good"] = bool(row["csat_good"])
            found.setdefault(row.pop("case_ref"), []).append(row)
    return found
