"""The whole authority flow in a real browser, in Russian, on a 390-px phone: a manager hands
on part of their grant, the employee records a use within it, one over the per-case limit is
refused in place with the limit and what remains, the employee asks the manager instead, and the
manager's approval records the use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.goals.authority import service
from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.goals.authority.helpers import grant_values, make_scope

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


async def in_russian(page) -> None:
    await page.get_by_role("button", name="Русский").click()
    await page.wait_for_load_state()
    assert await page.get_attribute("html", "lang") == "ru"


async def back_to_english(page) -> None:
    # The language is stored on the person; other tests expect the cast in English.
    await page.get_by_role("button", name="English").click()
    await page.wait_for_load_state()


async def test_grant_use_refusal_and_approved_escalation_in_russian(browser, live_server, cast):
    scope_id, _code = await make_scope(cast)
    root = await service.create_grant(cast.actor("admin"), grant_values(cast.ids["ceo"], None, 2_000_000, 10_000_000,
                                                                        scope_id=scope_id))
    manager_grant = await service.create_grant(cast.actor("ceo"), grant_values(cast.ids["manager"], root, 1_000_000, 5_000_000))
    until = (service.today() + timedelta(days=60)).strftime("%d.%m.%Y")

    manager = await browser.new_context(locale="en-US", viewport=PHONE)
    manager_page = await manager.new_page()
    await sign_in(manager_page, live_server, EMAILS["manager"], PASSWORD)
    await in_russian(manager_page)
    try:
        await manager_page.goto(live_server + f"/authority/grants/new?parent={manager_grant}")
        await manager_page.get_by_role("heading", name="Передать полномочие").wait_for()
        await manager_page.locator("#f-grantee_id").select_option(str(cast.ids["employee"]))
        await manager_page.locator("#f-per_case_limit").fill("30 000")  # above the manager's own 10 000
        await manager_page.locator("#f-budget").fill("10 000")
        await manager_page.locator("#f-valid_from").fill(service.today().strftime("%d.%m.%Y"))
        await manager_page.locator("#f-valid_until").fill(until)
        await manager_page.get_by_role("button", name="Передать", exact=True).click()
        await manager_page.get_by_text("Больше собственного лимита на случай").first.wait_for()
        await manager_page.locator("#f-per_case_limit").fill("3 000")
        await manager_page.get_by_role("button", name="Передать", exact=True).click()
        await manager_page.wait_for_url(live_server + "/authority/team")
        await manager_page.get_by_role("cell", name="Ёлкин Иван").first.wait_for()
        await manager_page.screenshot(path="/tmp/authority-team-ru-390.png", full_page=True)

        employee = await browser.new_context(locale="en-US", viewport=PHONE)
        page = await employee.new_page()
        await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
        await in_russian(page)
        try:
            await page.get_by_role("heading", name="Мои полномочия").wait_for()
            await page.get_by_text("Вы можете компенсировать клиенту до 3\u00a0000\u00a0₽ на случай").wait_for()
            await page.goto(live_server + "/authority/")
            await page.locator("#f-scope_id").select_option(str(scope_id))
            await page.locator("#f-amount").fill("2 000")
            await page.locator("#f-case_ref").fill("RU-CASE-1")
            await page.get_by_role("button", name="Записать", exact=True).click()
            await page.get_by_role("cell", name="RU-CASE-1").wait_for()

            await page.evaluate("window.noReloadMarker = 7")
            await page.locator("#f-scope_id").select_option(str(scope_id))
            await page.locator("#f-amount").fill("4 000")
            await page.locator("#f-case_ref").fill("RU-CASE-2")
            await page.get_by_role("button", name="Записать", exact=True).click()
            refusal = page.get_by_text("Отказано: 4\u00a0000\u00a0₽")
            await refusal.wait_for()
            text = (await refusal.inner_text()).replace("\u00a0", " ")  # Russian typography binds short words
            assert "больше лимита на случай" in text and "(3 000 ₽ на случай)" in text
            assert "по случаю RU-CASE-2 осталось 3 000 ₽" in text
            assert await page.evaluate("window.noReloadMarker") == 7  # refused in place by htmx
            await page.screenshot(path="/tmp/authority-refused-ru-390.png", full_page=True)

            await page.get_by_role("link", name="Запросить разрешение у того, кто передал вам полномочие").click()
            await page.locator("#f-scope_id").select_option(str(scope_id))
            await page.locator("#f-amount").fill("4 000")
            await page.locator("#f-case_ref").fill("RU-CASE-2")
            await page.locator("#f-reason").fill("Клиент ждал курьера три часа")
            await page.get_by_role("button", name="Отправить запрос").click()
            await page.wait_for_url(live_server + "/authority/escalations")

            await manager_page.goto(live_server + "/authority/escalations")
            item = manager_page.locator("li", has_text="RU-CASE-2")
            await item.get_by_role("button", name="Одобрить").click()
            await manager_page.wait_for_url(live_server + "/authority/escalations")
            await manager_page.goto(live_server + "/authority/ledger?case_ref=RU-CASE-2")
            await manager_page.get_by_role("cell", name="RU-CASE-2").wait_for()
            await manager_page.get_by_text("по одобренной эскалации").first.wait_for()

            await page.reload()
            await page.locator("li", has_text="RU-CASE-2").get_by_text("одобрено").wait_for()
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        finally:
            await back_to_english(page)
            await employee.close()
    finally:
        await back_to_english(manager_page)
        await manager.close()
