"""Throwaway accounts for tests that change passwords, sessions or throttling state, so the
cast stays usable for every other test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar
from litestar.testing import AsyncTestClient

from servicechain.platform import db
from servicechain.platform.lib.passwords import hash_password_sync
from servicechain.platform.people import service as people
from servicechain.platform.people.tables import Person
from servicechain.platform.tables import LoginAttempt, OutboxMessage
from tests.cast import PASSWORD, Cast


async def new_person(cast: Cast, *, email: str | None = "", language: str = "en", password: str | None = PASSWORD,
                     name: str = "Тест Тестович") -> dict:
    """A committed employee in First line. email="" makes up a unique one; None means no email."""
    number = "X-" + uuid.uuid4().hex[:8].upper()
    if email == "":
        email = f"{number.lower()}@test.local"
    person_id = await people.create_person(cast.actor("hr"), {
        "full_name": name, "employee_number": number, "email": email or "", "language": language, "role": "employee",
        "department_id": str(cast.departments["support.line1"]), "manager_id": str(cast.ids["manager"]),
    })
    if password:
        async with db.write():
            await Person.update({Person.password_hash: hash_password_sync(password)}).where(Person.id == person_id).run()
    return {"id": person_id, "number": number, "email": email}


async def forget_failed_sign_ins() -> None:
    async with db.write():
        await LoginAttempt.delete().where(LoginAttempt.id > 0).run()


async def mail_to(email: str) -> list[dict]:
    return await OutboxMessage.select().where(OutboxMessage.to_email == email).order_by(OutboxMessage.id).run()


def session_cookie_header(response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("sc_session="):
            return header
    return None


@asynccontextmanager
async def clients_on_one_loop(*apps: Litestar) -> AsyncIterator[list[AsyncTestClient]]:
    """Several browsers (or app instances) whose requests run on one event loop, as in one
    worker process: each test client otherwise runs on its own loop, and a PostgreSQL pool
    works only on the loop that made it."""
    async with AsyncExitStack() as stack:
        clients: list[AsyncTestClient] = []
        for app in apps:
            client = AsyncTestClient(app=app, base_url="http://testserver.local")
            if clients:
                client.blocking_portal = clients[0].blocking_portal
            clients.append(await stack.enter_async_context(client))
        yield clients
