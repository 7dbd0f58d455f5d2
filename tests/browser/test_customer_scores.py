"""Customer scores in a real browser: HR imports a scores file through the wizard (upload,
mapping, dry run, import), and a manager closes the follow-up of a low score. Screenshots of
the pages at 390 px go to the test's temporary folder for people to look at."""

import pytest

from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp
from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.customers import helpers as h

pytestmark = pytest.mark.browser


async def test_hr_imports_a_scores_file_through_the_wizard(page, live_server, cast, tmp_path):
    prefix = f"browser-{h.tag()}"
    data = h.csv_bytes([h.RU_HEADER,
                        [f"{prefix}-1", h.recent().strftime("%d.%m.%Y"), "Телефон", "support.line1", "", "2", "", "HD-1",
                         "Долго ждал"],
                        [f"{prefix}-2", h.recent().isoformat(), "Чат", "Первая линия", "", "5", "10", "", ""]],
                       delimiter=";", encoding="cp1251")
    await sign_in(page, live_server, EMAILS["hr"], PASSWORD)
    await page.locator("details.nav-more > summary").click()  # "Customers" is under the header's "More"
    await page.get_by_role("link", name="Customers").click()
    await page.get_by_role("link", name="Import scores").click()
    await page.locator("#f-file").set_input_files({"name": "scores.csv", "mimeType": "text/csv", "buffer": data})
    await page.locator("#f-source").fill("browser-survey")
    await page.get_by_role("button", name="Upload and check").click()
    await page.get_by_role("heading", name="Match the columns").wait_for()
    assert await page.get_by_label("Оценка").input_value() == "csat"
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(tmp_path / "scores-mapping-390.png"), full_page=True)
    await page.get_by_role("button", name="Check the file").click()
    await page.get_by_role("heading", name="Import preview").wait_for()
    await page.get_by_text("Nothing has been saved yet.").wait_for()
    assert await CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run() == 0
    await page.get_by_role("button", name="Import", exact=True).click()
    await page.get_by_role("heading", name="Import finished").wait_for()
    assert "2" in await page.get_by_role("row", name="Scores added").inner_text()
    assert await CustomerScore.count().where(CustomerScore.external_id.like(prefix + "%")).run() == 2


async def test_a_manager_closes_the_follow_up_of_a_low_score(page, live_server, cast, tmp_path):
    source = f"browser-{h.tag()}"
    await h.save([h.item("low", csat="1", comment="The courier never came", case_ref="HD-4242")], source)
    score = await CustomerScore.select().where(CustomerScore.source == source).first().run()
    follow_up = await ScoreFollowUp.select().where(ScoreFollowUp.score == score["id"]).first().run()
    await sign_in(page, live_server, EMAILS["manager"], PASSWORD)
    await page.goto(live_server + "/customers/follow-ups")
    await page.locator(f'a[href="/customers/follow-ups/{follow_up["id"]}"]').click()
    await page.get_by_text("The courier never came").wait_for()
    await page.get_by_role("button", name="Close the follow-up").click()
    await page.get_by_text("Choose what was done.").wait_for()  # no outcome chosen: refused in place
    await page.get_by_label("Resolved the problem").check()
    await page.get_by_label("Note").fill("Called, redelivered the order tonight")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(tmp_path / "follow-up-390.png"), full_page=True)
    await page.get_by_role("button", name="Close the follow-up").click()
    await page.get_by_text("The follow-up is closed. Thank you.").wait_for()
    row = await ScoreFollowUp.select().where(ScoreFollowUp.id == follow_up["id"]).first().run()
    assert (row["status"], row["outcome"]) == ("closed", "resolved")
