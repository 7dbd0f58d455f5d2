"""Quality over HTTP: scoring a call with the form (and its refusals as an htmx fragment), the
employee's thread, weights, checklists, an audit and the department page with its chart."""

from __future__ import annotations

from servicechain.platform.customers.quality.tables import CRITERIA, Audit, Scorecard, ScorecardComment, WeightSet
from tests.api.helpers import on_app_loop
from tests.conftest import post_form, text_of
from tests.quality import helpers as h


async def _count(client, table, *where) -> int:
    query = table.count()
    if where:
        query = query.where(*where)
    return await on_app_loop(client, query.run)


async def test_a_manager_scores_a_call_and_the_employee_answers_in_the_thread(client, as_user, cast):
    await as_user("manager")
    form = await client.get("/quality/scorecards/new")
    assert form.status_code == 200 and 'name="score_politeness"' in form.text and 'value="na"' in form.text
    assert "T-005" in form.text, "the people the manager reviews are suggested"
    saved = await post_form(client, "/quality/scorecards/new", h.scorecard_data("employee", 4, comment_options="Offer a second slot"))
    assert saved.status_code == 303
    card_path = saved.headers["location"].split("?")[0]
    page = await client.get(saved.headers["location"])
    assert "The scorecard was saved" in page.text and "80" in text_of(page.text) and "Offer a second slot" in page.text

    await as_user("employee")
    home = await client.get("/quality/")
    assert card_path in home.text
    reply = await post_form(client, card_path + "/comments", {"body": "The customer asked for one slot only."}, htmx=True)
    assert reply.status_code == 200 and "<html" not in reply.text and "The customer asked for one slot only." in reply.text
    empty = await post_form(client, card_path + "/comments", {"body": ""}, htmx=True)
    assert empty.status_code == 422 and "Write a comment first." in empty.text
    card_id = int(card_path.rsplit("/", 1)[1])
    assert await _count(client, ScorecardComment, ScorecardComment.scorecard == card_id) == 1

    await as_user("outsider")
    assert (await client.get(card_path)).status_code == 404


async def test_a_bad_scorecard_comes_back_as_the_form_fragment_and_saves_nothing(client, as_user, cast):
    await as_user("manager")
    before = await _count(client, Scorecard)
    bad = h.scorecard_data("employee", 4, score_needs="8", link="javascript:alert(1)", employee="no-such-person")
    refused = await post_form(client, "/quality/scorecards/new", bad, htmx=True)
    assert refused.status_code == 422 and "<html" not in refused.text
    text = text_of(refused.text)
    for message in ("Choose a score from 0 to 5, or N/A.", "No one has this employee number or e-mail.",
                    "Enter a web address starting with http:// or https://"):
        assert message in text
    assert 'value="javascript:alert(1)"' in refused.text, "the form keeps what was typed"
    assert await _count(client, Scorecard) == before


async def test_the_form_and_messages_are_in_russian(client, as_user, cast):
    await as_user("manager")
    await post_form(client, "/language", {"language": "ru", "next": "/quality/"})
    try:
        form = await client.get("/quality/scorecards/new")
        assert "Вежливость" in form.text and "Работа с возражениями" in form.text
        refused = await post_form(client, "/quality/scorecards/new", h.scorecard_data("employee", 4, score_needs="8"), htmx=True)
        assert refused.status_code == 422 and "Выберите оценку от 0 до 5 или «н/п»." in refused.text
    finally:
        await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_an_admin_sets_weights_and_zero_weights_are_refused(client, as_user, cast):
    await as_user("admin")
    before = await _count(client, WeightSet)
    refused = await post_form(client, "/quality/weights", {c: "0" for c in CRITERIA})
    assert refused.status_code == 422 and "At least one weight must be above zero" in refused.text
    assert await _count(client, WeightSet) == before
    saved = await post_form(client, "/quality/weights", {**{c: "1" for c in CRITERIA}, "knowledge": "3"})
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert "apply to scorecards from now on" in page.text and 'value="3"' in page.text


async def test_hr_builds_a_checklist_and_records_an_audit_that_the_department_page_shows(client, as_user, cast):
    await as_user("hr")
    created = await post_form(client, "/quality/checklists/new", h.checklist_data(channel="chat", name_en="HTTP chat check"))
    assert created.status_code == 303
    listed = await client.get("/quality/checklists")
    assert "HTTP chat check" in listed.text
    from servicechain.platform.customers.quality.tables import Checklist

    checklist = await on_app_loop(client, Checklist.select().where(Checklist.name_en == "HTTP chat check").first().run)
    form = await client.get(f"/quality/audits/new?checklist={checklist['id']}")
    assert form.status_code == 200 and "Greeted within a minute" in form.text
    data = await on_app_loop(client, h.audit_data, checklist["id"], cast.departments["support.line1"], ["1", "4"])
    before = await _count(client, Audit)
    missing = await post_form(client, "/quality/audits/new", {**data, "checklist": str(checklist["id"])}, htmx=True)
    assert missing.status_code == 422 and "Answer every question: 1 not answered." in missing.text
    assert await _count(client, Audit) == before
    data = await on_app_loop(client, h.audit_data, checklist["id"], cast.departments["support.line1"], ["1", "4", "1"])
    saved = await post_form(client, "/quality/audits/new", {**data, "checklist": str(checklist["id"])})
    assert saved.status_code == 303 and "/quality/audits/" in saved.headers["location"]
    audit_page = await client.get(saved.headers["location"])
    assert "93.3" in audit_page.text or "93,3" in audit_page.text
    rows = await client.get(f"/quality/audits?department={cast.departments['support']}&channel=chat", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text and "HTTP chat check" in rows.text

    await as_user("manager")
    page = await client.get(f"/quality/departments/{cast.departments['support']}")
    assert page.status_code == 200 and "<svg" in page.text and "<circle" in page.text and "<style" not in page.text
    assert "Offering several options" in page.text
