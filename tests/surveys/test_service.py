"""Pulses without HTTP: launching, answering, closing, results, reminders and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.platform import db
from servicechain.platform.people.service import today
from servicechain.platform.security import Forbidden, NotFound
from servicechain.platform.surveys import service
from servicechain.platform.surveys.tables import Pulse, PulseAnswer, PulseParticipant, PulseSealedAnswer
from servicechain.platform.web import DomainError, FormInvalid
from tests.surveys.helpers import actor, answer_all, answer_data, company, department, launch, people

pytestmark = pytest.mark.usefixtures("rollback")


async def _counts(pulse_id: int | None = None) -> tuple[int, int, int]:
    pulses = await Pulse.count().run()
    if pulse_id is None:
        return pulses, 0, 0
    answered = await PulseParticipant.count().where((PulseParticipant.pulse == pulse_id) & (PulseParticipant.answered == True)).run()  # noqa: E712
    sealed = await PulseSealedAnswer.count().where(PulseSealedAnswer.pulse == pulse_id).run()
    return pulses, answered, sealed


# --- launching ----------------------------------------------------------------------------------


async def test_hr_launches_a_pulse_with_a_snapshot_of_the_tree_and_audience(cast):
    org = await company({"a": 6, "b": 2, "b1": 4})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["root"]])
    pulse = await Pulse.select().where(Pulse.id == pulse_id).first().run()
    assert pulse["invited"] == 12 and pulse["min_group_size"] == 5 and pulse["status"] == "open"
    snapshot = await db.fetch("SELECT source, path FROM pulse_department WHERE pulse = {} ORDER BY path", pulse_id)
    assert {r["source"] for r in snapshot} == set(org["departments"].values())
    assert len(await service.pulse_items(pulse_id)) == len(service.DEFAULT_ITEMS)
    # The invited see it on their home page.
    home = await service.home_pulses(actor(org["people"]["a"][0]))
    assert [p["id"] for p in home] == [pulse_id]


@pytest.mark.parametrize("change, field", [
    ({"min_group_size": "2"}, "min_group_size"),
    ({"min_group_size": "4"}, "min_group_size"),  # below the company's 5
    ({"min_group_size": "many"}, "min_group_size"),
    ({"title": ""}, "title"),
    ({"closes_on": "2001-01-01"}, "closes_on"),
    ({"opens_on": "31.02.2026"}, "opens_on"),
    ({"departments": []}, "departments"),
])
async def test_bad_launch_input_is_refused_with_nothing_saved(cast, change, field):
    org = await company({"a": 6})
    data = {"title": "March", "opens_on": today().isoformat(), "closes_on": (today() + timedelta(days=7)).isoformat(),
            "audience": "departments", "departments": [str(org["departments"]["a"])], "min_group_size": "5", **change}
    before = await _counts()
    with pytest.raises(FormInvalid) as refused:
        await service.launch_pulse(cast.actor("hr"), data)
    assert field in refused.value.errors and refused.value.errors[field][0]
    assert await _counts() == before


async def test_minimum_group_size_below_three_gets_a_clear_message(cast):
    org = await company({"a": 6})
    with pytest.raises(FormInvalid) as refused:
        await launch(cast.actor("hr"), [org["departments"]["a"]], k=2)
    assert "at least 3" in refused.value.errors["min_group_size"][0]


async def test_a_pulse_for_an_empty_audience_is_refused(cast):
    empty = await department("Empty", None)
    before = await _counts()
    with pytest.raises(FormInvalid) as refused:
        await launch(cast.actor("hr"), [empty])
    assert "no one to ask" in refused.value.errors["departments"][0]
    small = await department("Tiny", None)
    await people(small, 2)
    with pytest.raises(FormInvalid) as refused:
        await launch(cast.actor("hr"), [small])
    assert "fewer than the minimum" in refused.value.errors["departments"][0]
    assert await _counts() == before


async def test_only_hr_and_admins_launch(cast):
    org = await company({"a": 6})
    for who in ("employee", "manager", "ceo"):
        with pytest.raises(Exception) as refused:
            await launch(cast.actor(who), [org["departments"]["a"]])
        assert getattr(refused.value, "status_code", None) == 403


# --- answering ----------------------------------------------------------------------------------


async def test_an_answer_marks_participation_and_seals_the_answer_together(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    person = org["people"]["a"][0]
    await service.submit_answer(actor(person), pulse_id, answer_data(comment="Мне нравится"))
    assert await _counts(pulse_id) == (await Pulse.count().run(), 1, 1)
    assert await PulseAnswer.count().where(PulseAnswer.pulse == pulse_id).run() == 0  # published only at close
    page = await service.answer_page(actor(person), pulse_id)
    assert page["status"] == "answered"
    assert await service.home_pulses(actor(person)) == []


async def test_a_second_answer_is_refused_with_nothing_saved(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    person = org["people"]["a"][0]
    await service.submit_answer(actor(person), pulse_id, answer_data())
    before = await _counts(pulse_id)
    with pytest.raises(FormInvalid) as refused:
        await service.submit_answer(actor(person), pulse_id, answer_data(score=1))
    assert "already answered" in refused.value.errors["__all__"][0]
    assert await _counts(pulse_id) == before


@pytest.mark.parametrize("change, field", [
    ({"item_1": "6"}, "item_1"), ({"item_2": "0"}, "item_2"), ({"item_3": ""}, "item_3"), ({"item_4": "x"}, "item_4"),
    ({"enps": "11"}, "enps"), ({"enps": "-1"}, "enps"), ({"comment": "x" * 1001}, "comment"),
])
async def test_an_item_out_of_range_is_refused_with_nothing_saved(cast, change, field):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    before = await _counts(pulse_id)
    with pytest.raises(FormInvalid) as refused:
        await service.submit_answer(actor(org["people"]["a"][0]), pulse_id, {**answer_data(), **change})
    assert refused.value.errors[field]
    assert await _counts(pulse_id) == before


async def test_an_answer_after_close_is_refused(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    late = org["people"]["a"][0]
    with pytest.raises(FormInvalid) as refused:  # the close date has passed, the job has not run yet
        await service.submit_answer(actor(late), pulse_id, answer_data(), on=today() + timedelta(days=11))
    assert "closed" in refused.value.errors["__all__"][0]
    await service.close_pulse(pulse_id)
    before = await _counts(pulse_id)
    with pytest.raises(FormInvalid):
        await service.submit_answer(actor(late), pulse_id, answer_data())
    assert await _counts(pulse_id) == before


async def test_people_not_invited_cannot_see_or_answer(cast):
    org = await company({"a": 6, "b": 5})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    outsider = actor(org["people"]["b"][0])
    with pytest.raises(NotFound):
        await service.answer_page(outsider, pulse_id)
    with pytest.raises(NotFound):
        await service.submit_answer(outsider, pulse_id, answer_data())


async def test_a_planned_pulse_takes_no_answers_yet(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]], opens_offset=2)
    with pytest.raises(FormInvalid) as refused:
        await service.submit_answer(actor(org["people"]["a"][0]), pulse_id, answer_data())
    assert "opens on" in refused.value.errors["__all__"][0]


# --- closing and results ------------------------------------------------------------------------


async def test_results_appear_only_after_close(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    await answer_all(pulse_id, org["people"]["a"])
    with pytest.raises(DomainError):
        await service.results(cast.actor("ceo"), pulse_id)
    outcome = await service.close_pulse(pulse_id)
    assert outcome == {"answers": 6, "discarded": 0}
    assert await PulseSealedAnswer.count().where(PulseSealedAnswer.pulse == pulse_id).run() == 0
    assert await service.close_pulse(pulse_id) == {"answers": 0, "discarded": 0}  # once only
    page = await service.results(cast.actor("ceo"), pulse_id)
    assert page["head"]["n"] == 6 and page["participation"] == 100


async def test_scores_traits_and_enps_of_a_closed_pulse(cast):
    org = await company({"a": 10})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    staff = org["people"]["a"]
    await answer_all(pulse_id, staff[:4], score=5, enps=10)  # 4 promoters
    await answer_all(pulse_id, staff[4:7], score=3, enps=8)  # 3 passives
    await answer_all(pulse_id, staff[7:9], score=1, enps=2, comment="Too much overtime")  # 2 detractors
    await service.close_pulse(pulse_id)
    page = await service.results(cast.actor("hr"), pulse_id)
    assert page["head"]["n"] == 9 and page["invited"] == 10 and page["participation"] == 90
    mean = (4 * 5 + 3 * 3 + 2 * 1) / 9
    assert page["head"]["engagement"] == round((mean - 1) / 4 * 100, 1)
    assert page["head"]["enps"] == round(100 * (4 - 2) / 9, 1)
    assert all(t["score"] == page["head"]["engagement"] for t in page["traits"])  # same score on every item
    assert page["comments"] == [("Too much overtime", 2)]  # once, with how many wrote it


async def test_small_departments_are_hidden_including_by_difference(cast):
    """B has 2 answers: on the company's page, B alone would be hidden and A shown, and the
    company's total minus A would give B back; so the answers of B are published under the
    root, and the page shows no group below the minimum, directly or by subtraction."""
    org = await company({"a": 6, "b": 2, "b1": 0}, head=None)
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["root"]])
    await answer_all(pulse_id, org["people"]["a"], score=4)
    await answer_all(pulse_id, org["people"]["b"], score=1, comment="B is unhappy")
    await service.close_pulse(pulse_id)
    page = await service.results(cast.actor("hr"), pulse_id)
    assert page["head"]["n"] == 8
    shown = {r["name"]: r for r in page["rows"]}
    for row in page["rows"]:
        assert row["hidden"] or not row["n"] or row["n"] >= 5, row
    unknown = page["head"]["n"] - sum(r["n"] for r in page["rows"] if not r["hidden"] and r["n"])
    assert unknown == 0 or unknown >= 5
    assert not shown["B"]["n"]  # B's answers were published under the root, never under B
    # Drilling into B shows nothing of B's two people either.
    b_node = next(r["id"] for r in page["rows"] if r["name"] == "B")
    b_page = await service.results(cast.actor("hr"), pulse_id, b_node)
    assert not b_page["shown"] and b_page["comments"] == []


async def test_a_pulse_with_fewer_answers_than_the_minimum_publishes_nothing(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    await answer_all(pulse_id, org["people"]["a"][:4], comment="only four of us")
    assert await service.close_pulse(pulse_id) == {"answers": 0, "discarded": 4}
    assert await PulseAnswer.count().where(PulseAnswer.pulse == pulse_id).run() == 0
    page = await service.results(cast.actor("hr"), pulse_id)
    assert page["head"]["n"] == 0 and page["comments"] == [] and page["participation"] is None


async def test_managers_see_their_subtree_only_and_employees_nothing(cast):
    org = await company({"a": 6, "b": 6, "b1": 6})
    head_of_b = (await people(org["departments"]["b"], 1, role="manager"))[0]
    from servicechain.platform.people.tables import Department

    async with db.write():
        await Department.update({Department.head: head_of_b}).where(Department.id == org["departments"]["b"]).run()
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["root"]])
    for name in ("a", "b", "b1"):
        await answer_all(pulse_id, org["people"][name])
    await service.close_pulse(pulse_id)
    mine = await service.results(actor(head_of_b, "manager"), pulse_id)
    assert mine["name"] == "B" and mine["head"]["n"] == 12
    assert all(step["name"] != "Root" for step in mine["trail"])
    everyone = await service.results(cast.actor("ceo"), pulse_id)
    with pytest.raises(NotFound):  # the company's page is not the manager's
        await service.results(actor(head_of_b, "manager"), pulse_id, everyone["node"])
    with pytest.raises(Forbidden):
        await service.results(cast.actor("manager"), pulse_id)  # heads support, which was not asked
    with pytest.raises(Forbidden):
        await service.results(actor(org["people"]["a"][0]), pulse_id)


async def test_participation_while_running_hides_small_counts(cast):
    org = await company({"a": 6, "b": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["root"]])
    await answer_all(pulse_id, org["people"]["a"][:2])
    await answer_all(pulse_id, org["people"]["b"])
    view = await service.participation(cast.actor("hr"), pulse_id)
    by_name = {line["name"]: line for line in view["lines"]}
    assert by_name["A"]["small"] and by_name["A"]["answered"] is None and by_name["A"]["rate"] is None
    assert by_name["B"]["answered"] == 6 and by_name["B"]["rate"] == 100
    assert view["answered"] == 8 and view["invited"] == 12
    with pytest.raises(Forbidden):
        await service.participation(cast.actor("manager"), pulse_id)


async def test_reminders_go_only_to_those_who_have_not_answered(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    done, waiting = org["people"]["a"][:2], org["people"]["a"][2:]
    await answer_all(pulse_id, done)
    before = await db.fetch("SELECT person FROM notification WHERE text LIKE {}", "Reminder:%")
    assert await service.send_reminders() >= len(waiting)
    reminded = {r["person"] for r in await db.fetch("SELECT person FROM notification WHERE text LIKE {}", "Reminder:%")} - {
        r["person"] for r in before}
    assert set(waiting) <= reminded and not (set(done) & reminded)
    again = {r["person"] for r in await db.fetch("SELECT person FROM notification WHERE text LIKE {}", "Reminder:%")}
    await service.send_reminders()  # not again within a few days
    assert {r["person"] for r in await db.fetch("SELECT person FROM notification WHERE text LIKE {}", "Reminder:%")} == again


async def test_the_job_closes_pulses_past_their_last_day(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]], closes_offset=0)
    await answer_all(pulse_id, org["people"]["a"])
    await service.close_due(on=today() + timedelta(days=1))
    assert (await Pulse.select(Pulse.status).where(Pulse.id == pulse_id).first().run())["status"] == "closed"


async def test_department_month_engagement_for_analytics(cast):
    org = await company({"root": 3, "a": 6, "b": 2})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["root"]])
    await answer_all(pulse_id, org["people"]["root"], score=3, enps=7)
    await answer_all(pulse_id, org["people"]["a"], score=5, enps=10)
    await answer_all(pulse_id, org["people"]["b"], score=1, enps=0)
    await service.close_pulse(pulse_id)
    rows = {r["source_department"]: r for r in await service.department_month_engagement(
        source_departments=list(org["departments"].values())) if r["pulse"] == pulse_id}
    assert rows[org["departments"]["root"]]["n"] == 11
    assert rows[org["departments"]["a"]]["engagement"] == 100.0 and rows[org["departments"]["a"]]["enps"] == 100.0
    b = rows[org["departments"]["b"]]
    assert b["n"] is None or b["n"] == 0
    assert b["engagement"] is None
    assert rows[org["departments"]["root"]]["month"] == (today() + timedelta(days=10)).strftime("%Y-%m")  # the month it closed in


async def test_templates_default_is_fixed_and_copies_are_edited(cast):
    hr = cast.actor("hr")
    async with db.write():
        default = await service.ensure_default_template()
    with pytest.raises(FormInvalid):
        await service.save_template(hr, default, {"name_en": "x", "name_ru": "x"})
    copy = await service.copy_template(hr, default)
    detail = await service.template_detail(hr, copy)
    data = {"name_en": "Short", "name_ru": "Короткий"}
    for i, item in enumerate(detail["items"]):
        data.update({f"trait_{i}": item["trait"], f"text_en_{i}": item["text_en"], f"text_ru_{i}": item["text_ru"]})
    data["remove_0"] = "1"
    n = len(detail["items"])
    data.update({f"trait_{n}": "reward", f"text_en_{n}": "I see a future here.", f"text_ru_{n}": "Я вижу здесь будущее."})
    await service.save_template(hr, copy, data)
    after = await service.template_detail(hr, copy)
    assert after["name_en"] == "Short" and len(after["items"]) == n and after["items"][-1]["text_en"] == "I see a future here."
    with pytest.raises(FormInvalid) as refused:
        await service.save_template(hr, copy, {**data, f"trait_{n}": "money"})
    assert f"trait_{n}" in refused.value.errors
    with pytest.raises(Forbidden):
        await service.copy_template(cast.actor("employee"), default)


async def test_a_trend_of_hidden_points_draws_no_line():
    from datetime import date

    from servicechain.platform.web import ENVIRONMENT

    points = [{"title": "A", "closes_on": date(2026, 1, 31), "engagement": None, "enps": None, "n": None},
              {"title": "B", "closes_on": date(2026, 2, 28), "engagement": 70.0, "enps": None, "n": 9}]
    chart = service.trend_chart(points)
    assert set(chart["paths"]) == {"engagement"} and len(chart["dots"]) == 1
    html = ENVIRONMENT.from_string('{% from "surveys/_charts.html" import trend_chart %}{{ trend_chart(ch) }}').render(ch=chart)
    assert html.count("<polyline") == 1


async def test_a_close_interrupted_after_its_first_step_is_finished_by_the_next_run(cast):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    await answer_all(pulse_id, org["people"]["a"][:5])
    async with db.write():  # as if the worker died right after marking the pulse "closing"
        await Pulse.update({Pulse.status: "closing"}).where(Pulse.id == pulse_id).run()
    late = org["people"]["a"][5]
    with pytest.raises(FormInvalid):  # no answer gets in once closing has begun
        await service.submit_answer(actor(late), pulse_id, answer_data())
    assert await service.close_due() >= 1
    pulse = await Pulse.select().where(Pulse.id == pulse_id).first().run()
    assert pulse["status"] == "closed" and pulse["answers"] == 5
    assert await PulseSealedAnswer.count().where(PulseSealedAnswer.pulse == pulse_id).run() == 0


def test_the_worker_knows_the_pulse_jobs():
    from servicechain.platform import outbox

    outbox.load_job_modules()
    assert {"surveys.close_due", "surveys.remind"} <= set(outbox.PERIODIC)


async def test_a_default_template_ships_with_the_database(cast):
    import importlib

    from servicechain.platform.surveys.tables import SurveyItem, SurveyTemplate

    shipped = importlib.import_module("servicechain.platform.surveys.piccolo_migrations.surveys_2026_11_23t22_50_00_000000")
    assert shipped.ITEMS == service.DEFAULT_ITEMS and shipped.NAME == service.DEFAULT_NAME  # the code's copy agrees
    default = await SurveyTemplate.select().where(SurveyTemplate.is_default == True).first().run()  # noqa: E712
    assert default is not None
    items = await SurveyItem.select(SurveyItem.trait).where(SurveyItem.template == default["id"]).run()
    assert sorted({i["trait"] for i in items}) == sorted(service.TRAITS) and len(items) == 8
    assert [t["id"] for t in await service.list_templates(cast.actor("hr")) if t["is_default"]] == [default["id"]]
