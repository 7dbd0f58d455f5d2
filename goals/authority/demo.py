"""The demo's delegated authority: five scopes, a root grant for each held by the chief
executive, and for compensation and free delivery a chain down the customer-support line:
CEO → head of support → head of the first line → team leads → agents. employee@example.com
may compensate up to 5 000 ₽ per case and 40 000 ₽ a month.

Two years of uses, with a grocer's seasons: more compensation around New Year and in the summer
heat, fewer in early spring. Each use is checked against every budget and per-case limit up its
chain as the service would, so the history never overspends; employee@example.com keeps at
least 30 000 ₽ of the current month. Draws come from the ``authority`` stream only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servicechain.goals.authority.service import period_start

SCOPES = (
    # code, English, Russian, kind, unit (English forms), unit (Russian forms)
    ("compensation", "compensate a customer", "компенсировать клиенту", "money", "", ""),
    ("refund", "refund without approval", "вернуть деньги без согласования", "money", "", ""),
    ("free_delivery", "deliver for free", "доставить бесплатно", "count", "delivery|deliveries", "доставка|доставки|доставок"),
    ("replace", "replace goods", "заменить товар", "count", "item|items", "товар|товара|товаров"),
    ("gift", "give a gift", "сделать подарок", "money", "", ""),
)
ROOTS = {  # per case, budget per month (kopecks, or counts)
    "compensation": (5_000_000, 1_500_000_000), "refund": (10_000_000, 1_000_000_000),
    "free_delivery": (5, 100_000), "replace": (10, 50_000), "gift": (300_000, 50_000_000),
}
SEASON = {1: 1.3, 2: 1.0, 3: 0.8, 4: 0.85, 5: 0.95, 6: 1.1, 7: 1.25, 8: 1.15, 9: 0.9, 10: 0.95, 11: 1.1, 12: 1.5}
ACTIONS = (
    ("Late delivery: compensated the delivery fee", "Опоздали с доставкой: вернули стоимость доставки"),
    ("Spoiled goods: compensated their price", "Испорченный товар: компенсировали стоимость"),
    ("Missing item: compensated and apologised", "Не хватило товара: компенсировали и извинились"),
    ("Courier was rude: goodwill compensation", "Грубость курьера: компенсация за неудобство"),
)
EMPLOYEE_PER_CASE, EMPLOYEE_BUDGET = 500_000, 4_000_000
EMPLOYEE_CURRENT_MONTH_CAP = 1_000_000  # so at least 30 000 ₽ of the month is left
GRANT_COLUMNS = ("id", "scope", "grantor", "grantee", "parent", "path", "depth", "per_case_limit", "budget", "period",
                 "valid_from", "valid_until", "may_redelegate", "goal_id", "note", "created_at", "created_by",
                 "revoked_at", "revoked_by")
USE_COLUMNS = ("id", "grant_id", "grant_path", "scope", "grantee", "case_ref", "customer", "amount", "action", "used_on",
               "request_key", "request_hash", "remaining_after", "escalation_id", "created_at", "created_by")


def _stamp(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def _current_staff(ctx: Any, unit: Any) -> list[Any]:
    return [m for m in ctx.people if m.left_on is None and m.placements and m.placements[-1].unit is unit
            and m.placements[-1].end is None and not m.placements[-1].as_head]


class _Grants:
    def __init__(self, ctx: Any):
        self.ctx, self.rows, self.by_id = ctx, [], {}

    def add(self, scope_id: int, parent: dict | None, grantee: Any, per_case: int, budget: int, *, start: date,
            until: date | None, redelegate: bool) -> dict:
        grant_id = len(self.rows) + 1
        if parent is not None:  # never more than the grantor holds
            per_case, budget = min(per_case, parent["per_case"]), min(budget, parent["budget"])
            start = max(start, parent["start"])
            until = until if parent["until"] is None else min(until or parent["until"], parent["until"])
        grant = {"id": grant_id, "parent": parent, "path": (parent["path"] if parent else "/") + f"{grant_id}/",
                 "per_case": per_case, "budget": budget, "start": start, "until": until, "grantee": grantee}
        self.rows.append((grant_id, scope_id, parent["grantee"].id if parent else None, grantee.id,
                          parent["id"] if parent else None, grant["path"], grant["path"].count("/") - 2, per_case, budget,
                          "month", start, until, redelegate, None, "", _stamp(start),
                          parent["grantee"].id if parent else None, None, None))
        self.by_id[grant_id] = grant
        return grant


def plan_authority(ctx: Any) -> None:
    from servicechain.platform.demo.generate import DEMO_TEAM

    rng = ctx.rng("authority")
    ctx.add_rows("authority_scope", ("id", "code", "name_en", "name_ru", "kind", "unit", "unit_ru", "active"),
                 [(i, code, en, ru, kind, unit, unit_ru, True)
                  for i, (code, en, ru, kind, unit, unit_ru) in enumerate(SCOPES, start=1)])
    scope_ids = {code: i for i, (code, *_rest) in enumerate(SCOPES, start=1)}
    kinds = {code: kind for code, _en, _ru, kind, *_units in SCOPES}
    by_code = {u.code: u for u in ctx.units}
    root_unit = next(u for u in ctx.units if u.parent is None)
    ceo = ctx.accounts.get("ceo@example.com") or root_unit.head_at(ctx.today)
    employee = ctx.accounts.get("employee@example.com")
    grants = _Grants(ctx)
    until = ctx.today + timedelta(days=365)
    agents: list[tuple[str, dict, Any]] = []  # (scope code, grant, agent)
    for code, (per_case, budget) in ROOTS.items():
        root = grants.add(scope_ids[code], None, ceo, per_case, budget, start=ctx.start, until=None, redelegate=True)
        if code not in ("compensation", "free_delivery") or employee is None:
            continue
        money = kinds[code] == "money"
        line = [by_code.get("support"), by_code.get("support.line1")]
        parent = root
        for unit in line:
            head = unit.head_at(ctx.today) if unit else None
            if head is None or head is ceo:
                continue
            parent = grants.add(scope_ids[code], parent, head, per_case // 2, budget // 4,
                                start=max(ctx.start, head.hired_on), until=until, redelegate=True)
        teams = [u for u in ctx.units if u.parent is not None and u.parent.code == "support.line1"]
        teams.sort(key=lambda u: (u.code != DEMO_TEAM, u.code))
        for team in teams[:40]:  # the first line's first forty teams hold authority in the demo
            lead = team.head_at(ctx.today)
            if lead is None:
                continue
            staff = _current_staff(ctx, team)
            team_budget = (EMPLOYEE_BUDGET * 3 if money else 60) * max(1, len(staff))
            lead_grant = grants.add(scope_ids[code], parent, lead, 1_000_000 if money else 3, team_budget,
                                    start=max(ctx.start, lead.hired_on), until=until, redelegate=True)
            for agent in staff:
                if agent is employee and money:
                    per, bud = EMPLOYEE_PER_CASE, EMPLOYEE_BUDGET
                else:
                    per, bud = (rng.choice((300_000, 500_000)), rng.choice((3_000_000, 4_000_000))) if money else (2, 30)
                start = max(ctx.start, agent.hired_on, team.origin if team.origin != date.min else ctx.start)
                agents.append((code, grants.add(scope_ids[code], lead_grant, agent, per, bud, start=start, until=until,
                                                redelegate=False), agent))
    ctx.add_rows("authority_grant", GRANT_COLUMNS, grants.rows)
    _plan_uses(ctx, rng, grants, agents, scope_ids, kinds, employee)


def _plan_uses(ctx: Any, rng: Any, grants: _Grants, agents: list, scope_ids: dict, kinds: dict, employee: Any) -> None:
    spent: dict[tuple[int, date], int] = defaultdict(int)
    rows = []
    this_month = period_start(ctx.today, "month")
    for code, grant, agent in agents:
        money = kinds[code] == "money"
        chain = []
        g = grant
        while g is not None:
            chain.append(g)
            g = g["parent"]
        day = max(grant["start"], ctx.start)
        while day <= ctx.today:
            # About one use every nine days on average, more in busy seasons.
            day += timedelta(days=max(1, int(rng.expovariate(SEASON[day.month] / 9))))
            if day > ctx.today or (agent.left_on is not None and day >= agent.left_on):
                break
            limit = min(g["per_case"] for g in chain)
            amount = (rng.randint(20, 100) * limit // 100 // 100 * 100) if money else rng.randint(1, limit)
            if amount <= 0:
                continue
            if agent is employee and money and day >= this_month:
                if spent[(grant["id"], this_month)] + amount > EMPLOYEE_CURRENT_MONTH_CAP:
                    continue
            month = period_start(day, "month")
            if any(spent[(g["id"], month)] + amount > g["budget"] for g in chain):
                continue  # the service would refuse it: over a budget up the chain
            for g in chain:
                spent[(g["id"], month)] += amount
            use_id = len(rows) + 1
            action = rng.choice(ACTIONS)[0 if agent.language == "en" else 1] if money else ""
            remaining = min(g["budget"] - spent[(g["id"], month)] for g in chain)
            rows.append((use_id, grant["id"], grant["path"], scope_ids[code], agent.id, f"HD-{2024000 + use_id * 7}",
                         "", amount, action, day, None, "", remaining, None, _stamp(day), agent.id))
    ctx.add_rows("authority_use", USE_COLUMNS, rows)
    ctx.add_rows("authority_spent", ("id", "grant_id", "period_start", "key", "spent"),
                 [(i, grant_id, month, f"{grant_id}:{month.isoformat()}", total)
                  for i, ((grant_id, month), total) in enumerate(sorted(spent.items()), start=1)])
