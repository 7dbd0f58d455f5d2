"""/reports/: who may list, generate and download; generating only on request; downloads carry
the file name and are checked against the stored checksum."""

from __future__ import annotations

import hashlib
from datetime import timedelta, date

import pytest

from servicechain.platform import db

from servicechain.platform.lib.dates import month_key
from tests.conftest import post_form
from tests.reports.helpers import queued, work_off_reports


@pytest.mark.parametrize("who", ["employee", "manager"])
async def test_employees_and_managers_can_neither_list_nor_download(as_user, seeded, who):
    client = await as_user(who)
    assert (await client.get("/reports/")).status_code == 403
    report_id = seeded["reports"]["en"].id
    assert (await client.get(f"/reports/{report_id}/download")).status_code == 403
    response = await post_form(client, "/reports/generate", {"month": month_key(seeded["month"]), "lang": "en"})
    assert response.status_code == 403


async def test_hr_reads_the_archive_but_cannot_generate(as_user, seeded):
    client = await as_user("hr")
    page = await client.get("/reports/")
    assert page.status_code == 200
    assert seeded["reports"]["ru"].sha256[:16] in page.text
    assert 'action="/reports/generate"' not in page.text
    response = await post_form(client, "/reports/generate", {"month": month_key(seeded["month"]), "lang": "en"})
    assert response.status_code == 403


async def test_an_executive_downloads_the_stored_pdf_with_its_name_and_checksum(as_user, seeded):
    client = await as_user("ceo")
    page = await client.get("/reports/")
    assert page.status_code == 200 and "/reports/generate" in page.text
    made = seeded["reports"]["ru"]
    response = await client.get(f"/reports/{made.id}/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="servicechain-report-{month_key(seeded["month"])}-ru.pdf"' in response.headers["content-disposition"]
    assert response.headers["content-disposition"].startswith("attachment")
    assert hashlib.sha256(response.content).hexdigest() == made.sha256 == response.headers["x-content-sha256"]


async def test_generating_a_report_already_archived_keeps_it_unless_asked(as_user, cast, seeded, database_copy):
    from servicechain.platform.reports import monthly

    client = await as_user("ceo")
    month = month_key(seeded["month"])
    before = await monthly.archived(seeded["month"], "ru")
    kept = await post_form(client, "/reports/generate", {"month": month, "lang": "ru"})
    assert kept.status_code == 303 and "kept=" in kept.headers["location"]
    assert await queued() == []

    again = await post_form(client, "/reports/generate", {"month": month, "lang": "ru", "regenerate": "1"})
    assert again.status_code == 303 and again.headers["location"] == "/reports/?asked=queued"
    # The request only queued the work: the archive still holds the old report, and says so.
    assert (await monthly.archived(seeded["month"], "ru"))["generated_at"] == before["generated_at"]
    page = await client.get(again.headers["location"])
    assert "being prepared" in page.text and 'hx-trigger="every 3s"' in page.text
    assert monthly.month_title(seeded["month"]) + ", Русский: being prepared" in page.text
    twice = await post_form(client, "/reports/generate", {"month": month, "lang": "ru", "regenerate": "1"})
    assert twice.headers["location"] == "/reports/?asked=pending" and len(await queued()) == 1

    await work_off_reports()
    after = await monthly.archived(seeded["month"], "ru")
    assert after["id"] == before["id"] and after["generated_at"] > before["generated_at"]  # replaced, not added
    assert after["generated_by"] == cast.ids["ceo"]  # the person who asked, not the worker
    page = await client.get("/reports/")
    assert "being prepared" not in page.text and "every 3s" not in page.text
    assert after["sha256"][:16] in page.text


async def test_a_month_without_data_or_a_bad_language_is_explained_on_the_page(as_user, database_copy):
    from servicechain.platform.analytics import snapshot

    client = await as_user("ceo")
    response = await post_form(client, "/reports/generate", {"month": "2026-10", "lang": "de"})
    assert response.status_code == 422 and "Choose a language" in response.text

    # No snapshot of the month yet: the job builds it, finds nothing and the page says so.
    assert await snapshot.load(date(2019, 3, 1)) is None
    response = await post_form(client, "/reports/generate", {"month": "2019-03", "lang": "en"})
    assert response.status_code == 303
    await work_off_reports()
    page = await client.get("/reports/")
    assert "March 2019, English: the report could not be made." in page.text
    assert "no data for 2019-03" in page.text and 'role="alert"' in page.text
    assert "every 3s" not in page.text  # nothing left to wait for: no polling
    assert await db.fetch("SELECT id FROM report_archive WHERE month = {}", date(2019, 3, 1)) == []

    # With the month's (empty) snapshot stored, the form says it at once and queues nothing.
    await snapshot.refresh(date(2019, 3, 1))
    response = await post_form(client, "/reports/generate", {"month": "2019-03", "lang": "en"})
    assert response.status_code == 422 and "no data for 2019-03" in response.text
    assert await queued() == []


async def test_a_failure_of_the_queue_is_retried_then_shown(as_user, seeded, database_copy, monkeypatch):
    from servicechain.platform import outbox
    from servicechain.platform.reports import monthly

    async def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(monthly, "make_pdf", broken)
    client = await as_user("ceo")
    await post_form(client, "/reports/generate", {"month": month_key(seeded["month"]), "lang": "en", "regenerate": "1"})
    await work_off_reports()
    page = await client.get("/reports/")
    assert "being prepared" in page.text and "trying again" in page.text
    async with db.write():  # as if every attempt but the last had been made
        await db.fetch("UPDATE job SET attempts = {}, run_at = {} WHERE kind = 'reports.generate'",
                       outbox.MAX_ATTEMPTS - 1, outbox.now())
    await work_off_reports()
    page = await client.get("/reports/")
    assert "the report could not be made." in page.text and "disk full" in page.text
    # A given-up request is shown for a day after its last try, then no longer (it is never
    # "finished", so it would otherwise stay on the page for good).
    async with db.write():
        await db.fetch("UPDATE job SET run_at = {} WHERE kind = 'reports.generate'", outbox.now() - timedelta(days=2))
    page = await client.get("/reports/")
    assert "the report could not be made." not in page.text


async def test_generating_needs_the_csrf_token(as_user, seeded):
    client = await as_user("ceo")
    response = await client.post("/reports/generate", data={"month": month_key(seeded["month"]), "lang": "en"},
                                 follow_redirects=False)
    assert response.status_code == 403
