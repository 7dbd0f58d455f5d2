"""The demo's recognition and rewards: the four company values (and one retired a year ago),
two years of thanks between colleagues with inspiring service stories in the sender's
language, reactions, reward preferences, quarterly reward budgets for the heads of teams and
the rewards they gave within them.

Thanks follow the calendar of a grocer: more in December (New Year orders) and in spring,
fewer in the summer holidays. Recognitions are generated in time order, so ids grow with time
as they do in a live system (the feeds page by id). Draws come from the ``recognition`` stream
only; nothing reads the clock.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servicechain.recognition.tables import MONEY_KINDS, REACTIONS, REWARD_KINDS
from servicechain.platform.lib.dates import month_starts

VALUES = (
    # code, en, ru, description en, description ru
    ("customer", "Love the customer", "Любить клиента", "We do what the customer would thank us for.",
     "Делаем то, за что клиент скажет спасибо."),
    ("colleagues", "Help colleagues", "Помогать коллегам", "The next link in the chain is our customer too.",
     "Следующее звено цепочки — тоже наш клиент."),
    ("ownership", "Own the problem", "Решать проблему до конца", "We see a problem through, whoever caused it.",
     "Доводим дело до конца, кто бы ни был виноват."),
    ("beyond", "Go beyond expectations", "Превосходить ожидания", "We do a little more than was asked.",
     "Делаем чуть больше, чем просили."),
    ("speed", "Be fast", "Быть быстрыми", "Retired: speed without care hurt customers.",
     "Больше не используется: скорость без заботы вредила клиентам."),
)
RETIRED_CODE = "speed"
SEASON = {1: 0.9, 2: 0.9, 3: 1.1, 4: 1.1, 5: 1.0, 6: 0.8, 7: 0.7, 8: 0.7, 9: 1.0, 10: 1.0, 11: 1.1, 12: 1.4}
PER_PERSON_MONTH = 0.11  # recognitions sent per working person per month, on average

MESSAGES = {
    "ru": (
        "Спасибо, что подменил на смене, когда я заболела!",
        "Спасибо за терпение с очень сложным покупателем.",
        "Ты нашла потерянный заказ за десять минут — спасибо!",
        "Спасибо, что объяснил новичкам, как работает возврат.",
        "Благодарю за помощь с инвентаризацией в выходные.",
        "Спасибо, что довёл жалобу до конца, а не передал дальше.",
        "Спасибо за идею с пакетами для хрупкого — жалоб стало меньше.",
        "Ты спас(ла) вечернюю доставку, спасибо огромное!",
        "Спасибо за подробную инструкцию для первой линии.",
        "Спасибо, что всегда отвечаешь в чате склада, даже ночью.",
    ),
    "en": (
        "Thank you for covering my shift when I was ill!",
        "Thanks for your patience with a very difficult customer.",
        "You found the lost order in ten minutes — thank you!",
        "Thanks for showing the new starters how returns work.",
        "Thank you for helping with the stocktake at the weekend.",
        "Thanks for seeing the complaint through instead of passing it on.",
        "Thanks for the idea of padded bags for fragile goods: fewer complaints now.",
        "You saved the evening deliveries, thank you so much!",
        "Thanks for the detailed guide for the first line.",
        "Thank you for always answering in the warehouse chat, even at night.",
    ),
}
STORIES = {
    "ru": (
        "Покупательница из Химок заказала торт на юбилей мамы, а курьер попал в пробку. %s сам(а) отвёз(ла) торт на такси и успел(а) к началу праздника.",
        "Пожилой покупатель не мог оформить заказ в приложении. %s по телефону собрал(а) с ним корзину и позвонил(а) на следующий день узнать, всё ли пришло.",
        "В заказе многодетной семьи не хватило детского питания. %s нашёл(ла) его в соседнем дарксторе и доставил(а) в тот же вечер.",
        "Клиент написал ночью, что молоко пришло просроченным. %s вернул(а) деньги, извинился(ась) и привёз(ла) свежее к завтраку.",
        "Ресторан-партнёр остался без овощей перед банкетом. %s за час собрал(а) внеплановую поставку.",
    ),
    "en": (
        "A customer in Khimki ordered a cake for her mother's birthday and the courier was stuck in traffic. %s took the cake by taxi and made it before the party began.",
        "An elderly customer could not place an order in the app. %s filled the basket with him over the phone and called the next day to check everything arrived.",
        "A large family's order was missing the baby food. %s found it at the next dark store and delivered it that evening.",
        "A customer wrote at night that the milk had arrived out of date. %s refunded it, apologised and brought fresh milk by breakfast.",
        "A partner restaurant ran out of vegetables before a banquet. %s put together an unplanned delivery within the hour.",
    ),
}
REASONS = {
    "ru": ("За спасённый праздник покупателя.", "За помощь новичкам всей смены.", "За квартал без просроченных обращений.",
           "За идею, которая сократила возвраты.", "За ночную инвентаризацию."),
    "en": ("For saving a customer's celebration.", "For helping the whole shift's new starters.",
           "For a quarter without overdue tickets.", "For the idea that cut returns.", "For the night stocktake."),
}
NOTES = {
    "ru": ("Лучше обучение, чем деньги.", "Очень ценю лишний выходной — у меня маленькие дети.",
           "Хочу больше ответственности, готов(а) вести новичков.", "Подарки не нужны, спасибо словами достаточно."),
    "en": ("Learning rather than money, please.", "An extra day off means a lot: I have small children.",
           "I would like more responsibility; happy to mentor new starters.", "No gifts needed; a thank-you is enough."),
}

VALUE_COLUMNS = ("id", "code", "name_en", "name_ru", "description_en", "description_ru", "position", "retired_at")
RECOGNITION_COLUMNS = ("id", "sender", "message", "story", "case_ref", "public", "created_at", "via_token")
RECIPIENT_COLUMNS = ("id", "recognition", "person", "department", "public")
RECOGNITION_VALUE_COLUMNS = ("id", "recognition", "value", "public")
REACTION_COLUMNS = ("id", "recognition", "person", "kind", "key", "created_at")
PREFERENCE_COLUMNS = ("id", "person", "ranking", "note", "updated_at")
BUDGET_COLUMNS = ("id", "manager", "starts_on", "ends_on", "amount", "set_by", "created_at")
REWARD_COLUMNS = ("id", "giver", "recipient", "kind", "amount", "reason", "value", "recognition", "goal_id", "from_budget",
                  "preference_rank", "department", "created_at")


def _at(day: date, rng: random.Random) -> datetime:
    """Working hours in Moscow (UTC+3): 06:00-17:59 UTC."""
    return datetime(day.year, day.month, day.day, rng.randint(6, 17), rng.randint(0, 59), rng.randint(0, 59), tzinfo=UTC)


def _unit_on(member: Any, day: date) -> Any:
    """The member's unit on that day (their latest placement started by then)."""
    current = None
    for placement in member.placements:
        if placement.start <= day and (placement.end is None or placement.end > day):
            current = placement.unit
    return current


def _works_on(member: Any, day: date) -> bool:
    return member.hired_on <= day and (member.left_on is None or member.left_on > day)


def plan_recognition(ctx: Any) -> None:
    rng = ctx.rng("recognition")
    # Up to yesterday: a demo loaded in the morning shows no thanks from later that day.
    first, last = ctx.start, ctx.today - timedelta(days=1)
    retired_on = first + (last - first) / 2

    ctx.add_rows("company_value", VALUE_COLUMNS, [
        (i + 1, code, en, ru, den, dru, i * 10, datetime.combine(retired_on, datetime.min.time(), UTC) if code == RETIRED_CODE else None)
        for i, (code, en, ru, den, dru) in enumerate(VALUES)
    ])
    value_ids = {code: i + 1 for i, (code, *_rest) in enumerate(VALUES)}

    # Preferences first: rewards record where their kind stood in the recipient's ranking.
    rankings: dict[int, list[str]] = {}
    preference_rows = []
    for member in ctx.people:
        if member.left_on is not None or rng.random() > 0.6:
            continue
        ranking = rng.sample(REWARD_KINDS, rng.randint(3, len(REWARD_KINDS)))
        rankings[member.id] = ranking
        note = rng.choice(NOTES[member.language]) if rng.random() < 0.2 else ""
        preference_rows.append((len(preference_rows) + 1, member.id, ",".join(ranking), note, _at(last, rng)))

    recognitions: list[tuple] = []
    recipients: list[tuple] = []
    rec_values: list[tuple] = []
    reactions: list[tuple] = []
    drafts = []
    for month in month_starts(first, last):
        month_end = min((month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), last)
        middle = min(month + timedelta(days=14), last)
        working = [m for m in ctx.people if _works_on(m, middle)]
        if len(working) < 2:
            continue
        teams: dict[int, list[Any]] = defaultdict(list)
        unit_of: dict[int, Any] = {}
        for member in working:
            unit = _unit_on(member, middle)
            if unit is not None:
                unit_of[member.id] = unit
                teams[unit.id].append(member)
        count = int(len(working) * PER_PERSON_MONTH * SEASON[month.month] * ((month_end - month).days + 1) / 30)
        for _ in range(count):
            day = month + timedelta(days=rng.randint(0, (month_end - month).days))
            sender = rng.choice(working)
            team = teams.get(unit_of[sender.id].id, []) if sender.id in unit_of else []
            wanted = 1 if rng.random() < 0.8 else rng.randint(2, 4)
            pool = team if len(team) > wanted and rng.random() < 0.7 else working
            chosen = {m.id: m for m in rng.sample(pool, min(len(pool), wanted + 1)) if m is not sender}
            if not chosen:
                continue
            drafts.append((_at(day, rng), sender, list(chosen.values())[:wanted], unit_of))
    drafts.sort(key=lambda d: (d[0], d[1].id))
    for created_at, sender, to, unit_of in drafts:
        rid = len(recognitions) + 1
        language = sender.language
        public = rng.random() < 0.9
        story = case_ref = ""
        if rng.random() < 0.3:
            story = rng.choice(STORIES[language]) % to[0].full_name
            case_ref = f"CASE-{rng.randint(10000, 99999)}"
        recognitions.append((rid, sender.id, rng.choice(MESSAGES[language]), story, case_ref, public, created_at, ""))
        for person in to:
            unit = unit_of.get(person.id)
            recipients.append((len(recipients) + 1, rid, person.id, unit.id if unit else None, public))
        codes = ["customer", "colleagues", "ownership", "beyond"]
        if created_at.date() < retired_on:
            codes.append(RETIRED_CODE)
        for code in rng.sample(codes, 1 if rng.random() < 0.7 else 2):
            rec_values.append((len(rec_values) + 1, rid, value_ids[code], public))
        if public and rng.random() < 0.25:
            for kind in rng.sample(REACTIONS, rng.randint(1, 2)):
                person = to[0] if rng.random() < 0.5 else sender
                reactions.append((len(reactions) + 1, rid, person.id, kind, f"{rid}:{person.id}:{kind}",
                                  created_at + timedelta(minutes=rng.randint(1, 600))))

    ctx.add_rows("recognition", RECOGNITION_COLUMNS, recognitions)
    ctx.add_rows("recognition_recipient", RECIPIENT_COLUMNS, recipients)
    ctx.add_rows("recognition_value", RECOGNITION_VALUE_COLUMNS, rec_values)
    ctx.add_rows("recognition_reaction", REACTION_COLUMNS, reactions)
    ctx.add_rows("reward_preference", PREFERENCE_COLUMNS, preference_rows)
    _rewards(ctx, rng, rankings, value_ids)


def _rewards(ctx: Any, rng: random.Random, rankings: dict[int, list[str]], value_ids: dict[str, int]) -> None:
    """A budget each quarter for every head of a unit with staff, and a few rewards within it
    to the people working there; heads lean towards what people ranked high, not always."""
    hr = ctx.accounts.get("hr@example.com")
    budgets: list[tuple] = []
    rewards: list[tuple] = []
    quarter = date(ctx.start.year, 3 * ((ctx.start.month - 1) // 3) + 1, 1)
    while quarter <= ctx.today:
        ends = (date(quarter.year + (quarter.month + 3 > 12), (quarter.month + 2) % 12 + 1, 1)) - timedelta(days=1)
        middle = quarter + timedelta(days=45)
        staff: dict[int, list[Any]] = defaultdict(list)
        for member in ctx.people:
            if _works_on(member, middle):
                unit = _unit_on(member, middle)
                if unit is not None:
                    staff[unit.id].append(member)
        for unit in ctx.units:
            head = unit.head_at(middle) if unit.heads else None
            people = [m for m in staff.get(unit.id, []) if head is None or m is not head]
            if head is None or not people or not _works_on(head, middle):
                continue
            amount = rng.choice((30_000, 50_000, 80_000, 120_000)) * 100
            budget_id = len(budgets) + 1
            budgets.append((budget_id, head.id, quarter, ends, amount, hr.id if hr else None,
                            datetime.combine(quarter, datetime.min.time(), UTC)))
            remaining = amount
            for _ in range(rng.randint(0, 3)):
                day = middle + timedelta(days=rng.randint(-40, 40))
                if day > ctx.today or day < quarter or day > ends:
                    continue
                person = rng.choice(people)
                ranking = rankings.get(person.id, [])
                kind = ranking[0] if ranking and rng.random() < 0.6 else rng.choice(REWARD_KINDS)
                value = None
                if kind in MONEY_KINDS:
                    value = rng.choice((3_000, 5_000, 10_000, 15_000)) * 100
                    if value > remaining:
                        kind, value = "praise", None
                    else:
                        remaining -= value
                rank = ranking.index(kind) + 1 if kind in ranking else None
                rewards.append((len(rewards) + 1, head.id, person.id, kind, value, rng.choice(REASONS[head.language]),
                                value_ids[rng.choice(("customer", "colleagues", "ownership", "beyond"))], None, None,
                                budget_id if value is not None else None, rank, unit.id, _at(day, rng)))
        quarter = ends + timedelta(days=1)
    ctx.add_rows("reward_budget", BUDGET_COLUMNS, budgets)
    ctx.add_rows("reward", REWARD_COLUMNS, sorted(rewards, key=lambda r: r[0]))
