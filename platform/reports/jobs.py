"""Reports made on the job queue: a person asks on /reports/, a worker makes the PDF.

The whole monthly PDF takes seconds of CPU (WeasyPrint); inside a request it held a server
worker and the person's connection that long, and a proxy's timeout could cut it. The request
now only queues a ``reports.generate`` job (``service.request_report``); a worker runs this
handler, and the archive page lists what is being prepared until the report is stored.

What the page reads is the job row itself (no second table to keep in step): unfinished is
"being prepared"; finished with ``last_error`` set is a failure this handler recorded (a month
without data, an unsupported language: asking again would fail the same way, so it is not
retried); unfinished after the queue's last attempt is a failure the queue gave up on. A worker
killed mid-way leaves no half report (``monthly.generate`` stores the PDF in one transaction)
and its claim lapses, so another worker makes the report again.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from servicechain.platform import db
from servicechain.platform.i18n import use_language
from servicechain.platform.outbox import job
from servicechain.platform.security import Actor

log = logging.getLogger("servicechain.reports")
KIND = "reports.generate"


def requester(payload: dict[str, Any]) -> Actor | None:
    """The person who asked, as the archive and the audit log name them."""
    if not payload.get("person_id"):
        return None
    return Actor(kind="person", person_id=int(payload["person_id"]), role=payload.get("role"),
                 name=str(payload.get("name", "")), language=payload.get("language"))


@job(KIND)
async def generate_requested(payload: dict[str, Any]) -> None:
    from servicechain.platform.reports import monthly

    month, lang, token = date.fromisoformat(payload["month"]), payload["lang"], payload["token"]
    actor = requester(payload)
    # Messages are kept in the language of the person who asked: they read them on the page.
    with use_language(payload.get("language") or lang):
        try:
            made = await monthly.generate(month, lang, actor)
        except monthly.ReportError as exc:
            log.warning("report %s %s not made: %s", payload["month"], lang, exc)
            await _record(token, str(exc) or type(exc).__name__)
            return
    await _record(token, "")
    log.info("report %s %s made (sha256 %s)", payload["month"], lang, made.sha256[:12])


async def _record(token: str, error: str) -> None:
    """Say on the job row how it ended: the page tells a refused request from a made one by
    ``last_error`` (an earlier attempt's transient error is cleared on success)."""
    async with db.write():
        await db.fetch("UPDATE job SET last_error = {} WHERE unique_key = {}", error[:2000], unique_key(token))


def unique_key(token: str) -> str:
    return f"{KIND}:{token}"
