"""What the goal flows cost the database: a few queries per page however large the team, a
check-in's write transaction as short as the chain allows, and the one-statement roll-up
giving what the progress maths says."""

from __future__ import annotations

import pytest

from servicechain.goals import service
from servicechain.goals.tables import CheckIn, Goal
from servicechain.platform import db
from servicechain.platform.people.tables import Person
from servicechain.platform.security import goal_viewer, utcnow
from servicechain.platform.web import DomainError
from tests.goals.helpers import counted_queries, goal_data, make_cascade


async def _agreed(cast, author: str, approver: str, data: dict) -> int:
    goal_id = await service.create_goal(cast.actor(author), data)
    await service.change_status(cast.actor(author), goal_id, "proposed")
    await service.change_status(cast.actor(approver), goal_id, "agreed")
    return goal_id


async def _page_queries(cast, who: str, goal_id: int) -> int:
    with counted_queries() as count:
        await service.goal_page(cast.actor(who), goal_id)
    return count.total


async def test_the_goal_page_runs_the_same_few_queries_however_many_goals_and_check_ins_it_has(cast):
    goals = await make_cascade(cast)
    viewers = ("manager", "ceo", "employee")
    before = {(who, level): await _page_queries(cast, who, goals[level]) for who in viewers for level in ("department", "person")}
    for n in range(4):
        await service.create_goal(cast.actor("manager"), goal_data(
            cast, owner_person_id=str(cast.ids["employee"]), parent_id=str(goals["department"]), title=f"Also {n}"))
        await service.add_check_in(cast.actor("employee"), goals["person"], {"value": str(90 - n), "confidence": "on_track"})
    after = {(who, level): await _page_queries(cast, who, goals[level]) for who in viewers for level in ("department", "person")}
    assert after == before
    # The goal with its cycle, parent and owner; its children; the viewer's departments and, for
    # someone who does not see everyone, whether those owners are in their reach; the check-ins.
    assert max(after.values()) <= 5
    assert after[("employee", "person")] <= 3  # their own goal: no reach to ask about


async def test_the_goal_page_counts_only_the_aligned_goals_the_viewer_may_open(cast):
    goals = await make_cascade(cast)
    # The manager's own goal under the support goal: theirs, not their team's to see.
    await _agreed(cast, "manager", "ceo", goal_data(cast, owner_person_id=str(cast.ids["manager"]),
                                                      parent_id=str(goals["department"])))
    assert (await service.goal_page(cast.actor("manager"), goals["department"]))["goal"]["children"] == 2
    assert (await service.goal_page(cast.actor("ceo"), goals["department"]))["goal"]["children"] == 2
    page = await service.goal_page(cast.actor("employee"), goals["department"])
    assert page["goal"]["children"] == 1 and page["parent"]["id"] == goals["company"] and not page["may_check_in"]
    own = await service.goal_page(cast.actor("employee"), goals["person"])
    assert own["parent"]["id"] == goals["department"] and own["goal"]["children"] == 0
    assert own["may_check_in"] and own["roles"] == {"see": True, "own": True, "approve": False}
    assert (await service.goal_page(cast.actor("manager"), goals["person"]))["roles"]["approve"]


async def _chain_of_four(cast) -> dict[str, int]:
    """Company, support, first line (a department below support) and the employee's goal."""
    goals = await make_cascade(cast)
    line1 = await _agreed(cast, "ceo", "ceo", goal_data(
        cast, "department", owner_department_id=str(cast.departments["support.line1"]), parent_id=str(goals["department"])))
    person = await _agreed(cast, "employee", "manager", goal_data(cast, parent_id=str(line1), baseline="100", target="50"))
    return {**goals, "line1": line1, "person4": person}


async def test_a_check_in_writes_in_the_same_few_statements_however_long_the_chain(cast):
    goals = await _chain_of_four(cast)
    employee = cast.actor("employee")
    with counted_queries() as three:
        await service.add_check_in(employee, goals["person"], {"value": "75", "confidence": "on_track"})
    with counted_queries() as four:
        await service.add_check_in(employee, goals["person4"], {"value": "75", "confidence": "on_track"})
    assert three.in_transaction == four.in_transaction
    # The check-in, the goal's latest value, the roll-up (with its lock on PostgreSQL), the audit
    # entry (three statements, four on PostgreSQL).
    assert four.in_transaction <= (6 if db.is_sqlite() else 8)
    progress = {r["id"]: r["progress"] for r in await Goal.select(Goal.id, Goal.progress).where(
        Goal.id.is_in(list(goals.values()))).run()}
    assert progress[goals["person4"]] == pytest.approx(50.0) and progress[goals["line1"]] == pytest.approx(50.0)
    # support has the first person goal (50 %) and the first line's goal (50 %) below it
    assert progress[goals["department"]] == pytest.approx(50.0) and progress[goals["company"]] == pytest.approx(50.0)


async def test_a_late_check_in_does_not_replace_the_latest_value(cast):
    goals = await make_cascade(cast)
    employee = cast.actor("employee")
    start = (await Goal.select(Goal.starts_on).where(Goal.id == goals["person"]).first().run())["starts_on"]
    await service.add_check_in(employee, goals["person"], {"value": "60", "confidence": "at_risk", "taken_on": service.today().isoformat()})
    after = await service.add_check_in(employee, goals["person"], {"value": "95", "confidence": "on_track",
                                                                     "taken_on": start.isoformat()})
    row = await Goal.select(Goal.current_value, Goal.confidence, Goal.progress).where(Goal.id == goals["person"]).first().run()
    assert row == {"current_value": 60.0, "confidence": "at_risk", "progress": pytest.approx(80.0)}
    assert (after["current_value"], after["progress"]) == (60.0, pytest.approx(80.0))


# --- the roll-up in SQL against the maths in Python --------------------------------------------------

CASES = [
    # (baseline, target, value) of a leaf, and its progress by progress_of
    {"leaf": (0.0, 100.0, 50.0)}, {"leaf": (90.0, 30.0, 100.0)}, {"leaf": (90.0, 30.0, 10.0)},
    {"leaf": (10.0, 10.0, 12.0)}, {"leaf": (10.0, 20.0, None)}, {"leaf": (None, 20.0, 5.0)}, {"leaf": (3.0, 7.0, 4.1)},
    # children as (progress, weight, status)
    {"children": [(100.0, 3, "agreed"), (0.0, 1, "agreed")]},
    {"children": [(33.3, 0, "agreed"), (12.5, 2, "draft"), (99.0, 5, "cancelled")]},
    {"children": [(80.0, 1, "cancelled")], "leaf": (0.0, 10.0, 2.5)},  # all children cancelled: its own value
    {"children": [(17.0, 7, "achieved"), (41.0, 2, "missed"), (0.0, 1, "proposed")]},
]


async def _goal(cycle_id: int, **values) -> int:
    on = service.today()
    goal = Goal(cycle=cycle_id, level="department", title="Roll-up case", starts_on=on, deadline=on, created_at=utcnow(),
                updated_at=utcnow(), **values)
    await goal.save().run()
    return goal.id


@pytest.mark.parametrize("case", CASES)
async def test_the_roll_up_statement_gives_what_the_progress_maths_gives(cast, case, rollback):
    cycle = await service.ensure_cycle(service.quarter_of(service.today())[0])
    baseline, target, value = case.get("leaf", (None, None, None))
    top = await _goal(cycle["id"], status="agreed")
    goal_id = await _goal(cycle["id"], parent=top, baseline=baseline, target=target, current_value=value, weight=2)
    for progress, weight, status in case.get("children", []):
        await _goal(cycle["id"], parent=goal_id, progress=progress, weight=weight, status=status)
    live = [(p, w or 1) for p, w, s in case.get("children", []) if s != "cancelled"]
    expected = service.rolled_up(live) if live else service.progress_of(baseline, target, value)
    result = await service.recompute_progress(goal_id)
    assert result[goal_id] == pytest.approx(expected, abs=1e-9)
    assert result[top] == pytest.approx(expected, abs=1e-9)  # its only child
    stored = await Goal.select(Goal.progress).where(Goal.id == goal_id).first().run()
    assert stored["progress"] == pytest.approx(expected, abs=1e-9)


# --- reach ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "employee", "outsider", "ceo", "hr", "admin"])
async def test_reach_asked_about_some_people_agrees_with_the_whole_reach(cast, who):
    everyone = [r["id"] for r in await Person.select(Person.id).run()]
    actor = cast.actor(who)
    whole = await goal_viewer(actor)
    some = await goal_viewer(actor, among=everyone)
    assert (some.headed, some.mine, some.org, some.view_all) == (whole.headed, whole.mine, whole.org, whole.view_all)
    assert some.reach == whole.reach
    if whole.reach is not None:
        few = await goal_viewer(actor, among=[cast.ids["employee"], cast.ids["outsider"], None])
        assert few.reach == whole.reach & {cast.ids["employee"], cast.ids["outsider"]}


async def test_a_person_goal_outside_the_people_asked_about_is_hidden_not_shown(cast):
    viewer = await goal_viewer(cast.actor("manager"), among=[cast.ids["outsider"]])
    assert viewer.reach == frozenset()
    assert not viewer.roles({"level": "person", "owner_person": cast.ids["employee"]})["see"]


def test_the_cycle_shown_is_the_one_asked_for_else_todays_else_the_latest():
    from datetime import date

    cycles = [{"id": 3, "starts_on": date(2027, 1, 1), "ends_on": date(2027, 3, 31)},
              {"id": 2, "starts_on": date(2026, 10, 1), "ends_on": date(2026, 12, 31)},
              {"id": 1, "starts_on": date(2026, 7, 1), "ends_on": date(2026, 9, 30)}]
    assert service.choose_cycle(cycles, 1, date(2026, 11, 24))["id"] == 1
    assert service.choose_cycle(cycles, 99, date(2026, 11, 24))["id"] == 2  # unknown: today's
    assert service.choose_cycle(cycles, None, date(2026, 11, 24))["id"] == 2
    assert service.choose_cycle(cycles, None, date(2030, 1, 1))["id"] == 3  # none running: the latest
    assert service.choose_cycle([], None) is None


def test_when_cycles_overlap_the_one_begun_last_is_current_whatever_the_order_they_come_in():
    from datetime import date

    quarter = {"id": 1, "starts_on": date(2026, 10, 1), "ends_on": date(2026, 12, 31)}
    november = {"id": 2, "starts_on": date(2026, 11, 1), "ends_on": date(2026, 11, 30)}
    sprint = {"id": 3, "starts_on": date(2026, 11, 1), "ends_on": date(2026, 12, 15)}  # same start: made last
    for cycles in ([quarter, november, sprint], [sprint, november, quarter], [november, sprint, quarter]):
        assert service.choose_cycle(cycles, None, date(2026, 11, 24))["id"] == 3
        assert service.choose_cycle(cycles, None, date(2026, 12, 10))["id"] == 3
        assert service.choose_cycle(cycles, None, date(2026, 12, 20))["id"] == 1  # only the quarter runs
        assert service.choose_cycle(cycles, None, date(2027, 6, 1))["id"] == 3  # none runs: begun last
        assert service.choose_cycle(cycles, 2, date(2026, 12, 20))["id"] == 2


async def test_the_pages_that_read_one_cycle_and_those_that_read_the_menu_agree_on_overlapping_cycles(rollback):
    from datetime import timedelta

    from servicechain.goals.tables import Cycle

    on = service.today()
    made = {}
    for code, start, end in (("overlap-long", -40, 40), ("overlap-a", -1, 1), ("overlap-b", -1, 10)):
        await Cycle.insert(Cycle(code=code, starts_on=on + timedelta(days=start), ends_on=on + timedelta(days=end))).run()
        made[code] = (await service.pick_cycle_by_code(code))["id"]
    menu = await service.cycles_for_browsing()
    assert (await service.pick_cycle(None))["id"] == made["overlap-b"]
    assert service.choose_cycle(menu, None)["id"] == made["overlap-b"]
    assert service.choose_cycle(menu[::-1], None)["id"] == made["overlap-b"]
    assert (await service.pick_cycle(made["overlap-a"]))["id"] == made["overlap-a"]
    assert (await service.pick_cycle(10**12))["id"] == made["overlap-b"]  # unknown: today's


async def test_my_goals_page_reads_the_session_the_cycles_and_the_goals(client, cast, as_user):
    await as_user("employee")
    assert (await client.get("/goals/")).status_code == 200
    with counted_queries() as count:
        assert (await client.get("/goals/")).status_code == 200
    assert count.total <= 3, count.sql


async def test_a_level_of_the_cascade_runs_the_same_few_queries_however_many_goals_are_below(cast):
    goals = await make_cascade(cast)
    cycle = (await Goal.select(Goal.cycle).where(Goal.id == goals["company"]).first().run())["cycle"]

    async def level_queries(who: str, **where) -> int:
        with counted_queries() as count:
            await service.tree_level(cast.actor(who), cycle, **where)
        return count.total

    before = [await level_queries(who, **where) for who in ("manager", "employee", "ceo")
              for where in ({}, {"parent_id": goals["department"]})]
    for n in range(3):
        await service.create_goal(cast.actor("manager"), goal_data(
            cast, owner_person_id=str(cast.ids["employee"]), parent_id=str(goals["department"]), title=f"Below {n}"))
    after = [await level_queries(who, **where) for who in ("manager", "employee", "ceo")
             for where in ({}, {"parent_id": goals["department"]})]
    assert after == before and max(after) <= 8
    # Below a goal: the goal with its children, theirs, the viewer's departments and reach, once
    # (the goal is judged by the viewer that judges its children).
    assert max(after[1::2]) <= 4, after
    below = await service.tree_level(cast.actor("manager"), cycle, parent_id=goals["department"])
    assert goals["person"] in {g["id"] for g in below}
    # Another department's goal stays hidden from the warehouse, and so does its count below.
    outsider = await service.tree_level(cast.actor("outsider"), cycle, parent_id=goals["company"])
    assert goals["department"] not in {g["id"] for g in outsider}
    company = {g["id"]: g for g in await service.tree_level(cast.actor("outsider"), cycle)}[goals["company"]]
    assert company["children"] == len([g for g in outsider if g["id"] != goals["department"]])


async def test_a_check_in_on_a_goal_closed_after_it_was_read_records_nothing(cast, monkeypatch):
    goals = await make_cascade(cast)
    stale = await service.goal_for(cast.actor("employee"), goals["person"], write=True)  # read while agreed
    await service.change_status(cast.actor("manager"), goals["person"], "achieved")

    async def read_before_the_close(actor, goal_id, *, write=False):
        return stale

    monkeypatch.setattr(service, "goal_for", read_before_the_close)
    with pytest.raises(DomainError) as caught:
        await service.add_check_in(cast.actor("employee"), goals["person"], {"value": "60", "confidence": "on_track"})
    assert caught.value.status_code == 409
    assert await CheckIn.count().where(CheckIn.goal == goals["person"]).run() == 0


async def test_moving_a_goal_to_another_parent_recomputes_both_lines(cast):
    goals = await make_cascade(cast)
    employee, manager = cast.actor("employee"), cast.actor("manager")
    await service.add_check_in(employee, goals["person"], {"value": "50", "confidence": "on_track"})  # 100 %
    other = await _agreed(cast, "manager", "ceo", goal_data(cast, "department", parent_id=str(goals["company"]),
                                                           title="Kinder answers"))
    await service.add_check_in(manager, other, {"value": "70", "confidence": "on_track"})  # 90 → 30: 33 %
    draft = await service.create_goal(employee, goal_data(cast, parent_id=str(goals["department"]), title="A draft"))

    async def progress() -> dict[int, float]:
        return {r["id"]: r["progress"] for r in await Goal.select(Goal.id, Goal.progress).run()}

    assert (await progress())[goals["department"]] == pytest.approx(50.0)  # 100 % and the draft's 0 %
    await service.update_goal(employee, draft, goal_data(cast, parent_id=str(other), title="A draft"))
    after = await progress()
    assert after[goals["department"]] == pytest.approx(100.0)  # the old line, without the draft
    assert after[other] == pytest.approx(0.0)  # the new line: its one child, the draft
    assert after[goals["company"]] == pytest.approx(50.0)
