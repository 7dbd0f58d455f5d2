"""Goals in a real browser: a goal refused for a missing letter, fixed, proposed, agreed,
and a check-in added in place by htmx; the goal page in Russian."""

import pytest

from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD

pytestmark = pytest.mark.browser


async def test_a_goal_from_refusal_to_agreement_and_a_check_in_without_reloading(page, live_server, browser):
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    await page.goto(live_server + "/goals/new")
    await page.get_by_label("Title").fill("Fewer repeat contacts")
    await page.get_by_label("Description").fill("Customers get their answer the first time and do not write again.")
    await page.get_by_label("Metric").fill("Contacts solved the first time")
    await page.get_by_label("Unit").fill("%")
    await page.get_by_label("Baseline").fill("70")
    await page.get_by_label("Why it stands alone").fill("A pilot on our shift")
    await page.get_by_role("button", name="Save").click()
    # htmx swaps the form with the 422 answer: the letter and the reason, what was typed kept
    await page.get_by_text("M — measurable: enter the target value.").wait_for()
    assert await page.get_by_label("Title").input_value() == "Fewer repeat contacts"
    await page.get_by_label("Target").fill("80")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("heading", name="Fewer repeat contacts").wait_for()
    goal_url = page.url
    await page.get_by_role("button", name="Propose to the manager").click()
    await page.get_by_text("Proposed by the owner; waiting for the manager to agree.").wait_for()

    manager = await browser.new_context(locale="en-US")
    manager_page = await manager.new_page()
    await sign_in(manager_page, live_server, EMAILS["manager"], PASSWORD)
    await manager_page.goto(goal_url)
    await manager_page.get_by_role("button", name="Agree").click()
    await manager_page.get_by_text("Agreed by the manager.").wait_for()
    await manager.close()

    await page.goto(goal_url)
    await page.evaluate("window.noReloadMarker = 7")
    await page.get_by_label("Current value (%)").fill("75")
    await page.get_by_label("Confidence").select_option("on_track")
    await page.get_by_label("Comment").fill("Halfway there")
    await page.get_by_role("button", name="Add a check-in").click()
    await page.get_by_role("cell", name="Halfway there").wait_for()
    assert await page.evaluate("window.noReloadMarker") == 7  # the check-ins were swapped in place
    assert await page.locator("svg.chart-progress circle").count() == 1

    await page.get_by_role("button", name="Русский").click()
    await page.wait_for_load_state()
    try:
        assert await page.get_attribute("html", "lang") == "ru"
        await page.get_by_role("heading", name="Fewer repeat contacts").wait_for()
    finally:
        await page.get_by_role("button", name="English").click()
        await page.wait_for_load_state()
