"""Limits that hold when requests arrive at the same instant: each attempt in its own transaction
and connection on a committed database. PostgreSQL's READ COMMITTED lets two transactions read
the same count before either inserts, so the service serialises them (an advisory lock per
sender for thanks, per manager for budget periods, the budget's row for its rewards); SQLite's
single writer (BEGIN IMMEDIATE) does it on its own. Run on both engines."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest

from servicechain.platform import db
from servicechain.platform.i18n import use_language
from servicechain.platform.people.service import today as company_today
from servicechain.platform.people.tables import Person
from servicechain.platform.security import Actor, utcnow
from servicechain.platform.web import DomainError, FormInvalid
from servicechain.recognition import service
from servicechain.recognition.tables import Recognition, Reward, RewardBudget
from tests.cast import EMAILS

LIMIT_EN = f"You have sent {service.DAILY_LIMIT} recognitions in the last 24 hours, the most allowed. Try again tomorrow."
LIMIT_RU = f"За\xa0последние 24\xa0часа вы отправили {service.DAILY_LIMIT}\xa0благодарностей\xa0— это максимум. Попробуйте завтра."


@pytest.fixture
async def pool(database_copy):
    """Concurrent attempts each get a pooled connection on PostgreSQL, as on the server."""
    if not db.is_sqlite():
        await db.engine().start_connection_pool(min_size=1, max_size=12)
    try:
        yield database_copy
    finally:
        if not db.is_sqlite():
            await db.engine().close_connection_pool()


async def sender_near_the_limit() -> Actor:
    now = utcnow()
    sender = Person(full_name="Быстрый Благодарящий", employee_number=f"REC-C-{uuid.uuid4().hex[:6]}", created_at=now,
                    updated_at=now)
    await sender.save().run()
    await Recognition.insert(*[Recognition(sender=sender.id, message=f"earlier {i}", created_at=now - timedelta(hours=1))
                               for i in range(service.DAILY_LIMIT - 1)]).run()
    return Actor(kind="person", person_id=sender.id, role="employee", name=sender.full_name, language="en")


async def test_thanks_sent_at_once_at_the_last_allowed_one_let_exactly_one_through(pool, cast, values):
    actor = await sender_near_the_limit()

    async def attempt(i: int, language: str) -> str:
        with use_language(language):
            try:
                await service.give_recognition(actor, {"to": [EMAILS["employee"]], "values": ["customer"],
                                                       "message": f"At once {i}"})
            except FormInvalid as exc:
                return exc.errors["__all__"][0]
        return "sent"

    outcomes = await asyncio.gather(*(attempt(i, "ru" if i % 2 else "en") for i in range(8)))
    assert outcomes.count("sent") == 1, outcomes
    refusals = [o for o in outcomes if o != "sent"]
    assert all(o in (LIMIT_EN, LIMIT_RU) for o in refusals), refusals
    assert any(o == LIMIT_EN for o in refusals) and any(o == LIMIT_RU for o in refusals), refusals
    assert await Recognition.count().where(Recognition.sender == actor.person_id).run() == service.DAILY_LIMIT


async def set_budget(cast, starts_on: date, ends_on: date, amount: str = "10000") -> int | None:
    try:
        return await service.set_budget(cast.actor("hr"), {"manager": EMAILS["manager"], "starts_on": starts_on.isoformat(),
                                                           "ends_on": ends_on.isoformat(), "amount": amount})
    except FormInvalid:
        return None


async def test_overlapping_budgets_set_at_once_for_one_manager_leave_one(pool, cast, values):
    start = company_today() + timedelta(days=400)  # clear of any budget other tests set
    made = await asyncio.gather(*(set_budget(cast, start + timedelta(days=i), start + timedelta(days=30 + i)) for i in range(6)))
    assert len([m for m in made if m is not None]) == 1, made
    assert await RewardBudget.count().where(RewardBudget.starts_on >= start).run() == 1


async def test_a_budget_changed_while_another_is_set_never_overlaps_it(pool, cast, values):
    start = company_today() + timedelta(days=800)
    first = await set_budget(cast, start, start + timedelta(days=9))
    later = start + timedelta(days=20)
    # Moving the first budget onto days that a new budget claims at the same moment: one of them wins.
    moved, made = await asyncio.gather(
        service.update_budget(cast.actor("hr"), first, {"starts_on": later.isoformat(),  # type: ignore[arg-type]
                                                        "ends_on": (later + timedelta(days=9)).isoformat(), "amount": "10000"}),
        set_budget(cast, later, later + timedelta(days=9)),
        return_exceptions=True,
    )
    rows = await RewardBudget.select().where(RewardBudget.starts_on >= start).order_by(RewardBudget.starts_on).run()
    assert all(a["ends_on"] < b["starts_on"] for a, b in zip(rows, rows[1:])), rows
    assert isinstance(moved, FormInvalid) or made is None, (moved, made)


async def test_a_budget_removed_while_a_reward_is_given_from_it_keeps_the_reward(pool, cast, values):
    """Removing reads that nothing was given, then deletes, and a reward's foreign key cascades:
    without the budget's row locked, a reward given in between was deleted with the budget."""
    for _ in range(5):
        async with db.write():
            await Reward.delete().where(Reward.giver == cast.ids["manager"]).run()
            await RewardBudget.delete().where(RewardBudget.manager == cast.ids["manager"]).run()
        budget_id = await set_budget(cast, company_today() - timedelta(days=1), company_today() + timedelta(days=1))

        async def give() -> int | None:
            try:
                return await service.give_reward(cast.actor("manager"), {"to": EMAILS["employee"], "kind": "gift",
                                                                         "amount": "100", "reason": "At once",
                                                                         "value": "customer"})
            except FormInvalid:
                return None

        async def remove() -> bool:
            try:
                await service.remove_budget(cast.actor("hr"), budget_id)  # type: ignore[arg-type]
            except DomainError:
                return False
            return True

        reward_id, removed = await asyncio.gather(give(), remove())
        assert reward_id is None or not removed, (reward_id, removed)
        if reward_id is not None:
            assert await Reward.exists().where(Reward.id == reward_id).run()


async def test_a_reaction_clicked_twice_at_once_is_toggled_twice_without_an_error(pool, cast, values):
    """Each toggle looks for the person's reaction, then inserts or deletes it: two at once both
    found none and both inserted, and the second broke the unique key (a 500 for a double click)."""
    rid = await service.give_recognition(cast.actor("outsider"), {"to": [EMAILS["employee"]], "values": ["customer"],
                                                                  "message": "Double click"})
    for clicks, shown in ((6, 0), (7, 1)):  # as many toggles as clicks, in some order
        await asyncio.gather(*(service.toggle_reaction(cast.actor("manager"), rid, "heart") for _ in range(clicks)))
        card = await service.recognition_card(cast.actor("manager"), rid)
        assert card["reactions"]["heart"] == {"count": shown, "mine": bool(shown)}
        if shown:
            await service.toggle_reaction(cast.actor("manager"), rid, "heart")


async def test_preferences_saved_several_times_at_once_are_kept_once_without_an_error(pool, cast, values):
    """A person has one ranking (a unique key): two first saves at once both found none and
    both inserted."""
    now = utcnow()
    person = Person(full_name="Новая Сотрудница", employee_number=f"REC-P-{uuid.uuid4().hex[:6]}", created_at=now, updated_at=now)
    await person.save().run()
    actor = Actor(kind="person", person_id=person.id, role="employee", name=person.full_name, language="en")
    await asyncio.gather(*(service.save_preferences(actor, {"rank_gift": "1", "rank_bonus": "2"}) for _ in range(3)),
                         *(service.save_preferences(actor, {"rank_bonus": "1"}) for _ in range(3)))
    assert (await service.preference_ranking(person.id))["ranking"] in (["gift", "bonus"], ["bonus"])
