"""Databases and processes of their own for the ops tests: backups, faults and scale-out run
the real `servicechain` command against databases made here (a SQLite file, or a PostgreSQL
database on the test server named ops_*), never against the shared test database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, TMP
from tests.ops.proxy import TcpProxy  # noqa: F401  (the fault tests take it from here)

# This suite's ports, one range per engine: `make test` runs the SQLite and PostgreSQL suites at
# once, and a port both found free would give one of them the other's server (or none).
PORTS = iter(range(8131, 8140) if os.environ["DATABASE_URL"].startswith("postgres") else range(8111, 8120))
SERVICECHAIN = str(Path(sys.executable).parent / "servicechain")  # the installed command, as people run it


def is_postgres() -> bool:
    return os.environ["DATABASE_URL"].startswith("postgres")


def _admin_url() -> str:
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"


def new_database(hint: str) -> str:
    """A new, empty database's URL (not migrated)."""
    name = f"ops_{hint}_{uuid.uuid4().hex[:8]}"
    if is_postgres():
        subprocess.run(["psql", _admin_url(), "-q", "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
        return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    folder = TMP / "ops" / name
    folder.mkdir(parents=True)
    return f"sqlite:///{folder / 'servicechain.sqlite3'}"


def clone_database(url: str, hint: str) -> str:
    """A copy of the database at `url` (no server may be connected to it meanwhile)."""
    if not url.startswith("postgres"):
        copy = new_database(hint)
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as src, \
                contextlib.closing(sqlite3.connect(copy.removeprefix("sqlite:///"))) as dst:
            src.backup(dst)
        return copy
    name = f"ops_{hint}_{uuid.uuid4().hex[:8]}"
    for _ in range(50):  # a connection closing a moment ago may still hold the template
        done = subprocess.run(["psql", _admin_url(), "-q", "-c", f'CREATE DATABASE "{name}" TEMPLATE "{url.rsplit("/", 1)[1]}"'],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return url.rsplit("/", 1)[0] + "/" + name
        time.sleep(0.2)
    raise AssertionError(done.stderr)


def drop_database(url: str) -> None:
    if url.startswith("postgres"):
        name = url.rsplit("/", 1)[1]
        subprocess.run(["psql", _admin_url(), "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                       capture_output=True)


def env_for(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICECHAIN_") and k != "DATABASE_URL"}
    data_dir = TMP / "ops-data" / uuid.uuid4().hex[:8]
    data_dir.mkdir(parents=True)
    env.update(SERVICECHAIN_ENV="test", DATABASE_URL=url, SERVICECHAIN_DATA_DIR=str(data_dir),
               SERVICECHAIN_DEFAULT_LANGUAGE="en", PICCOLO_CONF="servicechain.piccolo_conf", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def cli(url: str, *args: str, check: bool = True, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`servicechain ARGS` against the database at `url`."""
    done = subprocess.run([SERVICECHAIN, *args], cwd=ROOT, env=env_for(url),
                          capture_output=True, text=True, input=stdin, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"servicechain {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def python(url: str, code: str, timeout: int = 300) -> str:
    """Run `code` in a new interpreter whose app database is `url`; returns its stdout."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_for(url), capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"helper script failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _normalise(value: Any) -> Any:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def dump_tables(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, as the driver returns them."""
    if url.startswith("postgres"):
        return asyncio.run(_dump_postgres(url))
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%'")]
        return {n: sorted((tuple(_normalise(v) for v in row) for row in conn.execute(f'SELECT * FROM "{n}"')), key=repr)
                for n in names}


async def _dump_postgres(url: str) -> dict[str, list[tuple]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        names = [r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {n: sorted((tuple(_normalise(v) for v in r.values()) for r in await conn.fetch(f'SELECT * FROM "{n}"')),
                          key=repr) for n in names}
    finally:
        await conn.close()


def sql(url: str, statement: str) -> list[tuple]:
    """One statement on the database at `url`, through the driver, committed."""
    if url.startswith("postgres"):
        async def go():
            import asyncpg

            conn = await asyncpg.connect(url)
            try:
                return [tuple(r.values()) for r in await conn.fetch(statement)]
            finally:
                await conn.close()
        return asyncio.run(go())
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)) as conn:
        rows = conn.execute(statement).fetchall()
        conn.commit()
        return rows


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("the ops tests' ports (8111-8119 on SQLite, 8131-8139 on PostgreSQL) are all taken")


class Server:
    """A real `servicechain serve` process on one of our ports."""

    def __init__(self, url: str, port: int | None = None, **env: str):
        self.url, self.port = url, port or free_port()
        self.env = env_for(url, **env)
        self.log = Path(self.env["SERVICECHAIN_DATA_DIR"]) / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.process = subprocess.Popen(
            [SERVICECHAIN, "serve", "--port", str(self.port), "--no-worker"],
            cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"server did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or the OOM killer."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Worker(Server):
    """A real `servicechain worker` process: reports asked for on the web are made here."""

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [SERVICECHAIN, "worker"], cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        return self


def report_jobs(url: str) -> list[tuple]:
    """(id, attempts, finished, last_error) of every report asked for on the web."""
    return sql(url, "SELECT id, attempts, finished_at IS NOT NULL, last_error FROM job"
                    " WHERE kind = 'reports.generate' ORDER BY id")


def wait_for_reports(url: str, seconds: float = 300) -> None:
    """Until every report asked for is made (or refused); fails on a refusal or the time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = report_jobs(url)
        if all(finished for _id, _attempts, finished, _error in jobs):
            assert not any(error for *_rest, error in jobs), jobs
            return
        time.sleep(0.2)
    raise AssertionError(f"reports not made in {seconds} s: {report_jobs(url)}")
