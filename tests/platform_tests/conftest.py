"""A fresh database for a test that needs one of its own (the demo loads a whole company).

A migrated empty database is made once per run (a SQLite file, or a PostgreSQL database used
as a template); each test gets a copy, and Piccolo's engine points at it for the duration of
the test: the piccolo_conf module's ``DB`` (which ``db.engine()`` reads) and every table's engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from tests.conftest import ROOT, TMP

_copies = itertools.count(1)


def is_postgres() -> bool:
    return os.environ["DATABASE_URL"].startswith("postgres")


def sibling_url(name: str) -> str:
    """A database next to the test database, named after it (PostgreSQL) or a file in TMP."""
    url = os.environ["DATABASE_URL"]
    if is_postgres():
        return f"{url.rsplit('/', 1)[0]}/{url.rsplit('/', 1)[1]}_{name}"
    return f"sqlite:///{TMP / (name + '.sqlite3')}"


def psql(sql: str) -> None:
    admin = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-q", "-c", sql], check=True, capture_output=True)


def recreate_postgres(url: str, template: str | None = None) -> None:
    name = url.rsplit("/", 1)[1]
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""))


def run_cli(*args: str, url: str, data_dir: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`servicechain ARGS` in a child process with its own database."""
    env = {**os.environ, "DATABASE_URL": url}
    if data_dir:
        env["SERVICECHAIN_DATA_DIR"] = data_dir
    return subprocess.run([sys.executable, "-m", "servicechain.platform.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, input=stdin, timeout=300)


@pytest.fixture(scope="session")
def fresh_template(database) -> str:
    url = sibling_url("template")
    if is_postgres():
        recreate_postgres(url)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(url.removeprefix("sqlite:///"))
    result = run_cli("migrate", url=url)
    assert result.returncode == 0, result.stderr
    return url


@contextlib.asynccontextmanager
async def use_database(url: str) -> AsyncIterator[None]:
    """Point Piccolo (and so every service and the app) at another database, then back."""
    from piccolo.conf.apps import Finder

    from servicechain.platform.config import get_settings
    from servicechain.platform.db import build_engine

    engine = build_engine(dataclasses.replace(get_settings(), database_url=url))
    finder = Finder()
    piccolo_conf = finder.get_piccolo_conf_module()  # the module db.engine() reads DB from
    tables = finder.get_table_classes()
    saved_conf, saved_tables = piccolo_conf.DB, [(t, t._meta._db) for t in tables]
    piccolo_conf.DB = engine
    for table in tables:
        table._meta.db = engine
    try:
        yield
    finally:
        if getattr(engine, "pool", None) is not None:
            await engine.close_connection_pool()
        piccolo_conf.DB = saved_conf
        for table, saved in saved_tables:
            table._meta._db = saved


@pytest.fixture
async def fresh_database(fresh_template, cast) -> AsyncIterator[str]:
    """A migrated, empty database of the test's own; yields its URL.

    Depends on ``cast`` so the shared test database is built before the engine moves.
    """
    if is_postgres():
        url = sibling_url("fresh")
        recreate_postgres(url, template=fresh_template)
    else:
        url = sibling_url(f"fresh-{next(_copies)}")
        source = fresh_template.removeprefix("sqlite:///")
        target = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(source + suffix):
                shutil.copyfile(source + suffix, target + suffix)
    async with use_database(url):
        yield url
