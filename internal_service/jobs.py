"""The internal service's background work: deciding a period's figures after the summary changed
(``service.decide_figures``), so no page pays for the decision."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from servicechain.internal_service import service
from servicechain.platform.outbox import job

# Finished runs are never read again: housekeeping forgets them after an hour, so a day of ratings
# does not leave a row per bucket behind.
KEEP_FINISHED = timedelta(hours=1)


@job(service.FIGURES_JOB, keep_finished=KEEP_FINISHED)
async def decide_figures(payload: dict[str, Any]) -> None:
    """Scheduled once per bucket of time in which the summary changed (``summary.schedule_figures``)
    and by readers whose period's figures are behind for another reason. A run that finds the
    figures decided for the summary as it is returns at once."""
    until = date.fromisoformat(payload["until"]) if payload.get("until") else None
    await service.decide_figures(until, payload.get("round"))
