"""The report archive for people: list, ask for a report, download with the checksum checked.

Asking queues the work (``jobs.generate_requested`` on the job queue): the whole monthly PDF
costs seconds of CPU, which must not hold a request. The archive lists what is being prepared
and what failed, from the job rows. An existing report is replaced only when the form says so.
The command line (``servicechain report monthly``) still makes the PDF at once.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servicechain.platform import db, outbox

from servicechain.platform.config import LANGUAGES, get_settings
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib import dates
from servicechain.platform.lib.dates import BadMonth, month_key, parse_month
from servicechain.platform.reports import jobs, monthly
from servicechain.platform.security import Actor, require
from servicechain.platform.web import FormInvalid

MONTHS_OFFERED = 24


def last_complete_month(today: date | None = None) -> date:
    return dates.last_complete_month(today or datetime.now(get_settings().tz).date())


def month_choices(today: date | None = None) -> list[tuple[str, str]]:
    """The months the form offers, newest first: the last complete month and 23 before it."""
    last = last_complete_month(today)
    months = [monthly.shift_month(last, -i) for i in range(MONTHS_OFFERED)]
    return [(month_key(m), monthly.month_title(m)) for m in months]


# Failures stay on the page for a day: long enough to be seen, not forever.
FAILURES_SHOWN = timedelta(days=1)


async def requests() -> list[dict[str, Any]]:
    """Reports asked for and not (yet) in the archive, newest first: ``state`` "preparing"
    (queued or being made; ``retrying`` after a transient error) or "failed" (with ``error``)."""
    since = datetime.now(UTC) - FAILURES_SHOWN
    rows = await db.fetch(
        "SELECT id, payload, run_at, attempts, finished_at, last_error FROM job WHERE kind = {}"
        " AND (finished_at >= {} OR (finished_at IS NULL AND (attempts < {} OR run_at >= {}))) ORDER BY id DESC",
        jobs.KIND, since, outbox.MAX_ATTEMPTS, since)
    out = []
    for row in rows:
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"] or "{}")
        error = row["last_error"] or ""
        if row["finished_at"] is not None:
            if not error:
                continue  # made: it is in the archive
            state = "failed"
        elif row["attempts"] >= outbox.MAX_ATTEMPTS:
            state = "failed"  # the queue gave up after its last attempt
        else:
            state = "preparing"
        month = date.fromisoformat(payload["month"])
        out.append({"id": row["id"], "month": month, "month_title": monthly.month_title(month),
                    "lang": payload["lang"], "by": payload.get("name") or "", "state": state,
                    "error": error if state == "failed" else "", "retrying": state == "preparing" and bool(error)})
    return out


async def archive_page(actor: Actor) -> dict[str, Any]:
    """The archive (reports.read) with the reports being prepared or failed; the form only for
    those who may generate."""
    require(actor, "reports.read")
    from servicechain.platform.i18n import language_name
    from servicechain.platform.security import can

    reports = await monthly.archive()
    for r in reports:
        r["month_title"] = monthly.month_title(r["month"])
    asked = await requests()
    return {"reports": reports, "requests": asked, "preparing": any(r["state"] == "preparing" for r in asked),
            "may_generate": can(actor, "reports.generate"),
            "months": month_choices(), "language_options": [(lang, language_name(lang)) for lang in LANGUAGES],
            "values": {"month": month_key(last_complete_month()), "lang": actor.language or get_settings().default_language}}


def _parse(data: dict[str, Any]) -> tuple[date, str, bool]:
    errors: dict[str, list[str]] = {}
    month_text = str(data.get("month", "")).strip()
    lang = str(data.get("lang", "")).strip()
    month = None
    try:
        month = parse_month(month_text)
    except BadMonth as exc:
        errors["month"] = [str(exc)]
    if lang not in LANGUAGES:
        errors["lang"] = [_("Choose a language: %(choices)s.", choices=", ".join(LANGUAGES))]
    if errors:
        raise FormInvalid(errors)
    return month, lang, str(data.get("regenerate", "")) in ("1", "on", "true", "yes")  # type: ignore[return-value]


async def request_report(actor: Actor, data: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Ask for the month's report in a language (reports.generate). Returns the archived row
    and "kept" when it is in the archive already and ``regenerate`` is not ticked; otherwise
    queues it ("queued"), or leaves the one already queued for that month and language
    ("pending"). FormInvalid for a bad month or language. A month without data is refused by
    the job, and the archive page says so."""
    require(actor, "reports.generate")
    month, lang, regenerate = _parse(data)
    existing = await monthly.archived(month, lang)
    if existing is not None and not regenerate:
        return existing, "kept"
    if await _stored_without_data(month):
        # Known at once from the month's stored snapshot: say it on the form, queue nothing.
        raise FormInvalid({"month": [_("There is no data for %(month)s: nothing to report.", month=month_key(month))]})
    if any(r["state"] == "preparing" and r["month"] == month and r["lang"] == lang for r in await requests()):
        return None, "pending"
    token = uuid.uuid4().hex
    payload = {"month": month.isoformat(), "lang": lang, "token": token, "person_id": actor.person_id,
               "role": actor.role, "name": actor.name, "language": actor.language}
    async with db.write():
        await outbox.schedule(jobs.KIND, payload, unique_key=jobs.unique_key(token))
    return None, "queued"


async def _stored_without_data(month: date) -> bool:
    """Whether the month has a stored snapshot that holds no figure (decoded once per process);
    False when none is stored: the job builds it and says so if the month has no data."""
    from servicechain.platform.analytics import snapshot

    row = next((r for r in await snapshot.stored() if r.month == month), None)
    if row is None:
        return False
    try:
        return not snapshot.has_data((await snapshot.decoded(row)).panel, month)
    except snapshot.SnapshotDamaged:
        return False  # the job builds it again


async def download(actor: Actor, report_id: int) -> tuple[str, bytes, str]:
    """The PDF's file name, bytes and checksum (reports.read). ChecksumMismatch when the stored
    bytes no longer match: they are never sent."""
    require(actor, "reports.read")
    row, pdf = await monthly.download(report_id)
    return monthly.filename(row["month"], row["lang"]), pdf, row["sha256"]
