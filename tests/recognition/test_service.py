"""Recognition and rewards without HTTP: the rules, each refusal leaving nothing behind."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from servicechain.platform import db
from servicechain.platform.people.tables import Person
from servicechain.platform.security import Actor, NotFound, recognition_for, utcnow
from servicechain.platform.tables import AuditEntry, Notification
from servicechain.platform.web import FormInvalid
from servicechain.recognition import service
from servicechain.recognition.tables import CompanyValue, Recognition, Reward
from tests.cast import EMAILS


def thanks(to="employee", values=("customer",), message="Thank you for staying late with that customer.", **extra):
    return {"to": [EMAILS[to]] if isinstance(to, str) else [EMAILS[t] for t in to], "values": list(values),
            "message": message, **extra}


async def count(table) -> int:
    return await table.count().run()


async def refused(coro) -> dict:
    with pytest.raises(FormInvalid) as info:
        await coro
    return info.value.errors


async def test_a_colleague_is_thanked_notified_and_the_thanks_audited(cast, values, rollback):
    rid = await service.give_recognition(cast.actor("outsider"), thanks(to=["employee", "manager"], values=("customer", "beyond"),
                                                                        story="A customer's order was lost; he drove it over.",
                                                                        case_ref="CASE-42"))
    card = await service.recognition_card(cast.actor("hr"), rid)
    assert [r["id"] for r in card["recipients"]] == [cast.ids["employee"], cast.ids["manager"]]
    assert [v["code"] for v in card["values"]] == ["customer", "beyond"]
    assert card["story"].startswith("A customer's order") and card["case_ref"] == "CASE-42"
    note = await Notification.select().where(Notification.person == cast.ids["employee"]).order_by(Notification.id, ascending=False).first().run()
    assert note["link"] == f"/recognition/{rid}" and "thanked you" in note["text"]
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry["action"] == "recognition.give" and entry["object_id"] == str(rid)


@pytest.mark.parametrize(
    "data, field, message",
    [
        (thanks(message=""), "message", "Write a message."),
        (thanks(message="x" * 1001), "message", "The message is too long: at most 1000 characters."),
        (thanks(to="outsider"), "to", "You cannot thank yourself; thank a colleague."),
        (thanks(values=("nonsense",)), "values", "There is no company value nonsense."),
        (thanks(values=()), "values", "Choose at least one company value."),
        ({"to": ["nobody@nowhere.test"], "values": ["customer"], "message": "Hi"}, "to", "Nobody has the email or employee number nobody@nowhere.test."),
        (thanks(visibility="everyone"), "visibility", "Choose who may see it."),
    ],
)
async def test_bad_thanks_are_refused_with_a_reason_and_nothing_is_saved(cast, values, rollback, data, field, message):
    before = await count(Recognition)
    errors = await refused(service.give_recognition(cast.actor("outsider"), data))
    assert message in errors[field]
    assert await count(Recognition) == before


async def test_a_retired_value_cannot_be_named_but_old_thanks_keep_it(cast, values, rollback):
    rid = await service.give_recognition(cast.actor("outsider"), thanks(values=("ownership",)))
    await service.set_value_retired(cast.actor("admin"), values["ownership"], True)
    errors = await refused(service.give_recognition(cast.actor("outsider"), thanks(values=("ownership",))))
    assert "has been retired" in errors["values"][0]
    card = await service.recognition_card(cast.actor("employee"), rid)
    assert [v["name"] for v in card["values"]] == ["Own the problem"]
    assert "ownership" not in [v["code"] for v in await service.list_values()]
    assert "ownership" in [v["code"] for v in await service.list_values(include_retired=True)]


async def test_someone_who_has_left_cannot_be_thanked(cast, values, rollback):
    now = utcnow()
    tag = uuid.uuid4().hex[:6]
    left = Person(full_name="Ушедший Благодарный", employee_number=f"REC-L-{tag}", email=f"left-{tag}@test.local", active=False,
                  left_on=date(2024, 1, 1), created_at=now, updated_at=now)
    await left.save().run()
    errors = await refused(service.give_recognition(cast.actor("outsider"), {"to": [f"left-{tag}@test.local"], "values": ["customer"], "message": "Hi"}))
    assert errors["to"] == ["Ушедший Благодарный has left the company."]


async def test_the_daily_limit_is_counted_in_the_database(cast, values, rollback):
    now = utcnow()
    sender = Person(full_name="Щедрый Благодарящий", employee_number=f"REC-S-{uuid.uuid4().hex[:6]}", created_at=now, updated_at=now)
    await sender.save().run()
    actor = Actor(kind="person", person_id=sender.id, role="employee", name=sender.full_name, language="en")
    await Recognition.insert(*[Recognition(sender=sender.id, message="old", created_at=now - timedelta(hours=30))]).run()
    await Recognition.insert(*[Recognition(sender=sender.id, message=f"m{i}", created_at=now - timedelta(hours=1))
                               for i in range(service.DAILY_LIMIT - 1)]).run()
    await service.give_recognition(actor, thanks())  # the 20th in 24 hours is fine
    before = await count(Recognition)
    errors = await refused(service.give_recognition(actor, thanks()))
    assert "the most allowed" in errors["__all__"][0]
    assert await count(Recognition) == before


async def test_a_private_thanks_is_seen_by_the_recipient_their_managers_and_the_sender_only(cast, values, rollback):
    rid = await service.give_recognition(cast.actor("outsider"), thanks(visibility="private"))
    for who in ("employee", "manager", "ceo", "outsider"):
        assert (await recognition_for(cast.actor(who), rid))["id"] == rid
    for who in ("hr", "admin"):
        with pytest.raises(NotFound):
            await recognition_for(cast.actor(who), rid)
    company = await service.feed(cast.actor("employee"))
    assert rid not in [r["id"] for r in company["items"]]
    assert rid in [r["id"] for r in (await service.feed(cast.actor("employee"), person_id=cast.ids["employee"]))["items"]]
    assert rid in [r["id"] for r in (await service.feed(cast.actor("manager"), person_id=cast.ids["employee"]))["items"]]
    assert rid not in [r["id"] for r in (await service.feed(cast.actor("hr"), person_id=cast.ids["employee"]))["items"]]
    department = await service.feed(cast.actor("manager"), department_id=cast.departments["support"])
    assert rid not in [r["id"] for r in department["items"]]


async def test_feeds_page_by_keyset_and_filter_by_value_department_and_period(cast, values, rollback):
    ids = []
    for i in range(5):
        ids.append(await service.give_recognition(cast.actor("manager"), thanks(values=("colleagues" if i % 2 else "customer",), message=f"n{i}")))
    await db.fetch("UPDATE recognition SET created_at = {} WHERE id = {}", utcnow() - timedelta(days=40), ids[0])
    first = await service.feed(cast.actor("employee"), limit=2)
    assert [r["id"] for r in first["items"]] == [ids[4], ids[3]] and first["next"] == ids[3]
    second = await service.feed(cast.actor("employee"), limit=2, before=first["next"])
    assert [r["id"] for r in second["items"]] == [ids[2], ids[1]]
    by_value = await service.feed(cast.actor("employee"), value="colleagues")
    assert [r["id"] for r in by_value["items"]][:2] == [ids[3], ids[1]]
    recent = [r["id"] for r in (await service.feed(cast.actor("employee"), days=30))["items"]]
    assert ids[1] in recent and ids[0] not in recent
    support = [r["id"] for r in (await service.feed(cast.actor("employee"), department_id=cast.departments["support"]))["items"]]
    assert ids[4] in support  # the employee works in a team below support
    warehouse = [r["id"] for r in (await service.feed(cast.actor("employee"), department_id=cast.departments["warehouse"]))["items"]]
    assert ids[4] not in warehouse


async def test_reactions_toggle(cast, values, rollback):
    rid = await service.give_recognition(cast.actor("manager"), thanks())
    await service.toggle_reaction(cast.actor("outsider"), rid, "applause")
    card = await service.recognition_card(cast.actor("outsider"), rid)
    assert card["reactions"]["applause"] == {"count": 1, "mine": True}
    await service.toggle_reaction(cast.actor("outsider"), rid, "applause")
    assert (await service.recognition_card(cast.actor("outsider"), rid))["reactions"]["applause"]["count"] == 0


async def test_values_are_defined_by_admins_with_unique_codes(cast, values, rollback):
    vid = await service.save_value(cast.actor("admin"), {"code": "speed", "name_en": "Be fast", "name_ru": "Быстро", "position": "50"})
    assert (await CompanyValue.select().where(CompanyValue.id == vid).first().run())["name_ru"] == "Быстро"
    errors = await refused(service.save_value(cast.actor("admin"), {"code": "speed", "name_en": "x", "name_ru": "y"}))
    assert errors["code"] == ["A value with this code already exists."]
    errors = await refused(service.save_value(cast.actor("admin"), {"code": "Bad Code", "name_en": "", "name_ru": "y"}))
    assert set(errors) == {"code", "name_en"}


# --- rewards ----------------------------------------------------------------------------------


async def budget(cast, amount="10000"):
    start = date.today() - timedelta(days=10)
    return await service.set_budget(cast.actor("hr"), {"manager": EMAILS["manager"], "starts_on": start.isoformat(),
                                                         "ends_on": (start + timedelta(days=90)).isoformat(), "amount": amount})


def reward(kind="bonus", amount="3000", to="employee", **extra):
    return {"to": EMAILS[to], "kind": kind, "amount": amount, "reason": "Closed the hardest case of the month.",
            "value": "customer", **extra}


async def test_a_reward_over_the_budget_is_refused_saying_what_remains(cast, values, rollback):
    await budget(cast, "10000")
    await service.give_reward(cast.actor("manager"), reward(amount="7000"))
    before = await count(Reward)
    errors = await refused(service.give_reward(cast.actor("manager"), reward(amount="3000,01")))
    assert errors["amount"][0].startswith("This is over your budget: 3,000\u00a0₽ remains") or "3,000" in errors["amount"][0]
    assert await count(Reward) == before
    await service.give_reward(cast.actor("manager"), reward(amount="3000"))
    assert (await service.budget_status(cast.ids["manager"]))["remaining"] == 0


async def test_rewards_without_money_need_no_budget_and_money_needs_one(cast, values, rollback):
    await service.give_reward(cast.actor("manager"), reward(kind="day_off", amount=""))
    errors = await refused(service.give_reward(cast.actor("manager"), reward()))
    assert errors["amount"] == ["You have no reward budget for today; HR sets budgets."]
    errors = await refused(service.give_reward(cast.actor("manager"), reward(kind="praise", amount="100")))
    assert errors["amount"] == ["This kind of reward has no amount; leave it empty."]


async def test_a_reward_outside_the_managers_reach_or_to_oneself_is_refused(cast, values, rollback):
    await budget(cast)
    errors = await refused(service.give_reward(cast.actor("manager"), reward(to="outsider")))
    assert "is not within your reach" in errors["to"][0]
    errors = await refused(service.give_reward(cast.actor("manager"), reward(to="manager")))
    assert errors["to"] == ["You cannot reward yourself."]
    errors = await refused(service.give_reward(cast.actor("manager"), reward(value="", recognition_id="", goal_id="")))
    assert errors["value"] == ["Link the reward to a company value, a recognition or a goal."]


async def test_budgets_of_one_manager_do_not_overlap(cast, values, rollback):
    await budget(cast)
    errors = await refused(budget(cast))
    assert errors["starts_on"] == ["This manager already has a budget for part of this period."]


async def test_preferences_are_matched_and_the_top_three_share_is_measured(cast, values, rollback):
    await budget(cast, "100000")
    employee = cast.actor("employee")
    await service.save_preferences(employee, {"rank_learning": "1", "rank_day_off": "2", "rank_bonus": "3", "rank_gift": "4",
                                              "note": "Courses over cash"})
    form = await service.reward_form(cast.actor("manager"), EMAILS["employee"])
    assert form["recipient"]["preferences"]["ranking"] == ["learning", "day_off", "bonus", "gift"]
    assert form["recipient"]["preferences"]["note"] == "Courses over cash"
    await service.give_reward(cast.actor("manager"), reward(kind="learning", amount="5000"))
    await service.give_reward(cast.actor("manager"), reward(kind="gift", amount="1000"))
    await service.give_reward(cast.actor("manager"), reward(kind="praise", amount=""))
    ranks = [r["preference_rank"] for r in await Reward.select(Reward.preference_rank).where(Reward.giver == cast.ids["manager"]).order_by(Reward.id).run()]
    assert ranks == [1, 4, None]
    share = await service.top_three_share(giver_id=cast.ids["manager"])
    assert share == {"rewards": 3, "in_top_three": 1, "share": 1 / 3}
    by_department = await service.top_three_share(department_id=cast.departments["support"])
    assert by_department["rewards"] == 3
    assert (await service.top_three_share(department_id=cast.departments["warehouse"]))["share"] is None


async def test_preferences_are_for_the_person_their_managers_and_hr_only(cast, values, rollback):
    await service.save_preferences(cast.actor("employee"), {"rank_gift": "1"})
    for who in ("employee", "manager", "ceo", "hr", "admin"):
        card = await service.preferences_card(cast.actor(who), cast.ids["employee"])
        assert card["preferences"]["ranking"] == ["gift"]
    with pytest.raises(NotFound):
        await service.preferences_card(cast.actor("outsider"), cast.ids["employee"])


async def test_bad_preferences_are_refused(cast, values, rollback):
    errors = await refused(service.save_preferences(cast.actor("employee"), {"rank_gift": "1", "rank_bonus": "1"}))
    assert errors["ranking"] == ["Give each kind of reward a different rank."]
    errors = await refused(service.save_preferences(cast.actor("employee"), {"rank_gift": "nine"}))
    assert errors["ranking"] == ["Ranks are whole numbers from 1 to 6."]
