"""QA scorecards in a real browser: a manager scores a call (a missing criterion is refused in
place by htmx, keeping what was typed), then the employee reads it in Russian and answers in the
scorecard's thread without a page reload."""

import pytest

from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD

pytestmark = pytest.mark.browser
CRITERIA = ("politeness", "culture", "objections", "needs", "knowledge", "options")


async def _language(page, base: str, name: str) -> None:
    await page.goto(base + "/quality/")
    await page.locator("form.language-form").get_by_role("button", name=name).click()
    await page.wait_for_load_state()


async def test_a_manager_scores_a_call_and_the_employee_answers_in_russian(page, live_server, cast):
    await sign_in(page, live_server, EMAILS["manager"], PASSWORD)
    await page.goto(live_server + "/quality/")
    await page.get_by_role("button", name="Score a call or chat").click()
    await page.wait_for_url(live_server + "/quality/scorecards/new")
    await page.evaluate("window.noReloadMarker = 7")
    await page.locator("#f-employee").fill("T-005")
    await page.locator("#f-reference").fill("BROWSER-CALL-1")
    await page.locator("#f-link").fill("https://calls.example.com/browser/1")
    for code, score in zip(CRITERIA[:-1], ("5", "4", "na", "3", "4")):
        await page.locator(f'input[name="score_{code}"][value="{score}"]').check()
    await page.get_by_role("textbox", name="Clarifying the customer's need: Comment").fill("Ask what the order is for")
    await page.get_by_role("button", name="Save the scorecard").click()
    await page.get_by_text("Score this criterion, or mark it N/A.").wait_for()
    assert await page.evaluate("window.noReloadMarker") == 7, "refused in place, without a reload"
    assert await page.locator("#f-reference").input_value() == "BROWSER-CALL-1"
    await page.locator('input[name="score_options"][value="2"]').check()
    await page.get_by_role("button", name="Save the scorecard").click()
    await page.get_by_text("The scorecard was saved and the employee was told.").wait_for()
    card_url = page.url.split("?")[0]
    assert "Ask what the order is for" in await page.content()

    await page.context.clear_cookies()
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    await _language(page, live_server, "Русский")
    try:
        await page.get_by_role("heading", name="Мои оценочные листы").wait_for()
        await page.locator(f'a[href="{card_url.removeprefix(live_server)}"]').first.click()
        await page.get_by_role("heading", name="Обсуждение").wait_for()
        assert "Выяснение потребности клиента" in await page.content()
        await page.evaluate("window.noReloadMarker = 9")
        await page.get_by_role("button", name="Отправить комментарий").click()
        await page.get_by_text("Сначала напишите комментарий.").wait_for()
        await page.get_by_label("Ваш комментарий").fill("Клиент торопился, уточню в следующий раз.")
        await page.get_by_role("button", name="Отправить комментарий").click()
        await page.locator("#comments li").filter(has_text="Клиент торопился, уточню в следующий раз.").wait_for()
        assert await page.evaluate("window.noReloadMarker") == 9
    finally:
        await _language(page, live_server, "English")  # the language is stored on the person
