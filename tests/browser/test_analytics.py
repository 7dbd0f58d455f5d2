"""The analytics dashboard on a phone, in Russian: a manager reads their part of the company at
390 px without the page scrolling sideways, switches the chain's lag in place (htmx) and opens a
department below them."""

import re
from datetime import date

import pytest

from servicechain.platform import db
from servicechain.platform.analytics import snapshot as snapshots
from tests.analytics import dashboard_data as data
from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD

pytestmark = pytest.mark.browser
# A month no other test stores, shown on request while the test runs and removed after.
MONTH = date(2031, 6, 1)


@pytest.fixture
async def stored(cast):
    made = data.build(cast.departments, month=MONTH)
    await snapshots.store(made.panel)
    try:
        yield made
    finally:
        async with db.write():
            await db.fetch("DELETE FROM analytics_snapshot WHERE month = {}", MONTH)


async def _language(page, base: str, name: str) -> None:
    await page.goto(base + "/analytics/")
    await page.locator("form.language-form").get_by_role("button", name=name).click()
    await page.wait_for_load_state()


async def test_a_manager_reads_the_dashboard_on_a_phone_in_russian(page, live_server, cast, stored):
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, live_server, EMAILS["manager"], PASSWORD)
    await _language(page, live_server, "Русский")
    try:
        await page.goto(live_server + f"/analytics/?month={MONTH:%Y-%m}")  # not the default month: ask for it
        await page.get_by_role("heading", name="Аналитика: Служба поддержки").wait_for()
        # the menu entry: under the header's "Menu" on a phone (a closed <details> until opened)
        await page.locator("details.nav-more > summary").click()
        assert await page.get_by_role("link", name="Аналитика", exact=True).count() == 1
        await page.locator("details.nav-more > summary").click()  # closed again: it covers the page
        assert "Это связи, а не доказательство" in await page.content()
        # nothing pushes the page wider than the phone; wide tables scroll inside themselves
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        widths = await page.eval_on_selector_all("svg.chart:not(.sparkline)", "els => els.map(e => e.getBoundingClientRect().right)")
        assert widths and max(widths) <= 390
        assert "Склад" not in await page.locator("main").inner_text()  # another manager's subtree

        await page.evaluate("window.noReloadMarker = 5")
        await page.locator('select[name="lag"]').select_option("1")
        await page.locator("#pair-explorer figcaption").filter(has_text="через 1 месяц").wait_for()
        assert await page.evaluate("window.noReloadMarker") == 5, "swapped in place, without a reload"
        await page.wait_for_url(re.compile(r"/analytics/?\?.*lag=1"))  # the choice is in the address, to share or reload

        await page.locator("table").get_by_role("link", name="Первая линия").click()
        await page.get_by_role("heading", name="Первая линия").wait_for()
        assert "меньше 5 ответов" in await page.content()  # survey figures hidden below the minimum
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        await _language(page, live_server, "English")
