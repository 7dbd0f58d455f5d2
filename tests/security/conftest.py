"""What the attack tests share: a private copy of the test database (the cast included) for
tests that commit what other tests would trip over, and every route the app has, read from the
app itself so pages added later are attacked too."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from servicechain.platform import db
from tests.conftest import copied_database


def private_copy() -> contextlib.AbstractAsyncContextManager[str]:
    """Point every table (and db.engine()) at a copy of the test database; yields its URL."""
    return copied_database("security")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as declared, e.g. /goals/{goal_id:int}/check-ins
    name: str | None
    policy: str | None

    def url(self, value: str = "1") -> str:
        """The path with every parameter filled in (ids that exist or not: CSRF is checked first)."""
        import re

        return re.sub(r"\{[^}]+\}", value, self.path)


def app_routes(app) -> Iterator[Route]:
    """Every (method, path) the app answers, with the policy its handler declares."""
    from servicechain.platform.security import policy_of

    for path, handlers in app.route_handler_method_map.items():
        for method, handler in handlers.items():
            if method in ("HEAD", "OPTIONS"):
                continue
            yield Route(method=method, path=path, name=handler.name, policy=policy_of(handler))


@pytest.fixture(scope="module")
def routes(app) -> list[Route]:
    found = sorted(set(app_routes(app)), key=lambda r: (r.path, r.method))
    assert len(found) > 50, "the app's routes could not be read"
    return found


async def make_person(cast, key: str, *, role: str = "employee", language: str = "en", department: str = "support.line1",
                      full_name: str | None = None) -> dict:
    """One more signed-in-able person (the cast's password), for tests on a private copy."""
    from servicechain.platform.lib.passwords import hash_password_sync
    from servicechain.platform.lib.text import person_search_text
    from servicechain.platform.people.tables import Assignment, Person
    from servicechain.platform.security import utcnow
    from tests.cast import CAST_HIRED_ON, PASSWORD

    email = f"{key}@security.test"
    number = f"SEC-{uuid.uuid4().hex[:6].upper()}"
    name = full_name or f"Security {key}"
    now = utcnow()
    async with db.write():
        person = Person(full_name=name, employee_number=number, email=email, position="Tester",
                        department=cast.departments[department], role=role, language=language,
                        search_name=person_search_text(name, number, email), password_hash=hash_password_sync(PASSWORD),
                        created_at=now, updated_at=now)
        await person.save().run()
        await Assignment.insert(Assignment(person=person.id, department=cast.departments[department],
                                           valid_from=CAST_HIRED_ON)).run()
    return {"id": person.id, "email": email, "employee_number": number, "full_name": name}
