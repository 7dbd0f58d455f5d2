"""The goal cascade in a real browser, in Russian, on a 390-px phone: HR opens the company's
goals and expands them level by level with htmx (a division's goal, a sub-department's goal
aligned to it, a person's goal), then a department's team goals."""

from __future__ import annotations

import uuid

import pytest

from servicechain.goals import service
from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.goals.helpers import goal_data

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


async def agreed(actor, approver, data) -> int:
    goal_id = await service.create_goal(actor, data)
    await service.change_status(actor, goal_id, "proposed")
    await service.change_status(approver, goal_id, "agreed")
    return goal_id


async def test_hr_expands_the_cascade_level_by_level_and_opens_a_departments_team_goals(browser, live_server, cast):
    tag = uuid.uuid4().hex[:6]
    ceo, manager, employee = cast.actor("ceo"), cast.actor("manager"), cast.actor("employee")
    company = await agreed(ceo, ceo, goal_data(cast, "company", title=f"Верные покупатели {tag}", metric="Повторные заказы",
                                               unit="%", baseline="40", target="60", direction="up"))
    support = await agreed(manager, ceo, goal_data(cast, "department", parent_id=str(company), title=f"Поддержка отвечает быстрее {tag}"))
    line1 = await agreed(ceo, ceo, goal_data(cast, "department", owner_department_id=str(cast.departments["support.line1"]),
                                                 parent_id=str(support), title=f"Первая линия без очереди {tag}"))
    person = await agreed(employee, manager, goal_data(cast, parent_id=str(support), title=f"Ответ за полчаса {tag}",
                                                       baseline="100", target="30"))

    context = await browser.new_context(locale="en-US", viewport=PHONE)
    page = await context.new_page()
    await sign_in(page, live_server, EMAILS["hr"], PASSWORD)
    await page.get_by_role("button", name="Русский").click()
    await page.wait_for_load_state()
    try:
        await page.goto(live_server + "/goals/tree")
        await page.get_by_role("heading", name="Цели компании", exact=False).wait_for()
        await page.evaluate("window.noReloadMarker = 7")
        node = page.locator(".goal-node", has_text=f"Верные покупатели {tag}")
        await node.get_by_role("button").click()
        support_node = page.locator(".goal-node", has_text=f"Поддержка отвечает быстрее {tag}")
        await support_node.wait_for()
        # Counted are the goals HR may open below: the first line's and the employee's.
        assert "Показать 2" in (await support_node.inner_text()).replace("\u00a0", " ")
        await support_node.get_by_role("button").click()
        await page.locator(".goal-node", has_text=f"Первая линия без очереди {tag}").wait_for()
        await page.locator(".goal-node", has_text=f"Ответ за полчаса {tag}").wait_for()
        assert await page.evaluate("window.noReloadMarker") == 7  # each level came in place
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path="/tmp/goals-tree-ru-390.png", full_page=True)

        await page.goto(live_server + f"/goals/{line1}")
        await page.get_by_text("Связана с целью вышестоящего отдела.").wait_for()
        await page.goto(live_server + f"/goals/team?department={cast.departments['support']}")
        await page.get_by_role("link", name=f"Ответ за полчаса {tag}").wait_for()
        await page.screenshot(path="/tmp/goals-team-ru-390.png", full_page=True)
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert f"/goals/{person}" in await page.content()
    finally:
        await page.get_by_role("button", name="English").click()
        await page.wait_for_load_state()
        await context.close()
