"""Committed recognition data for HTTP tests and the authorization matrix."""

from __future__ import annotations

import uuid

from servicechain.platform import db
from servicechain.recognition import service
from servicechain.recognition.tables import CompanyValue
from tests.cast import EMAILS
from tests.recognition.conftest import ensure_values


async def recognition_fixtures(cast) -> dict[str, int]:
    """A public and a private thanks from the outsider to the employee, and a value of the
    matrix's own to retire and restore (retiring a shared one would change other tests)."""
    await ensure_values()
    public = await service.give_recognition(cast.actor("outsider"), {"to": [EMAILS["employee"]], "values": ["customer"],
                                                                     "message": "Matrix: thanks for the help."})
    private = await service.give_recognition(cast.actor("outsider"), {"to": [EMAILS["employee"]], "values": ["colleagues"],
                                                                      "message": "Matrix: a private thanks.", "visibility": "private"})
    async with db.write():
        value = CompanyValue(code=f"mx-{uuid.uuid4().hex[:8]}", name_en="Matrix value", name_ru="Ценность матрицы", position=999)
        await value.save().run()
    return {"rec_public": public, "rec_private": private, "mx_value": value.id}
