"""The demo's engagement pulses: one a month for the whole history, the current month's still
open for the demo accounts to answer.

Each team's engagement follows the demo's plot (``platform.demo.story.engagement_dip``): the
teams that dip are the ones whose customer scores fall a couple of months later. Rows are built
exactly as closing a real pulse writes them: answers with no person and no time under random
(here: seeded) UUIDs in shuffled order, departments generalised to at least the minimum group
size, and per-department summaries. Draws come from the ``pulses`` stream only; nothing reads the clock.
"""

from __future__ import annotations

import calendar
import json
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from servicechain.platform.demo.story import engagement_dip
from servicechain.platform.surveys.figures import Stat, generalise
from servicechain.platform.surveys.service import DEFAULT_ITEMS

K = 5
RU_MONTHS = ("Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь", "Октябрь", "Ноябрь",
             "Декабрь")
# How each division usually feels (mean on 1-5); traits move around it.
DIVISION_BASE = {"support": 3.8, "delivery": 3.5, "warehouse": 3.4, "stores": 3.6, "it": 4.0, "marketing": 3.9,
                 "finance": 3.7, "hr": 3.9, "procurement": 3.6, "quality": 3.8}
TRAIT_SHIFT = {"company": 0.15, "people": 0.25, "goals": 0.0, "reward": -0.35}
PARTICIPATION = (0.55, 0.85)
COMMENTS = {
    "low": ("Слишком много переработок в последние недели.", "Непонятно, зачем поменяли график.",
            "Не хватает людей в смене.", "Хочется, чтобы руководитель чаще объяснял решения."),
    "high": ("Отличная команда, спасибо!", "Нравится, что можно самому решить вопрос клиента.",
             "Стало удобнее работать с новым приложением.", "Чувствую, что мой вклад замечают."),
}
PULSE_COLUMNS = ("id", "title", "template", "opens_on", "closes_on", "min_group_size", "audience_all", "status", "invited",
                 "answers", "discarded", "created_by", "created_at", "closed_at")
PULSE_ITEM_COLUMNS = ("id", "pulse", "position", "trait", "text_en", "text_ru")
DEPARTMENT_COLUMNS = ("id", "pulse", "source", "parent", "name_en", "name_ru", "path", "depth")
PARTICIPANT_COLUMNS = ("id", "pulse", "person", "department", "answered", "reminded_on")
ANSWER_COLUMNS = ("id", "pulse", "department", "scores", "enps", "comment")
SUMMARY_COLUMNS = ("id", "pulse", "department", "n", "items", "enps")


def _months(first: date, last: date) -> list[date]:
    months, year, month = [], first.year, first.month
    while date(year, month, 1) <= last:
        months.append(date(year, month, 1))
        month += 1
        if month > 12:
            month, year = 1, year + 1
    return months


def _unit_on(member: Any, day: date) -> Any:
    current = None
    for placement in member.placements:
        if placement.start <= day and (placement.end is None or placement.end > day):
            current = placement.unit
    return current


def _division(unit: Any) -> str:
    while unit.parent is not None and unit.parent.parent is not None:
        unit = unit.parent
    return unit.code.split(".")[0]


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, int(round(value))))


def plan_pulses(ctx: Any) -> None:
    rng = ctx.rng("pulses")
    hr = ctx.accounts.get("hr@example.com")
    hr_id = hr.id if hr else None
    # The default template itself comes from the migrations (an empty database already has it),
    # so the demo's pulses carry their own copy of its statements and name no template.
    traits = {i + 1: t for i, (t, _en, _ru) in enumerate(DEFAULT_ITEMS)}
    base_of = {u.code: DIVISION_BASE.get(_division(u), 3.7) + rng.uniform(-0.25, 0.25) for u in ctx.units}

    pulses, items, departments, participants, answers, summaries = [], [], [], [], [], []
    for opens in _months(ctx.start, ctx.today):
        closes = date(opens.year, opens.month, calendar.monthrange(opens.year, opens.month)[1])
        pulse_id = len(pulses) + 1
        closed = closes < ctx.today
        for position, (trait, en, ru) in enumerate(DEFAULT_ITEMS, start=1):
            items.append((len(items) + 1, pulse_id, position, trait, en, ru))
        # The tree as it was at launch: units that existed by then, parents first.
        snapshot: dict[int, int] = {}
        parents: dict[int, int | None] = {}
        paths: dict[int, str] = {}
        for unit in sorted((u for u in ctx.units if u.origin <= opens), key=lambda u: u.depth):
            if unit.parent is not None and unit.parent.id not in snapshot:
                continue
            sid = len(departments) + 1
            parent = snapshot.get(unit.parent.id) if unit.parent is not None else None
            path = (paths[parent] if parent is not None else "/") + f"{sid}/"
            snapshot[unit.id], parents[sid], paths[sid] = sid, parent, path
            departments.append((sid, pulse_id, unit.id, parent, unit.name_en, unit.name_ru, path, path.count("/") - 2))
        working = [m for m in ctx.people if m.hired_on <= opens and (m.left_on is None or m.left_on > closes)]
        share = rng.uniform(*PARTICIPATION)
        given: list[tuple[int, dict[str, int], int, str]] = []
        invited = 0
        for member in working:
            unit = _unit_on(member, opens)
            if unit is None or unit.id not in snapshot:
                continue
            invited += 1
            answered = closed and rng.random() < share
            participants.append((len(participants) + 1, pulse_id, member.id, snapshot[unit.id], answered, None))
            if not answered:
                continue
            mood = base_of[unit.code] + 1.5 * engagement_dip(ctx, unit, opens) + rng.gauss(0, 0.45)
            scores = {str(p): _clamp(rng.gauss(mood + TRAIT_SHIFT[t], 0.6), 1, 5) for p, t in traits.items()}
            enps = _clamp(rng.gauss(2.6 * mood - 2.8, 1.6), 0, 10)
            comment = ""
            if rng.random() < 0.08:
                comment = rng.choice(COMMENTS["low" if mood < 3.2 else "high"])
            given.append((snapshot[unit.id], scores, enps, comment))
        published = 0
        if closed:
            counts: dict[int, int] = {}
            for d, *_rest in given:
                counts[d] = counts.get(d, 0) + 1
            tags = generalise(parents, counts, K)
            size: dict[int, int] = {}
            for d, g in tags.items():
                size[g] = size.get(g, 0) + counts.get(d, 0)
            kept = [g for g in given if size.get(tags[g[0]], 0) >= K]
            rng.shuffle(kept)
            summary: dict[int, Stat] = {}
            for d, scores, enps, comment in kept:
                group = tags[d]
                answers.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), pulse_id, group,
                                json.dumps(scores, sort_keys=True), enps, comment))
                summary.setdefault(group, Stat()).add_answer({int(p): v for p, v in scores.items()}, enps)
            for group, stat in sorted(summary.items()):
                summaries.append((len(summaries) + 1, pulse_id, group, *stat.to_row()))
            published = len(kept)
        title = f"{RU_MONTHS[opens.month - 1]} {opens.year}"
        pulses.append((pulse_id, title, None, opens, closes, K, True, "closed" if closed else "open", invited, published,
                       len(given) - published, hr_id, datetime.combine(opens, time(9), UTC),
                       datetime.combine(closes, time(23), UTC) if closed else None))
    ctx.add_rows("pulse", PULSE_COLUMNS, pulses)
    ctx.add_rows("pulse_item", PULSE_ITEM_COLUMNS, items)
    ctx.add_rows("pulse_department", DEPARTMENT_COLUMNS, departments)
    ctx.add_rows("pulse_participant", PARTICIPANT_COLUMNS, participants)
    ctx.add_rows("pulse_answer", ANSWER_COLUMNS, answers)
    ctx.add_rows("pulse_summary", SUMMARY_COLUMNS, summaries)
