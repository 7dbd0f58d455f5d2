"""The demo's goals: a quarter per cycle over the whole history, company goals, one goal per
division aligned to one of them, one goal per department of the next level aligned to its
division's goal, and a goal for each team lead (and for everyone in the demo team) aligned to
their division's goal, with a check-in about every two weeks up to ``today``.

Seasonality: a grocer's fourth quarter (New Year) and first quarter (after the holidays, the
winter flu) are harder than spring and summer, so goals move more slowly then and are missed
more often. Draws come from the ``goals`` stream only; nothing reads the clock.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servicechain.goals.service import progress_of, quarter_of, rolled_up

# quarter -> how much of the planned way a typical goal covers
SEASON = {1: 0.85, 2: 1.0, 3: 1.05, 4: 0.8}
COMPANY_GOALS = (
    # title, description, metric, unit, baseline, target, direction
    ("Больше повторных заказов", "Покупатели возвращаются: растёт доля заказов от тех, кто уже заказывал у нас.",
     "Доля повторных заказов", "%", 38.0, 44.0, "up"),
    ("Доставка в обещанное окно", "Заказ приезжает в выбранный покупателем интервал, без звонков с извинениями.",
     "Заказы, доставленные в окно", "%", 91.0, 96.0, "up"),
    ("Быстрый первый ответ", "Покупатель, написавший в поддержку, быстро получает ответ живого человека.",
     "Медиана первого ответа", "мин", 30.0, 15.0, "down"),
)
GOAL_COLUMNS = (
    "id", "cycle", "level", "owner_person", "owner_department", "parent", "standalone_reason", "title", "description",
    "metric", "unit", "baseline", "target", "direction", "weight", "status", "starts_on", "deadline", "current_value",
    "confidence", "last_check_in_on", "progress", "carried_from", "created_by", "agreed_by", "agreed_at", "created_at",
    "updated_at",
)
CHECK_IN_COLUMNS = ("id", "goal", "value", "confidence", "comment", "taken_on", "author", "created_at")
COMMENTS = ("", "", "Идём по плану.", "Просели на праздниках.", "Помогла новая смена.", "Ждём поставщика.",
            "Подключили второй склад.", "Много новичков на линии.")


def _stamp(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 7, 0, tzinfo=UTC)


def _cycles(start: date, today: date) -> list[tuple[str, date, date]]:
    out = []
    day = quarter_of(start)[1]
    while day <= today:
        out.append(quarter_of(day))
        day = out[-1][2] + timedelta(days=1)
    return out


def _active(member: Any, day: date) -> bool:
    return member.hired_on <= day and (member.left_on is None or member.left_on > day)


class _Builder:
    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.rng: random.Random = ctx.rng("goals")
        self.goals: list[list[Any]] = []
        self.check_ins: list[tuple[Any, ...]] = []
        self.children: dict[int, list[int]] = {}

    def goal(self, *, cycle_id: int, code: str, start: date, end: date, level: str, owner_person: int | None,
             owner_department: int | None, parent: int | None, title: str, description: str, metric: str, unit: str,
             baseline: float, target: float, direction: str, weight: int, author: int | None, approver: int | None,
             skill: float, quiet_since: date | None = None) -> int:
        """One goal and its check-ins; returns its id. Status follows from how it went."""
        rng, today = self.rng, self.ctx.today
        goal_id = len(self.goals) + 1
        quarter = int(code[-1])
        reach = max(0.0, min(1.25, rng.gauss(1.1 * SEASON[quarter] * skill, 0.18)))
        running = today <= end
        status = "agreed"
        if running and quiet_since is None and rng.random() < 0.08:
            status = rng.choice(("draft", "proposed"))
        values: list[tuple[date, float, str]] = []
        if status == "agreed":
            day = start + timedelta(days=rng.randint(8, 16))
            total = (end - start).days
            while day <= min(end, today) and (quiet_since is None or day < quiet_since):
                elapsed = (day - start).days / total
                share = reach * elapsed ** rng.uniform(0.8, 1.2) + rng.gauss(0, 0.04)
                value = round(baseline + (target - baseline) * share, 1)
                behind = elapsed * 100 - progress_of(baseline, target, value)
                confidence = "on_track" if behind < 10 else "at_risk" if behind < 30 else "off_track"
                values.append((day, value, confidence))
                day += timedelta(days=rng.randint(12, 17))
        if not running and status == "agreed":
            final = progress_of(baseline, target, values[-1][1]) if values else 0.0
            status = "achieved" if final >= 95 else "cancelled" if rng.random() < 0.03 else "missed"
        for day, value, confidence in values:
            self.check_ins.append((len(self.check_ins) + 1, goal_id, value, confidence, rng.choice(COMMENTS), day,
                                   owner_person or author, _stamp(day)))
        last = values[-1] if values else None
        agreed = status in ("agreed", "achieved", "missed", "cancelled")
        created = start - timedelta(days=rng.randint(3, 12))
        self.goals.append([
            goal_id, cycle_id, level, owner_person, owner_department, parent,
            "" if parent or level == "company" else "Цель подразделения вне общего плана.", title, description, metric, unit,
            baseline, target, direction, weight, status, start, end, last[1] if last else None, last[2] if last else "",
            last[0] if last else None, progress_of(baseline, target, last[1] if last else None), None, author,
            approver if agreed else None, _stamp(start) if agreed else None, _stamp(created),
            _stamp(last[0] if last else created),
        ])
        if parent:
            self.children.setdefault(parent, []).append(goal_id)
        return goal_id

    def roll_up(self) -> None:
        """Parents' progress from their children by weight, deepest first (ids grow downwards
        within a cycle: company, then divisions, then people)."""
        by_id = {g[0]: g for g in self.goals}
        for goal in sorted(self.goals, key=lambda g: -g[0]):
            kids = [by_id[k] for k in self.children.get(goal[0], []) if by_id[k][15] != "cancelled"]
            if kids:
                goal[21] = rolled_up([(k[21], k[14]) for k in kids])


def plan_goals(ctx: Any) -> None:
    from servicechain.platform.demo.generate import DEMO_TEAM

    b = _Builder(ctx)
    rng = b.rng
    root = next(u for u in ctx.units if u.parent is None)
    divisions = [u for u in ctx.units if u.depth == 1]
    by_code = {u.code: u for u in ctx.units}
    leads = [u for u in ctx.units if u.depth >= 2]
    demo_team = by_code.get(DEMO_TEAM)
    employee = ctx.accounts.get("employee@example.com")
    cycles = _cycles(ctx.start, ctx.today)
    cycle_rows = [(i, code, start, end) for i, (code, start, end) in enumerate(cycles, start=1)]
    ctx.add_rows("cycle", ("id", "code", "starts_on", "ends_on"), cycle_rows)
    skill = {u.code: rng.uniform(0.85, 1.15) for u in ctx.units}
    for cycle_id, code, start, end in cycle_rows:
        ceo = root.head_at(start)
        company_ids = []
        for title, description, metric, unit, baseline, target, direction in COMPANY_GOALS:
            drift = rng.uniform(-1, 1)
            company_ids.append(b.goal(
                cycle_id=cycle_id, code=code, start=start, end=end, level="company", owner_person=None,
                owner_department=None, parent=None, title=title, description=description, metric=metric, unit=unit,
                baseline=round(baseline + drift, 1), target=round(target + drift, 1), direction=direction, weight=1,
                author=ceo.id if ceo else None, approver=ceo.id if ceo else None, skill=1.0))
        division_goal: dict[str, int] = {}
        for index, division in enumerate(divisions):
            parent = company_ids[index % len(company_ids)]
            title, _d, metric, unit, baseline, target, direction = COMPANY_GOALS[index % len(COMPANY_GOALS)]
            head = division.head_at(start)
            division_goal[division.code] = b.goal(
                cycle_id=cycle_id, code=code, start=start, end=end, level="department", owner_person=None,
                owner_department=division.id, parent=parent, title=f"{title}: {division.name_ru}",
                description=f"Вклад подразделения «{division.name_ru}» в общую цель компании «{title}».",
                metric=metric, unit=unit, baseline=baseline, target=target, direction=direction, weight=rng.randint(1, 3),
                author=head.id if head else None, approver=ceo.id if ceo else None, skill=skill[division.code])
        # Sub-departments align to their division's goal: the second level of departments sets
        # department goals of its own, so the cascade has department goals under department goals.
        for unit in (u for u in leads if u.depth == 2 and u.division in division_goal):
            head = unit.head_at(start)
            if head is None or not _active(head, start):
                continue
            division_head = by_code[unit.division].head_at(start)
            title, _d, metric, unit_name, baseline, target, direction = COMPANY_GOALS[divisions.index(by_code[unit.division]) % 3]
            b.goal(cycle_id=cycle_id, code=code, start=start, end=end, level="department", owner_person=None,
                   owner_department=unit.id, parent=division_goal[unit.division], title=f"{title}: {unit.name_ru}",
                   description=f"Вклад отдела «{unit.name_ru}» в цель подразделения по показателю «{metric}».",
                   metric=metric, unit=unit_name, baseline=baseline, target=target, direction=direction, weight=1,
                   author=head.id, approver=division_head.id if division_head else None, skill=skill[unit.code])
        for unit in leads:
            head = unit.head_at(start)
            if head is None or not _active(head, start) or unit.division not in division_goal:
                continue
            boss = unit.parent.head_at(start) if unit.parent else None
            parent = division_goal[unit.division]
            title, _d, metric, unit_name, baseline, target, direction = COMPANY_GOALS[divisions.index(by_code[unit.division]) % 3]
            b.goal(cycle_id=cycle_id, code=code, start=start, end=end, level="person", owner_person=head.id,
                   owner_department=None, parent=parent, title=f"{metric}: {unit.name_ru}",
                   description=f"Команда «{unit.name_ru}» двигает показатель «{metric}» к цели подразделения.",
                   metric=metric, unit=unit_name, baseline=baseline, target=target, direction=direction,
                   weight=rng.randint(1, 3), author=head.id, approver=boss.id if boss else None, skill=skill[unit.code])
        if demo_team is not None and demo_team.division in division_goal:
            lead = demo_team.head_at(start)
            for member in ctx.people:
                placed = any(p.unit is demo_team and p.start <= start and (p.end is None or p.end > start) and not p.as_head
                             for p in member.placements)
                if not placed or not _active(member, start):
                    continue
                # The demo employee's current goal has gone quiet: a reminder on their home page.
                quiet = ctx.today - timedelta(days=20) if member is employee and start <= ctx.today <= end else None
                b.goal(cycle_id=cycle_id, code=code, start=start, end=end, level="person", owner_person=member.id,
                       owner_department=None, parent=division_goal[demo_team.division], title="Ответы без повторных обращений",
                       description="Покупатель получает решение с первого раза и не пишет нам снова по тому же заказу.",
                       metric="Обращения, решённые с первого раза", unit="%", baseline=70.0, target=80.0, direction="up",
                       weight=1, author=member.id, approver=lead.id if lead else None, skill=rng.uniform(0.8, 1.2),
                       quiet_since=quiet)
    b.roll_up()
    ctx.add_rows("goal", GOAL_COLUMNS, (tuple(g) for g in b.goals))
    ctx.add_rows("goal_check_in", CHECK_IN_COLUMNS, b.check_ins)
