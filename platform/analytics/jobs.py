"""Scheduled work for analytics: keep the stored snapshots current.

Once a day the worker refreshes the running month (the dashboards read the latest snapshot)
and, in the first week of a month, the month just ended too, so scores and ratings that arrive
late still reach its snapshot before the monthly report is printed. A month with no data at all
stores nothing. What the panel keeps between builds in ``analytics_cache`` makes a nightly build
re-read only the month new scores fell in, and reuse the internal service's hiding result, the
follow-up medians of unchanged months and the pulse sums while their sources are unchanged."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from servicechain.platform.lib.dates import month_start, shift_month
from servicechain.platform.outbox import job

log = logging.getLogger("servicechain.analytics")
LATE_DAYS = 7


def months_to_refresh(today: date) -> list[date]:
    current = month_start(today)
    previous = shift_month(current, -1)
    return [previous, current] if today.day <= LATE_DAYS else [current]


@job("analytics.refresh", every=timedelta(hours=24))
async def refresh_daily(_: dict[str, Any]) -> None:
    from servicechain.platform.analytics import snapshot
    from servicechain.platform.people.service import today

    for month in months_to_refresh(today()):
        stored = await snapshot.refresh_if_data(month)
        if stored is not None:
            log.info("analytics snapshot of %s refreshed (sha256 %s)", f"{month:%Y-%m}", stored.checksum[:12])
