"""Authority in a real browser: the home page says what the employee may do, a use over the
limit is refused in place by htmx with the limit and what remains, and a use within it is
recorded."""

import pytest

from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.goals.authority.helpers import make_chain

pytestmark = pytest.mark.browser


async def test_a_use_over_the_limit_is_refused_in_place_then_one_within_it_is_recorded(page, live_server, cast):
    chain = await make_chain(cast)
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    await page.get_by_role("heading", name="My authority").wait_for()
    await page.get_by_role("button", name="Record a use").click()
    await page.wait_for_url(live_server + "/authority/")
    await page.evaluate("window.noReloadMarker = 7")
    await page.locator("#f-scope_id").select_option(str(chain.scope_id))
    await page.locator("#f-amount").fill("6 000")
    await page.locator("#f-case_ref").fill("BROWSER-1")
    await page.get_by_role("button", name="Record", exact=True).click()
    await page.get_by_text("is over the per-case limit of the grant held by Ёлкин Иван").wait_for()
    assert await page.evaluate("window.noReloadMarker") == 7
    assert await page.locator("#f-case_ref").input_value() == "BROWSER-1"
    await page.locator("#f-amount").fill("1 500")
    await page.get_by_role("button", name="Record", exact=True).click()
    await page.get_by_role("cell", name="BROWSER-1").wait_for()
