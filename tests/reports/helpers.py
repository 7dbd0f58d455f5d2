"""One small company's month for the report tests, built with the domains' own functions, and
reading a PDF back as text."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import date, datetime, timedelta

from servicechain.platform.config import get_settings
from servicechain.platform.reports import monthly
from servicechain.recognition import service as recognition
from tests.cast import EMAILS, Cast
from tests.customers.helpers import item, save
from tests.recognition.conftest import ensure_values

SCRIPT = "<script>alert('report')</script>"


def this_month() -> date:
    today = datetime.now(get_settings().tz).date()
    return date(today.year, today.month, 1)


async def seed_month(cast: Cast) -> dict:
    """Customer scores this month and last for two departments, and one public thanks with an
    inspiring-service story whose text carries HTML, reacted to by three colleagues so it is
    among the month's top stories whatever else the suite adds."""
    month = this_month()
    previous = monthly.shift_month(month, -1)
    run = uuid.uuid4().hex[:6]
    items = []
    for day, scores in ((previous, (5, 4, 3, 5)), (month, (5, 5, 4, 2, 5))):
        for i, csat in enumerate(scores):
            for dept in ("support.line1", "warehouse"):
                items.append(item(f"report-{run}-{day:%Y%m}-{dept}-{i}", given_on=day.isoformat(), department=dept,
                                  csat=str(csat), nps=str(min(10, csat * 2))))
    await save(items, source=f"report-{run}")
    await ensure_values()
    story = f"{SCRIPT} Ivan drove the forgotten order to the customer's dacha at night."
    rid = await recognition.give_recognition(cast.actor("outsider"), {
        "to": [EMAILS["employee"]], "values": ["customer", "beyond"], "message": "Спасибо! <b>bold</b>",
        "story": story, "visibility": "public"})
    for who in ("ceo", "manager", "hr"):
        await recognition.toggle_reaction(cast.actor(who), rid, "thanks")
    return {"month": month, "story": story}


def pdf_text(pdf: bytes, *, layout: bool = True) -> str:
    """pdftotext's reading of the PDF, with no-break and thin spaces as plain spaces."""
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + ["-", "-"]
    text = subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode("utf-8")
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def plain(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def lines_with(text: str, start: str) -> list[str]:
    """The lines (layout text) whose first words are ``start``."""
    return [plain(line) for line in text.splitlines() if plain(line).startswith(plain(start))]


def month_before(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def has_figure(line: str, expected: str) -> bool:
    """``expected`` (a formatted figure) stands alone in ``line``; a no-break space inside it may
    come back from the PDF as a space or as nothing."""
    parts = [re.escape(p) for p in re.split(r"[\u00a0\u202f ]", expected)]
    return re.search(r"(^|\s)" + r"\s?".join(parts) + r"(\s|$)", line) is not None


async def queued() -> list[dict]:
    """Report jobs not finished yet."""
    from servicechain.platform import db

    return await db.fetch("SELECT id, payload FROM job WHERE kind = 'reports.generate' AND finished_at IS NULL")


async def work_off_reports() -> None:
    """What a worker does with the reports asked for: the real ``outbox.run_jobs``, in a
    private database copy (``database_copy``). Other kinds of work queued there are put off,
    so the test runs only what it asked for."""
    from servicechain.platform import db, outbox

    async with db.write():
        await db.fetch("UPDATE job SET run_at = {} WHERE kind <> 'reports.generate' AND finished_at IS NULL",
                       outbox.now() + timedelta(days=365))
    while await outbox.run_jobs():
        pass


# Months that are not months, with the words every entry point answers them with (the web pages
# in the reader's language, the command line in English): lib.dates.parse_month's.
BAD_MONTHS = {
    "2026-13": ("“2026-13” is not a month: write it as YYYY-MM, such as 2026-10.",
                "«2026-13» — не месяц: запишите его как ГГГГ-ММ, например 2026-10."),
    "26-01": ("“26-01” is not a month: write it as YYYY-MM, such as 2026-10.",
              "«26-01» — не месяц: запишите его как ГГГГ-ММ, например 2026-10."),
    "": ("No month given: write it as YYYY-MM, such as 2026-10.",
         "Месяц не указан: запишите его как ГГГГ-ММ, например 2026-10."),
    "2026-1x": ("“2026-1x” is not a month: write it as YYYY-MM, such as 2026-10.",
                "«2026-1x» — не месяц: запишите его как ГГГГ-ММ, например 2026-10."),
}
