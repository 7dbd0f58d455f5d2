"""Test set-up: one database per run (SQLite file, or a fresh PostgreSQL database when
DATABASE_URL is set), migrated once; a cast of people in every role; and helpers to sign in.

The environment must be settled before anything imports piccolo_conf, since the engine is
chosen when it is first imported.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
os.environ["SERVICECHAIN_ENV"] = "test"
os.environ.setdefault("SERVICECHAIN_DEFAULT_LANGUAGE", "en")
os.environ["PICCOLO_CONF"] = "servicechain.piccolo_conf"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="servicechain-test-"))
os.environ["SERVICECHAIN_DATA_DIR"] = str(TMP)


# A commit in the test databases does not wait for its WAL to reach the disk: the PostgreSQL
# suite commits ~29,000 times, ~2 ms each on our machines against 0.15 ms without the wait. What
# a commit makes visible, and when, is unchanged; only a crash of the PostgreSQL server itself
# could lose the last commits, which no test causes. Set per database (copies do not inherit it).
FAST_COMMITS = "SET synchronous_commit = off"


def _fresh_postgres(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"',
                f'ALTER DATABASE "{name}" {FAST_COMMITS}'):
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True, capture_output=True)


if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    _fresh_postgres(os.environ["DATABASE_URL"])
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'test.sqlite3'}"

import pytest  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402

from servicechain.platform import db  # noqa: E402
from servicechain.platform.migrations import migrate_forwards  # noqa: E402
from tests.cast import PASSWORD, Cast, build_cast  # noqa: E402


def pytest_collection_modifyitems(config, items):
    engine = "postgres" if os.environ["DATABASE_URL"].startswith("postgres") else "sqlite"
    for item in items:
        if engine == "sqlite" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass"))
        if engine == "postgres" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="runs in the SQLite pass"))


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[None]:
    await migrate_forwards()
    # No PostgreSQL pool here: the test client runs the app (and its lifespan, which opens and
    # closes the pool) on its own event loop in another thread, and an asyncpg pool only works on
    # the loop that made it. Tests on this loop get a connection per query, or per transaction.
    if db.is_sqlite():
        await db.start()
    yield


@pytest.fixture(scope="session")
async def cast(database) -> Cast:
    return await build_cast()


@pytest.fixture(scope="session")
def app(database):
    from servicechain.platform.app import create_app

    return create_app()


@pytest.fixture
async def client(app, cast) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


class Rollback(Exception):
    pass


@pytest.fixture
async def rollback(database) -> AsyncIterator[None]:
    """Run a service test inside a transaction that is rolled back at the end."""
    try:
        async with db.write():
            yield
            raise Rollback()
    except Rollback:
        pass


def csrf_token(client: AsyncTestClient) -> str:
    return client.cookies.get("sc_csrf") or ""


async def ensure_csrf(client: AsyncTestClient) -> str:
    if not csrf_token(client):
        await client.get("/login")
    return csrf_token(client)


async def post_form(client: AsyncTestClient, url: str, data: dict | None = None, *, htmx: bool = False, **kwargs):
    headers = {"x-csrftoken": await ensure_csrf(client)}
    if htmx:
        headers["HX-Request"] = "true"
    return await client.post(url, data=data or {}, headers=headers, follow_redirects=False, **kwargs)


async def sign_in(client: AsyncTestClient, identifier: str, password: str = PASSWORD):
    response = await post_form(client, "/login", {"identifier": identifier, "password": password, "next": "/"})
    assert response.status_code == 303, response.text
    return response


@pytest.fixture
def as_user(client):
    """`await as_user("manager")` signs the test client in as one of the cast."""

    async def _as(who: str) -> AsyncTestClient:
        from tests.cast import EMAILS

        await sign_in(client, EMAILS[who])
        return client

    return _as


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@contextlib.asynccontextmanager
async def copied_database(label: str) -> AsyncIterator[str]:
    """Point every table (and db.engine()) at a private copy of the test database, cast included,
    while the block runs; yields the copy's DATABASE_URL for subprocesses. SQLite: an online
    backup into a new file; PostgreSQL: a template copy. For tests that commit data on several
    connections (concurrency, faults, subprocesses) or what other tests would trip over."""
    import asyncio
    import importlib
    import sqlite3
    import uuid

    from piccolo.conf.apps import Finder

    url = os.environ["DATABASE_URL"]
    name = f"{label}_{uuid.uuid4().hex[:8]}"
    if url.startswith("postgres"):
        base, source = url.rsplit("/", 1)
        name = f"{source}_{name}"
        for _attempt in range(30):  # the template must have no open connections for a moment
            done = subprocess.run(["psql", base + "/postgres", "-q", "-v", "ON_ERROR_STOP=1",
                                   "-c", f'CREATE DATABASE "{name}" TEMPLATE "{source}"',
                                   "-c", f'ALTER DATABASE "{name}" {FAST_COMMITS}'],
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
        for table, old in zip(tables, saved[1], strict=True):
            table._meta.db = old
        if isinstance(engine, db.TunedSQLiteEngine):
            await engine.close_connections()  # its long-lived writer and readers would outlive the copy
        if copy_url.startswith("postgres"):
            # In the background: dropping takes from a fifth of a second to seconds (the server
            # syncs the files away), which no test needs to wait for.
            _dropping.append(subprocess.Popen(
                ["psql", base + "/postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


_dropping: list[subprocess.Popen] = []  # the copies' DROP DATABASE still running


def pytest_sessionfinish(session, exitstatus) -> None:
    for process in _dropping:  # leave no copy behind when the run ends
        process.wait()


@pytest.fixture
async def database_copy(cast) -> AsyncIterator[str]:
    """A private copy of the test database for one test (``copied_database``)."""
    async with copied_database("fresh") as url:
        yield url
