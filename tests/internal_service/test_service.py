"""Internal service without HTTP: catalogue, rounds, ratings and their refusals, follow-ups,
and the figures with their suppression."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.internal_service import service
from servicechain.internal_service.tables import FollowUp, InternalService, Rating, RatingRound
from servicechain.platform import db
from servicechain.platform.people.service import today
from servicechain.platform.people.tables import Department
from servicechain.platform.security import Forbidden, NotFound, utcnow
from servicechain.platform.tables import AuditEntry, Notification
from servicechain.platform.web import FormInvalid
from tests.internal_service import helpers as h


# --- catalogue ----------------------------------------------------------------------------------


async def test_a_head_lists_a_service_of_their_department_in_both_languages(cast, rollback):
    manager = cast.actor("manager")  # heads Customer support
    service_id = await service.save_service(manager, None, {
        "provider_id": str(cast.departments["support"]), "name_en": "Escalation help", "name_ru": "Помощь с эскалациями",
        "description_en": "We take over hard cases", "for_all": "", "audience": [str(cast.departments["warehouse"])],
    })
    row = await InternalService.select().where(InternalService.id == service_id).first().run()
    assert (row["name_en"], row["name_ru"], row["for_all"]) == ("Escalation help", "Помощь с эскалациями", False)
    assert await AuditEntry.count().where((AuditEntry.action == "internal_service.created")
                                          & (AuditEntry.object_id == str(service_id))).run() == 1
    listed = {s["id"]: s for s in await service.catalogue(cast.actor("employee"))}
    assert listed[service_id]["audience"] == ["Warehouse"] and not listed[service_id]["may_edit"]


async def test_a_head_cannot_list_services_of_another_department_and_nothing_is_saved(cast, rollback):
    before = await InternalService.count().run()
    with pytest.raises(FormInvalid) as refused:
        await service.save_service(cast.actor("manager"), None, {
            "provider_id": str(cast.departments["warehouse"]), "name_en": "Picking", "name_ru": "Сборка", "for_all": "1"})
    assert refused.value.errors["provider_id"] == ["You keep the catalogue of your own departments only."]
    with pytest.raises(Forbidden):
        await service.save_service(cast.actor("employee"), None, {"name_en": "x"})
    with pytest.raises(FormInvalid) as missing:
        await service.save_service(cast.actor("hr"), None, {"provider_id": str(cast.departments["warehouse"]),
                                                             "name_en": "", "name_ru": "", "for_all": ""})
    assert set(missing.value.errors) == {"name_en", "name_ru", "audience"}
    assert await InternalService.count().run() == before


async def test_only_heads_and_hr_change_a_service(cast, rollback):
    service_id = await h.service(cast.departments["warehouse"], "Order picking")
    with pytest.raises(Forbidden):
        await service.save_service(cast.actor("manager"), service_id, {"provider_id": str(cast.departments["warehouse"]),
                                                                        "name_en": "Mine", "name_ru": "Моё", "for_all": "1"})
    await service.save_service(cast.actor("hr"), service_id, {"provider_id": str(cast.departments["warehouse"]),
                                                               "name_en": "Order picking for delivery",
                                                               "name_ru": "Сборка заказов", "for_all": "1", "active": "1"})
    row = await InternalService.select().where(InternalService.id == service_id).first().run()
    assert row["name_en"] == "Order picking for delivery"


# --- rounds -------------------------------------------------------------------------------------


async def test_hr_launches_a_round_with_the_minimum_group_size_of_today(cast, rollback):
    await RatingRound.delete().where(RatingRound.id > 0).run()
    round_id = await service.launch_round(cast.actor("hr"), {"title": "Q4", "opens_on": today().isoformat(),
                                                             "closes_on": (today() + timedelta(days=14)).strftime("%d.%m.%Y")})
    row = await RatingRound.select().where(RatingRound.id == round_id).first().run()
    assert row["min_group_size"] == 5
    with pytest.raises(FormInvalid) as overlapping:
        await service.launch_round(cast.actor("hr"), {"title": "Again", "opens_on": today().isoformat(),
                                                      "closes_on": today().isoformat()})
    assert "overlap" in overlapping.value.errors["opens_on"][0]
    with pytest.raises(FormInvalid) as backwards:
        await service.launch_round(cast.actor("hr"), {"title": "Bad", "opens_on": "31.12.2099", "closes_on": "01.12.2099"})
    assert backwards.value.errors["closes_on"] == ["The round cannot close before it opens."]
    with pytest.raises(FormInvalid) as unreadable:
        await service.launch_round(cast.actor("hr"), {"title": "Bad", "opens_on": "32.13.2099", "closes_on": ""})
    assert unreadable.value.errors["opens_on"] == ["Write the date as 31.12.2025 or 2025-12-31."]
    assert unreadable.value.errors["closes_on"] == ["This date is required."]
    with pytest.raises(FormInvalid) as past:
        await service.launch_round(cast.actor("hr"), {"title": "Old", "opens_on": "01.01.2001", "closes_on": "01.02.2001"})
    assert past.value.errors["closes_on"] == ["The round would already be closed."]
    with pytest.raises(Forbidden):
        await service.launch_round(cast.actor("manager"), {"title": "No"})


async def test_the_round_list_shows_what_the_department_uses_with_progress(cast, rollback):
    await h.open_round()
    picking = await h.service(cast.departments["warehouse"], "Picking for support")
    own = await h.service(cast.departments["support"], "Support's own service")
    checklist = await service.round_checklist(cast.actor("employee"))  # works in support.line1
    ids = [i["id"] for i in checklist.items]
    assert picking in ids and own not in ids, "never one's own department's services (nor those above it)"
    before = checklist.done
    await service.rate(cast.actor("employee"), picking, h.scores(4))
    after = await service.round_checklist(cast.actor("employee"))
    assert after.done == before + 1 and after.total == checklist.total
    await h.service(cast.departments["warehouse"], "Left to rate")
    reminder = await service.reminder(cast.actor("employee"))
    assert reminder is not None and reminder.done == after.done and reminder.total == after.total + 1


async def test_hr_closes_a_round_early_and_it_refuses_ratings_from_then_on(cast, rollback):
    round_id = await h.open_round()
    svc = await h.service(cast.departments["warehouse"], "Closing early")
    with pytest.raises(Forbidden):
        await service.close_round(cast.actor("manager"), round_id)
    await service.close_round(cast.actor("hr"), round_id)
    row = await RatingRound.select().where(RatingRound.id == round_id).first().run()
    assert row["closed_at"] is not None and row["closes_on"] <= today()
    entry = await AuditEntry.select().where((AuditEntry.action == "internal_service.round_closed")
                                            & (AuditEntry.object_id == str(round_id))).first().run()
    assert entry is not None
    assert await service.current_round() is None and await service.reminder(cast.actor("employee")) is None
    assert [r["state"] for r in await service.list_rounds(cast.actor("hr")) if r["id"] == round_id] == ["closed"]
    with pytest.raises(FormInvalid) as refused:  # the form was opened before HR closed the round
        await service.rate(cast.actor("employee"), svc, h.scores(4, round_id=round_id))
    assert refused.value.errors["__all__"] == ["This survey round is closed; ratings are no longer accepted."]
    assert await Rating.count().where(Rating.service == svc).run() == 0
    with pytest.raises(FormInvalid) as again:
        await service.close_round(cast.actor("hr"), round_id)
    assert again.value.errors["__all__"] == ["This round is already closed."]
    with pytest.raises(NotFound):
        await service.close_round(cast.actor("hr"), 999_999)


async def test_a_planned_round_closed_before_it_opens_leaves_its_dates_free(cast, rollback):
    await RatingRound.delete().where(RatingRound.id > 0).run()
    start, end = today() + timedelta(days=10), today() + timedelta(days=20)
    planned = await service.launch_round(cast.actor("hr"), {"title": "Planned", "opens_on": start.isoformat(),
                                                            "closes_on": end.isoformat()})
    await service.close_round(cast.actor("hr"), planned)
    again = await service.launch_round(cast.actor("hr"), {"title": "Instead", "opens_on": start.isoformat(),
                                                          "closes_on": end.isoformat()})
    assert again != planned


# --- ratings and their refusals -----------------------------------------------------------------


async def test_one_rating_per_person_service_and_round(cast, rollback):
    await h.open_round()
    svc = await h.service(cast.departments["warehouse"], "Returns")
    await service.rate(cast.actor("employee"), svc, h.scores(5))
    count = await Rating.count().run()
    with pytest.raises(FormInvalid) as again:
        await service.rate(cast.actor("employee"), svc, h.scores(3))
    assert again.value.errors["__all__"] == ["You have already rated this service in this round."]
    assert await Rating.count().run() == count


async def test_one_rating_per_person_service_and_request(cast, rollback):
    svc = await h.service(cast.departments["warehouse"], "Urgent delivery")
    await service.rate(cast.actor("employee"), svc, h.scores(4, request_ref="REQ-1"))
    await service.rate(cast.actor("employee"), svc, h.scores(4, request_ref="REQ-2"))
    with pytest.raises(FormInvalid) as again:
        await service.rate(cast.actor("employee"), svc, h.scores(1, request_ref="REQ-1"))
    assert again.value.errors["__all__"] == ["You have already rated this request."]
    assert await Rating.count().where(Rating.service == svc).run() == 2


async def test_rating_ones_own_department_is_refused(cast, rollback):
    await h.open_round()
    own = await h.service(cast.departments["support"], "Support's scripts")
    with pytest.raises(FormInvalid) as refused:
        await service.rate(cast.actor("employee"), own, h.scores(5))  # support.line1 is inside support
    assert refused.value.errors["__all__"] == ["You cannot rate a service of your own department."]
    assert await Rating.count().where(Rating.service == own).run() == 0


async def test_a_score_out_of_range_is_refused(cast, rollback):
    await h.open_round()
    svc = await h.service(cast.departments["warehouse"], "Packing")
    with pytest.raises(FormInvalid) as refused:
        await service.rate(cast.actor("employee"), svc, {**h.scores(4), "overall": "6", "speed": "0", "quality": "x"})
    assert refused.value.errors["overall"] == ["Choose a score from 1 to 5."]
    assert set(refused.value.errors) >= {"overall", "speed", "quality"}
    assert await Rating.count().where(Rating.service == svc).run() == 0


async def test_a_closed_round_refuses_ratings(cast, rollback):
    svc = await h.service(cast.departments["warehouse"], "Stocktake")
    closed = await h.closed_round()
    with pytest.raises(FormInvalid) as refused:
        await service.rate(cast.actor("employee"), svc, h.scores(4, round_id=closed))
    assert refused.value.errors["__all__"] == ["This survey round is closed; ratings are no longer accepted."]
    assert await Rating.count().where(Rating.service == svc).run() == 0


async def test_a_department_that_does_not_receive_the_service_cannot_rate_it(cast, rollback):
    await h.open_round()
    svc = await h.service(cast.departments["warehouse"], "Forklift training", for_all=False)
    with pytest.raises(FormInvalid) as refused:
        await service.rate(cast.actor("employee"), svc, h.scores(4))
    assert refused.value.errors["__all__"] == ["Your department does not receive this service."]


# --- follow-ups ---------------------------------------------------------------------------------


async def test_a_low_rating_opens_a_follow_up_that_never_names_the_rater(cast, rollback):
    svc = await h.service(cast.departments["support"], "Answering the warehouse")
    rating_id = await service.rate(cast.actor("outsider"), svc, h.scores(2, comment="Nobody answered", request_ref="T-77"))
    follow_up = await FollowUp.select().where(FollowUp.rating == rating_id).first().run()
    assert follow_up["status"] == "open" and follow_up["provider_department"] == cast.departments["support"]
    card = await service.follow_up_card(cast.actor("manager"), follow_up["id"])
    assert card["scores"]["overall"] == 2
    assert card["comment"] is None and card["request_ref"] is None, "no consent: no comment, no request"
    assert "rater" not in card and "Склад" not in str(card)
    listed = await service.follow_ups(cast.actor("manager"))
    assert follow_up["id"] in [f["id"] for f in listed]
    with pytest.raises(NotFound):
        await service.follow_up_card(cast.actor("hr"), follow_up["id"])  # the department's to fix, not HR's


async def test_with_consent_the_head_sees_the_comment_and_request(cast, rollback):
    svc = await h.service(cast.departments["support"], "Callbacks")
    rating_id = await service.rate(cast.actor("outsider"), svc, h.scores(1, comment="Lost my order", request_ref="T-78",
                                                                          may_contact="1"))
    follow_up = await FollowUp.select().where(FollowUp.rating == rating_id).first().run()
    card = await service.follow_up_card(cast.actor("manager"), follow_up["id"])
    assert (card["comment"], card["request_ref"]) == ("Lost my order", "T-78")


async def test_resolving_a_follow_up_tells_the_rater_only(cast, rollback):
    svc = await h.service(cast.departments["support"], "Hand-over of complaints")
    rating_id = await service.rate(cast.actor("outsider"), svc, h.scores(2, request_ref="T-79"))
    follow_up = await FollowUp.select().where(FollowUp.rating == rating_id).first().run()
    with pytest.raises(FormInvalid) as empty:
        await service.resolve_follow_up(cast.actor("manager"), follow_up["id"], {"response": "", "resolution": ""})
    assert set(empty.value.errors) == {"response", "resolution"}
    await service.resolve_follow_up(cast.actor("manager"), follow_up["id"],
                                    {"response": "The queue was unstaffed", "resolution": "A second person on Mondays"})
    row = await FollowUp.select().where(FollowUp.id == follow_up["id"]).first().run()
    assert row["status"] == "resolved" and row["resolved_by"] == cast.ids["manager"]
    told = await Notification.select().where(Notification.person == cast.ids["outsider"]).run()
    assert any("A second person on Mondays" in n["text"] for n in told)
    entry = await AuditEntry.select().where((AuditEntry.action == "internal_service.follow_up_resolved")
                                            & (AuditEntry.object_id == str(follow_up["id"]))).first().run()
    assert "Склад" not in str(entry) and str(cast.ids["outsider"]) not in str(entry.get("details", ""))
    with pytest.raises(FormInvalid):
        await service.resolve_follow_up(cast.actor("manager"), follow_up["id"], {"response": "a", "resolution": "b"})


# --- figures ------------------------------------------------------------------------------------


async def _tree(cast):
    """Raters: A with A1 (2 people), A2 (6) and A3 (7) below it; provider P with one service, alone
    under a division of its own (so small figures other tests leave under the company never pick
    P as their complement)."""
    a = await h.department("Raters", cast.departments["company"])
    a1, a2, a3 = [await h.department(n, a) for n in ("A1", "A2", "A3")]
    p = await h.department("Provider", await h.department("Provider division", cast.departments["company"]))
    svc = await h.service(p, "Provider's help")
    groups = {a1: await h.people(a1, 2), a2: await h.people(a2, 6), a3: await h.people(a3, 7)}
    await h.ratings(svc, [(person, dept, 2 if dept == a1 else 4) for dept, ids in groups.items() for person in ids])
    await h.decoy(cast)
    return a, (a1, a2, a3), p, svc


async def test_the_matrix_hides_small_cells_and_a_complement_so_subtraction_fails(cast, rollback):
    a, (a1, a2, a3), p, _svc = await _tree(cast)
    division = (await Department.select(Department.parent).where(Department.id == p).first().run())["parent"]
    m = await service.matrix(cast.actor("hr"), a, division)
    col = next(i for i, c in enumerate(m["cols"]) if c["id"] == p)
    cells = {r["id"]: r["cells"][col] for r in m["rows"]}
    assert cells[a1]["hidden"], "two people: hidden"
    total = m["totals"][col]
    if not total["hidden"]:
        # total − the shown cells must not give A1 back: another cell with at least the
        # minimum people behind it is hidden with it
        assert cells[a2]["hidden"] or cells[a3]["hidden"]
        shown = sum(c["count"] for c in cells.values() if not c["hidden"] and c["count"])
        assert total["count"] - shown >= 2 + 6
    for d, n in ((a2, 6), (a3, 7)):
        assert cells[d]["hidden"] or (cells[d]["count"] == n and cells[d]["mean"] == 4)
    # The level above shows the same total as a cell: the same figure, the same decision.
    top = await service.matrix(cast.actor("hr"), cast.departments["company"], m["provider_node"])
    top_col = next(i for i, c in enumerate(top["cols"]) if c["id"] == p)
    row = next(r for r in top["rows"] if r["id"] == a)
    assert row["cells"][top_col] == total and row["drill"]
    # and the scorecard and the index read the same decision
    card = await service.scorecard(cast.actor("hr"), p)
    assert card["period"] == (await service.matrix(cast.actor("hr"), cast.departments["company"],
                                                   m["provider_node"]))["totals"][top_col]


async def test_a_rounds_matrix_hides_a_figure_the_12_months_would_give_back_by_difference(cast, rollback):
    raters_division = await h.department("Round raters", cast.departments["company"])
    x = await h.department("X", raters_division)
    q = await h.department("Q", await h.department("Round providers", cast.departments["company"]))
    svc = await h.service(q, "Q's help")
    people = await h.people(x, 12)
    async with db.write():
        row = RatingRound(title="Last month", opens_on=today() - timedelta(days=20), closes_on=today() - timedelta(days=1),
                          min_group_size=5, created_at=utcnow())
        await row.save().run()
    await h.ratings(svc, [(p, x, 4) for p in people[:6]], round_id=row.id)
    await h.ratings(svc, [(people[6], x, 1)])  # one request rated outside the round
    q_division = (await Department.select(Department.parent).where(Department.id == q).first().run())["parent"]

    def cell(m):
        col = next(i for i, c in enumerate(m["cols"]) if c["id"] == q)
        return next(r for r in m["rows"] if r["id"] == x)["cells"][col]

    year = await service.matrix(cast.actor("hr"), raters_division, q_division)
    assert cell(year)["count"] == 7, "the 12 months: seven people"
    in_round = await service.matrix(cast.actor("hr"), raters_division, q_division, round_id=row.id)
    assert in_round["round"]["id"] == row.id and in_round["since"] == row.opens_on
    assert cell(in_round)["hidden"], "six people, but the 12 months minus the round is one person's rating"
    await h.ratings(svc, [(p, x, 5) for p in people[7:12]])  # five more outside the round: six people
    assert cell(await service.matrix(cast.actor("hr"), raters_division, q_division, round_id=row.id))["count"] == 6
    with pytest.raises(NotFound):
        await service.matrix(cast.actor("hr"), round_id=999_999)
    assert row.id in [p["id"] for p in await service.matrix_periods(cast.actor("hr"))]


async def test_the_matrix_is_for_those_who_lead_people(cast, rollback):
    with pytest.raises(Forbidden):
        await service.matrix(cast.actor("employee"))
    with pytest.raises(NotFound):
        await service.matrix(cast.actor("hr"), 999_999, None)


async def test_scorecard_index_and_comments_respect_the_minimum(cast, rollback):
    a, (a1, a2, a3), p, svc = await _tree(cast)
    card = await service.scorecard(cast.actor("hr"), p)
    assert card["period"]["count"] == 15 and not card["period"]["hidden"]
    assert card["index"] == service.index_of(card["period"]["mean"])
    this_month = card["trend"][-1]
    assert this_month["count"] == 15
    assert [c["name"] for c in card["criteria"]] == ["speed", "quality", "courtesy", "willingness"]
    await Rating.update({Rating.comment: "Always ready to help"}).where(Rating.service == svc).run()
    with_comments = await service.scorecard(cast.actor("hr"), p)
    assert with_comments["comments"] == [("Always ready to help", 15)], "comments without names, above the minimum"
    assert "Оценщик" not in str(with_comments)
    index = await service.service_index([p, a, a1, a2, a3])
    assert index[p]["given"] == {"index": card["index"], "ratings": 15, "suppressed": False}
    this_month = index[p]["months"][-1]
    assert this_month["month"] == today().strftime("%Y-%m") and this_month["given"]["ratings"] == 15
    assert index[p]["received"]["ratings"] == 0, "nobody in the provider rated anything"
    assert index[a]["received"] == {"index": service.index_of(56 / 15), "ratings": 15, "suppressed": False}
    assert index[a1]["received"]["suppressed"], "two raters: hidden"
    assert index[a3]["received"]["ratings"] in (7, None), "shown as it is, or hidden with A1 so A − A2 − A3 fails"
    assert index[a2]["received"]["suppressed"] or index[a3]["received"]["suppressed"]
    assert index[a]["months"][-1]["received"]["ratings"] == 15 and len(index[a]["months"]) == 24
    # A department rated by too few people shows nothing, and no comments.
    lonely = await h.department("Lonely provider", await h.department("Lonely division", cast.departments["company"]))
    lonely_service = await h.service(lonely, "Rarely used")
    raters = await h.people(a1, 3)
    await h.ratings(lonely_service, [(r, a1, 5) for r in raters])
    await Rating.update({Rating.comment: "Only three of us said this"}).where(Rating.service == lonely_service).run()
    small = await service.scorecard(cast.actor("hr"), lonely)
    assert small["period"]["hidden"] and small["comments"] == [] and small["comments_withheld"]
    assert small["index"] is None and all(c["mean"] is None for c in small["criteria"])
    assert (await service.service_index([lonely]))[lonely]["given"] == {"index": None, "ratings": None, "suppressed": True}


async def test_the_scorecard_breaks_the_figure_down_by_service_without_giving_a_small_one_back(cast, rollback):
    a, (a1, a2, a3), p, svc = await _tree(cast)
    second = await h.service(p, "Rarely asked")
    few = await h.people(a3, 2)
    await h.ratings(second, [(r, a3, 1) for r in few])
    card = await service.scorecard(cast.actor("hr"), p)
    assert card["period"]["count"] == 17 and not card["period"]["hidden"]
    rows = {v["id"]: v for v in card["services"]}
    assert rows[second]["hidden"], "two people: hidden"
    assert rows[svc]["hidden"], "or the department's 17 ratings minus this service's 15 give the two back"
    assert all(c is None for c in rows[svc]["criteria"].values())
    more = await h.people(a2, 5)
    await h.ratings(second, [(r, a2, 3) for r in more])
    rows = {v["id"]: v for v in (await service.scorecard(cast.actor("hr"), p))["services"]}
    assert (rows[svc]["count"], rows[second]["count"]) == (15, 7) and not rows[second]["hidden"]
    assert rows[second]["criteria"]["speed"] == (2 * 1 + 5 * 3) / 7
    assert rows[svc]["name"] == "Provider's help" and rows[svc]["provider"] == "Provider"
    quarters = rows[svc]["quarters"]
    assert len(quarters) == 4 and quarters[-1]["count"] == 15 and not any(q["count"] for q in quarters[:-1])
    # The division above shows the same services with the same figures.
    division = (await Department.select(Department.parent).where(Department.id == p).first().run())["parent"]
    above = {v["id"]: v for v in (await service.scorecard(cast.actor("hr"), division))["services"]}
    assert above[svc]["count"] == 15 and above[second]["count"] == 7


async def test_a_department_hidden_as_a_complement_hides_its_only_child_too(cast, rollback):
    """Under one group: a division whose only department provides a service rated by six
    people, and a small provider rated by two. The division's figure is its only child's: the
    same ratings, so whatever is decided for one is decided for the other, on every page."""
    group = await h.department("Only-child group", cast.departments["company"])
    division = await h.department("Only-child division", group)
    child = await h.department("Only child", division)
    raters = await h.department("Only raters", cast.departments["company"])
    await h.ratings(await h.service(child, "Only service"), [(r, raters, 4) for r in await h.people(raters, 6)])
    small = await h.department("Small provider", group)
    await h.ratings(await h.service(small, "Small service"), [(r, raters, 2) for r in await h.people(raters, 2)])
    index = await service.service_index([group, division, child, small])
    assert index[small]["given"]["suppressed"]
    assert index[division]["given"] == index[child]["given"]
    assert index[division]["months"][-1]["given"] == index[child]["months"][-1]["given"], "and so is its month"
    if not index[group]["given"]["suppressed"]:
        assert index[division]["given"]["suppressed"], "or the group minus the division gives the small one back"
    card = await service.scorecard(cast.actor("hr"), child)
    assert card["period"]["hidden"] == index[child]["given"]["suppressed"]
    assert card["trend"][-1]["hidden"] == index[child]["months"][-1]["given"]["suppressed"]


async def test_an_employee_sees_no_scorecard_but_the_head_does(cast, rollback):
    with pytest.raises(Forbidden):
        await service.scorecard(cast.actor("employee"), cast.departments["warehouse"])
    card = await service.scorecard(cast.actor("ceo"), cast.departments["warehouse"])
    assert card["department"]["id"] == cast.departments["warehouse"]


async def test_a_periods_decision_is_made_once_per_summary_version_and_again_after_a_rating(cast, rollback, monkeypatch):
    a, (a1, a2, a3), p, svc = await _tree(cast)
    made = []
    real = service.Universe.__init__

    def counted(self, *args, **kwargs):
        made.append(self)
        real(self, *args, **kwargs)

    monkeypatch.setattr(service.Universe, "__init__", counted)
    service._figures.clear()
    await service.matrix(cast.actor("hr"))
    await service.scorecard(cast.actor("hr"), p)
    await service.matrix(cast.actor("hr"), a)
    assert len(made) == 1, "the matrix, its drill-down and the scorecard read one decision"
    await h.ratings(svc, [(person, a1, 5) for person in await h.people(a1, 3)])
    card = await service.scorecard(cast.actor("hr"), p)
    # Inside this test's transaction nothing is stored, so the page decides (as on a fresh
    # database); test_stored_decision covers the worker's job and the stored figures.
    assert card["period"]["count"] == 18, "a new rating: new inputs, a new decision"
    assert len(made) == 2
