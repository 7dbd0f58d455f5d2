"""Scheduled work for pulses: publish the answers of pulses whose last day has passed, and
remind those who have not answered (never telling anyone else who has)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servicechain.platform.outbox import job
from servicechain.platform.surveys import service


@job("surveys.close_due", every=timedelta(hours=1))
async def close_due(_: dict[str, Any]) -> None:
    await service.close_due()


@job("surveys.remind", every=timedelta(hours=24))
async def remind(_: dict[str, Any]) -> None:
    await service.send_reminders()
