"""Recognition and rewards without HTTP: the rules, each refusal leaving nothing behind."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from servicechain.platform import db
from servicechain.platform.i18n import use_language
from servicechain.platform.people.tables import Person
from servicechain.platform.lib.text import person_search_text
from servicechain.platform.people.service import today as company_today
from servicechain.platform.security import Actor, Forbidden, NotFound, people_in_reach, recognition_for, utcnow
from servicechain.platform.tables import AuditEntry, Notification
from servicechain.platform.web import DomainError, FormInvalid
from servicechain.recognition import service
from servicechain.recognition.forms import PeriodForm
from servicechain.recognition.tables import CompanyValue, Recognition, Reward, RewardBudget
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
    before = await count(Recognition)
    errors = await refused(service.give_recognition(cast.actor("outsider"), thanks(values=("ownership",))))
    assert "has been retired" in errors["values"][0]
    assert await count(Recognition) == before
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
    before = await count(Recognition)
    errors = await refused(service.give_recognition(cast.actor("outsider"), {"to": [f"left-{tag}@test.local"], "values": ["customer"], "message": "Hi"}))
    assert errors["to"] == ["Ушедший Благодарный has left the company."]
    assert await count(Recognition) == before
    # Nor rewarded, even by someone who may reward anyone.
    before = await count(Reward)
    errors = await refused(service.give_reward(cast.actor("hr"), {"to": f"left-{tag}@test.local", "kind": "praise",
                                                                  "reason": "Farewell", "value": "customer"}))
    assert errors["to"] == ["Ушедший Благодарный has left the company."]
    assert await count(Reward) == before


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
    # Other tests commit rewards too (the authorization matrix's, of long ago): measure what this adds.
    before = {"giver": await service.top_three_share(giver_id=cast.ids["manager"]),
              "support": await service.top_three_share(department_id=cast.departments["support"]),
              "warehouse": await service.top_three_share(department_id=cast.departments["warehouse"])}
    ids = [await service.give_reward(cast.actor("manager"), reward(kind="learning", amount="5000")),
           await service.give_reward(cast.actor("manager"), reward(kind="gift", amount="1000")),
           await service.give_reward(cast.actor("manager"), reward(kind="praise", amount=""))]
    ranks = [r["preference_rank"] for r in await Reward.select(Reward.preference_rank).where(Reward.id.is_in(ids)).order_by(Reward.id).run()]
    assert ranks == [1, 4, None]
    share = await service.top_three_share(giver_id=cast.ids["manager"], since=company_today())
    assert share == {"rewards": 3, "in_top_three": 1, "share": 1 / 3}
    after = await service.top_three_share(giver_id=cast.ids["manager"])
    assert (after["rewards"] - before["giver"]["rewards"], after["in_top_three"] - before["giver"]["in_top_three"]) == (3, 1)
    by_department = await service.top_three_share(department_id=cast.departments["support"])
    assert by_department["rewards"] - before["support"]["rewards"] == 3
    assert await service.top_three_share(department_id=cast.departments["warehouse"]) == before["warehouse"]


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


# --- budgets: HR changes and removes them ---------------------------------------------------------


async def test_hr_changes_a_budget_but_not_below_what_is_spent_nor_away_from_its_rewards(cast, values, rollback):
    budget_id = await budget(cast, "10000")
    await service.give_reward(cast.actor("manager"), reward(amount="4000"))
    row = await service.budget_for_edit(cast.actor("hr"), budget_id)
    period = {"starts_on": row["starts_on"].isoformat(), "ends_on": row["ends_on"].isoformat()}
    errors = await refused(service.update_budget(cast.actor("hr"), budget_id, {**period, "amount": "3999"}))
    assert errors["amount"][0].startswith("4,000") and errors["amount"][0].endswith("has already been given from this budget; "
                                                                                   "it cannot be less than that.")
    after_today = (company_today() + timedelta(days=1)).isoformat()
    errors = await refused(service.update_budget(cast.actor("hr"), budget_id, {**period, "starts_on": after_today, "amount": "10000"}))
    assert "the period must include those days" in errors["starts_on"][0]
    await service.update_budget(cast.actor("hr"), budget_id, {**period, "amount": "4000"})
    status = await service.budget_status(cast.ids["manager"])
    assert status["amount"] == 400000 and status["remaining"] == 0
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry["action"] == "reward_budget.update" and entry["object_id"] == str(budget_id)


async def test_a_changed_budget_may_not_overlap_another_of_the_same_manager(cast, values, rollback):
    first = await budget(cast)
    row = await service.budget_for_edit(cast.actor("hr"), first)
    later_start = row["ends_on"] + timedelta(days=1)
    second = await service.set_budget(cast.actor("hr"), {"manager": EMAILS["manager"], "starts_on": later_start.isoformat(),
                                                        "ends_on": (later_start + timedelta(days=30)).isoformat(), "amount": "500"})
    errors = await refused(service.update_budget(cast.actor("hr"), second, {
        "starts_on": row["ends_on"].isoformat(), "ends_on": (later_start + timedelta(days=30)).isoformat(), "amount": "500"}))
    assert errors["starts_on"] == ["This manager already has a budget for part of this period."]
    errors = await refused(service.update_budget(cast.actor("hr"), second, {"starts_on": "soon", "ends_on": "", "amount": "-5"}))
    assert set(errors) == {"starts_on", "ends_on", "amount"}


async def test_a_budget_is_removed_only_while_nothing_was_given_from_it(cast, values, rollback):
    budget_id = await budget(cast)
    await service.give_reward(cast.actor("manager"), reward(amount="100"))
    with pytest.raises(DomainError) as info:
        await service.remove_budget(cast.actor("hr"), budget_id)
    assert info.value.message == ("1 reward was given from this budget, so it cannot be removed; lower it to what is spent "
                                  "or end its period instead.")
    assert await RewardBudget.exists().where(RewardBudget.id == budget_id).run()
    await Reward.delete().where(Reward.from_budget == budget_id).run()
    await service.remove_budget(cast.actor("hr"), budget_id)
    assert not await RewardBudget.exists().where(RewardBudget.id == budget_id).run()
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry["action"] == "reward_budget.remove"


async def test_only_hr_and_admins_change_budgets(cast, values, rollback):
    budget_id = await budget(cast)
    for who in ("manager", "ceo", "employee"):
        with pytest.raises(Forbidden):
            await service.update_budget(cast.actor(who), budget_id, {"starts_on": "2026-01-01", "ends_on": "2026-02-01", "amount": "1"})
        with pytest.raises(Forbidden):
            await service.remove_budget(cast.actor(who), budget_id)
    with pytest.raises(NotFound):
        await service.remove_budget(cast.actor("hr"), 2**31 - 2)


# --- the top-three share ------------------------------------------------------------------------


async def rewards_with_ranks(cast, days_ago_and_kinds) -> None:
    """Rewards from the manager to the employee (ranking: learning, day off, bonus, gift), each
    dated the given number of days ago."""
    await budget(cast, "100000")
    await service.save_preferences(cast.actor("employee"), {"rank_learning": "1", "rank_day_off": "2", "rank_bonus": "3",
                                                            "rank_gift": "4"})
    for days_ago, kind in days_ago_and_kinds:
        rid = await service.give_reward(cast.actor("manager"), reward(kind=kind, amount="100" if kind in ("bonus", "gift", "learning") else ""))
        await Reward.update({Reward.created_at: utcnow() - timedelta(days=days_ago)}).where(Reward.id == rid).run()


async def test_the_top_three_share_counts_a_period_per_manager_and_department(cast, values, rollback):
    today = company_today()
    year = {"since": today - timedelta(days=364), "until": today}
    old = {"until": today - timedelta(days=399), "since": today - timedelta(days=401)}
    # Other tests commit rewards too: measure what this test adds, period by period.
    before_year = await service.top_three_table(**year)
    before_old = await service.top_three_share(giver_id=cast.ids["manager"], **old)
    await rewards_with_ranks(cast, [(1, "learning"), (2, "gift"), (3, "praise"), (400, "day_off")])

    def added(after, earlier):
        a, b = after or {"rewards": 0, "in_top_three": 0}, earlier or {"rewards": 0, "in_top_three": 0}
        return (a["rewards"] - b["rewards"], a["in_top_three"] - b["in_top_three"])

    assert added(await service.top_three_share(giver_id=cast.ids["manager"], **old), before_old) == (1, 1)
    table = await service.top_three_table(**year)
    managers = {r["id"]: r for r in table["managers"]}
    managers_before = {r["id"]: r for r in before_year["managers"]}
    assert added(managers[cast.ids["manager"]], managers_before.get(cast.ids["manager"])) == (3, 1)
    departments = {r["id"]: r for r in table["departments"]}
    departments_before = {r["id"]: r for r in before_year["departments"]}
    # The employee works in First line, below Customer support, below the company: each counts them.
    for code in ("support.line1", "support", "company"):
        department_id = cast.departments[code]
        assert added(departments[department_id], departments_before.get(department_id))[0] == 3
    assert departments.get(cast.departments["warehouse"]) == departments_before.get(cast.departments["warehouse"])


async def test_the_top_three_page_is_for_managers_up_the_chain_hr_and_executives(cast, values, rollback):
    await rewards_with_ranks(cast, [(1, "learning"), (2, "praise")])
    hr = await service.top_three_report(cast.actor("hr"), since=None, until=None)
    assert cast.ids["manager"] in [r["id"] for r in hr["managers"]]
    assert hr["overall"]["rewards"] >= 2
    mine = await service.top_three_report(cast.actor("manager"), since=None, until=None)
    reach = await people_in_reach(cast.actor("manager")) | {cast.ids["manager"]}
    assert cast.ids["manager"] in [r["id"] for r in mine["managers"]] and {r["id"] for r in mine["managers"]} <= reach
    shown = {r["id"]: r for r in mine["departments"]}
    assert cast.departments["company"] not in shown and cast.departments["warehouse"] not in shown
    assert shown[cast.departments["support"]]["indent"] == 0 and shown[cast.departments["support.line1"]]["indent"] == 1
    ceo = await service.top_three_report(cast.actor("ceo"), since=None, until=None)
    assert cast.departments["company"] in [r["id"] for r in ceo["departments"]]
    for who in ("employee", "outsider"):
        with pytest.raises(Forbidden):
            await service.top_three_report(cast.actor(who), since=None, until=None)


def test_a_report_period_defaults_to_the_last_year_and_refuses_bad_dates():
    form = PeriodForm()
    assert form.validate(date(2026, 11, 23)) == {}
    assert form.parsed == {"since": date(2025, 11, 24), "until": date(2026, 11, 23)}
    form = PeriodForm(since="2026-05-01", until="2026-04-01")
    assert form.validate(date(2026, 11, 23)) == {"until": ["The period must end on or after its first day."]}
    assert PeriodForm(since="soon").validate(date(2026, 11, 23)) == {"since": ["Enter a date such as 2026-01-31."]}


# --- choosing people ------------------------------------------------------------------------------


async def test_the_picker_finds_colleagues_by_name_email_or_number_but_not_oneself_or_leavers(cast, values, rollback):
    now = utcnow()
    tag = uuid.uuid4().hex[:6]
    await Person(full_name="Ёлкина Ушедшая", employee_number=f"PK-{tag}", email=f"gone-{tag}@test.local", active=False,
                 search_name=person_search_text("Ёлкина Ушедшая", f"PK-{tag}", f"gone-{tag}@test.local"),
                 created_at=now, updated_at=now).save().run()
    outsider = cast.actor("outsider")
    assert [p["id"] for p in await service.pick_people(outsider, "елкин")] == [cast.ids["employee"]]  # ё folds to е
    assert [p["id"] for p in await service.pick_people(outsider, "ИВАН ёлк")] == [cast.ids["employee"]]
    assert [p["id"] for p in await service.pick_people(outsider, EMAILS["manager"])] == [cast.ids["manager"]]
    assert [p["id"] for p in await service.pick_people(outsider, "T-005")] == [cast.ids["employee"]]
    assert await service.pick_people(outsider, "склад") == []  # the outsider themselves
    assert await service.pick_people(outsider, f"PK-{tag}") == []  # has left
    assert await service.pick_people(outsider, "e") == []  # one letter matches everyone: wait for more
    assert await service.pick_people(outsider, "100%_") == []
    # "_" and "%" are themselves, not wildcards: only the address with the underscore matches.
    for email in (f"pk_{tag}@test.local", f"pkx{tag}@test.local"):
        await Person(full_name="Подбор Символов", employee_number=f"PS-{email[:3]}-{tag}", email=email, active=True,
                     search_name=person_search_text("Подбор Символов", f"PS-{email[:3]}-{tag}", email),
                     created_at=now, updated_at=now).save().run()
    assert [p["email"] for p in await service.pick_people(outsider, f"k_{tag}")] == [f"pk_{tag}@test.local"]
    assert await service.pick_people(outsider, f"k%{tag}") == []
    assert await service.pick_people(outsider, "елкин", exclude=(cast.ids["employee"],)) == []


async def test_the_reward_picker_offers_only_people_in_reach(cast, values, rollback):
    found = {p["id"] for p in await service.pick_people(cast.actor("manager"), "employee@test.local", purpose="reward")}
    assert found == {cast.ids["employee"]}
    for who in ("outsider", "ceo", "hr", "manager"):  # outside the manager's reach, or the manager
        assert await service.pick_people(cast.actor("manager"), EMAILS[who], purpose="reward") == []
    everyone = {p["id"] for p in await service.pick_people(cast.actor("hr"), "test.local", purpose="reward")}
    assert {cast.ids["employee"], cast.ids["manager"], cast.ids["outsider"]} <= everyone and cast.ids["hr"] not in everyone
    with pytest.raises(Forbidden):
        await service.pick_people(cast.actor("employee"), "test.local", purpose="reward")


async def test_a_profile_shows_only_public_recognition(cast, values, rollback):
    public = await service.give_recognition(cast.actor("outsider"), thanks(message="Profile: public"))
    await service.give_recognition(cast.actor("outsider"), thanks(message="Profile: private", visibility="private"))
    recent = await service.recent_public(cast.actor("manager"), cast.ids["employee"])
    assert recent[0]["id"] == public and all(r["public"] for r in recent)


async def test_an_executive_outside_the_line_rewards_without_seeing_the_preferences(cast, values, rollback):
    now = utcnow()
    tag = uuid.uuid4().hex[:6]
    director = Person(full_name="Директор Сбоку", employee_number=f"EX-{tag}", email=f"ex-{tag}@test.local", role="executive",
                      created_at=now, updated_at=now)
    await director.save().run()
    executive = Actor(kind="person", person_id=director.id, role="executive", name=director.full_name, language="en")
    await service.save_preferences(cast.actor("employee"), {"rank_gift": "1", "note": "Private note"})
    form = await service.reward_form(executive, EMAILS["employee"])
    assert form["recipient"]["id"] == cast.ids["employee"] and form["recipient"]["preferences"] is None
    assert (await service.reward_form(cast.actor("ceo"), EMAILS["employee"]))["recipient"]["preferences"]["note"] == "Private note"


async def test_a_refused_reward_saves_nothing_and_a_given_one_notifies_the_recipient(cast, values, rollback):
    await budget(cast)
    before = await count(Reward)
    await refused(service.give_reward(cast.actor("manager"), reward(to="outsider")))
    await refused(service.give_reward(cast.actor("manager"), reward(amount="20000")))
    assert await count(Reward) == before
    rid = await service.give_reward(cast.actor("manager"), reward(kind="praise", amount=""))
    note = await Notification.select().where(Notification.person == cast.ids["employee"]).order_by(Notification.id, ascending=False).first().run()
    assert note["link"] == "/rewards/" and "gave you a reward: Public praise." in note["text"]
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry["action"] == "reward.give" and entry["object_id"] == str(rid)


async def test_a_reward_counts_for_the_department_the_recipient_was_in_when_rewarded(cast, values, rollback):
    await rewards_with_ranks(cast, [(1, "learning"), (2, "gift")])
    since = {"since": company_today() - timedelta(days=3)}
    await Person.update({Person.department: cast.departments["warehouse"]}).where(Person.id == cast.ids["employee"]).run()
    assert (await service.top_three_share(department_id=cast.departments["support"], **since))["rewards"] == 2
    assert (await service.top_three_share(department_id=cast.departments["warehouse"], **since))["rewards"] == 0
    departments = {r["id"]: r for r in (await service.top_three_table(**since))["departments"]}
    assert departments[cast.departments["support.line1"]]["rewards"] == 2 and cast.departments["warehouse"] not in departments


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_card_of_thanks_just_sent_is_the_card_read_back(cast, values, rollback, language):
    """The thanks form shows the new card made from what was written: the same as reading it back."""
    with use_language(language):
        sent = await service.give_recognition_card(cast.actor("outsider"), thanks(
            to=["manager", "employee"], values=("beyond", "customer"), story="Drove the order over.", case_ref="CASE-7",
            visibility="private"))
        assert sent == await service.recognition_card(cast.actor("outsider"), sent["id"])
        assert [v["code"] for v in sent["values"]] == ["customer", "beyond"]  # by the values' positions
        assert [p["id"] for p in sent["recipients"]] == [cast.ids["manager"], cast.ids["employee"]]
        public = await service.give_recognition_card(cast.actor("outsider"), thanks(values=("colleagues",)))
        assert public == await service.recognition_card(cast.actor("outsider"), public["id"])
