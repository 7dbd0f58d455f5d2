"""Pulses over HTTP: launching, answering with htmx, participation, closing and results."""

from __future__ import annotations

from datetime import timedelta

from servicechain.platform.people.service import today
from servicechain.platform.surveys import service
from servicechain.platform.surveys.tables import Pulse, PulseParticipant, PulseSealedAnswer
from tests.api.helpers import on_app_loop
from tests.conftest import post_form, text_of
from tests.surveys import helpers as h


def _launch_data(cast, title: str) -> dict:
    return {"title": title, "opens_on": today().isoformat(), "closes_on": (today() + timedelta(days=7)).isoformat(),
            "audience": "departments", "departments": str(cast.departments["company"]), "min_group_size": "5"}


async def test_hr_launches_and_an_employee_answers_in_one_page(client, as_user, cast):
    await as_user("hr")
    form = await client.get("/pulses/new")
    assert form.status_code == 200 and 'name="min_group_size"' in form.text
    refused = await post_form(client, "/pulses/new", {**_launch_data(cast, "HTTP pulse"), "min_group_size": "2"}, htmx=True)
    assert refused.status_code == 422 and "<html" not in refused.text and "at least 3" in refused.text
    launched = await post_form(client, "/pulses/new", _launch_data(cast, "HTTP pulse"))
    assert launched.status_code == 303
    pulse_id = int(launched.headers["location"].rsplit("/", 1)[1])

    await as_user("employee")
    home = await client.get("/")
    assert "HTTP pulse" in home.text and f"/pulses/{pulse_id}/answer" in home.text
    page = await client.get(f"/pulses/{pulse_id}/answer")
    assert page.status_code == 200 and 'name="enps"' in page.text and 'name="item_8"' in page.text
    bad = await post_form(client, f"/pulses/{pulse_id}/answer", {**h.answer_data(), "item_3": "7"}, htmx=True)
    assert bad.status_code == 422 and "<html" not in bad.text and "Choose from 1 (disagree) to 5 (agree)." in bad.text
    me = PulseParticipant.select(PulseParticipant.answered).where(
        (PulseParticipant.pulse == pulse_id) & (PulseParticipant.person == cast.ids["employee"])).first()
    assert (await on_app_loop(client, me.run))["answered"] is False
    sent = await post_form(client, f"/pulses/{pulse_id}/answer", h.answer_data(comment="Good team"), htmx=True)
    assert sent.status_code == 200 and "Thank you! Your answer is in." in sent.text
    assert sent.headers.get("hx-trigger-after-swap", "").find("pulseAnswered") >= 0
    again = await post_form(client, f"/pulses/{pulse_id}/answer", h.answer_data(), htmx=True)
    assert again.status_code == 422 and "already answered" in again.text
    count = PulseSealedAnswer.count().where(PulseSealedAnswer.pulse == pulse_id)
    assert await on_app_loop(client, count.run) == 1
    assert f'href="/pulses/{pulse_id}/answer" role="button"' not in (await client.get("/")).text
    assert (await client.get(f"/pulses/{pulse_id}")).status_code == 403  # employees answer, they do not read figures

    await as_user("hr")
    running = await client.get(f"/pulses/{pulse_id}")
    assert running.status_code == 200 and "Fewer than 5 of" in text_of(running.text)
    assert "Engagement index" not in running.text  # no results before close
    closed = await post_form(client, f"/pulses/{pulse_id}/close")
    assert closed.status_code == 303
    state = await on_app_loop(client, Pulse.select(Pulse.status).where(Pulse.id == pulse_id).first().run)
    assert state["status"] == "closed"
    results = await client.get(f"/pulses/{pulse_id}")
    assert results.status_code == 200 and "Too few people answered" in results.text and "Good team" not in results.text


async def _closed_pulse_with_answers(cast, head: int | None = None) -> tuple[int, dict]:
    org = await h.company({"root": 5, "a": 6, "b": 6, "b1": 2}, head=head)
    pulse_id = await h.launch(cast.actor("hr"), [org["departments"]["root"]], title="Results pulse")
    await h.answer_all(pulse_id, org["people"]["root"], score=3, enps=7)
    await h.answer_all(pulse_id, org["people"]["a"], score=5, enps=10, comment="Proud of our team")
    await h.answer_all(pulse_id, org["people"]["b"], score=2, enps=3)
    await h.answer_all(pulse_id, org["people"]["b1"], score=1, enps=0, comment="Tiny team comment")
    await service.close_pulse(pulse_id)
    return pulse_id, org


async def test_results_drill_down_one_level_at_a_time_and_hide_small_groups(client, as_user, cast):
    pulse_id, _org = await on_app_loop(client, _closed_pulse_with_answers, cast)
    await as_user("ceo")
    page = await client.get(f"/pulses/{pulse_id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Engagement index" in text and "eNPS" in text and "19 answers" in text
    assert "<svg" in page.text and "Loves the company" in text
    assert "Proud of our team" in text
    # B1's two answers were published under B: no page shows B1 on its own.
    b_id = await on_app_loop(client, _snapshot_id, pulse_id, "B")
    drilled = await client.get(f"/pulses/{pulse_id}?department={b_id}", headers={"HX-Request": "true"})
    assert drilled.status_code == 200 and "<html" not in drilled.text
    assert "B1" in drilled.text and "Tiny team comment" in drilled.text  # B's 8 answers, B1's among them
    b1_id = await on_app_loop(client, _snapshot_id, pulse_id, "B1")
    b1 = await client.get(f"/pulses/{pulse_id}?department={b1_id}")
    assert "Tiny team comment" not in b1.text and "Too few people answered" not in b1.text or "No results" in b1.text


async def _snapshot_id(pulse_id: int, name: str) -> int:
    from servicechain.platform import db

    rows = await db.fetch("SELECT id FROM pulse_department WHERE pulse = {} AND name_en = {}", pulse_id, name)
    return rows[0]["id"]


async def test_results_in_russian(client, as_user, cast):
    pulse_id, _org = await on_app_loop(client, _closed_pulse_with_answers, cast)
    await as_user("admin")
    await post_form(client, "/language", {"language": "ru", "next": "/"})
    try:
        page = await client.get(f"/pulses/{pulse_id}")
        assert page.status_code == 200
        assert "Индекс вовлечённости" in page.text and "Любит компанию" in page.text
        listing = await client.get("/pulses/")
        assert "Пульсы вовлечённости" in listing.text
    finally:
        await post_form(client, "/language", {"language": "en", "next": "/"})


async def test_a_manager_reads_only_the_department_they_head(client, as_user, cast):
    pulse_id, org = await on_app_loop(client, _closed_pulse_with_answers, cast, cast.ids["manager"])
    try:
        await as_user("manager")  # heads the root of this small company
        page = await client.get(f"/pulses/{pulse_id}")
        assert page.status_code == 200 and "19 answers" in text_of(page.text)
        other = await on_app_loop(client, _closed_pulse_elsewhere, cast)
        assert (await client.get(f"/pulses/{other}")).status_code == 403
    finally:  # the data stays in the session's database: hand the department back, or other tests
        # would find these people in the manager's reach
        await on_app_loop(client, _no_head, org["departments"]["root"])


async def _no_head(department_id: int) -> None:
    from servicechain.platform import db
    from servicechain.platform.people.tables import Department

    async with db.write():
        await Department.update({Department.head: None}).where(Department.id == department_id).run()


async def _closed_pulse_elsewhere(cast) -> int:
    org = await h.company({"a": 6})
    pulse_id = await h.launch(cast.actor("hr"), [org["departments"]["a"]], title="Elsewhere")
    await service.close_pulse(pulse_id)
    return pulse_id


async def test_templates_are_copied_and_edited(client, as_user, cast):
    await as_user("hr")
    listing = await client.get("/pulses/templates")
    assert listing.status_code == 200 and "Engagement pulse" in listing.text
    default_id = await on_app_loop(client, _default_template)
    copied = await post_form(client, f"/pulses/templates/{default_id}/copy")
    assert copied.status_code == 303
    copy_url = copied.headers["location"]
    edit = await client.get(copy_url)
    assert edit.status_code == 200 and 'name="text_ru_0"' in edit.text
    refused = await post_form(client, copy_url, {"name_en": "", "name_ru": "", "trait_0": "company", "text_en_0": "x", "text_ru_0": "x"})
    assert refused.status_code == 422 and "Give the template a name in both languages." in refused.text


async def _default_template() -> int:
    from servicechain.platform import db

    async with db.write():
        return await service.ensure_default_template()
