"""The demo's customer scores: two years of CSAT and NPS from the helpdesk, the delivery app and
the stores, given to the teams that face customers, with the follow-ups of the low ones.

- Who: every agent working in a customer-facing team that day (channels by the team's kind of
  work: the call centre on the phone, couriers in the delivery app, pickup points and dark
  stores in the store survey…), about :data:`PER_AGENT_MONTH` scores a month each, so the
  default company of 300 gets about 100,000.
- The story: a team whose engagement dips (``platform/demo/story.py``) sees its scores fall a
  month or two later, by the same curve; the reports must find that.
- Authority: for most uses of delegated authority in the authority demo, the customer first
  gave a low score on that case (its follow-up closed as compensated, linked to the use), and
  often a second, better one afterwards.
- Follow-ups: every low score opened one for the team's head of the day; most were closed within
  a day or two, the newest are still open, and some of those are overdue.

Draws come from the ``customers`` stream only; nothing reads the clock.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from servicechain.platform.customers.service import FOLLOW_UP_HOURS, SCORE_COLUMNS, fingerprint_of
from servicechain.platform.demo.story import customer_dip
from servicechain.platform.lib.dates import month_starts

PER_AGENT_MONTH = 21
# Kind of work → channels with weights.
CHANNELS_BY_PROFILE: dict[str, tuple[tuple[str, float], ...]] = {
    "call": (("phone", 1.0),),
    "chat": (("chat", 1.0),),
    "email": (("email", 1.0),),
    "line2": (("phone", 0.6), ("email", 0.4)),
    "dispatch": (("phone", 1.0),),
    "courier": (("courier", 1.0),),
    "pickup": (("store", 1.0),),
    "darkstore": (("store", 0.5), ("courier", 0.5)),
}
SOURCES = {"phone": "helpdesk", "chat": "helpdesk", "email": "helpdesk", "courier": "delivery-app", "store": "store-survey"}
# The latent satisfaction of a team (higher is better), and how far a full dip pulls it down.
BASE_MEAN, TEAM_SPREAD, DIP_EFFECT, COMPENSATED_LIFT = 1.45, 0.25, 1.3, 0.9
NPS_SHARE = 0.35  # share of scores that also carry an NPS answer
GOOD_BAD_CHANNELS = ("courier",)  # the delivery app asks thumbs up or down
# Comments by (language, mood, where the customer met us): the line or the doorstep.
COMMENTS = {
    ("ru", "low", "line"): ("Долго ждал ответа.", "Оператор был невежлив.", "Проблему так и не решили.",
                            "Пришлось звонить три раза.", "Переключали с одного на другого."),
    ("ru", "low", "door"): ("Курьер опоздал на час.", "Привезли не то, что заказывал.", "Пакет был порван.",
                            "В пункте выдачи долго искали заказ."),
    ("ru", "high", "line"): ("Спасибо, всё быстро!", "Очень вежливый оператор.", "Решили за пять минут."),
    ("ru", "high", "door"): ("Курьер приехал вовремя.", "Всё привезли аккуратно.", "Быстро выдали заказ."),
    ("en", "low", "line"): ("Waited too long for an answer.", "The agent was rude.", "The problem was never solved."),
    ("en", "low", "door"): ("The courier was an hour late.", "Got the wrong items.", "The bag was torn."),
    ("en", "high", "line"): ("Thanks, quick and easy!", "Very polite agent.", "Solved in five minutes."),
    ("en", "high", "door"): ("The courier was on time.", "Everything arrived neatly.", "Got my order at once."),
}
OUTCOME_WEIGHTS = (("called_back", 0.6), ("resolved", 0.4))
FOLLOW_UP_COLUMNS = ("id", "score", "department", "assignee", "due_at", "status", "outcome", "note", "authority_use",
                     "closed_at", "closed_by", "reminded_at", "created_at")
NOTES = {
    "called_back": ("Перезвонили, извинились.", "Called back and apologised."),
    "resolved": ("Перезвонили, перевезли заказ.", "Called back and redelivered the order."),
    "compensated": ("Вернули деньги за доставку.", "Refunded the delivery fee."),
}


def _choose(rng: Any, weighted: tuple[tuple[str, float], ...]) -> str:
    pick, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if pick < total:
            return value
    return weighted[-1][0]


def _csat(latent: float) -> int:
    return 1 if latent < -0.9 else 2 if latent < -0.35 else 3 if latent < 0.2 else 4 if latent < 0.95 else 5


def _nps(latent: float, rng: Any) -> int:
    return max(0, min(10, int(round(6.8 + 2.2 * latent + rng.gauss(0, 1.0)))))


def _at(day: date, rng: Any) -> datetime:
    """A moment of the working day (08:00–21:59)."""
    return datetime(day.year, day.month, day.day, 8 + int(rng.random() * 14), int(rng.random() * 60), tzinfo=UTC)


class _Builder:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.rng = ctx.rng("customers")
        self.scores: list[tuple] = []
        self.follow_ups: list[tuple] = []
        self.seq: dict[str, int] = {}
        self.now = datetime.combine(ctx.today, time(12, 0), tzinfo=UTC)
        self.dips: dict[tuple[str, date], float] = {}

    def dip(self, unit: Any, day: date) -> float:
        key = (unit.code, day.replace(day=1))
        if key not in self.dips:
            self.dips[key] = customer_dip(self.ctx, unit, key[1])
        return self.dips[key]

    def owner(self, unit: Any, day: date) -> int | None:
        current = unit
        while current is not None:
            head = current.head_at(day)
            if head is not None and head.id and (head.left_on is None or head.left_on > day):
                return head.id
            current = current.parent
        return None

    def add(self, *, unit: Any, member: Any, day: date, channel: str, latent: float, case_ref: str,
            language: str, compensated_use: tuple[int, date, int] | None = None) -> int:
        rng = self.rng
        source = SOURCES[channel]
        self.seq[source] = self.seq.get(source, 0) + 1
        external_id = f"{source[:2].upper()}-{self.seq[source]:07d}"
        csat: int | None = None
        good: bool | None = None
        if channel in GOOD_BAD_CHANNELS:
            good = latent > -0.3
        else:
            csat = _csat(latent)
        nps = _nps(latent, rng) if rng.random() < NPS_SHARE else None
        low = (csat is not None and csat <= 3) or good is False or (nps is not None and nps <= 6)
        mood = "low" if low else "high"
        where = "door" if channel in ("courier", "store") else "line"
        comment = rng.choice(COMMENTS[(language, mood, where)]) if rng.random() < 0.3 else ""
        employee = f"VD-{member.id:06d}" if member else ""
        digest = fingerprint_of(day.isoformat(), channel, case_ref, unit.code, employee, str(csat or ""),
                                "" if good is None else str(good), "" if nps is None else str(nps), comment)
        score_id = len(self.scores) + 1
        created = _at(day, rng)
        self.scores.append((score_id, source, external_id, day, channel, case_ref, unit.id, member.id if member else None,
                            csat, good, nps, low, comment, digest, created))
        if low:
            self._follow_up(score_id, unit, day, created, compensated_use, language)
        return score_id

    def _follow_up(self, score_id: int, unit: Any, day: date, created: datetime,
                   compensated_use: tuple[int, date, int] | None, language: str) -> None:
        rng = self.rng
        due = created + timedelta(hours=FOLLOW_UP_HOURS)
        assignee = self.owner(unit, day)
        if compensated_use is not None:
            use_id, used_on, grantee = compensated_use
            closed = max(datetime.combine(used_on, time(15, 0), tzinfo=UTC), created + timedelta(hours=1))
            self.follow_ups.append((len(self.follow_ups) + 1, score_id, unit.id, assignee, due, "closed", "compensated",
                                    NOTES["compensated"][language != "ru"], use_id, closed, grantee, None, created))
            return
        age_hours = (self.now - created).total_seconds() / 3600
        # Slower to close while the team is in a dip; recent ones may still be open.
        hours = rng.lognormvariate(math.log(6 + 20 * -self.dip(unit, day)), 0.9)
        forgotten = age_hours < 24 * 45 and rng.random() < 0.08  # a few of the last weeks' slipped through
        if age_hours < hours or forgotten:
            reminded = due + timedelta(minutes=15) if due < self.now else None
            self.follow_ups.append((len(self.follow_ups) + 1, score_id, unit.id, assignee, due, "open", "", "", None,
                                    None, None, reminded, created))
            return
        outcome = _choose(rng, OUTCOME_WEIGHTS)
        self.follow_ups.append((len(self.follow_ups) + 1, score_id, unit.id, assignee, due, "closed", outcome,
                                NOTES[outcome][language != "ru"], None, created + timedelta(hours=hours), assignee,
                                None, created))


def _facing_units(ctx: Any) -> list[Any]:
    return [u for u in ctx.units if u.profile is not None and _profile_code(u.profile) in CHANNELS_BY_PROFILE]


def _profile_code(profile: Any) -> str:
    from servicechain.platform.demo.company import PROFILES

    for code, candidate in PROFILES.items():
        if candidate is profile:
            return code
    return ""


def plan_customer_scores(ctx: Any) -> None:
    builder = _Builder(ctx)
    rng = builder.rng
    units = _facing_units(ctx)
    unit_ids = {u.id for u in units}
    staff: dict[int, list[tuple[Any, date, date | None]]] = {u.id: [] for u in units}
    for member in ctx.people:
        for placement in member.placements:
            if placement.unit.id in unit_ids and not placement.as_head:
                staff[placement.unit.id].append((member, placement.start, placement.end))
    team_offset = {u.id: rng.gauss(0, TEAM_SPREAD) for u in units}
    months = month_starts(ctx.start, ctx.today)
    for unit in units:
        channels = CHANNELS_BY_PROFILE[_profile_code(unit.profile)]
        for month in months:
            last = min((month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), ctx.today)
            first = max(month, ctx.start)
            if last < first:
                continue
            mean = BASE_MEAN + team_offset[unit.id] + DIP_EFFECT * builder.dip(unit, month)
            for member, start, end in staff[unit.id]:
                if start > last or (end is not None and end <= first):
                    continue
                lo, hi = max(first, start), min(last, end - timedelta(days=1) if end else last)
                if hi < lo:
                    continue
                share = ((hi - lo).days + 1) / ((last - first).days + 1)
                count = _poisson(rng, PER_AGENT_MONTH * share * (last - first + timedelta(days=1)).days / 30.4)
                for _n in range(count):
                    day = lo + timedelta(days=int(rng.random() * ((hi - lo).days + 1)))
                    channel = _choose(rng, channels)
                    prefix = "ORD" if channel in ("courier", "store") else "HD"
                    case_ref = f"{prefix}-{1_000_000 + int(rng.random() * 9_000_000)}" if rng.random() < 0.8 else ""
                    builder.add(unit=unit, member=member, day=day, channel=channel, latent=rng.gauss(mean, 1.0),
                                case_ref=case_ref, language=member.language)
    _authority_cases(ctx, builder)
    ctx.add_rows("customer_score", SCORE_COLUMNS, builder.scores)
    ctx.add_rows("customer_follow_up", FOLLOW_UP_COLUMNS, builder.follow_ups)


def _authority_cases(ctx: Any, builder: _Builder) -> None:
    """Cases where someone used their authority: the complaint before it (a low score whose
    follow-up was closed by that use) and often a better score after it."""
    data = ctx.tables.get("authority_use")
    if data is None:
        return
    rng = builder.rng
    columns = data.columns
    at = {name: columns.index(name) for name in ("id", "grantee", "case_ref", "used_on")}
    members = {m.id: m for m in ctx.people}
    for use in data.rows:
        member = members.get(use[at["grantee"]])
        used_on: date = use[at["used_on"]]
        if member is None or rng.random() > 0.7:
            continue
        placement = next((p for p in member.placements if p.start <= used_on and (p.end is None or used_on < p.end)), None)
        if placement is None:
            continue
        unit = placement.unit
        channel = "phone" if unit.profile is None else _choose(rng, CHANNELS_BY_PROFILE.get(_profile_code(unit.profile),
                                                                                           (("phone", 1.0),)))
        complained = max(ctx.start, used_on - timedelta(days=rng.randint(0, 2)))
        builder.add(unit=unit, member=member, day=complained, channel=channel, latent=rng.uniform(-2.2, -1.0),
                    case_ref=use[at["case_ref"]], language=member.language,
                    compensated_use=(use[at["id"]], used_on, member.id))
        after = used_on + timedelta(days=rng.randint(1, 5))
        if after <= ctx.today and rng.random() < 0.6:
            mean = BASE_MEAN + COMPENSATED_LIFT + DIP_EFFECT * builder.dip(unit, after)
            builder.add(unit=unit, member=member, day=after, channel=channel, latent=rng.gauss(mean, 0.8),
                        case_ref=use[at["case_ref"]], language=member.language)


def _poisson(rng: Any, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
