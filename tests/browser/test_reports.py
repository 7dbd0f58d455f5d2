"""The monthly report in a browser: an executive asks for it, the archive says it is being
prepared, the report appears there by itself (htmx polling) once a worker has made it, and the
download is a PDF of several pages."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from servicechain.platform.reports import monthly
from servicechain.platform.reports.service import last_complete_month
from tests.browser.conftest import sign_in
from tests.cast import EMAILS, PASSWORD
from tests.reports.helpers import seed_month, work_off_reports

pytestmark = pytest.mark.browser


async def test_an_executive_asks_for_a_report_sees_it_appear_and_downloads_the_pdf(page, live_server, cast, tmp_path):
    await seed_month(cast)  # scores last month and this: the last complete month has data
    month = last_complete_month()
    title = monthly.month_title(month)
    await sign_in(page, live_server, EMAILS["ceo"], PASSWORD)
    await page.goto(live_server + "/reports/")
    await page.get_by_label("Month").select_option(f"{month:%Y-%m}")
    await page.get_by_label("Language").select_option("en")
    await page.get_by_label("Generate again if it is already in the archive").check()
    await page.get_by_role("button", name="Generate").click()

    await page.wait_for_url(live_server + "/reports/?asked=queued")
    await page.get_by_text(f"{title}, English: being prepared").wait_for()

    # The server runs no worker here: do the worker's part, while the page waits on its own.
    await page.evaluate("window.noReloadMarker = 7")
    await work_off_reports()
    await page.get_by_text(f"{title}, English: being prepared").wait_for(state="detached", timeout=30_000)
    row = page.locator("#reports-live table tr").filter(has_text=title).filter(has_text="English")
    await row.wait_for()
    assert await page.evaluate("window.noReloadMarker") == 7, "the archive updated in place, without a reload"

    async with page.expect_download() as info:
        await row.get_by_role("link", name="Download").click()
    download = await info.value
    assert download.suggested_filename == f"servicechain-report-{month:%Y-%m}-en.pdf"
    path = tmp_path / download.suggested_filename
    await download.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    info_text = (await asyncio.to_thread(subprocess.run, ["pdfinfo", str(path)], capture_output=True, text=True,
                                         check=True)).stdout
    pages = int(next(line.split()[-1] for line in info_text.splitlines() if line.startswith("Pages:")))
    assert pages >= 5, info_text
