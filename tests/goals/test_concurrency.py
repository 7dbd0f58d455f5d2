"""Two check-ins at the same moment on sibling goals: the parent's roll-up counts both."""

from __future__ import annotations

import asyncio

import pytest

from servicechain.goals import service
from servicechain.goals.tables import Goal
from tests.goals.helpers import goal_data, make_cascade


@pytest.mark.usefixtures("database_copy")
async def test_simultaneous_check_ins_on_siblings_both_reach_the_parent(cast):
    goals = await make_cascade(cast)
    manager = cast.actor("manager")
    sibling = await service.create_goal(manager, goal_data(cast, owner_person_id=str(cast.ids["manager"]),
                                                           parent_id=str(goals["department"])))
    await service.change_status(manager, sibling, "proposed")
    await service.change_status(cast.actor("ceo"), sibling, "agreed")
    await asyncio.gather(
        service.add_check_in(cast.actor("employee"), goals["person"], {"value": "50", "confidence": "on_track"}),  # 100 %
        service.add_check_in(manager, sibling, {"value": "60", "confidence": "on_track"}),  # 90 → 30: 50 %
    )
    rows = {r["id"]: r["progress"] for r in await Goal.select(Goal.id, Goal.progress).run()}
    assert rows[goals["person"]] == pytest.approx(100.0) and rows[sibling] == pytest.approx(50.0)
    assert rows[goals["department"]] == pytest.approx(75.0)
    assert rows[goals["company"]] == pytest.approx(75.0)


@pytest.mark.usefixtures("database_copy")
async def test_many_check_ins_at_once_up_one_line_and_across_branches_all_land_and_roll_up_right(cast):
    """Check-ins on a goal, on the goal above it and on its siblings at the same moment: each
    locks its line of goals lowest first, so none deadlocks, and the last to commit at each
    level reads everyone's progress."""
    goals = await make_cascade(cast)
    manager, ceo, employee = cast.actor("manager"), cast.actor("ceo"), cast.actor("employee")
    siblings = []
    for title in ("Shorter queues", "Fewer repeats"):
        goal_id = await service.create_goal(manager, goal_data(cast, owner_person_id=str(cast.ids["manager"]),
                                                               parent_id=str(goals["department"]), title=title))
        await service.change_status(manager, goal_id, "proposed")
        await service.change_status(ceo, goal_id, "agreed")
        siblings.append(goal_id)
    writes = [
        service.add_check_in(employee, goals["person"], {"value": "75", "confidence": "on_track"}),
        service.add_check_in(manager, siblings[0], {"value": "60", "confidence": "on_track"}),
        service.add_check_in(manager, siblings[1], {"value": "45", "confidence": "at_risk"}),
        service.add_check_in(manager, goals["department"], {"value": "50", "confidence": "on_track"}),
        service.add_check_in(ceo, goals["company"], {"value": "55", "confidence": "on_track"}),
        service.add_check_in(employee, goals["person"], {"value": "70", "confidence": "on_track"}),
    ]
    await asyncio.gather(*writes)
    rows = {r["id"]: r for r in await Goal.select(Goal.id, Goal.progress, Goal.current_value).run()}
    # The two check-ins on the employee's goal share a date: the one written last is its value.
    assert rows[goals["person"]]["current_value"] in (75.0, 70.0)
    leaves = {goals["person"]: service.progress_of(100, 50, rows[goals["person"]]["current_value"]),
              siblings[0]: 50.0, siblings[1]: 75.0}
    for goal_id, expected in leaves.items():
        assert rows[goal_id]["progress"] == pytest.approx(expected)
    department = service.rolled_up([(leaves[g], 1) for g in leaves])
    assert rows[goals["department"]]["progress"] == pytest.approx(department)
    assert rows[goals["company"]]["progress"] == pytest.approx(department)
