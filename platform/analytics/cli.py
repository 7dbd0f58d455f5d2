"""`servicechain analytics refresh [--month YYYY-MM]`: build a month's analytics panel (the 24
months ending with it) and store it as that month's snapshot, replacing the one before.

Exit 0 stored; 1 the month holds no data at all (nothing is stored); 2 a malformed or future
month. The nightly job refreshes the running month by itself (``analytics.jobs``); run this
after importing history or to rebuild a closed month."""

from __future__ import annotations

import time
from datetime import date, datetime

import click

from servicechain.platform.cli import EXIT_DATA, EXIT_USAGE, fail, month_option, run
from servicechain.platform.lib.dates import last_complete_month


@click.group()
def analytics() -> None:
    """The analytics panel behind the dashboards and the monthly report."""


@analytics.command("refresh")
@click.option("--month", "month_text", default=None, metavar="YYYY-MM",
              help="The month the panel ends with (default: the last complete month).")
def refresh_command(month_text: str | None) -> None:
    """Build and store the analytics snapshot of a month."""
    from servicechain.platform.config import get_settings

    today = datetime.now(get_settings().tz).date()
    month = month_option(month_text) or last_complete_month(today)
    if month > date(today.year, today.month, 1):
        fail(f"{month:%Y-%m} has not begun yet; choose this month or an earlier one", EXIT_USAGE)

    async def go():
        from servicechain.platform.analytics import snapshot

        started = time.perf_counter()
        stored = await snapshot.refresh_if_data(month)
        return stored, time.perf_counter() - started

    stored, seconds = run(go)
    if stored is None:
        fail(f"{month:%Y-%m} holds no data (no scores, answers, ratings, goals or recognition); nothing stored", EXIT_DATA)
    units = stored.panel.units["department_id"].n_unique()
    departments = stored.panel.departments.height
    click.echo(f"Analytics snapshot of {month:%Y-%m} stored: {departments} departments, {units} analysis units, "
               f"{stored.panel.months} months, built in {seconds:.1f} s (sha256 {stored.checksum[:12]}…).")
