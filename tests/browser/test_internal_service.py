"""Internal service in a real browser: an employee rates from the open round's list and watches
the progress move, a refused form swapped in place by htmx; a low rating opens a follow-up that
the head of the rated department answers and resolves without ever seeing who rated, and the
rater reads on the home page that it was resolved."""

import re
import uuid

import pytest

from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.internal_service import helpers as h

pytestmark = pytest.mark.browser


async def test_an_employee_rates_from_the_rounds_list_and_the_progress_moves(page, live_server, cast):
    await h.open_round()
    tag = uuid.uuid4().hex[:6]
    first = await h.service(cast.departments["warehouse"], f"Browser picking {tag}")
    await h.service(cast.departments["warehouse"], f"Browser returns {tag}")
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    home = page.locator("article", has=page.get_by_role("heading", name="Rate internal services"))
    await home.wait_for()
    await home.get_by_role("button", name="Rate them").click()
    await page.wait_for_url("**/internal-service/round")
    before = await page.get_by_text(re.compile(r"^\d+ of \d+ rated$")).inner_text()
    done, total = int(before.split()[0]), int(before.split()[2])
    row = page.get_by_role("row", name=f"Browser picking {tag}")
    await row.get_by_role("button", name="Rate").click()
    await page.wait_for_url(f"**/internal-service/services/{first}/rate")
    await page.evaluate("window.noReloadMarker = 7")
    await page.get_by_role("button", name="Save the rating").click()
    await page.get_by_text("Choose a score from 1 to 5.").first.wait_for()
    assert await page.evaluate("window.noReloadMarker") == 7, "refused in place, without a reload"
    for name in ("Overall", "Speed", "Quality", "Courtesy", "Willingness to help"):
        await page.get_by_role("group", name=name).get_by_label("4").check()
    await page.get_by_label("Comment", exact=True).fill("Browser: packed before lunch")
    await page.get_by_role("button", name="Save the rating").click()
    await page.wait_for_url("**/internal-service/round?rated=1")
    await page.get_by_text("Thank you: your rating was saved.").wait_for()
    await page.get_by_text(f"{done + 1} of {total} rated").wait_for()
    assert await page.locator("progress").get_attribute("value") == str(done + 1)
    assert await page.get_by_role("row", name=f"Browser picking {tag}").get_by_text("Rated").is_visible()
    await page.get_by_role("row", name=f"Browser returns {tag}").get_by_role("button", name="Rate").wait_for()


async def test_the_head_resolves_a_follow_up_and_the_rater_is_told_without_being_named(page, live_server, browser, cast):
    await h.open_round()
    tag = uuid.uuid4().hex[:6]
    svc = await h.service(cast.departments["support"], f"Browser hotline {tag}")
    # The rater: the outsider works in the warehouse, which receives support's services.
    await sign_in(page, live_server, EMAILS["outsider"], PASSWORD)
    await page.goto(live_server + f"/internal-service/services/{svc}/rate")
    for name in ("Overall", "Speed", "Quality", "Courtesy", "Willingness to help"):
        await page.get_by_role("group", name=name).get_by_label("1").check()
    await page.get_by_label("Comment", exact=True).fill(f"Browser: nobody answered for an hour {tag}")
    await page.get_by_label("Request reference (optional)").fill(f"WH-{tag}")
    await page.get_by_label("The department may see my comment").check()
    await page.get_by_role("button", name="Save the rating").click()
    await page.wait_for_url("**/internal-service/round?rated=1")

    head_context = await browser.new_context(locale="en-US")
    head = await head_context.new_page()
    await sign_in(head, live_server, EMAILS["manager"], PASSWORD)  # heads customer support
    await head.goto(live_server + "/internal-service/follow-ups")
    await head.get_by_role("link", name=f"Browser hotline {tag}").first.click()
    await head.get_by_text(f"Browser: nobody answered for an hour {tag}").wait_for()
    await head.get_by_text(f"WH-{tag}").wait_for()
    body = await head.locator("main").inner_text()
    assert "Склад" not in body and "Warehouse" not in body, "never the rater or their department"
    await head.get_by_role("button", name="Resolve and tell the rater").click()
    await head.get_by_text("Write what you found out.").wait_for()
    await head.get_by_label("What we found").fill("The hotline rang in an empty room")
    await head.get_by_label("What was done").fill(f"Calls now go to two phones {tag}")
    await head.get_by_role("button", name="Resolve and tell the rater").click()
    await head.get_by_role("heading", name="Resolved").wait_for()
    await head.get_by_text(f"Calls now go to two phones {tag}").wait_for()
    assert await head.get_by_role("button", name="Resolve and tell the rater").count() == 0
    await head_context.close()

    await page.goto(live_server + "/")
    told = page.get_by_text(f"was followed up and resolved: Calls now go to two phones {tag}")
    await told.wait_for()
    assert f"Browser hotline {tag}" in await told.inner_text()
