"""Committed recognition data for HTTP tests and the authorization matrix."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from servicechain.platform import db
from servicechain.recognition import service
from servicechain.platform.security import utcnow
from servicechain.recognition.tables import CompanyValue, Reward, RewardBudget
from tests.cast import EMAILS
from tests.recognition.conftest import ensure_values


async def recognition_fixtures(cast) -> dict[str, int]:
    """A public and a private thanks from the outsider to the employee, a value of the matrix's
    own to retire and restore (retiring a shared one would change other tests), and a budget of
    long ago with a reward given from it (so it cannot be removed)."""
    await ensure_values()
    public = await service.give_recognition(cast.actor("outsider"), {"to": [EMAILS["employee"]], "values": ["customer"],
                                                                     "message": "Matrix: thanks for the help."})
    private = await service.give_recognition(cast.actor("outsider"), {"to": [EMAILS["employee"]], "values": ["colleagues"],
                                                                      "message": "Matrix: a private thanks.", "visibility": "private"})
    async with db.write():
        value = CompanyValue(code=f"mx-{uuid.uuid4().hex[:8]}", name_en="Matrix value", name_ru="Ценность матрицы", position=999)
        await value.save().run()
        budget = RewardBudget(manager=cast.ids["manager"], starts_on=date(2001, 1, 1), ends_on=date(2001, 3, 31), amount=100000,
                              set_by=cast.ids["hr"], created_at=utcnow())
        await budget.save().run()
        await Reward.insert(Reward(giver=cast.ids["manager"], recipient=cast.ids["employee"], kind="gift", amount=50000,
                                   reason="Matrix: a reward of long ago", from_budget=budget.id,
                                   created_at=datetime(2001, 2, 1, 12, tzinfo=UTC))).run()
    return {"rec_public": public, "rec_private": private, "mx_value": value.id, "mx_budget": budget.id}
