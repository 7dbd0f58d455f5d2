"""Scheduled work for people: a leaving date entered in advance takes effect on the day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servicechain.platform import audit, db
from servicechain.platform.outbox import job
from servicechain.platform.people.service import today
from servicechain.platform.people.tables import Assignment, Person
from servicechain.platform.security import SYSTEM
from servicechain.platform.tables import UserSession


async def deactivate_leavers() -> int:
    """People whose leaving date (company time zone) has come stop being active: their open
    assignment ends on that date and their sessions end. One audit entry for the batch."""
    day = today()
    async with db.write():
        leavers = await Person.select(Person.id, Person.left_on).where(
            (Person.active == True) & Person.left_on.is_not_null() & (Person.left_on <= day)  # noqa: E712
        ).run()
        if not leavers:
            return 0
        ids = [row["id"] for row in leavers]
        for start in range(0, len(ids), 500):
            chunk = leavers[start:start + 500]
            chunk_ids = [row["id"] for row in chunk]
            await Person.update({Person.active: False}).where(Person.id.is_in(chunk_ids)).run()
            await UserSession.delete().where(UserSession.person.is_in(chunk_ids)).run()
            for row in chunk:
                await Assignment.update({Assignment.valid_to: row["left_on"]}).where(
                    (Assignment.person == row["id"]) & Assignment.valid_to.is_null() & (Assignment.valid_from <= row["left_on"])
                ).run()
        await audit.record(SYSTEM, "people.deactivate_leavers", object_type="person", summary=f"{len(ids)} people",
                           count=len(ids), ids=ids[:1000], on=day)
    return len(ids)


@job("people.deactivate_leavers", every=timedelta(hours=1))
async def run_deactivate_leavers(_: dict[str, Any]) -> None:
    await deactivate_leavers()
