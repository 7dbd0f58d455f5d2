"""Recognition in a real browser: colleagues chosen with the picker as one types, thanks refused
for an empty message and then sent, all swapped in place by htmx without a reload (in English and
in Russian); a manager's reward form showing what the recipient values, reached from the picker."""

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
    await page.get_by_label("Find a colleague").fill("ёлки")
    await page.get_by_role("checkbox", name="Ёлкин Иван").check()
    # Ticked, the colleague moves to the chosen ones and stays there through the next search.
    await page.locator("#to-chosen").get_by_role("checkbox", name="Ёлкин Иван").wait_for()
    await page.get_by_label("Find a colleague").fill("руковод")
    await page.locator("#to-matches").get_by_role("checkbox", name="Марина Руководова").wait_for()
    assert await page.locator("#to-chosen").get_by_role("checkbox", name="Ёлкин Иван").is_checked()
    await page.get_by_role("checkbox", name="Love the customer").check()
    await page.get_by_role("button", name="Say thanks", exact=True).click()
    await page.get_by_text("Write a message.").wait_for()
    assert await page.locator("#to-chosen").get_by_role("checkbox", name="Ёлкин Иван").is_checked()
    await page.locator("#f-message").fill("Browser: you found the lost order in minutes.")
    await page.get_by_role("button", name="Say thanks", exact=True).click()
    await page.get_by_text("Thanks sent to Ёлкин Иван.").wait_for()
    assert await page.evaluate("window.noReloadMarker") == 5


async def test_thanks_in_russian_from_a_profile(page, live_server, cast):
    await ensure_values()
    await sign_in(page, live_server, EMAILS["manager"], PASSWORD)
    await page.get_by_role("button", name="Русский").click()
    await page.wait_for_load_state()
    try:
        await page.goto(live_server + f"/people/{cast.ids['outsider']}")
        await page.get_by_role("button", name="Поблагодарить").click()
        await page.wait_for_url("**/recognition/new?to=*")
        await page.evaluate("window.noReloadMarker = 9")
        assert await page.locator("#to-chosen").get_by_role("checkbox", name="Склад Складов").is_checked()
        await page.get_by_role("checkbox", name="Помогать коллегам").check()
        await page.get_by_role("button", name="Поблагодарить", exact=True).click()
        await page.get_by_text("Напишите сообщение.").wait_for()
        await page.locator("#f-message").fill("Браузер: спасибо, что помогли со складом.")
        await page.get_by_role("button", name="Поблагодарить", exact=True).click()
        await page.get_by_text("Благодарность отправлена: Склад Складов.").wait_for()
        assert await page.evaluate("window.noReloadMarker") == 9
        await page.goto(live_server + f"/people/{cast.ids['outsider']}")
        await page.locator("#recent-recognition").get_by_text("Браузер: спасибо, что помогли со складом.").wait_for()
    finally:  # the language is stored on the person: give the cast back its English
        await page.get_by_role("button", name="English").click()
        await page.wait_for_load_state()


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
    await manager_page.evaluate("window.noReloadMarker = 3")
    await manager_page.get_by_label("Whom to reward").fill("ёлкин")
    await manager_page.locator("#reward-matches").get_by_role("link", name="Ёлкин Иван").click()
    await manager_page.get_by_text("What Ёлкин Иван values most").wait_for()
    items = await manager_page.locator("#recipient-preferences li").all_inner_texts()
    assert items[:2] == ["Extra day off", "Learning budget"]
    await manager_page.get_by_text("Time with my kids matters most").wait_for()
    assert await manager_page.evaluate("window.noReloadMarker") == 3
    await manager.close()
