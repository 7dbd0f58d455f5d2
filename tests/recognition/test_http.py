"""Recognition and rewards through HTTP: thanks with htmx without a reload, feeds that load more,
the reward form showing what the recipient values, and privacy of preferences."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from servicechain.platform.security import utcnow
from servicechain.recognition import service
from servicechain.recognition.tables import Recognition, RewardPreference
from tests.api.helpers import on_app_loop
from tests.cast import EMAILS
from tests.conftest import post_form, text_of


async def recognitions_with(client, message: str) -> list[dict]:
    return await on_app_loop(client, Recognition.select().where(Recognition.message == message).run)


async def test_giving_thanks_with_htmx_answers_with_the_fragment_and_no_reload(client, cast, values, as_user):
    await as_user("employee")
    page = await client.get("/recognition/")
    assert page.status_code == 200 and 'hx-post="/recognition/new"' in page.text
    message = "HTTP: you rescued the Saturday orders."
    response = await post_form(client, "/recognition/new", {"to": EMAILS["manager"], "values": ["customer", "beyond"],
                                                           "message": message}, htmx=True)
    assert response.status_code == 200, response.text
    assert "<html" not in response.text and 'id="give"' in response.text
    assert "Thanks sent to Марина Руководова." in text_of(response.text)
    assert "recognitionGiven" in response.headers.get("hx-trigger-after-swap", "") + response.headers.get("hx-trigger", "")
    saved = await recognitions_with(client, message)
    assert len(saved) == 1 and saved[0]["sender"] == cast.ids["employee"]


async def test_bad_thanks_rerender_the_fragment_with_messages_and_save_nothing(client, values, as_user):
    await as_user("employee")
    response = await post_form(client, "/recognition/new", {"to": EMAILS["employee"], "values": ["customer"], "message": ""}, htmx=True)
    assert response.status_code == 422
    text = text_of(response.text)
    assert "Write a message." in text and "You cannot thank yourself; thank a colleague." in text
    assert "<html" not in response.text


async def test_thanks_without_htmx_go_to_the_recognition(client, values, as_user):
    await as_user("manager")
    message = "HTTP: plain form thanks."
    response = await post_form(client, "/recognition/new", {"to": EMAILS["employee"], "values": ["colleagues"], "message": message})
    saved = await recognitions_with(client, message)
    assert response.status_code == 303 and response.headers["location"] == f"/recognition/{saved[0]['id']}"
    detail = await client.get(response.headers["location"])
    assert message in detail.text and "Reward Ёлкин Иван" in text_of(detail.text)


async def test_load_more_answers_with_the_next_items_only(client, cast, values, as_user):
    async def many() -> None:
        from servicechain.platform import db

        async with db.write():
            for i in range(25):  # two days old: they do not count against anyone's daily limit
                rid = (await Recognition.insert(Recognition(sender=cast.ids["hr"], message=f"HTTP: many {i}",
                                                            created_at=utcnow() - timedelta(days=2))).run())[0]["id"]
                await db.fetch("INSERT INTO recognition_recipient (recognition, person, department, public) VALUES ({}, {}, {}, {})",
                               rid, cast.ids["outsider"], cast.departments["warehouse"], True)

    await on_app_loop(client, many)
    await as_user("employee")
    first = await client.get("/recognition/departments/%d" % cast.departments["warehouse"])
    assert first.status_code == 200 and "Load more" in first.text
    shown = first.text.count('class="recognition"')
    assert shown == service.PAGE_SIZE
    link = html.unescape(re.search(r'hx-get="([^"]*before=\d+)"', first.text).group(1))
    last_id = int(link.rsplit("before=", 1)[1])
    more = await client.get(link, headers={"HX-Request": "true"})
    assert more.status_code == 200 and "<html" not in more.text and "<form class=\"filters" not in more.text
    assert 'class="recognition"' in more.text and f'id="r-{last_id}"' not in more.text


async def test_a_managers_reward_form_shows_the_recipients_preferences(client, cast, values, as_user):
    await as_user("employee")
    saved = await post_form(client, "/rewards/preferences", {"rank_learning": "1", "rank_day_off": "2", "rank_gift": "3",
                                                            "note": "Courses rather than cash, please"}, htmx=True)
    assert saved.status_code == 200 and "Saved." in saved.text
    row = await on_app_loop(client, RewardPreference.select().where(RewardPreference.person == cast.ids["employee"]).first().run)
    assert row["ranking"] == "learning,day_off,gift"
    await as_user("manager")
    form = await client.get("/rewards/new", params={"to": EMAILS["employee"]})
    assert form.status_code == 200
    text = text_of(form.text)
    assert "What Ёлкин Иван values most" in text and "Courses rather than cash, please" in text
    assert text.index("Learning budget") < text.index("Extra day off") < text.index("Gift")
    outside = await client.get("/rewards/new", params={"to": EMAILS["outsider"]})
    assert "Nobody within your reach" in text_of(outside.text) and "values most" not in outside.text


async def test_a_reward_over_budget_is_refused_in_the_form(client, cast, values, as_user):
    await as_user("manager")
    response = await post_form(client, "/rewards/new", {"to": EMAILS["employee"], "kind": "bonus", "amount": "999999",
                                                        "reason": "Great month", "value": "customer"}, htmx=True)
    assert response.status_code == 422
    text = text_of(response.text)
    assert "What Ёлкин Иван values most" in text and 'id="reward-form"' in response.text  # the form, with its recipient
    assert ("You have no reward budget for today; HR sets budgets." in text
            or "This is over your budget:" in text)  # other tests may have set the manager a budget


async def test_preferences_of_a_colleague_are_not_found(client, cast, as_user):
    await as_user("outsider")
    assert (await client.get(f"/rewards/preferences/{cast.ids['employee']}")).status_code == 404
    await as_user("manager")
    assert (await client.get(f"/rewards/preferences/{cast.ids['employee']}")).status_code == 200


# --- choosing colleagues ---------------------------------------------------------------------------


async def test_the_picker_finds_colleagues_as_you_type_and_keeps_those_chosen(client, cast, values, as_user):
    await as_user("outsider")
    response = await client.get("/recognition/picker", params={"find": "руковод", "to": ["T-005"]}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert '<input type="checkbox" name="to" value="T-004">' in response.text  # the manager, to tick
    chosen = response.text[response.text.index('id="to-chosen"'):]
    assert 'hx-swap-oob="true"' in chosen and 'value="T-005" checked' in chosen  # the employee stays chosen
    nobody = await client.get("/recognition/picker", params={"find": "склад"}, headers={"HX-Request": "true"})
    assert "Nobody found" in text_of(nobody.text)  # the outsider is not offered to themselves


async def test_without_javascript_find_posts_the_form_back_with_the_matches_and_saves_nothing(client, cast, values, as_user):
    await as_user("outsider")
    message = "HTTP: found by the picker without JavaScript."
    response = await post_form(client, "/recognition/new", {"find": "Руководова", "action": "find", "values": ["customer"],
                                                           "message": message})
    assert response.status_code == 200 and "<html" in response.text
    assert '<input type="checkbox" name="to" value="T-004">' in response.text and message in response.text
    assert 'value="customer" checked' in response.text
    assert await recognitions_with(client, message) == []
    response = await post_form(client, "/recognition/new", {"to": ["T-004"], "values": ["customer"], "message": message})
    assert response.status_code == 303 and len(await recognitions_with(client, message)) == 1


async def test_a_profile_offers_thanks_and_to_its_managers_a_reward(client, cast, values, as_user):
    await as_user("outsider")
    profile = await client.get(f"/people/{cast.ids['employee']}")
    assert 'href="/recognition/new?to=T-005"' in profile.text and "/rewards/new?to=" not in profile.text
    assert f'hx-get="/recognition/people/{cast.ids["employee"]}/recent"' in profile.text
    form = await client.get("/recognition/new?to=T-005")
    assert 'name="to" value="T-005" checked' in form.text and "Ёлкин Иван" in form.text
    own = await client.get(f"/people/{cast.ids['outsider']}")
    assert "/recognition/new?to=" not in own.text  # nobody thanks themselves
    await as_user("manager")
    profile = await client.get(f"/people/{cast.ids['employee']}")
    assert 'href="/rewards/new?to=T-005"' in profile.text
    assert "/rewards/new?to=" not in (await client.get(f"/people/{cast.ids['outsider']}")).text  # outside their reach


async def test_a_profile_loads_the_latest_public_thanks(client, cast, values, as_user):
    await as_user("manager")
    message = "HTTP: shown on the profile."
    await post_form(client, "/recognition/new", {"to": ["T-006"], "values": ["colleagues"], "message": message})
    await post_form(client, "/recognition/new", {"to": ["T-006"], "values": ["colleagues"], "message": "HTTP: private one",
                                                 "visibility": "private"})
    await as_user("employee")
    recent = await client.get(f"/recognition/people/{cast.ids['outsider']}/recent", headers={"HX-Request": "true"})
    assert recent.status_code == 200 and "<html" not in recent.text
    assert message in recent.text and "HTTP: private one" not in recent.text and "Recent recognition" in recent.text


async def test_the_reward_picker_offers_people_in_reach_with_and_without_javascript(client, cast, values, as_user):
    await as_user("manager")
    matches = await client.get("/rewards/picker", params={"find": "test.local"}, headers={"HX-Request": "true"})
    assert matches.status_code == 200 and "<html" not in matches.text
    assert 'href="/rewards/new?to=T-005"' in matches.text and "T-006" not in matches.text
    page = await client.get("/rewards/new", params={"find": "елкин"})
    assert page.status_code == 200 and 'href="/rewards/new?to=T-005"' in page.text
    none = await client.get("/rewards/new", params={"find": "склад"})
    assert "Nobody within your reach matches" in text_of(none.text)


# --- the top-three share and budgets ---------------------------------------------------------------


async def test_the_top_three_page_shows_a_chosen_period_and_refuses_bad_dates(client, cast, values, as_user):
    await as_user("manager")
    page = await client.get("/rewards/top-three", params={"since": "2020-01-01", "until": "2099-12-31"})
    assert page.status_code == 200
    text = text_of(page.text)
    assert "By manager" in text and "By department" in text and "From Jan 1, 2020 to Dec 31, 2099" in text
    bad = await client.get("/rewards/top-three", params={"since": "yesterday"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "<html" not in bad.text and "Enter a date such as 2026-01-31." in bad.text
    await as_user("employee")
    assert (await client.get("/rewards/top-three")).status_code == 403


async def test_hr_changes_and_removes_a_budget(client, cast, values, as_user):
    from servicechain.recognition.tables import RewardBudget

    await as_user("hr")
    created = await post_form(client, "/rewards/budgets", {"manager": EMAILS["ceo"], "starts_on": "2031-01-01",
                                                          "ends_on": "2031-03-31", "amount": "50000"})
    assert created.status_code == 303
    row = await on_app_loop(client, RewardBudget.select().where((RewardBudget.manager == cast.ids["ceo"])
                                                                & (RewardBudget.starts_on == service.date(2031, 1, 1))).first().run)
    edit = await client.get(f"/rewards/budgets/{row['id']}/edit")
    assert edit.status_code == 200 and 'value="50000"' in edit.text and "Nothing has been given from it yet." in edit.text
    bad = await post_form(client, f"/rewards/budgets/{row['id']}/edit", {"starts_on": "2031-04-01", "ends_on": "2031-03-31",
                                                                        "amount": "lots"})
    assert bad.status_code == 422
    assert "The period must end on or after its first day." in bad.text and "Enter an amount in roubles" in bad.text
    saved = await post_form(client, f"/rewards/budgets/{row['id']}/edit", {"starts_on": "2031-01-01", "ends_on": "2031-06-30",
                                                                          "amount": "75 000"})
    assert saved.status_code == 303
    changed = await on_app_loop(client, RewardBudget.select().where(RewardBudget.id == row["id"]).first().run)
    assert changed["amount"] == 7_500_000 and changed["ends_on"] == service.date(2031, 6, 30)
    assert (await post_form(client, f"/rewards/budgets/{row['id']}/remove")).status_code == 303
    assert not await on_app_loop(client, RewardBudget.exists().where(RewardBudget.id == row["id"]).run)


async def test_bad_thanks_in_russian_are_refused_in_russian(client, cast, values, as_user):
    await as_user("employee")
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    try:
        response = await post_form(client, "/recognition/new", {"to": ["T-005"], "values": ["customer"], "message": ""}, htmx=True)
        assert response.status_code == 422
        text = text_of(response.text)
        assert "Напишите сообщение." in text and "Нельзя поблагодарить самого себя" in text
        picker = await client.get("/recognition/picker", params={"find": "zzzz"}, headers={"HX-Request": "true"})
        assert "Никого не нашлось" in text_of(picker.text)
    finally:  # the preference is stored on the person: give the cast back its English
        await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_a_reward_outside_reach_is_refused_in_russian_and_saves_nothing(client, cast, values, as_user):
    from servicechain.recognition.tables import Reward

    await as_user("manager")
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    try:
        before = await on_app_loop(client, Reward.count().run)
        response = await post_form(client, "/rewards/new", {"to": EMAILS["outsider"], "kind": "praise", "reason": "За склад",
                                                            "value": "customer"}, htmx=True)
        assert response.status_code == 422
        assert "Склад Складов не в вашем подчинении: поощрять можно только своих подчинённых." in text_of(response.text)
        assert await on_app_loop(client, Reward.count().run) == before
    finally:  # the preference is stored on the person: give the cast back its English
        await post_form(client, "/language", {"language": "en", "next": "/"})
