"""Goals without HTTP, each test inside a rolled-back transaction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from servicechain.goals import service
from servicechain.goals.tables import CheckIn, Goal
from servicechain.platform.security import Forbidden, NotFound
from servicechain.platform.tables import AuditEntry
from servicechain.platform.web import DomainError, FormInvalid
from tests.goals.helpers import goal_data, make_cascade, this_quarter

pytestmark = pytest.mark.usefixtures("rollback")


async def goal_count() -> int:
    return await Goal.count().run()


async def refused(actor, data) -> dict[str, list[str]]:
    before = await goal_count()
    with pytest.raises(FormInvalid) as caught:
        await service.create_goal(actor, data)
    assert await goal_count() == before  # nothing was written
    return caught.value.errors


# --- SMART, letter by letter ---------------------------------------------------------------------


async def test_a_goal_without_a_title_or_description_says_it_is_not_specific(cast):
    errors = await refused(cast.actor("employee"), goal_data(cast, title="", description="short", standalone_reason="Team pilot"))
    assert errors["title"][0].startswith("S — specific")
    assert errors["description"][0].startswith("S — specific")


@pytest.mark.parametrize("field, value, fragment", [
    ("metric", "", "say what is measured"),
    ("unit", "", "give the unit"),
    ("baseline", "", "the value the goal starts from"),
    ("target", "", "enter the target value"),
    ("target", "90", "the target equals the baseline"),
    ("target", "120", "should go down, but the target is above the baseline"),
])
async def test_a_goal_that_cannot_be_measured_says_so_under_m(cast, field, value, fragment):
    errors = await refused(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot", **{field: value}))
    assert errors[field][0].startswith("M — measurable")
    assert fragment in errors[field][0]


async def test_an_upward_goal_with_a_lower_target_is_refused(cast):
    errors = await refused(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot", direction="up"))
    assert "should go up, but the target is below the baseline" in errors["target"][0]


async def test_a_non_numeric_target_gets_a_clear_message(cast):
    errors = await refused(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot", target="thirty"))
    assert errors["target"] == ["Enter a number, e.g. 12 or 12,5."]


async def test_a_goal_without_parent_or_reason_is_not_relevant(cast):
    errors = await refused(cast.actor("employee"), goal_data(cast))
    assert errors["parent_id"][0].startswith("R — relevant")
    assert errors["standalone_reason"][0].startswith("R — relevant")


async def test_a_parent_must_be_one_level_up(cast):
    goals = await make_cascade(cast)
    errors = await refused(cast.actor("employee"), goal_data(cast, parent_id=str(goals["company"])))
    assert errors["parent_id"][0].startswith("R — relevant: a department goal is aligned to a company goal")


async def test_a_deadline_outside_the_cycle_is_not_time_bound(cast):
    _code, _start, end = this_quarter()
    errors = await refused(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot",
                                                              deadline=(end + timedelta(days=1)).isoformat()))
    assert errors["deadline"][0].startswith("T — time-bound: the date must lie inside the cycle")


async def test_a_date_in_another_format_gets_a_clear_message(cast):
    errors = await refused(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot", starts_on="2025/31/12"))
    assert errors["starts_on"] == ["Write the date as 31.12.2025 or 2025-12-31."]


async def test_a_company_goal_needs_no_parent_and_an_employee_cannot_set_one(cast):
    data = goal_data(cast, "company", baseline="40", target="60", direction="up")
    goal_id = await service.create_goal(cast.actor("ceo"), data)
    assert (await Goal.select(Goal.status).where(Goal.id == goal_id).first().run())["status"] == "draft"
    errors = await refused(cast.actor("employee"), data)
    assert "Only executives, HR and administrators" in errors["level"][0]


async def test_an_employee_cannot_set_goals_for_someone_outside_their_reach(cast):
    errors = await refused(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot",
                                                              owner_person_id=str(cast.ids["outsider"])))
    assert "only for yourself and the people you manage" in errors["owner_person_id"][0]


async def test_a_department_goal_is_set_by_its_head_not_by_a_member(cast):
    data = goal_data(cast, "department", standalone_reason="Pilot of the new queue")
    assert await service.create_goal(cast.actor("manager"), data)
    errors = await refused(cast.actor("employee"), data)
    assert "department's head" in errors["owner_department_id"][0]


# --- A: who moves a goal along ---------------------------------------------------------------------


async def test_the_owner_proposes_and_the_manager_agrees(cast):
    employee, manager = cast.actor("employee"), cast.actor("manager")
    goal_id = await service.create_goal(employee, goal_data(cast, standalone_reason="Team pilot"))
    with pytest.raises(DomainError) as caught:
        await service.change_status(manager, goal_id, "proposed")
    assert caught.value.status_code == 403 and "A — achievable" in caught.value.message
    assert await service.change_status(employee, goal_id, "proposed") == "proposed"
    with pytest.raises(DomainError) as caught:
        await service.change_status(employee, goal_id, "agreed")
    assert "cannot agree their own goal" in caught.value.message
    assert await service.change_status(manager, goal_id, "agreed") == "agreed"
    row = await Goal.select(Goal.status, Goal.agreed_by).where(Goal.id == goal_id).first().run()
    assert row == {"status": "agreed", "agreed_by": cast.ids["manager"]}
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).where(
        (AuditEntry.object_type == "goal") & (AuditEntry.object_id == str(goal_id))).order_by(AuditEntry.seq).run()]
    assert actions == ["goal.create", "goal.proposed", "goal.agreed"]


async def test_an_impossible_transition_is_refused_and_changes_nothing(cast):
    employee = cast.actor("employee")
    goal_id = await service.create_goal(employee, goal_data(cast, standalone_reason="Team pilot"))
    with pytest.raises(DomainError) as caught:
        await service.change_status(cast.actor("manager"), goal_id, "achieved")
    assert caught.value.status_code == 409
    assert "cannot become" in caught.value.message
    assert (await Goal.select(Goal.status).where(Goal.id == goal_id).first().run())["status"] == "draft"


async def test_another_teams_person_goal_is_not_found_for_an_outsider(cast):
    goal_id = await service.create_goal(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot"))
    with pytest.raises(NotFound):
        await service.goal_page(cast.actor("outsider"), goal_id)
    with pytest.raises(NotFound):
        await service.change_status(cast.actor("outsider"), goal_id, "cancelled")
    assert (await service.goal_page(cast.actor("hr"), goal_id))["goal"]["id"] == goal_id


async def test_everyone_sees_company_goals_but_may_not_change_them(cast):
    goals = await make_cascade(cast)
    page = await service.goal_page(cast.actor("outsider"), goals["company"])
    assert page["moves"] == [] and not page["may_check_in"]
    with pytest.raises(Forbidden):
        await service.add_check_in(cast.actor("outsider"), goals["company"], {"value": "50", "confidence": "on_track"})


async def test_an_agreed_goal_cannot_be_edited(cast):
    goals = await make_cascade(cast)
    with pytest.raises(DomainError) as caught:
        await service.update_goal(cast.actor("manager"), goals["person"], goal_data(cast, parent_id=str(goals["department"])))
    assert caught.value.status_code == 409


async def test_the_owner_editing_a_proposal_returns_it_to_draft(cast):
    employee = cast.actor("employee")
    goal_id = await service.create_goal(employee, goal_data(cast, standalone_reason="Team pilot"))
    await service.change_status(employee, goal_id, "proposed")
    await service.update_goal(employee, goal_id, goal_data(cast, standalone_reason="Team pilot", title="Much faster replies"))
    row = await Goal.select(Goal.status, Goal.title).where(Goal.id == goal_id).first().run()
    assert row == {"status": "draft", "title": "Much faster replies"}


# --- the maths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("baseline, target, value, expected", [
    (0, 100, 50, 50.0), (0, 100, 150, 100.0), (0, 100, -10, 0.0),
    (90, 30, 60, 50.0), (90, 30, 100, 0.0), (90, 30, 10, 100.0), (10, 20, None, 0.0),
])
def test_progress_runs_from_baseline_to_target_in_either_direction(baseline, target, value, expected):
    assert service.progress_of(baseline, target, value) == pytest.approx(expected)


def test_expected_progress_follows_elapsed_time():
    start, end = date(2026, 1, 1), date(2026, 1, 11)
    assert service.expected_progress(start, end, date(2025, 12, 31)) == 0
    assert service.expected_progress(start, end, date(2026, 1, 6)) == pytest.approx(50)
    assert service.expected_progress(start, end, date(2026, 2, 1)) == 100


def test_a_goal_behind_schedule_or_not_on_track_is_at_risk():
    goal = {"status": "agreed", "starts_on": date(2026, 1, 1), "deadline": date(2026, 1, 11), "progress": 40.0, "confidence": "on_track"}
    assert not service.is_at_risk(goal, date(2026, 1, 6))  # 10 points behind: within the margin
    assert service.is_at_risk({**goal, "progress": 30.0}, date(2026, 1, 6))  # 20 behind
    assert service.is_at_risk({**goal, "confidence": "at_risk"}, date(2026, 1, 2))
    assert not service.is_at_risk({**goal, "status": "draft", "progress": 0.0}, date(2026, 1, 10))


def test_roll_up_is_weighted():
    assert service.rolled_up([(100.0, 3), (0.0, 1)]) == pytest.approx(75.0)
    assert service.rolled_up([]) == 0.0


async def test_a_check_in_moves_the_goal_and_rolls_up_to_its_ancestors(cast):
    goals = await make_cascade(cast)
    manager, employee = cast.actor("manager"), cast.actor("employee")
    # A second person goal under the department goal, weight 3, at 100 %.
    other = await service.create_goal(manager, goal_data(cast, owner_person_id=str(cast.ids["manager"]),
                                                         parent_id=str(goals["department"]), weight="3"))
    await service.change_status(manager, other, "proposed")
    await service.change_status(cast.actor("ceo"), other, "agreed")
    await service.add_check_in(employee, goals["person"], {"value": "75", "confidence": "on_track", "comment": "halfway"})
    await service.add_check_in(manager, other, {"value": "30", "confidence": "on_track"})
    progress = {r["id"]: r["progress"] for r in await Goal.select(Goal.id, Goal.progress).where(Goal.id.is_in(list(goals.values()) + [other])).run()}
    assert progress[goals["person"]] == pytest.approx(50.0)  # 100 → 50, now 75
    assert progress[other] == pytest.approx(100.0)
    assert progress[goals["department"]] == pytest.approx((50 * 1 + 100 * 3) / 4)
    assert progress[goals["company"]] == pytest.approx((50 * 1 + 100 * 3) / 4)
    assert await CheckIn.count().where(CheckIn.goal == goals["person"]).run() == 1


async def test_a_bad_check_in_is_refused_with_messages_and_records_nothing(cast):
    goals = await make_cascade(cast)
    future = (service.today() + timedelta(days=3)).isoformat()
    with pytest.raises(FormInvalid) as caught:
        await service.add_check_in(cast.actor("employee"), goals["person"], {"value": "-", "confidence": "sure", "taken_on": future})
    assert caught.value.errors == {
        "value": ["Enter a number, e.g. 12 or 12,5."],
        "confidence": ["Choose on track, at risk or off track."],
        "taken_on": ["A check-in cannot be dated in the future."],
    }
    assert await CheckIn.count().where(CheckIn.goal == goals["person"]).run() == 0


async def test_check_ins_are_only_for_agreed_goals(cast):
    goal_id = await service.create_goal(cast.actor("employee"), goal_data(cast, standalone_reason="Team pilot"))
    with pytest.raises(DomainError) as caught:
        await service.add_check_in(cast.actor("employee"), goal_id, {"value": "50", "confidence": "on_track"})
    assert caught.value.status_code == 409


async def test_an_agreed_goal_without_a_check_in_for_two_weeks_is_a_reminder(cast):
    goals = await make_cascade(cast)
    started = service.today() - timedelta(days=20)
    await Goal.update({Goal.starts_on: started}).where(Goal.id.is_in([goals["person"], goals["department"]])).run()

    async def due(who: str) -> list[int]:  # other tests leave goals behind: look past the home page's ten
        return [g["id"] for g in await service.overdue_check_ins(cast.actor(who), limit=10_000)]

    assert goals["person"] in await due("employee")
    assert goals["department"] in await due("manager")  # the head of the department is reminded of its goal
    assert goals["person"] not in await due("manager")  # reminders go to owners, not to their managers
    await service.add_check_in(cast.actor("employee"), goals["person"], {"value": "80", "confidence": "at_risk"})
    assert goals["person"] not in await due("employee")


# --- carry-over and views ---------------------------------------------------------------------------


async def test_an_unfinished_goal_is_carried_into_the_next_cycle_once(cast):
    goals = await make_cascade(cast)
    await service.add_check_in(cast.actor("employee"), goals["person"], {"value": "80", "confidence": "at_risk"})
    company_copy = await service.carry_over(cast.actor("ceo"), goals["company"])
    department_copy = await service.carry_over(cast.actor("manager"), goals["department"])
    copy_id = await service.carry_over(cast.actor("employee"), goals["person"])
    copy = await Goal.select().where(Goal.id == copy_id).first().run()
    _code, _start, end = this_quarter()
    next_code, next_start, next_end = service.quarter_of(end + timedelta(days=1))
    assert (copy["status"], copy["baseline"], copy["target"], copy["starts_on"], copy["deadline"], copy["carried_from"]) == (
        "draft", 80.0, 50.0, next_start, next_end, goals["person"])
    assert copy["parent"] == department_copy
    assert (await Goal.select(Goal.parent).where(Goal.id == department_copy).first().run())["parent"] == company_copy
    with pytest.raises(DomainError):
        await service.carry_over(cast.actor("employee"), goals["person"])


async def test_a_goal_carried_without_its_parent_stands_alone_with_a_reason(cast):
    goals = await make_cascade(cast)
    copy_id = await service.carry_over(cast.actor("manager"), goals["person"])
    copy = await Goal.select(Goal.parent, Goal.standalone_reason).where(Goal.id == copy_id).first().run()
    assert copy["parent"] is None and copy["standalone_reason"].startswith("Carried over from Q")


async def test_the_tree_shows_each_level_only_to_those_who_may_see_it(cast):
    goals = await make_cascade(cast)
    cycle = (await Goal.select(Goal.cycle).where(Goal.id == goals["company"]).first().run())["cycle"]
    first = {g["id"]: g for g in await service.tree_level(cast.actor("outsider"), cycle)}
    # Counts are of what the viewer may open: support's goal is not the warehouse outsider's.
    assert first[goals["company"]]["children"] == 0
    assert {g["id"]: g for g in await service.tree_level(cast.actor("employee"), cycle)}[goals["company"]]["children"] == 1
    assert all(g["level"] == "company" for g in first.values())
    # The warehouse outsider does not see support's department goal; the employee in support does.
    assert await service.tree_level(cast.actor("outsider"), cycle, parent_id=goals["company"]) == []
    assert [g["id"] for g in await service.tree_level(cast.actor("employee"), cycle, parent_id=goals["company"])] == [goals["department"]]
    assert [g["id"] for g in await service.tree_level(cast.actor("manager"), cycle, parent_id=goals["department"])] == [goals["person"]]
    team, more = await service.team_goals(cast.actor("manager"), cycle)
    assert goals["person"] in [g["id"] for g in team] and not more
    # A goal they may not see, or none at all, is not opened: 404, as its page would be.
    for who, parent in (("outsider", goals["department"]), ("outsider", goals["person"]), ("employee", 10**6),
                        ("ceo", 10**20)):
        with pytest.raises(NotFound):
            await service.tree_level(cast.actor(who), cycle, parent_id=parent)
    assert await service.team_goals(cast.actor("employee"), cycle) == ([], False)


async def test_carrying_all_my_unfinished_goals_keeps_the_cascade_and_writes_one_audit_entry(cast):
    goals = await make_cascade(cast)
    manager = cast.actor("manager")
    own = await service.create_goal(manager, goal_data(cast, owner_person_id=str(cast.ids["manager"]),
                                                       parent_id=str(goals["department"])))
    done = await service.create_goal(manager, goal_data(cast, owner_person_id=str(cast.ids["manager"]), standalone_reason="Done already"))
    await service.change_status(manager, done, "cancelled")
    cycle = (await Goal.select(Goal.cycle).where(Goal.id == own).first().run())["cycle"]
    seq = (await AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq, ascending=False).first().run())["seq"]
    assert await service.carry_over_mine(manager, cycle) >= 2  # the department's goal, the manager's own (and any left by other tests)
    copies = {r["carried_from"]: r for r in await Goal.select().where(Goal.carried_from.is_in([goals["department"], own, done])).run()}
    assert set(copies) == {goals["department"], own}
    assert copies[own]["parent"] == copies[goals["department"]]["id"]  # parents first: the copy stays aligned
    entries = await AuditEntry.select(AuditEntry.action).where(AuditEntry.seq > seq).run()
    assert [e["action"] for e in entries] == ["goal.carry_over_bulk"]
    assert await service.carry_over_mine(manager, cycle) == 0  # a second time carries nothing


# --- sub-departments, team views, reminders ------------------------------------------------------


async def test_a_sub_departments_goal_aligns_to_the_goal_of_the_department_above(cast):
    goals = await make_cascade(cast)
    line1 = await service.create_goal(cast.actor("manager"), goal_data(
        cast, "department", owner_department_id=str(cast.departments["support.line1"]), parent_id=str(goals["department"]),
        title="First line answers faster"))
    assert (await Goal.select(Goal.parent).where(Goal.id == line1).first().run())["parent"] == goals["department"]
    page = await service.goal_page(cast.actor("manager"), line1)
    assert [letter.why for letter in page["smart"] if letter.letter == "R"] == ["Aligned to a goal of a department above."]
    # The support goal now counts the first line's goal and the employee's among its children.
    cycle = (await Goal.select(Goal.cycle).where(Goal.id == goals["company"]).first().run())["cycle"]
    children = await service.tree_level(cast.actor("manager"), cycle, parent_id=goals["department"])
    assert {g["id"] for g in children} == {goals["person"], line1}
    choices = await service.parent_choices(cast.actor("manager"), "department", this_quarter()[0],
                                           owner_department=cast.departments["support.line1"])
    assert {c["id"] for c in choices} >= {goals["company"], goals["department"]}


async def test_a_department_goal_cannot_align_to_a_sibling_or_its_own_departments_goal(cast):
    goals = await make_cascade(cast)
    errors = await refused(cast.actor("ceo"), goal_data(cast, "department", owner_department_id=str(cast.departments["warehouse"]),
                                                        parent_id=str(goals["department"])))
    assert errors["parent_id"] == ["R — relevant: a department goal can be aligned only to a goal of a department above it."]
    errors = await refused(cast.actor("manager"), goal_data(cast, "department", parent_id=str(goals["department"])))
    assert errors["parent_id"] == ["R — relevant: a department goal can be aligned only to a goal of a department above it."]
    choices = await service.parent_choices(cast.actor("ceo"), "department", this_quarter()[0],
                                           owner_department=cast.departments["warehouse"])
    assert goals["department"] not in {c["id"] for c in choices}


async def test_hr_and_executives_open_any_departments_team_goals_and_managers_only_their_reach(cast):
    goals = await make_cascade(cast)
    cycle = (await Goal.select(Goal.cycle).where(Goal.id == goals["company"]).first().run())["cycle"]
    for who in ("hr", "ceo"):
        rows, _more = await service.team_goals(cast.actor(who), cycle, cast.departments["support"])
        assert goals["person"] in [r["id"] for r in rows], who
        assert cast.departments["warehouse"] in [d["id"] for d in await service.team_departments(cast.actor(who))]
    rows, _more = await service.team_goals(cast.actor("hr"), cycle, cast.departments["warehouse"])
    assert goals["person"] not in [r["id"] for r in rows]
    rows, _more = await service.team_goals(cast.actor("manager"), cycle, cast.departments["support"])
    assert goals["person"] in [r["id"] for r in rows]
    assert await service.team_goals(cast.actor("manager"), cycle, cast.departments["warehouse"]) == ([], False)
    # The manager heads support: its branch is offered, the warehouse is not; an employee gets no menu.
    offered = [d["id"] for d in await service.team_departments(cast.actor("manager"))]
    assert cast.departments["support.line1"] in offered and cast.departments["warehouse"] not in offered
    assert await service.team_departments(cast.actor("employee")) == []


async def test_a_manager_is_reminded_of_their_reports_overdue_check_ins(cast):
    goals = await make_cascade(cast)
    await Goal.update({Goal.last_check_in_on: service.today() - timedelta(days=20)}).where(Goal.id == goals["person"]).run()
    rows, total = await service.team_overdue_check_ins(cast.actor("manager"), limit=1000)
    assert goals["person"] in [r["id"] for r in rows] and total == len(rows)
    assert [r["owner_name"] for r in rows if r["id"] == goals["person"]] == ["Ёлкин Иван"]
    assert goals["person"] not in [r["id"] for r in (await service.team_overdue_check_ins(cast.actor("ceo"), limit=1000))[0]]
    # A check-in today clears it.
    await Goal.update({Goal.last_check_in_on: service.today()}).where(Goal.id == goals["person"]).run()
    assert goals["person"] not in [r["id"] for r in (await service.team_overdue_check_ins(cast.actor("manager"), limit=1000))[0]]
