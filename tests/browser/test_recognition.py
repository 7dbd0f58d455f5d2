"""Recognition in a real browser: thanks refused for an empty message, then sent, both swapped
in place by htmx without a reload; a manager's reward form showing what the recipient values."""

import pytest

from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.recognition.conftest import ensure_values

pytestmark = pytest.mark.browser


async def test_thanks_are_refused_then_sent_without_reloading(page, live_server, cast):
    await ensure_values()
    await sign_in(page, live_server, EMAILS["outsider"], PASSWORD)
    await page.goto(live_server + "/recognition/")
    await page.evaluate("window.noReloadMarker = 5")
    await page.get_by_text("Say thanks to a colleague").click()
    await page.locator("#f-to").fill(EMAILS["employee"])
    await page.get_by_role("checkbox", name="Love the customer").check()
    await page.get_by_role("button", name="Say thanks", exact=True).click()
    await page.get_by_text("Write a message.").wait_for()
    assert await page.locator("#f-to").input_value() == EMAILS["employee"]
    await page.locator("#f-message").fill("Browser: you found the lost order in minutes.")
    await page.get_by_role("button", name="Say thanks", exact=True).click()
    await page.get_by_text("Thanks sent to Ёлкин Иван.").wait_for()
    assert await page.evaluate("window.noReloadMarker") == 5


async def test_a_manager_sees_the_recipients_preferences_on_the_reward_form(page, live_server, browser, cast):
    await ensure_values()
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    await page.goto(live_server + "/rewards/preferences")
    await page.get_by_label("Extra day off").fill("1")
    await page.get_by_label("Learning budget").fill("2")
    await page.get_by_label("Anything else your manager should know").fill("Time with my kids matters most")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved.").wait_for()

    manager = await browser.new_context(locale="en-US")
    manager_page = await manager.new_page()
    await sign_in(manager_page, live_server, EMAILS["manager"], PASSWORD)
    await manager_page.goto(live_server + "/rewards/new")
    await manager_page.get_by_label("Whom to reward").fill(EMAILS["employee"])
    await manager_page.get_by_role("button", name="Show their preferences").click()
    await manager_page.get_by_text("What Ёлкин Иван values most").wait_for()
    items = await manager_page.locator("#recipient-preferences li").all_inner_texts()
    assert items[:2] == ["Extra day off", "Learning budget"]
    await manager_page.get_by_text("Time with my kids matters most").wait_for()
    await manager.close()
