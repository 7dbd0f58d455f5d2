"""Pulses in a real browser: answering on a 390-px phone from the home page, and reading
results with a drill-down, each in English and in Russian."""

from __future__ import annotations

import pytest

from servicechain.platform.surveys import service
from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.surveys import helpers as h

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
TEXT = {
    "en": {"answer": "Answer now", "send": "Send my answer", "error": "Choose from 1 (disagree) to 5 (agree).",
           "thanks": "Thank you! Your answer is in.", "index": "Engagement index", "trait": "Loves the company",
           "hidden": "hidden"},
    "ru": {"answer": "Ответить", "send": "Отправить ответ", "error": "Выберите от 1 (не согласен) до 5 (согласен).",
           "thanks": "Спасибо! Ваш ответ принят.", "index": "Индекс вовлечённости", "trait": "Любит компанию",
           "hidden": "скрыто"},
}


async def set_language(page, language: str) -> None:
    await page.get_by_role("button", name="Русский" if language == "ru" else "English").click()
    await page.wait_for_load_state()
    assert await page.get_attribute("html", "lang") == language


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_an_employee_answers_on_a_phone_in_a_minute(browser, live_server, cast, language):
    pulse_id = await h.launch(cast.actor("hr"), [cast.departments["company"]], title=f"Browser pulse {language}")
    context = await browser.new_context(locale="en-US", viewport=PHONE)
    page = await context.new_page()
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    try:
        if language == "ru":
            await set_language(page, "ru")
        t = TEXT[language]
        card = page.locator("article.pulse-card", has_text=f"Browser pulse {language}")
        await card.get_by_role("button", name=t["answer"]).click()
        await page.wait_for_url(live_server + f"/pulses/{pulse_id}/answer")
        # Sending nothing: every statement says what is missing, in place (htmx), nothing saved.
        await page.get_by_role("button", name=t["send"]).click()
        await page.get_by_text(t["error"]).first.wait_for()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"
        for position in range(1, 9):
            await page.locator(f'label:has(input[name="item_{position}"][value="4"]) span').click()
        await page.locator('label:has(input[name="enps"][value="9"]) span').click()
        await page.locator("#f-comment").fill("Хорошая команда" if language == "ru" else "A good team")
        await page.screenshot(path=f"/tmp/pulse-answer-{language}-390.png", full_page=True)
        await page.get_by_role("button", name=t["send"]).click()
        await page.get_by_text(t["thanks"]).wait_for()
        assert page.url.endswith(f"/pulses/{pulse_id}/answer")  # one page: the form swapped for the thanks
        await page.goto(live_server + "/")
        assert await page.locator("article.pulse-card", has_text=f"Browser pulse {language}").count() == 0
    finally:
        if language == "ru":
            await set_language(page, "en")
        await context.close()


async def _results_pulse(cast) -> int:
    org = await h.company({"root": 5, "a": 6, "b": 6, "b1": 2})
    pulse_id = await h.launch(cast.actor("hr"), [org["departments"]["root"]], title="Browser results")
    await h.answer_all(pulse_id, org["people"]["root"], score=3, enps=7)
    await h.answer_all(pulse_id, org["people"]["a"], score=5, enps=10, comment="Proud of our team")
    await h.answer_all(pulse_id, org["people"]["b"], score=2, enps=3)
    await h.answer_all(pulse_id, org["people"]["b1"], score=1, enps=0)
    await service.close_pulse(pulse_id)
    return pulse_id


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_an_executive_reads_results_and_drills_down(browser, live_server, cast, language):
    pulse_id = await _results_pulse(cast)
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, live_server, EMAILS["ceo"], PASSWORD)
    try:
        if language == "ru":
            await set_language(page, "ru")
        t = TEXT[language]
        await page.goto(live_server + f"/pulses/{pulse_id}")
        await page.get_by_role("heading", name=t["index"]).wait_for()
        assert await page.locator("svg.chart").count() == 1
        assert await page.get_by_text(t["trait"]).count() >= 1
        await page.get_by_text("Proud of our team").wait_for()
        await page.screenshot(path=f"/tmp/pulse-results-{language}.png", full_page=True)
        # Drill into B (htmx): the page swaps in place and the address follows.
        b = "B (ru)" if language == "ru" else "B"  # the test departments' Russian names
        await page.locator("table.pulse-departments").get_by_role("link", name=b, exact=True).click()
        await page.wait_for_url(f"**/pulses/{pulse_id}?department=*")
        await page.locator("nav.crumbs").get_by_text(b, exact=True).wait_for()
        await page.get_by_role("heading", name=t["index"]).wait_for()
        phone = await browser.new_context(locale="en-US", viewport=PHONE,
                                          storage_state=await context.storage_state())
        small = await phone.new_page()
        await small.goto(live_server + f"/pulses/{pulse_id}")
        await small.get_by_role("heading", name=t["index"]).wait_for()
        await small.screenshot(path=f"/tmp/pulse-results-{language}-390.png", full_page=True)
        await phone.close()
    finally:
        if language == "ru":
            await set_language(page, "en")
        await context.close()
