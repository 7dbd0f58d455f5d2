"""The demo's internal service: what ВкусДом's divisions do for each other, a survey round every
quarter, and the ratings people gave, with two stories in them: IT, slow and curt two years ago,
got steadily better; the warehouse, once the best, slipped as it grew. Low ratings opened
follow-ups; the older ones were resolved.

Draws come from the ``internal_service`` stream only; nothing reads the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from servicechain.internal_service import summary

SERVICES = (
    # provider division, en, ru, description en, description ru, for (None: everyone)
    ("it", "Laptop setup", "Настройка ноутбука", "A working laptop with accounts on your first day.",
     "Рабочий ноутбук и учётные записи в первый день.", None),
    ("it", "Access to systems", "Доступы к системам", "Access to the systems your job needs, within a day.",
     "Доступ к нужным для работы системам в течение дня.", None),
    ("warehouse", "Order picking for delivery", "Сборка заказов для доставки", "Orders picked and handed to couriers on time.",
     "Заказы собраны и переданы курьерам вовремя.", ("delivery", "stores")),
    ("warehouse", "Stock information", "Информация об остатках", "What is in stock and when it arrives.",
     "Что есть на складе и когда придёт.", ("support", "stores", "marketing")),
    ("hr", "Hiring", "Подбор персонала", "Finding people for open positions.", "Поиск людей на открытые вакансии.", None),
    ("hr", "Payroll questions", "Вопросы по зарплате", "Answers about pay, leave and documents.",
     "Ответы о зарплате, отпусках и документах.", None),
    ("finance", "Expense reimbursement", "Возмещение расходов", "Business expenses paid back.", "Возмещение командировочных и прочих расходов.", None),
    ("delivery", "Delivery status for support", "Статус доставки для поддержки", "Where an order is, for a customer on the line.",
     "Где заказ — для клиента на линии.", ("support",)),
    ("support", "Customer feedback reports", "Отчёты об отзывах клиентов", "What customers said this week.",
     "Что клиенты сказали за неделю.", ("marketing", "quality", "procurement")),
    ("procurement", "Purchasing supplies", "Закупка расходных материалов", "Packaging, uniforms and office supplies.",
     "Упаковка, форма и канцелярия.", None),
    ("quality", "Complaint analysis", "Разбор жалоб", "Why a complaint happened and how to prevent the next one.",
     "Почему возникла жалоба и как не допустить следующую.", ("warehouse", "delivery", "support")),
)
COMMENTS = {
    "ru": {
        "low": ("Ждал ответа неделю.", "Переводили от одного к другому, никто не решил.", "Грубо ответили в чате.",
                "Пришлось напоминать трижды."),
        "high": ("Быстро и вежливо, спасибо!", "Решили за час.", "Объяснили всё понятно.", "Всегда готовы помочь."),
    },
    "en": {
        "low": ("Waited a week for an answer.", "Passed from one person to another, nobody solved it.",
                "A curt reply in the chat.", "Had to remind them three times."),
        "high": ("Fast and polite, thank you!", "Solved within an hour.", "Explained everything clearly.", "Always ready to help."),
    },
}
IMPROVED, SLIPPED = "it", "warehouse"
BASE = {"it": 2.6, "warehouse": 4.3, "hr": 3.7, "finance": 3.4, "delivery": 3.9, "support": 4.0, "procurement": 3.5,
        "quality": 3.8}
PARTICIPATION = 0.15  # share of working people who take part in a round
ROUND_DAYS = 21

SERVICE_COLUMNS = ("id", "provider", "name_en", "name_ru", "description_en", "description_ru", "for_all", "active",
                   "created_at", "updated_at")
AUDIENCE_COLUMNS = ("id", "service", "department")
ROUND_COLUMNS = ("id", "title", "opens_on", "closes_on", "min_group_size", "created_by", "created_at")
RATING_COLUMNS = ("id", "service", "rater", "rater_department", "provider_department", "round", "request_ref", "overall",
                  "speed", "quality", "courtesy", "willingness", "comment", "may_contact", "rated_on", "created_at")
FOLLOW_UP_COLUMNS = ("id", "rating", "provider_department", "status", "response", "resolution", "resolved_by",
                     "resolved_at", "created_at")


def _stamp(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _unit_on(member: Any, day: date) -> Any:
    current = None
    for placement in member.placements:
        if placement.start <= day and (placement.end is None or placement.end > day):
            current = placement.unit
    return current


def _quarters(first: date, last: date) -> list[date]:
    """The first day of every quarter whose round opened from ``first`` to ``last``."""
    starts, year, month = [], first.year, ((first.month - 1) // 3) * 3 + 1
    while date(year, month, 1) <= last:
        if date(year, month, 1) >= first:
            starts.append(date(year, month, 1))
        month += 3
        if month > 12:
            month, year = month - 12, year + 1
    return starts


def _clamp(value: float) -> int:
    return max(1, min(5, int(round(value))))


def plan_internal_service(ctx: Any) -> None:
    rng = ctx.rng("internal_service")
    divisions = {u.code: u for u in ctx.units if u.depth == 1}
    created = _stamp(ctx.start - timedelta(days=30))
    services, audience = [], []
    for provider_code, en, ru, den, dru, receivers in SERVICES:
        if provider_code not in divisions:
            continue
        service_id = len(services) + 1
        services.append((service_id, divisions[provider_code].id, en, ru, den, dru, receivers is None, True, created, created))
        for code in receivers or ():
            if code in divisions:
                audience.append((len(audience) + 1, service_id, divisions[code].id))
    ctx.add_rows("internal_service", SERVICE_COLUMNS, services)
    ctx.add_rows("internal_service_audience", AUDIENCE_COLUMNS, audience)

    hr = ctx.accounts.get("hr@example.com")
    rounds = []
    for opens in _quarters(ctx.start, ctx.today):
        closes = opens + timedelta(days=ROUND_DAYS - 1)
        quarter = (opens.month - 1) // 3 + 1
        rounds.append((len(rounds) + 1, f"Q{quarter} {opens.year}", opens, closes, 5, hr.id if hr else None, _stamp(opens, 9)))
    ctx.add_rows("internal_service_round", ROUND_COLUMNS, rounds)

    received: dict[str, list[tuple[int, str]]] = {code: [] for code in divisions}
    for service_id, _provider, *_rest in services:
        provider_code, receivers = SERVICES[service_id - 1][0], SERVICES[service_id - 1][5]
        for code in divisions:
            if code != provider_code and (receivers is None or code in receivers):
                received[code].append((service_id, provider_code))

    span = max(1, (ctx.today - ctx.start).days)
    ratings, follow_ups = [], []
    for round_id, _title, opens, closes, *_x in rounds:
        last = min(closes, ctx.today - timedelta(days=1))
        if last < opens:
            continue
        progress = (opens - ctx.start).days / span  # 0 at the start of the history, 1 today
        working = [m for m in ctx.people if m.hired_on <= opens and (m.left_on is None or m.left_on > last)]
        for member in working:
            if rng.random() > PARTICIPATION:
                continue
            day = opens + timedelta(days=rng.randrange((last - opens).days + 1))
            unit = _unit_on(member, day)
            if unit is None or not unit.division or unit.division not in received:
                continue
            for service_id, provider_code in received[unit.division]:
                if rng.random() > 0.5:
                    continue
                base = BASE.get(provider_code, 3.6)
                if provider_code == IMPROVED:
                    base += 1.7 * progress
                elif provider_code == SLIPPED:
                    base -= 1.6 * progress
                overall = _clamp(rng.gauss(base, 0.8))
                criteria = [_clamp(rng.gauss(overall, 0.6)) for _c in range(4)]
                comment = ""
                if rng.random() < 0.15:
                    pool = COMMENTS["en" if member.language == "en" else "ru"]["low" if overall <= 2 else "high"]
                    comment = rng.choice(pool)
                rating_id = len(ratings) + 1
                ratings.append((rating_id, service_id, member.id, unit.id, divisions[provider_code].id, round_id, None,
                                overall, *criteria, comment, rng.random() < 0.3, day, _stamp(day, 8 + rng.randrange(10))))
                if overall <= 2:
                    head = divisions[provider_code].head_at(day)
                    old = (ctx.today - day).days > 45
                    resolved = old and rng.random() < 0.85
                    resolved_on = day + timedelta(days=3 + rng.randrange(14))
                    follow_ups.append((
                        len(follow_ups) + 1, rating_id, divisions[provider_code].id, "resolved" if resolved else "open",
                        "We looked into it with the team." if resolved else "",
                        "We changed how requests are handed over." if resolved else "",
                        head.id if resolved and head else None, _stamp(resolved_on, 15) if resolved else None,
                        _stamp(day, 18),
                    ))
    ctx.add_rows("internal_service_rating", RATING_COLUMNS, ratings)
    # The monthly summary the figures read, made from the same rows (the demo inserts in bulk,
    # past ``summary.add_rating``).
    ctx.add_rows("internal_service_monthly", summary.COLUMNS, summary.rows_from_ratings(
        (r[2], r[3], r[4], r[1], r[5], r[14], *r[7:12]) for r in ratings))
    ctx.add_rows("internal_service_follow_up", FOLLOW_UP_COLUMNS, follow_ups)
