"""Scheduled work for customer scores: follow-ups past their due time remind their assignee once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servicechain.platform.customers.service import remind_overdue
from servicechain.platform.outbox import job


@job("customers.remind_overdue", every=timedelta(minutes=15))
async def run_remind_overdue(_: dict[str, Any]) -> None:
    await remind_overdue()
