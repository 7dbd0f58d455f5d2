"""What the attack tests share: a private copy of the test database (the cast included) for
tests that commit what other tests would trip over, and every route the app has, read from the
app itself so pages added later are attacked too."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from servicechain.platform import db
from tests.conftest import TMP


def is_postgres() -> bool:
    return os.environ["DATABASE_URL"].startswith("postgres")


@contextlib.asynccontextmanager
async def private_copy() -> AsyncIterator[str]:
    """Point every table (and db.engine()) at a copy of the test database; yields its URL.

    SQLite: an online backup into a new file; PostgreSQL: a template copy."""
    from piccolo.conf.apps import Finder

    url = os.environ["DATABASE_URL"]
    name = f"security_{uuid.uuid4().hex[:8]}"
    if is_postgres():
        base, source = url.rsplit("/", 1)
        for _attempt in range(30):  # a template must have no other connection for a moment
            done = subprocess.run(["psql", base + "/postgres", "-q", "-c", f'CREATE DATABASE "{name}" TEMPLATE "{source}"'],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError(done.stderr)
        copy_url = f"{base}/{name}"
        engine = db.LoopLocalPostgresEngine(config={"dsn": copy_url})
    else:
        path = TMP / f"{name}.sqlite3"
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as source_db, \
                contextlib.closing(sqlite3.connect(path)) as target:
            source_db.backup(target)
        copy_url = f"sqlite:///{path}"
        engine = db.TunedSQLiteEngine(path=str(path), timeout=db.SQLITE_BUSY_TIMEOUT_S)
        db.prepare_sqlite_file(str(path))
    conf = importlib.import_module(os.environ["PICCOLO_CONF"])
    tables = Finder().get_table_classes()
    saved = conf.DB, [t._meta.db for t in tables]
    conf.DB = engine
    for table in tables:
        table._meta.db = engine
    try:
        yield copy_url
    finally:
        conf.DB = saved[0]
        for table, old in zip(tables, saved[1]):
            table._meta.db = old
        if is_postgres():
            subprocess.run(["psql", base + "/postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                           capture_output=True)


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
