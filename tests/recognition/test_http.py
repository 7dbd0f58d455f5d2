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
    assert "You have no reward budget for today" in text_of(response.text) or "over your budget" in text_of(response.text)


async def test_preferences_of_a_colleague_are_not_found(client, cast, as_user):
    await as_user("outsider")
    assert (await client.get(f"/rewards/preferences/{cast.ids['employee']}")).status_code == 404
    await as_user("manager")
    assert (await client.get(f"/rewards/preferences/{cast.ids['employee']}")).status_code == 200
