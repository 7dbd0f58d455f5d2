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
