"""A person signs in, switches to Russian and finds a colleague live, in a real browser."""

import pytest

from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD

pytestmark = pytest.mark.browser


async def test_sign_in_with_wrong_password_shows_message_then_succeeds(page, live_server):
    await page.goto(live_server + "/login")
    await page.get_by_label("Email or employee number").fill(EMAILS["employee"])
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("The email, employee number or password is wrong.").wait_for()
    await sign_in(page, live_server, EMAILS["employee"], PASSWORD)
    await page.get_by_role("heading", name="Hello, Ёлкин Иван").wait_for()


async def test_switch_to_russian_and_back(page, live_server):
    await sign_in(page, live_server, "T-005", PASSWORD)  # by employee number
    await page.get_by_role("button", name="Русский").click()
    await page.wait_for_load_state()
    assert await page.get_attribute("html", "lang") == "ru"
    await page.get_by_role("heading", name="Здравствуйте, Ёлкин Иван").wait_for()
    await page.get_by_role("link", name="Сотрудники").wait_for()
    await page.get_by_role("button", name="English").click()
    await page.wait_for_load_state()
    assert await page.get_attribute("html", "lang") == "en"


async def test_live_search_finds_colleague_with_yo_folded(page, live_server):
    await sign_in(page, live_server, EMAILS["hr"], PASSWORD)
    await page.goto(live_server + "/people/")
    await page.evaluate("window.noReloadMarker = 42")  # a full page load would wipe this
    async with page.expect_response(lambda r: "/people/?" in r.url and r.request.headers.get("hx-request") == "true"):
        await page.get_by_label("Search").fill("елкин")
    results = page.locator("#results")
    await results.get_by_role("link", name="Ёлкин Иван").wait_for()
    assert await results.get_by_role("link", name="Склад Складов").count() == 0
    assert "q=%D0%B5%D0%BB%D0%BA%D0%B8%D0%BD" in page.url  # the search is in the address bar (hx-push-url)
    assert await page.evaluate("window.noReloadMarker") == 42  # htmx swapped the results in place


async def test_import_with_a_bad_row_names_the_row_and_changes_nothing(page, live_server, tmp_path):
    export = tmp_path / "staff.csv"
    export.write_bytes(
        "Табельный номер;ФИО;Эл. почта;Подразделение\r\n"
        "BR-1;Браузерова Анна;anna.browser@test.local;Служба поддержки / Браузерная группа\r\n"
        "BR-2;Браузеров Пётр;not-an-email;Служба поддержки / Браузерная группа\r\n".encode("cp1251")
    )
    await sign_in(page, live_server, EMAILS["hr"], PASSWORD)
    await page.goto(live_server + "/people/import/")
    await page.get_by_label("File").set_input_files(str(export))
    await page.get_by_role("button", name="Upload and check").click()
    await page.get_by_role("button", name="Preview").click()
    problems = page.locator("table.problems")
    await problems.wait_for()
    row = problems.locator("tbody tr", has_text="not-an-email")
    if await row.count() == 0:  # the message may not repeat the value; the row number is what matters
        row = problems.locator("tbody tr").first
    assert (await row.locator("td").first.inner_text()).strip() == "3"  # the header is row 1
    assert "email" in (await row.inner_text()).lower()
    await page.get_by_role("button", name="Upload a corrected file").wait_for()
    # Nothing was imported: the good row is not in the directory either.
    await page.goto(live_server + "/people/?q=Браузерова")
    await page.get_by_text("0 people found").wait_for()
