"""A small made-up snapshot on the test cast's department tree, for the dashboard tests.

Six teams under "Customer support" and six under "Warehouse" (ids that exist only in the
snapshot, as departments since removed would), 24 months, engagement falling and recovering in
some teams with CSAT following two months later, one team always under the anonymity minimum.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl

from servicechain.platform.analytics.metrics import CUSTOMER, METRICS
from servicechain.platform.analytics.panel import Panel
from servicechain.platform.lib.dates import first_of_month, months_back

MONTH = date(2026, 10, 1)
MIN_GROUP = 5
EVIL = "<script>alert(1)</script> Склад №2"
HIDDEN_TEAM = 910_006  # its survey figures are always under the minimum


@dataclass
class FakeSnapshot:
    month: date
    built_at: datetime
    checksum: str
    panel: Panel


def team_ids(parent: str) -> list[int]:
    base = 910_000 if parent == "support" else 920_000
    return [base + i for i in range(1, 7)]


def build(cast_departments: dict[str, int], seed: int = 3, month: date = MONTH) -> FakeSnapshot:
    """The snapshot of the 24 months ending with ``month``."""
    rng = random.Random(seed)
    window = [first_of_month(k) for k in months_back(month, 24)]
    company, support, warehouse = (cast_departments[k] for k in ("company", "support", "warehouse"))
    line1 = cast_departments["support.line1"]
    teams = {t: support for t in team_ids("support")} | {t: warehouse for t in team_ids("warehouse")}
    names = {company: ("Company", "Компания"), support: ("Customer support", "Служба поддержки"),
             line1: ("First line", "Первая линия"), warehouse: ("Warehouse", "Склад")}
    for i, t in enumerate(team_ids("support"), 1):
        names[t] = (f"Support team {i}", f"Команда поддержки {i}")
    for i, t in enumerate(team_ids("warehouse"), 1):
        names[t] = (EVIL if i == 2 else f"Warehouse team {i}", EVIL if i == 2 else f"Складская команда {i}")
    keys = [m.key for m in METRICS]

    def team_rows(team: int) -> list[dict]:
        dip_start = rng.randint(2, 14) if rng.random() < 0.6 else None
        level = rng.uniform(60, 80)
        rows = []
        for k, day in enumerate(window):
            def dip(offset: int) -> float:
                if dip_start is None:
                    return 0.0
                x = k - offset - dip_start
                return -math.sin(math.pi * x / 8) if 0 <= x <= 8 else 0.0
            engagement = level + 15 * dip(0) + rng.gauss(0, 1.5)
            row = {key: None for key in keys}
            row.update({
                "department_id": team, "month": day, "headcount": 20, "respondents": 15,
                "engagement": engagement, "enps": (engagement - 60) * 2 + rng.gauss(0, 3),
                "csat": 4.2 + 0.5 * dip(2) + rng.gauss(0, 0.05), "nps": 30 + 20 * dip(2) + rng.gauss(0, 2),
                "qa_score": 80 + rng.gauss(0, 3), "follow_up_rate": 90 + rng.gauss(0, 2),
                "service_received": 4 + rng.gauss(0, 0.1), "goal_progress": 50 + k + rng.gauss(0, 2),
                "low_score_share": 5 + rng.gauss(0, 1),
            })
            if team == HIDDEN_TEAM:
                row.update({"respondents": None, "engagement": None, "enps": None, "headcount": 3})
            rows.append(row)
        return rows

    unit_rows = [r for t in teams for r in team_rows(t)]
    frame_rows = list(unit_rows)

    def mean_of(ids: list[int], month: date, department: int) -> dict:
        parts = [r for r in unit_rows if r["department_id"] in ids and r["month"] == month]
        row = {"department_id": department, "month": month,
               "headcount": sum(r["headcount"] for r in parts),
               "respondents": sum(r["respondents"] or 0 for r in parts) or None}
        for key in keys:
            values = [r[key] for r in parts if r[key] is not None]
            row[key] = sum(values) / len(values) if values else None
        return row

    for department, ids in ((support, team_ids("support")), (warehouse, team_ids("warehouse")),
                            (company, list(teams))):
        frame_rows += [mean_of(ids, m, department) for m in window]
    # First line: too few answers all along; customer figures only.
    for m in window:
        frame_rows.append({**{key: None for key in keys}, "department_id": line1, "month": m, "headcount": 2,
                           "respondents": None, "csat": 4.0, "nps": 20.0})

    def frame(rows: list[dict]) -> pl.DataFrame:
        schema = {"department_id": pl.Int64, "month": pl.Date, "headcount": pl.Int64, "respondents": pl.Int64,
                  **{k: pl.Float64 for k in keys}, **{f"{k}_n": pl.Int64 for k in CUSTOMER}}
        return pl.DataFrame([{**r, **{f"{k}_n": 30 for k in CUSTOMER}} for r in rows], schema=schema) \
            .sort("department_id", "month")

    departments = pl.DataFrame(
        [{"department_id": d, "parent_id": {company: None, support: company, warehouse: company, line1: support}.get(d, teams.get(d)),
          "name_en": en, "name_ru": ru, "depth": 0 if d == company else 1 if d in (support, warehouse) else 2,
          "is_leaf": d not in (company, support, warehouse), "unit_id": d if d in teams else None}
         for d, (en, ru) in names.items()],
        schema={"department_id": pl.Int64, "parent_id": pl.Int64, "name_en": pl.String, "name_ru": pl.String,
                "depth": pl.Int64, "is_leaf": pl.Boolean, "unit_id": pl.Int64})
    all_frame = frame(frame_rows)
    panel = Panel(frame=all_frame, units=frame(unit_rows),
                  company=all_frame.filter(pl.col("department_id") == company).drop("department_id"),
                  departments=departments, until=month, months=24, min_group=MIN_GROUP)
    return FakeSnapshot(month=month, built_at=datetime(2026, 11, 2, 6, 0, tzinfo=UTC), checksum=f"test-{seed}",
                        panel=panel)
