"""The report archive for people: list, generate on request, download with the checksum checked.

Generating runs inside the request: the whole monthly PDF takes a few seconds (bench/
monthly_report.py measures it at 20,000 people; the target is 10 s), and the person who asked
waits for the file they asked for. An existing report is replaced only when the form says so.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from servicechain.platform.config import LANGUAGES, get_settings
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import month_key
from servicechain.platform.reports import monthly
from servicechain.platform.security import Actor, require
from servicechain.platform.web import FormInvalid

MONTHS_OFFERED = 24


def last_complete_month(today: date | None = None) -> date:
    today = today or datetime.now(get_settings().tz).date()
    return monthly.shift_month(date(today.year, today.month, 1), -1)


def month_choices(today: date | None = None) -> list[tuple[str, str]]:
    """The months the form offers, newest first: the last complete month and 23 before it."""
    last = last_complete_month(today)
    months = [monthly.shift_month(last, -i) for i in range(MONTHS_OFFERED)]
    return [(month_key(m), monthly.month_title(m)) for m in months]


async def archive_page(actor: Actor) -> dict[str, Any]:
    """The archive (reports.read); the form only for those who may generate."""
    require(actor, "reports.read")
    from servicechain.platform.security import can

    from servicechain.platform.i18n import language_name

    reports = await monthly.archive()
    for r in reports:
        r["month_title"] = monthly.month_title(r["month"])
    return {"reports": reports, "may_generate": can(actor, "reports.generate"),
            "months": month_choices(), "language_options": [(lang, language_name(lang)) for lang in LANGUAGES],
            "values": {"month": month_key(last_complete_month()), "lang": actor.language or get_settings().default_language}}


def _parse(data: dict[str, Any]) -> tuple[date, str, bool]:
    errors: dict[str, list[str]] = {}
    month_text = str(data.get("month", "")).strip()
    lang = str(data.get("lang", "")).strip()
    month = None
    try:
        if len(month_text) != 7 or month_text[4] != "-":
            raise ValueError
        month = date(int(month_text[:4]), int(month_text[5:7]), 1)
    except ValueError:
        errors["month"] = [_("Choose a month.")]
    if lang not in LANGUAGES:
        errors["lang"] = [_("Choose a language: %(choices)s.", choices=", ".join(LANGUAGES))]
    if errors:
        raise FormInvalid(errors)
    return month, lang, str(data.get("regenerate", "")) in ("1", "on", "true", "yes")  # type: ignore[return-value]


async def request_report(actor: Actor, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Generate the month's report in a language (reports.generate), unless it is in the archive
    already and ``regenerate`` is not ticked. Returns the archive row and whether it was made
    now. FormInvalid for a bad month or language, or a month without data."""
    require(actor, "reports.generate")
    month, lang, regenerate = _parse(data)
    existing = await monthly.archived(month, lang)
    if existing is not None and not regenerate:
        return existing, False
    try:
        made = await monthly.generate(month, lang, actor)
    except monthly.ReportError as exc:
        raise FormInvalid({"month": [str(exc)]}) from None
    return {"id": made.id, "month": made.month, "lang": made.lang, "sha256": made.sha256, "size": made.size}, True


async def download(actor: Actor, report_id: int) -> tuple[str, bytes, str]:
    """The PDF's file name, bytes and checksum (reports.read). ChecksumMismatch when the stored
    bytes no longer match: they are never sent."""
    require(actor, "reports.read")
    row, pdf = await monthly.download(report_id)
    return monthly.filename(row["month"], row["lang"]), pdf, row["sha256"]
