"""QA scorecards and mystery-shopper audits without HTTP: scoring with snapshotted weights, who
sees and scores what, the comment thread, checklists, audits, refusals that save nothing, and
the figures per department and month for the monthly report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.platform.customers.quality import service
from servicechain.platform.customers.quality.tables import CRITERIA, Audit, AuditAnswer, Checklist, Scorecard, ScorecardComment, WeightSet
from servicechain.platform.people.service import today
from servicechain.platform.security import Forbidden, NotFound, scorecard_for
from servicechain.platform.tables import AuditEntry, Notification
from servicechain.platform.web import FormInvalid
from tests.quality import helpers as h


async def _audited(action: str, object_id: int) -> int:
    return await AuditEntry.count().where((AuditEntry.action == action) & (AuditEntry.object_id == str(object_id))).run()


# --- scoring ------------------------------------------------------------------------------------


async def test_a_manager_scores_a_call_of_their_report_with_the_weights_in_force(cast, rollback):
    await service.set_weights(cast.actor("admin"), {"politeness": "2", "culture": "1", "objections": "1", "needs": "1",
                                                    "knowledge": "0", "options": "1"})
    data = h.scorecard_data("employee", 5, score_politeness="5", score_culture="4", score_objections="na",
                            score_needs="3", score_knowledge="0", score_options="2", comment_needs="Did not ask about the order")
    card_id = await service.create_scorecard(cast.actor("manager"), data)
    card = await Scorecard.select().where(Scorecard.id == card_id).first().run()
    # (2·5 + 1·4 + 1·3 + 1·2) / (5 · (2+1+1+1)) — objections N/A leaves the mean, knowledge weighs 0.
    assert card["score"] == pytest.approx(76.0)
    assert card["score_objections"] is None and card["score_knowledge"] == 0
    assert card["department"] == cast.departments["support.line1"] and card["reviewer"] == cast.ids["manager"]
    assert card["comment_needs"] == "Did not ask about the order"
    assert await _audited("quality.scorecard_created", card_id) == 1
    told = await Notification.select().where((Notification.person == cast.ids["employee"])
                                             & (Notification.link == f"/quality/scorecards/{card_id}")).run()
    assert len(told) == 1 and "76 of 100" in told[0]["text"]


async def test_new_weights_apply_to_new_scorecards_and_old_ones_keep_theirs(cast, rollback):
    admin, manager = cast.actor("admin"), cast.actor("manager")
    await service.set_weights(admin, {c: "1" for c in CRITERIA})
    mixed = {"score_politeness": "5", "score_culture": "5", "score_objections": "5", "score_needs": "0",
             "score_knowledge": "0", "score_options": "0"}
    old_id = await service.create_scorecard(manager, h.scorecard_data("employee", **mixed))
    old = await Scorecard.select().where(Scorecard.id == old_id).first().run()
    assert old["score"] == pytest.approx(50.0)
    await service.set_weights(admin, {"politeness": "3", "culture": "3", "objections": "3", "needs": "1", "knowledge": "1",
                                      "options": "1"})
    new_id = await service.create_scorecard(manager, h.scorecard_data("employee", **mixed))
    new = await Scorecard.select().where(Scorecard.id == new_id).first().run()
    assert new["score"] == pytest.approx(75.0) and new["weight_set"] != old["weight_set"]
    again = await Scorecard.select().where(Scorecard.id == old_id).first().run()
    assert again["score"] == pytest.approx(50.0)
    page = await service.scorecard_page(manager, old_id)
    assert [c["weight"] for c in page["criteria"]] == [1] * 6, "the page shows the weights it was scored with"


@pytest.mark.parametrize("overrides, field, message", [
    ({"score_politeness": "7"}, "score_politeness", "Choose a score from 0 to 5, or N/A."),
    ({"score_culture": "-1"}, "score_culture", "Choose a score from 0 to 5, or N/A."),
    ({"score_options": ""}, "score_options", "Score this criterion, or mark it N/A."),
    ({"employee": "nobody@nowhere.test"}, "employee", "No one has this employee number or e-mail."),
    ({"employee": ""}, "employee", "Enter the employee's number or e-mail."),
    ({"link": "javascript:alert(1)"}, "link", "Enter a web address starting with http:// or https://"),
    ({"link": "ftp://calls.example.com/1"}, "link", "Enter a web address starting with http:// or https://"),
    ({"link": "https:///no-host"}, "link", "Enter a web address starting with http:// or https://"),
    ({"reference": "", "link": ""}, "reference", "Give a reference or a link to the recording or transcript."),
    ({"channel": "pigeon"}, "channel", "Choose a channel from the list."),
    ({"contact_on": "31.02.2025"}, "contact_on", "Enter a date such as 31.12.2025."),
    ({"contact_on": "2999-01-01"}, "contact_on", "The date cannot be in the future."),
    ({**{"score_" + c: "na" for c in CRITERIA}}, "__all__", "Score at least one criterion that has a weight above zero"),
])
async def test_bad_scorecards_are_refused_with_a_clear_message_and_nothing_is_saved(cast, rollback, overrides, field, message):
    before = await Scorecard.count().run()
    with pytest.raises(FormInvalid) as refused:
        await service.create_scorecard(cast.actor("manager"), h.scorecard_data("employee", **overrides))
    assert any(message in m for m in refused.value.errors[field]), refused.value.errors
    assert await Scorecard.count().run() == before


async def test_bad_input_is_explained_in_russian(cast, rollback):
    from servicechain.platform.i18n import use_language

    with use_language("ru"), pytest.raises(FormInvalid) as refused:
        await service.create_scorecard(cast.actor("manager"), h.scorecard_data("employee", score_politeness="9",
                                                                               link="mailto:x@y.z"))
    assert refused.value.errors["score_politeness"] == ["Выберите оценку от 0 до 5 или «н/п»."]
    assert "http://" in refused.value.errors["link"][0] and "Укажите" in refused.value.errors["link"][0]


async def test_who_may_score_whom(cast, rollback):
    with pytest.raises(Forbidden):  # reviews nobody at all
        await service.create_scorecard(cast.actor("employee"), h.scorecard_data("outsider"))
    with pytest.raises(FormInvalid) as outside:  # the warehouse is not in the manager's reach
        await service.create_scorecard(cast.actor("manager"), h.scorecard_data("outsider"))
    assert outside.value.errors["employee"] == ["You may score only the people you review."]
    with pytest.raises(FormInvalid) as own:
        await service.create_scorecard(cast.actor("hr"), h.scorecard_data("hr"))
    assert own.value.errors["employee"] == ["You may not score your own work."]
    assert await service.create_scorecard(cast.actor("hr"), h.scorecard_data("outsider"))  # HR reviews anyone


async def test_a_qa_reviewer_named_by_hr_scores_within_their_department_only(cast, rollback):
    outsider = cast.actor("outsider")  # an employee in the warehouse, made a reviewer of support
    with pytest.raises(Forbidden):
        await service.create_scorecard(outsider, h.scorecard_data("employee"))
    reviewer_id = await service.add_reviewer(cast.actor("hr"), {"person": "outsider@test.local",
                                                                "department": str(cast.departments["support"])})
    assert await _audited("quality.reviewer_added", reviewer_id) == 1
    card_id = await service.create_scorecard(outsider, h.scorecard_data("employee"))
    assert (await scorecard_for(outsider, card_id))["id"] == card_id
    with pytest.raises(FormInvalid):
        await service.create_scorecard(outsider, h.scorecard_data("admin"))  # the company level is not theirs
    with pytest.raises(FormInvalid) as twice:
        await service.add_reviewer(cast.actor("hr"), {"person": "outsider@test.local",
                                                      "department": str(cast.departments["support"])})
    assert twice.value.errors["person"] == ["This person already reviews this department."]
    await service.remove_reviewer(cast.actor("hr"), reviewer_id)
    with pytest.raises(Forbidden):
        await service.create_scorecard(outsider, h.scorecard_data("employee"))
    assert (await scorecard_for(outsider, card_id))["id"] == card_id, "a reviewer still sees what they wrote"


# --- seeing and answering -------------------------------------------------------------------------------


async def test_the_employee_and_their_manager_chain_see_a_scorecard_and_others_do_not(cast, rollback):
    card_id = await service.create_scorecard(cast.actor("manager"), h.scorecard_data("employee", 2))
    for who in ("employee", "manager", "ceo", "hr", "admin"):
        assert (await scorecard_for(cast.actor(who), card_id))["id"] == card_id, who
    with pytest.raises(NotFound):
        await scorecard_for(cast.actor("outsider"), card_id)
    mine = await service.list_scorecards(cast.actor("employee"), {}, mine=True)
    assert card_id in [s["id"] for s in mine["rows"]]
    others = await service.list_scorecards(cast.actor("outsider"), {})
    assert card_id not in [s["id"] for s in others["rows"]]
    team = await service.list_scorecards(cast.actor("manager"), {"department": str(cast.departments["support"]),
                                                                 "channel": "phone"})
    assert card_id in [s["id"] for s in team["rows"]]
    chat_only = await service.list_scorecards(cast.actor("manager"), {"channel": "chat"})
    assert card_id not in [s["id"] for s in chat_only["rows"]]
    month = (today() - timedelta(days=3)).strftime("%Y-%m")
    assert card_id in [s["id"] for s in (await service.list_scorecards(cast.actor("ceo"), {"month": month}))["rows"]]


async def test_the_employee_comments_in_one_thread_and_the_reviewer_is_told(cast, rollback):
    card_id = await service.create_scorecard(cast.actor("manager"), h.scorecard_data("employee", 2))
    await service.add_comment(cast.actor("employee"), card_id, {"body": "The customer hung up before I could offer options."})
    await service.add_comment(cast.actor("manager"), card_id, {"body": "Fair; let's listen to it together."})
    thread = (await service.scorecard_page(cast.actor("employee"), card_id))["comments"]
    assert [c["body"] for c in thread] == ["The customer hung up before I could offer options.", "Fair; let's listen to it together."]
    assert await Notification.count().where((Notification.person == cast.ids["manager"])
                                            & (Notification.link == f"/quality/scorecards/{card_id}")).run() == 1
    assert await _audited("quality.scorecard_commented", card_id) == 2
    with pytest.raises(FormInvalid) as empty:
        await service.add_comment(cast.actor("employee"), card_id, {"body": "   "})
    assert empty.value.errors["body"] == ["Write a comment first."]
    with pytest.raises(NotFound):
        await service.add_comment(cast.actor("outsider"), card_id, {"body": "Let me in"})
    assert await ScorecardComment.count().where(ScorecardComment.scorecard == card_id).run() == 2


# --- weights ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights, field, message", [
    ({c: "0" for c in CRITERIA}, "__all__", "At least one weight must be above zero"),
    ({**{c: "1" for c in CRITERIA}, "needs": "-1"}, "needs", "Enter a whole number from 0 to 100."),
    ({**{c: "1" for c in CRITERIA}, "options": "1.5"}, "options", "Enter a whole number from 0 to 100."),
    ({**{c: "1" for c in CRITERIA}, "culture": "101"}, "culture", "Enter a whole number from 0 to 100."),
])
async def test_bad_weights_are_refused_and_nothing_changes(cast, rollback, weights, field, message):
    before = await WeightSet.count().run()
    with pytest.raises(FormInvalid) as refused:
        await service.set_weights(cast.actor("admin"), weights)
    assert any(message in m for m in refused.value.errors[field])
    assert await WeightSet.count().run() == before


async def test_only_admins_set_weights(cast, rollback):
    for who in ("hr", "manager", "employee"):
        with pytest.raises(Forbidden):
            await service.set_weights(cast.actor(who), {c: "1" for c in CRITERIA})
    set_id = await service.set_weights(cast.actor("admin"), {c: "2" for c in CRITERIA})
    assert await _audited("quality.weights_changed", set_id) == 1


# --- checklists and audits ----------------------------------------------------------------------------------


async def test_hr_keeps_a_checklist_and_retires_items_that_audits_used(cast, rollback):
    hr = cast.actor("hr")
    checklist_id = await service.save_checklist(hr, None, h.checklist_data(location=cast.departments["warehouse"]))
    assert await _audited("quality.checklist_created", checklist_id) == 1
    items = await h.items_of(checklist_id)
    assert [(i["criterion"], i["kind"]) for i in items] == [("politeness", "yes_no"), ("needs", "scale"), ("options", "yes_no")]
    audit_id = await service.record_audit(hr, checklist_id, await h.audit_data(checklist_id, cast.departments["warehouse"],
                                                                               ["1", "3", "1"]))
    values = await service.checklist_values(hr, checklist_id)
    form = {"name_en": "Store visit v2", "name_ru": "Визит v2", "channel": "store", "active": "1", "location": "",
            **{f"item-{n}-{k}": str(v) for n, i in enumerate(values["items"]) for k, v in i.items()},
            "item-0-remove": "1", "item-5-text_en": "Knew the products", "item-5-text_ru": "Знал товар",
            "item-5-criterion": "knowledge", "item-5-kind": "scale"}
    await service.save_checklist(hr, checklist_id, form)
    assert [i["criterion"] for i in await h.items_of(checklist_id)] == ["needs", "options", "knowledge"]
    page = await service.audit_page(hr, audit_id)
    assert len(page["answers"]) == 3 and page["answers"][0]["text"] == "Greeted within a minute", "old audits keep their answers"
    assert await _audited("quality.checklist_changed", checklist_id) == 1


@pytest.mark.parametrize("overrides, field, message", [
    ({"name_ru": ""}, "name_ru", "Give the checklist a name in both languages."),
    ({"channel": "fax"}, "channel", "Choose a channel from the list."),
    ({"item-1-criterion": "charm"}, "item-1", "Choose the criterion the question checks."),
    ({"item-2-text_ru": ""}, "item-2", "Write the question in both languages."),
    ({"item-0-kind": "essay"}, "item-0", "Choose how the question is answered."),
    ({"item-0-remove": "1", "item-1-remove": "1", "item-2-remove": "1"}, "items", "Add at least one question."),
])
async def test_bad_checklists_are_refused_and_nothing_is_saved(cast, rollback, overrides, field, message):
    before = await Checklist.count().run()
    with pytest.raises(FormInvalid) as refused:
        await service.save_checklist(cast.actor("hr"), None, h.checklist_data(**overrides))
    assert message in refused.value.errors[field]
    assert await Checklist.count().run() == before


async def test_an_audit_scores_the_share_of_points_and_one_with_missing_answers_saves_nothing(cast, rollback):
    hr = cast.actor("hr")
    checklist_id = await service.save_checklist(hr, None, h.checklist_data())
    before = (await Audit.count().run(), await AuditAnswer.count().run())
    with pytest.raises(FormInvalid) as refused:
        await service.record_audit(hr, checklist_id, await h.audit_data(checklist_id, cast.departments["warehouse"], ["1"]))
    assert refused.value.errors["__all__"] == ["Answer every question: 2 not answered."]
    with pytest.raises(FormInvalid) as bad:
        await service.record_audit(hr, checklist_id, await h.audit_data(checklist_id, cast.departments["warehouse"],
                                                                        ["2", "9", "1"], shopper="", visited_on="yesterday"))
    assert set(bad.value.errors) >= {"shopper", "visited_on"} and len([k for k in bad.value.errors if k.startswith("answer-")]) == 2
    assert (await Audit.count().run(), await AuditAnswer.count().run()) == before
    audit_id = await service.record_audit(hr, checklist_id, await h.audit_data(checklist_id, cast.departments["warehouse"],
                                                                               ["1", "4", "0"]))
    row = await Audit.select().where(Audit.id == audit_id).first().run()
    assert row["score"] == pytest.approx(60.0)  # (1 + 0.8 + 0) / 3
    assert await _audited("quality.audit_recorded", audit_id) == 1


async def test_only_hr_admins_and_named_reviewers_record_audits(cast, rollback):
    checklist_id = await service.save_checklist(cast.actor("hr"), None, h.checklist_data())
    for who in ("manager", "employee", "ceo"):
        with pytest.raises(Forbidden):
            await service.audit_form_context(cast.actor(who), checklist_id)
    await service.add_reviewer(cast.actor("hr"), {"person": "T-006", "department": str(cast.departments["warehouse"])})
    context = await service.audit_form_context(cast.actor("outsider"), checklist_id)
    listed = {d["id"]: d["path"] for d in context["departments"]}
    warehouse = next(path for d, path in listed.items() if d == cast.departments["warehouse"])
    assert all(path.startswith(warehouse) for path in listed.values()), "only the warehouse and what is below it"
    with pytest.raises(FormInvalid) as elsewhere:
        await service.record_audit(cast.actor("outsider"), checklist_id,
                                   await h.audit_data(checklist_id, cast.departments["support"], ["1", "5", "1"]))
    assert "department" in elsewhere.value.errors


# --- figures -----------------------------------------------------------------------------------------------


async def test_figures_per_department_and_month_roll_up_the_tree(cast, rollback):
    manager, hr = cast.actor("manager"), cast.actor("hr")
    await service.set_weights(cast.actor("admin"), {c: "1" for c in CRITERIA})
    day = today().replace(day=1) - timedelta(days=400)  # a month no other test writes into
    month = day.strftime("%Y-%m")
    await service.create_scorecard(manager, h.scorecard_data("employee", 5, contact_on=day.isoformat()))
    await service.create_scorecard(manager, h.scorecard_data("employee", 3, contact_on=day.isoformat(), score_options="na"))
    checklist_id = await service.save_checklist(hr, None, h.checklist_data())
    await service.record_audit(hr, checklist_id, await h.audit_data(checklist_id, cast.departments["support.line1"],
                                                                    ["1", "5", "0"], visited_on=day.isoformat()))
    ids = [cast.departments[c] for c in ("support.line1", "support", "company", "warehouse")]
    figures = await service.monthly_by_department(day, day + timedelta(days=27), ids)
    line1 = figures[cast.departments["support.line1"]][month]
    assert line1["qa"]["n"] == 2 and line1["qa"]["score"] == pytest.approx(80.0)
    assert line1["qa"]["criteria"]["politeness"] == pytest.approx(80.0) and line1["qa"]["criteria"]["options"] == pytest.approx(100.0)
    assert line1["ms"]["n"] == 1 and line1["ms"]["score"] == pytest.approx(200 / 3, abs=0.1)
    assert line1["ms"]["criteria"]["politeness"] == 100.0 and line1["ms"]["criteria"]["options"] == 0.0
    assert line1["ms"]["criteria"]["knowledge"] is None
    assert figures[cast.departments["company"]][month] == line1 == figures[cast.departments["support"]][month]
    assert month not in figures[cast.departments["warehouse"]]
    period = await service.period_by_department(day, day + timedelta(days=27), [cast.departments["support"]])
    assert period[cast.departments["support"]]["qa"]["n"] == 2


async def test_the_department_page_is_for_its_heads_reviewers_and_those_who_read_all(cast, rollback):
    await service.create_scorecard(cast.actor("manager"), h.scorecard_data("employee", 4))
    page = await service.department_page(cast.actor("manager"), cast.departments["support"])
    assert page["period"]["qa"]["n"] >= 1 and len(page["trend"]) == 24 and "<circle" in page["chart"]
    assert (await service.department_page(cast.actor("ceo"), cast.departments["warehouse"]))["department"]["id"]
    for who, department in (("employee", "support.line1"), ("manager", "warehouse"), ("outsider", "warehouse")):
        with pytest.raises(Forbidden):
            await service.department_page(cast.actor(who), cast.departments[department])
