"""Customer scores over HTTP: the import wizard, the follow-up pages, the figures."""

from __future__ import annotations

from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp
from tests.api.helpers import on_app_loop
from tests.conftest import post_form, text_of
from tests.customers import helpers as h


async def _upload(client, data: bytes, name: str = "scores.csv", **fields):
    headers = {"x-csrftoken": client.cookies.get("sc_csrf") or ""}
    return await client.post("/customers/import/", files={"file": (name, data, "text/csv")},
                             data={"source": "survey", **fields}, headers=headers, follow_redirects=False)


async def test_hr_imports_a_file_through_the_wizard(client, as_user):
    await as_user("hr")
    prefix = f"web-{h.tag()}"
    data = h.csv_bytes([h.RU_HEADER, [f"{prefix}-1", h.recent().strftime("%d.%m.%Y"), "Телефон", "support.line1", "", "2",
                                      "", "HD-5", "Плохо"],
                        [f"{prefix}-2", h.recent().isoformat(), "чат", "support", "", "5", "9", "", ""]],
                       delimiter=";", encoding="cp1251")
    uploaded = await _upload(client, data)
    assert uploaded.status_code == 303
    mapping_url = uploaded.headers["location"]
    token = mapping_url.split("/")[3]
    page = await client.get(mapping_url)
    assert page.status_code == 200 and "scores.csv: 2 rows." in text_of(page.text)
    assert '<option value="external_id" selected>' in page.text  # guessed from “ID”
    form = {f"col-{i}": f for i, f in enumerate(["external_id", "given_on", "channel", "department", "employee", "csat",
                                                 "nps", "case_ref", "comment"])}
    preview = await post_form(client, f"/customers/import/{token}/preview", form)
    assert preview.status_code == 200
    text = text_of(preview.text)
    assert "Nothing has been saved yet." in text and "Scores to add 2" in text and "Follow-ups to open 1" in text
    assert await on_app_loop(client, CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run) == 0
    applied = await post_form(client, f"/customers/import/{token}/apply", form)
    assert applied.status_code == 303 and applied.headers["location"] == f"/customers/import/{token}/done"
    done = await client.get(f"/customers/import/{token}/done")
    assert "Scores added 2" in text_of(done.text)
    assert await on_app_loop(client, CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run) == 2
    again = await post_form(client, f"/customers/import/{token}/apply", form)
    assert again.status_code == 303  # a second click lands on the result, importing nothing
    assert await on_app_loop(client, CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run) == 2


async def test_the_wizard_shows_bad_rows_and_saves_nothing(client, as_user):
    await as_user("hr")
    prefix = f"webbad-{h.tag()}"
    data = h.csv_bytes([h.EN_HEADER, [f"{prefix}-1", "2025-13-45", "phone", "support", "", "3", "", "", ""],
                        [f"{prefix}-2", h.recent().isoformat(), "phone", "support", "", "0", "", "", ""]])
    token = (await _upload(client, data)).headers["location"].split("/")[3]
    form = {f"col-{i}": f for i, f in enumerate(["external_id", "given_on", "channel", "department", "employee", "csat",
                                                 "nps", "case_ref", "comment"])}
    preview = await post_form(client, f"/customers/import/{token}/preview", form)
    text = text_of(preview.text)
    assert "2 problems to fix" in text
    assert "“2025-13-45” is not a date we can read" in text and "CSAT “0” is out of range" in text
    assert "/customers/import/" + token + "/apply" not in preview.text
    refused = await post_form(client, f"/customers/import/{token}/apply", form)
    assert refused.status_code == 422
    assert await on_app_loop(client, CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run) == 0


async def test_an_unreadable_upload_is_refused_on_the_form(client, as_user):
    await as_user("hr")
    refused = await _upload(client, "ID;Дата\r\n1;2025-01-01\r\n".encode("utf-16"))
    assert refused.status_code == 422
    assert "Unknown encoding: save the file as CSV in UTF-8 or Windows-1251." in refused.text


async def test_the_manager_closes_a_follow_up_and_a_missing_outcome_is_explained(client, as_user, cast):
    source = f"http-{h.tag()}"
    await on_app_loop(client, h.save, [h.item("low", csat="1", comment="Заказ не привезли", case_ref="HD-900")], source)
    score = await on_app_loop(client, CustomerScore.select().where(CustomerScore.source == source).first().run)
    follow_up = await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.score == score["id"]).first().run)
    await as_user("manager")
    listed = await client.get("/customers/follow-ups")
    assert f"/customers/follow-ups/{follow_up['id']}" in listed.text
    page = await client.get(f"/customers/follow-ups/{follow_up['id']}")
    assert page.status_code == 200 and "Заказ не привезли" in page.text and "HD-900" in page.text
    assert "Close the follow-up" in page.text
    missing = await post_form(client, f"/customers/follow-ups/{follow_up['id']}/close", {"note": "Called"})
    assert missing.status_code == 422 and "Choose what was done." in missing.text and "Called" in missing.text
    closed = await post_form(client, f"/customers/follow-ups/{follow_up['id']}/close",
                             {"outcome": "called_back", "note": "Apologised, new delivery slot"})
    assert closed.status_code == 303
    after = await client.get(closed.headers["location"])
    assert "The follow-up is closed. Thank you." in after.text and "Called the customer back" in after.text
    row = await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run)
    assert row["status"] == "closed" and row["note"] == "Apologised, new delivery slot"


async def test_figures_and_scores_pages_in_english_and_russian(client, as_user):
    await on_app_loop(client, h.save, [h.item("fig", csat="4", nps="10")], f"fig-{h.tag()}")
    await as_user("manager")
    overview = await client.get("/customers/?months=3")
    assert overview.status_code == 200 and "Customer scores" in overview.text and "First line" in overview.text
    scores = await client.get("/customers/scores?low=false&department=&channel=")
    assert scores.status_code == 200 and "CSAT 4/5" in scores.text
    await post_form(client, "/language", {"language": "ru", "next": "/customers/"})
    russian = await client.get("/customers/")
    assert "Оценки клиентов" in russian.text
    await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_the_home_page_tells_the_assignee_about_waiting_follow_ups(client, as_user):
    await on_app_loop(client, h.save, [h.item("home", csat="2")], f"home-{h.tag()}")
    await as_user("manager")
    home = await client.get("/")
    assert "Customers waiting for your call" in home.text and 'href="/customers/follow-ups' in home.text
    await as_user("outsider")
    assert "Customers waiting for your call" not in (await client.get("/")).text


async def test_the_assignee_compensates_at_once_within_their_authority(client, as_user, cast):
    from tests.goals.authority.helpers import make_chain

    chain = await on_app_loop(client, make_chain, cast)
    source, case = f"comp-{h.tag()}", f"HD-{h.tag()}"
    await on_app_loop(client, h.save, [h.item("c", csat="1", case_ref=case, employee="employee@test.local",
                                              department=None)], source)
    score = await on_app_loop(client, CustomerScore.select().where(CustomerScore.source == source).first().run)
    follow_up = await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.score == score["id"]).first().run)
    await as_user("manager")
    page = await client.get(f"/customers/follow-ups/{follow_up['id']}")
    assert "What you may do for this customer without asking" in page.text and "10,000" in text_of(page.text)
    url = f"/customers/follow-ups/{follow_up['id']}/compensate"
    over = await post_form(client, url, {"scope_id": str(chain.scope_id), "amount": "20 000", "action": "Refund"})
    assert over.status_code == 422 and "per-case limit" in over.text
    empty = await post_form(client, url, {"scope_id": str(chain.scope_id), "amount": ""})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
    done = await post_form(client, url, {"scope_id": str(chain.scope_id), "amount": "1 500", "action": "Refund"})
    assert done.status_code == 303
    row = await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run)
    assert row["outcome"] == "compensated" and row["authority_use"]
    after = await client.get(f"/customers/follow-ups/{follow_up['id']}")
    assert "Compensated the customer" in after.text and "1,500" in text_of(after.text)


async def test_follow_up_words_take_the_russian_of_where_they_stand(client, as_user):
    """"Open" and "Overdue" filter a list ("Открытые") and mark one follow-up ("Просрочен"):
    the same English word, two Russian ones (pgettext contexts)."""
    from datetime import timedelta

    from servicechain.platform.i18n import gettext, pgettext, use_language
    from servicechain.platform.security import utcnow

    with use_language("ru"):
        assert pgettext("follow-ups filter", "Open") == "Открытые" and gettext("Open") == "Открыт"
        assert pgettext("company value", "Value") == "Ценность" and gettext("Value") == "Значение"
        assert pgettext("from a person", "From") == "От кого" and gettext("From") == "С"
    source = f"ctx-{h.tag()}"
    await on_app_loop(client, h.save, [h.item("late", csat="1")], source)
    score = await on_app_loop(client, CustomerScore.select().where(CustomerScore.source == source).first().run)
    await on_app_loop(client, ScoreFollowUp.update({ScoreFollowUp.due_at: utcnow() - timedelta(days=2)}).where(
        ScoreFollowUp.score == score["id"]).run)
    follow_up = await on_app_loop(client, ScoreFollowUp.select().where(ScoreFollowUp.score == score["id"]).first().run)
    await as_user("manager")
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    try:
        listed = await client.get("/customers/follow-ups?status=overdue")
        assert "<strong>Просроченные</strong>" in listed.text and "Открытые" in listed.text and "Закрытые" in listed.text
        assert "<mark>Просрочен</mark>" in listed.text
        page = await client.get(f"/customers/follow-ups/{follow_up['id']}")
        assert "<mark>Просрочен</mark>" in page.text
    finally:
        await post_form(client, "/language", {"language": "en", "next": "/"})
