"""The demo's service quality: two years of QA scorecards of support agents and store staff, and
monthly mystery-shopper audits of every store and pickup point and of the phone, chat, e-mail
and courier channels.

The quality and training team (support.quality) reviews support and the stores; a year into the
history the admins weighted product knowledge and clarifying the need more, so older scorecards
show the weights they were scored with. Teams whose engagement dips (platform/demo/story.py)
score a little lower a couple of months later, in scorecards and audits alike. Some agents
answered their scorecard, and the reviewer replied.

Draws come from the ``quality`` stream only; nothing reads the clock.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from servicechain.platform.customers.quality.tables import CRITERIA, MAX_SCORE
from servicechain.platform.demo.story import customer_dip

# Mean score (0-5) of each criterion for an average agent on a calm month.
BASE = {"politeness": 4.3, "culture": 4.0, "objections": 3.2, "needs": 3.5, "knowledge": 3.7, "options": 3.0}
NOT_APPLICABLE = {"politeness": 0.02, "culture": 0.03, "objections": 0.35, "needs": 0.08, "knowledge": 0.1, "options": 0.15}
DIP_EFFECT = 1.3  # points a criterion loses at the bottom of a team's dip
CHANNEL_OF_PROFILE = {"call": ("phone",), "chat": ("chat",), "email": ("email",), "line2": ("phone", "email"),
                      "pickup": ("store",), "darkstore": ("store",)}
SCORED_DIVISIONS = ("support", "stores")
PER_AGENT_MONTH = 2.2  # scorecards per agent and month, in a company of up to MAX_MONTHLY / 2.2 agents
MAX_MONTHLY = 4000  # QA teams sample: a large company reviews a smaller share of each agent's work
WEIGHTS_CHANGED_AFTER_MONTHS = 12
LATER_WEIGHTS = {"politeness": 2, "culture": 1, "objections": 1, "needs": 2, "knowledge": 2, "options": 1}

CHECKLISTS = (
    # code, channel, location unit code, en, ru, items: (criterion, kind, en, ru)
    ("store", "store", "stores", "Store and pickup point visit", "Визит в магазин или пункт выдачи", (
        ("politeness", "yes_no", "Greeted within a minute of coming in", "Поприветствовали в течение минуты"),
        ("culture", "scale", "Tone and manner of the conversation", "Тон и манера разговора"),
        ("objections", "scale", "Handled the complaint about a missing item", "Отработали претензию о недостающем товаре"),
        ("needs", "yes_no", "Asked what the order was for before suggesting anything", "Уточнили, для чего заказ, прежде чем советовать"),
        ("knowledge", "scale", "Knew the products and the return rules", "Знание товара и правил возврата"),
        ("options", "yes_no", "Offered at least two alternatives", "Предложили не менее двух вариантов"),
    )),
    ("phone", "phone", "support.line1", "Call to the contact centre", "Звонок в контакт-центр", (
        ("politeness", "yes_no", "Introduced themselves and greeted the caller", "Представились и поприветствовали"),
        ("culture", "scale", "Clear, calm speech without jargon", "Ясная спокойная речь без жаргона"),
        ("objections", "scale", "Handled the objection about the delivery fee", "Отработали возражение о стоимости доставки"),
        ("needs", "scale", "Asked clarifying questions", "Задали уточняющие вопросы"),
        ("knowledge", "yes_no", "Gave a correct answer about the promotion", "Правильно ответили про акцию"),
        ("options", "yes_no", "Offered several delivery slots", "Предложили несколько интервалов доставки"),
    )),
    ("chat", "chat", "support.chat", "Chat with support", "Чат с поддержкой", (
        ("politeness", "yes_no", "Answered within two minutes, politely", "Ответили в течение двух минут, вежливо"),
        ("culture", "scale", "Literate, friendly writing", "Грамотный дружелюбный текст"),
        ("needs", "yes_no", "Understood the question without asking twice", "Поняли вопрос без повторных расспросов"),
        ("knowledge", "scale", "Accuracy of the answer", "Точность ответа"),
        ("options", "yes_no", "Offered a replacement for the missing product", "Предложили замену отсутствующему товару"),
    )),
    ("email", "email", "support.email", "Written request", "Письменное обращение", (
        ("politeness", "yes_no", "Polite greeting and closing", "Вежливое приветствие и прощание"),
        ("culture", "scale", "Structure and literacy of the reply", "Структура и грамотность ответа"),
        ("objections", "scale", "Answered the complaint on its merits", "Ответили на претензию по существу"),
        ("knowledge", "yes_no", "Correct reference to the terms of sale", "Верная ссылка на условия продажи"),
    )),
    ("courier", "courier", "delivery", "Delivery by courier", "Доставка курьером", (
        ("politeness", "yes_no", "Greeted and called the customer by name", "Поздоровался и назвал клиента по имени"),
        ("culture", "scale", "Neat look and manner", "Опрятный вид и манеры"),
        ("objections", "scale", "Handled the remark about a late delivery", "Отработал замечание об опоздании"),
        ("options", "yes_no", "Offered to replace a damaged item on the spot", "Предложил заменить повреждённый товар на месте"),
    )),
)
SHOPPERS = ("Агентство «Тайный покупатель»", "Mystery Shopper Pro", "Агентство «Контрольная закупка»")
LOW_COMMENTS = {
    "politeness": "Не поздоровался в начале разговора.", "culture": "Перебивал клиента.",
    "objections": "Ушёл от ответа на претензию.", "needs": "Не уточнил, что нужно клиенту.",
    "knowledge": "Ошибся в условиях акции.", "options": "Предложил только один вариант.",
}
ANSWERS = ("Клиент сразу попросил конкретный товар, другие варианты ему были не нужны.",
           "Согласен, в следующий раз уточню заранее.", "Спасибо за разбор, учту.")
REPLIES = ("Хорошо, давайте разберём запись вместе на планёрке.", "Понял, учтём при следующей проверке.")
NOTES = ("Вечер, очередь из трёх человек.", "Обращение в час пик.", "", "", "Повторный визит после жалобы.")

WEIGHT_COLUMNS = ("id", *CRITERIA, "created_by", "created_at")
REVIEWER_COLUMNS = ("id", "person", "department", "created_by", "created_at")
SCORECARD_COLUMNS = ("id", "employee", "department", "reviewer", "weight_set", "channel", "reference", "link", "contact_on",
                     *("score_" + c for c in CRITERIA), *("comment_" + c for c in CRITERIA), "summary", "score", "created_at")
COMMENT_COLUMNS = ("id", "scorecard", "author", "body", "created_at")
CHECKLIST_COLUMNS = ("id", "name_en", "name_ru", "channel", "location", "active", "created_at", "updated_at")
ITEM_COLUMNS = ("id", "checklist", "position", "text_en", "text_ru", "criterion", "kind", "active")
AUDIT_COLUMNS = ("id", "checklist", "channel", "department", "visited_on", "shopper", "notes", "score", "recorded_by", "created_at")
ANSWER_COLUMNS = ("id", "audit", "item", "criterion", "kind", "value", "points")


def _stamp(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _months(first: date, last: date) -> list[date]:
    months, year, month = [], first.year, first.month
    while date(year, month, 1) <= last:
        months.append(date(year, month, 1))
        month += 1
        if month > 12:
            month, year = 1, year + 1
    return months


def _unit_on(member: Any, day: date) -> tuple[Any, bool]:
    for placement in member.placements:
        if placement.start <= day and (placement.end is None or placement.end > day):
            return placement.unit, placement.as_head
    return None, False


def _weighted(scores: dict[str, int | None], weights: dict[str, int]) -> float:
    total = sum(weights[c] for c, s in scores.items() if s is not None)
    if not total:
        return 0.0
    return round(sum(weights[c] * s for c, s in scores.items() if s is not None) / (MAX_SCORE * total) * 100, 1)


def _profile_codes() -> dict[int, str]:
    """Profile object id → its code (units carry the Profile, not its name)."""
    from servicechain.platform.demo.company import PROFILES

    return {id(profile): code for code, profile in PROFILES.items()}


def plan_quality(ctx: Any) -> None:
    rng = ctx.rng("quality")
    units = {u.code: u for u in ctx.units}
    admin = ctx.accounts.get("admin@example.com")
    hr = ctx.accounts.get("hr@example.com")
    first_month = date(ctx.start.year, ctx.start.month, 1)
    months = _months(first_month, ctx.today)
    changed = months[min(WEIGHTS_CHANGED_AFTER_MONTHS, len(months) - 1)] if months else first_month

    weights = {1: {c: 1 for c in CRITERIA}, 2: LATER_WEIGHTS}
    ctx.add_rows("quality_weight_set", WEIGHT_COLUMNS, [
        (1, *weights[1].values(), admin.id if admin else None, _stamp(first_month - timedelta(days=30), 9)),
        (2, *(LATER_WEIGHTS[c] for c in CRITERIA), admin.id if admin else None, _stamp(changed, 9)),
    ])

    # The quality and training team reviews support and the stores.
    analysts = [m for m in ctx.people if any(p.unit.code == "support.quality" for p in m.placements)]
    reviewers = []
    for member in analysts:
        if member.left_on is not None:
            continue
        for division in SCORED_DIVISIONS:
            if division in units:
                reviewers.append((len(reviewers) + 1, member.id, units[division].id, hr.id if hr else None,
                                  _stamp(first_month - timedelta(days=20), 11)))
    ctx.add_rows("quality_reviewer", REVIEWER_COLUMNS, reviewers)

    _scorecards(ctx, rng, months, changed, weights, analysts)
    _audits(ctx, rng, months, units, hr)


def _scorecards(ctx: Any, rng: Any, months: list[date], changed: date, weights: dict, analysts: list) -> None:
    profiles = _profile_codes()
    channels_of: dict[int, tuple[str, ...]] = {}  # unit id → the channels its people answer on
    for unit in ctx.units:
        if unit.division in SCORED_DIVISIONS and unit.profile is not None:
            channels_of[unit.id] = CHANNEL_OF_PROFILE.get(profiles.get(id(unit.profile), ""), ())
    agents = []
    for member in ctx.people:
        if any(not p.as_head and channels_of.get(p.unit.id) for p in member.placements):
            agents.append(member)
    rate = min(PER_AGENT_MONTH, MAX_MONTHLY / max(1, len(agents)))
    skill = {m.seq: rng.gauss(0, 0.45) for m in agents}
    cards, comments = [], []
    for month_start in months:
        last_day = date(month_start.year, month_start.month, calendar.monthrange(month_start.year, month_start.month)[1])
        last_day = min(last_day, ctx.today - timedelta(days=1))
        month_start = max(month_start, ctx.start)  # the history begins mid-month
        if last_day < month_start:
            continue
        set_id = 2 if month_start >= changed else 1
        on_duty = [a for a in analysts if a.hired_on <= last_day and (a.left_on is None or a.left_on > month_start)]
        for member in agents:
            count = int(rate) + (1 if rng.random() < rate - int(rate) else 0)
            for _n in range(count):
                day = month_start + timedelta(days=rng.randrange((last_day - month_start).days + 1))
                unit, as_head = _unit_on(member, day)
                channels = channels_of.get(unit.id) if unit is not None and not as_head else None
                if not channels:
                    continue
                dip = customer_dip(ctx, unit, day)
                scores: dict[str, int | None] = {}
                for c in CRITERIA:
                    if rng.random() < NOT_APPLICABLE[c]:
                        scores[c] = None
                    else:
                        value = rng.gauss(BASE[c] + skill[member.seq] + dip * DIP_EFFECT, 0.75)
                        scores[c] = max(0, min(MAX_SCORE, int(round(value))))
                if all(s is None for s in scores.values()):
                    scores["politeness"] = 4
                notes = {c: (LOW_COMMENTS[c] if s is not None and s <= 2 and rng.random() < 0.6 else "") for c, s in scores.items()}
                reviewer = rng.choice(on_duty) if on_duty else unit.head_at(day)
                channel = rng.choice(channels)
                card_id = len(cards) + 1
                reference = f"{'CALL' if channel == 'phone' else channel.upper()}-{day:%y%m%d}-{card_id:05d}"
                link = f"https://records.vkusdom.example/{channel}/{card_id}" if channel in ("phone", "chat") else ""
                score = _weighted(scores, weights[set_id])
                summary = ("Хороший разговор, так держать." if score >= 80 else
                           "Есть над чем поработать: см. комментарии к критериям." if score < 55 else "")
                created = _stamp(day + timedelta(days=1 + rng.randrange(3)), 9 + rng.randrange(8))
                cards.append((card_id, member.id, unit.id, reviewer.id if reviewer else None, set_id, channel, reference, link,
                              day, *(scores[c] for c in CRITERIA), *(notes[c] for c in CRITERIA), summary, score, created))
                if score < 60 and rng.random() < 0.12:
                    comments.append((len(comments) + 1, card_id, member.id, rng.choice(ANSWERS), created + timedelta(hours=20)))
                    if reviewer and rng.random() < 0.7:
                        comments.append((len(comments) + 1, card_id, reviewer.id, rng.choice(REPLIES), created + timedelta(hours=26)))
    ctx.add_rows("quality_scorecard", SCORECARD_COLUMNS, cards)
    ctx.add_rows("quality_scorecard_comment", COMMENT_COLUMNS, comments)


def _targets(units: dict[str, Any], code: str) -> list[Any]:
    """The departments a checklist's shoppers visit or contact: the teams (or leaves) below it."""
    root = units.get(code)
    if root is None:
        return []
    below = [u for u in units.values() if u.code.startswith(code + ".") and not u.children]
    return below or [root]


def _audits(ctx: Any, rng: Any, months: list[date], units: dict[str, Any], hr: Any) -> None:
    checklists, items, audits, answers = [], [], [], []
    created = _stamp(months[0] - timedelta(days=25), 12) if months else _stamp(ctx.today)
    for code, channel, location, en, ru, questions in CHECKLISTS:
        if location not in units:
            continue
        checklist_id = len(checklists) + 1
        checklists.append((checklist_id, en, ru, channel, units[location].id, True, created, created))
        own = []
        for position, (criterion, kind, qen, qru) in enumerate(questions):
            item_id = len(items) + 1
            items.append((item_id, checklist_id, position, qen, qru, criterion, kind, True))
            own.append((item_id, criterion, kind))
        targets = _targets(units, location)
        if not targets:
            continue
        for month_start in months:
            last_day = date(month_start.year, month_start.month, calendar.monthrange(month_start.year, month_start.month)[1])
            last_day = min(last_day, ctx.today - timedelta(days=1))
            month_start = max(month_start, ctx.start)
            if last_day < month_start:
                continue
            # Every store and pickup point monthly; each channel gets a few contacts a month.
            visited = targets if code == "store" else [rng.choice(targets) for _i in range(3)]
            for unit in visited:
                day = month_start + timedelta(days=rng.randrange((last_day - month_start).days + 1))
                if unit.origin > day:
                    continue
                dip = customer_dip(ctx, unit, day)
                audit_id = len(audits) + 1
                points = []
                for item_id, criterion, kind in own:
                    mean = (BASE[criterion] + dip * DIP_EFFECT) / MAX_SCORE
                    if kind == "yes_no":
                        value = 1 if rng.random() < max(0.05, min(0.98, mean + 0.08)) else 0
                        earned = float(value)
                    else:
                        value = max(0, min(MAX_SCORE, int(round(rng.gauss(mean * MAX_SCORE, 0.8)))))
                        earned = value / MAX_SCORE
                    points.append(earned)
                    answers.append((len(answers) + 1, audit_id, item_id, criterion, kind, value, earned))
                score = round(sum(points) / len(points) * 100, 1)
                audits.append((audit_id, checklist_id, channel, unit.id, day, rng.choice(SHOPPERS), rng.choice(NOTES), score,
                               hr.id if hr else None, _stamp(day + timedelta(days=2), 16)))
    ctx.add_rows("quality_checklist", CHECKLIST_COLUMNS, checklists)
    ctx.add_rows("quality_checklist_item", ITEM_COLUMNS, items)
    ctx.add_rows("quality_audit", AUDIT_COLUMNS, audits)
    ctx.add_rows("quality_audit_answer", ANSWER_COLUMNS, answers)
