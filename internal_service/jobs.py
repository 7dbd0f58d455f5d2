"""The internal service's background work: deciding a period's figures after the summary changed
(``service.refresh_figures``), so no page pays for the decision."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from servicechain.internal_service import service
from servicechain.platform import db
from servicechain.platform.outbox import job, now

KEEP_FINISHED = timedelta(hours=1)


@job(service.FIGURES_JOB)
async def decide_figures(payload: dict[str, Any]) -> None:
    """Scheduled with every change of the summary (one job per version) and by pages whose
    period's figures are behind for another reason. Runs of the same version find the figures
    decided and return; finished runs are forgotten after an hour, so a day of ratings does not
    leave a job row per rating behind."""
    until = date.fromisoformat(payload["until"]) if payload.get("until") else None
    await service.refresh_figures(until, payload.get("round"))
    async with db.write():
        await db.fetch("DELETE FROM job WHERE kind = {} AND finished_at IS NOT NULL AND finished_at < {}",
                       service.FIGURES_JOB, now() - KEEP_FINISHED)
