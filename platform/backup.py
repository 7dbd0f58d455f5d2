"""`servicechain backup FILE` and `servicechain restore FILE`: one file holds a whole database.

The file is a short text header, then the engine's own dump:

    SERVICECHAIN-BACKUP 1\\n
    {"engine": "sqlite", "migrations": [...], "tables": {...}, "sha256": ..., ...}\\n
    <payload: a SQLite database file, or a `pg_dump -Fc` archive>

The header says which engine and which migrations the payload holds, so a restore can refuse
the other engine or a backup newer than the code before touching anything, and the checksum
catches a truncated or damaged copy before the target is changed.

SQLite is copied with the online backup API in one step: one read snapshot, while writers
carry on (WAL). PostgreSQL is dumped with ``pg_dump`` (one snapshot too) and restored by
feeding ``pg_restore``'s script to ``psql`` in a single transaction that first drops what the
target holds: a failed restore leaves the target as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from servicechain.platform.config import Settings, get_settings

MAGIC = b"SERVICECHAIN-BACKUP 1\n"
MAX_HEADER_BYTES = 1024 * 1024
CHUNK = 1024 * 1024
MIGRATION_TABLE = "migration"
# A database is in use once it holds people, departments or audit entries: everything a
# company does hangs off those, and migrations never write them (they do seed other tables,
# such as the default pulse template), so a freshly migrated database still counts as empty.
IN_USE_TABLES = ("person", "department", "audit_entry")

Progress = Callable[[str], None]


class BackupError(Exception):
    """Backup or restore refused or failed; the message says why and what to do."""


@dataclass
class Header:
    engine: str
    created_at: str
    migrations: list[list[str]]  # [app_name, migration id], as the migration table holds them
    tables: dict[str, int]  # row counts when the backup was taken
    payload_bytes: int
    sha256: str
    server_version: str = ""
    dump_tool_version: str = ""

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, sort_keys=True).encode() + b"\n"


def _quiet(_: str) -> None:
    pass


# --- the file ---------------------------------------------------------------------------------


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_backup(target: Path, header: Header, payload: Path) -> None:
    """Header then payload, written beside the target and renamed into place: a backup that
    stops half-way never leaves a file that looks complete."""
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out, payload.open("rb") as src:
            out.write(MAGIC)
            out.write(header.to_json())
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def read_header(path: Path) -> tuple[Header, int]:
    """The header and the offset where the payload starts; refuses anything that is not a
    servicechain backup."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{path} is not a servicechain backup (it does not start with the backup marker)")
        line = f.readline(MAX_HEADER_BYTES)
        if not line.endswith(b"\n"):
            raise BackupError(f"{path} is damaged: its header is cut off")
        try:
            raw = json.loads(line)
            header = Header(**raw)
        except (ValueError, TypeError) as exc:
            raise BackupError(f"{path} is damaged: its header cannot be read ({exc})") from None
        return header, f.tell()


def _extract_payload(path: Path, header: Header, offset: int, into: Path) -> None:
    """Copy the payload out, checking its length and checksum on the way."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as src, into.open("wb") as out:
        src.seek(offset)
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if size != header.payload_bytes:
        raise BackupError(f"{path} is truncated or damaged: it holds {size} bytes of data where the backup wrote "
                          f"{header.payload_bytes}; nothing was restored")
    if digest.hexdigest() != header.sha256:
        raise BackupError(f"{path} is damaged: its checksum does not match; nothing was restored")


# --- migrations -------------------------------------------------------------------------------


def known_migrations() -> set[tuple[str, str]]:
    """(app, migration id) of every migration this code ships."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    manager = BaseMigrationManager()
    known: set[tuple[str, str]] = set()
    for app in manager.get_app_registry().app_configs.values():
        for migration_id in manager.get_migration_modules(app.resolved_migrations_folder_path):
            known.add((app.app_name, migration_id))
    return known


def _check_migrations_known(header: Header) -> None:
    unknown = sorted({(a, m) for a, m in header.migrations} - known_migrations())
    if unknown:
        names = ", ".join(f"{a} {m}" for a, m in unknown[:5])
        raise BackupError(f"the backup was made by a newer version of servicechain (migrations this version does not "
                          f"know: {names}); install that version or a later one, then restore")


def _describe_rows(counts: dict[str, int]) -> str:
    busy = sorted(((n, t) for t, n in counts.items() if n), reverse=True)[:4]
    return ", ".join(f"{t}: {n} rows" for n, t in busy)


def _in_use(counts: dict[str, int]) -> dict[str, int]:
    if not any(counts.get(t) for t in IN_USE_TABLES):
        return {}
    return {t: n for t, n in counts.items() if n and t != MIGRATION_TABLE}


# --- SQLite -----------------------------------------------------------------------------------


def _read_only(path: Path) -> str:
    return Path(path).resolve().as_uri() + "?mode=ro"


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


def _sqlite_migrations(conn: sqlite3.Connection) -> list[list[str]]:
    try:
        return [[a, n] for a, n in conn.execute(f"SELECT app_name, name FROM {MIGRATION_TABLE} ORDER BY id")]
    except sqlite3.OperationalError:
        return []


def _sqlite_backup(settings: Settings, target: Path, work: Path, progress: Progress) -> Header:
    source = settings.sqlite_path
    if not source.is_file():
        raise BackupError(f"there is no database at {source} (nothing to back up)")
    copy = work / "payload.sqlite3"
    progress(f"copying {source} with SQLite's online backup")
    with contextlib.closing(sqlite3.connect(_read_only(source), uri=True, timeout=30)) as src, \
            contextlib.closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)  # one step: one consistent snapshot while others keep writing
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")  # a self-contained file, no -wal beside it
        counts, migrations = _sqlite_counts(conn), _sqlite_migrations(conn)
    return Header(engine="sqlite", created_at=datetime.now(UTC).isoformat(timespec="seconds"), migrations=migrations,
                  tables=counts, payload_bytes=copy.stat().st_size, sha256=_sha256_of(copy),
                  server_version=sqlite3.sqlite_version)


def _sqlite_restore(settings: Settings, payload: Path, force: bool, progress: Progress) -> None:
    try:
        with contextlib.closing(sqlite3.connect(_read_only(payload), uri=True)) as conn:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the database inside the backup is damaged ({check}); nothing was restored")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database inside the backup cannot be read ({exc}); nothing was restored") from None
    target = settings.sqlite_path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        try:
            with contextlib.closing(sqlite3.connect(_read_only(target), uri=True, timeout=30)) as conn:
                in_use = _in_use(_sqlite_counts(conn))
        except sqlite3.DatabaseError as exc:
            if not force:
                raise BackupError(f"the database at {target} cannot be read ({exc}); run again with --force to "
                                  "replace it") from None
            in_use = {}
        if in_use and not force:
            raise BackupError(f"the database at {target} already holds data ({_describe_rows(in_use)}); restoring "
                              "would replace all of it. Stop the application and run again with --force to replace it")
    progress(f"restoring into {target}")
    # The backup API replaces the target's pages in one write transaction under the target's
    # lock: a reader sees the old database or the new one, never a mix.
    with contextlib.closing(sqlite3.connect(payload)) as src, \
            contextlib.closing(sqlite3.connect(target, timeout=30)) as dst:
        src.backup(dst)
    from servicechain.platform.db import prepare_sqlite_file

    prepare_sqlite_file(str(target))


# --- PostgreSQL -------------------------------------------------------------------------------


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def find_pg_tool(name: str, major: int) -> str:
    """The `name` binary for PostgreSQL `major`: the same major version where installed (Debian
    keeps every installed version in /usr/lib/postgresql/N/bin), else a newer one, which reads
    and writes older servers' data; never an older one."""
    candidates = [shutil.which(name)] + sorted(str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found: dict[int, str] = {}
    for path in filter(None, candidates):
        version = _tool_major(path)
        if version is not None:
            found.setdefault(version, path)
    if major in found:
        return found[major]
    newer = sorted(v for v in found if v > major)
    if newer:
        return found[newer[0]]
    have = ", ".join(f"{v} ({p})" for v, p in sorted(found.items())) or "none"
    raise BackupError(f"{name} for PostgreSQL {major} is needed and was not found (found: {have}); install the client "
                      f"tools of that version, e.g. `apt-get install postgresql-client-{major}`")


def _pg_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return env


def _pg_target(url: str) -> tuple[str, dict[str, str]]:
    """The URL for a client tool's command line without its password, which goes in the
    environment instead: a command line is visible to every user of the machine."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url, {}
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    bare = urlunsplit(parts._replace(netloc=(user + "@" if user else "") + netloc[-1]))
    return bare, {"PGPASSWORD": unquote(parts.password)}


def _run_tool(args: list[str], what: str, url: str | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
    env = _pg_env()
    if url is not None:
        bare, secret = _pg_target(url)
        args = [bare if a == url else a for a in args]
        env.update(secret)
    kwargs.setdefault("stdout", subprocess.PIPE)
    done = subprocess.run(args, stderr=subprocess.PIPE, env=env, **kwargs)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        detail = "; ".join(line for line in err if line.strip())[:600] or f"exit code {done.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return done


async def _pg_connect(url: str):
    import asyncpg

    try:
        return await asyncpg.connect(dsn=url, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
        raise BackupError(f"cannot connect to the PostgreSQL database: {exc}") from None


async def _pg_state(url: str) -> tuple[int, str, dict[str, int], list[list[str]]]:
    """(server major, server version, row counts by table, migrations) of the database."""
    conn = await _pg_connect(url)
    try:
        version_num = int(await conn.fetchval("SHOW server_version_num"))
        version = await conn.fetchval("SHOW server_version")
        names = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        counts = {n: await conn.fetchval(f'SELECT COUNT(*) FROM public."{n}"') for n in names}
        migrations = []
        if MIGRATION_TABLE in counts:
            migrations = [[r["app_name"], r["name"]] for r in await conn.fetch(
                f"SELECT app_name, name FROM public.{MIGRATION_TABLE} ORDER BY id")]
        return version_num // 10000, version, counts, migrations
    finally:
        await conn.close()


async def _pg_backup(settings: Settings, target: Path, work: Path, progress: Progress) -> Header:
    major, version, _, _ = await _pg_state(settings.database_url)
    pg_dump = find_pg_tool("pg_dump", major)
    dump = work / "payload.dump"
    progress(f"dumping with {pg_dump} (server {version})")
    await asyncio.to_thread(_run_tool, [pg_dump, "--format=custom", "--no-owner", "--no-acl", "--file", str(dump),
                                        "--dbname", settings.database_url], "pg_dump", settings.database_url)
    # Counts and migrations read after the dump: a write in between shows as a count that
    # differs from the dump, never as a migration the dump lacks (migrations run offline).
    _, _, counts, migrations = await _pg_state(settings.database_url)
    return Header(engine="postgres", created_at=datetime.now(UTC).isoformat(timespec="seconds"), migrations=migrations,
                  tables=counts, payload_bytes=dump.stat().st_size, sha256=_sha256_of(dump), server_version=version,
                  dump_tool_version=str(_tool_major(pg_dump) or ""))


def _drop_everything_sql(tables: list[str]) -> str:
    # Tables only: their serial sequences and indexes go with them (CASCADE takes views).
    return "".join(f'DROP TABLE IF EXISTS public."{t}" CASCADE;\n' for t in tables)


async def _pg_restore(settings: Settings, payload: Path, header: Header, force: bool, work: Path,
                      progress: Progress) -> None:
    major, _, counts, _ = await _pg_state(settings.database_url)
    archive_major = int(header.dump_tool_version or 0)
    pg_restore = find_pg_tool("pg_restore", max(major, archive_major))
    psql = find_pg_tool("psql", major)
    # An archive pg_restore cannot read is refused before anything changes.
    script = work / "restore.sql"
    await asyncio.to_thread(_run_tool, [pg_restore, "--no-owner", "--no-acl", "--file", str(script), str(payload)],
                            "reading the PostgreSQL archive in the backup")
    in_use = _in_use(counts)
    if in_use and not force:
        raise BackupError(f"the database already holds data ({_describe_rows(in_use)}); restoring would replace all "
                          "of it. Stop the application and run again with --force to replace it")
    drop = work / "drop.sql"
    drop.write_text(_drop_everything_sql(list(counts)))
    progress("restoring in one transaction")
    await asyncio.to_thread(_run_tool, [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1",
                                        "--file", str(drop), "--file", str(script), "--dbname", settings.database_url],
                            "restoring into PostgreSQL (nothing was changed)", settings.database_url, stdout=subprocess.DEVNULL)


# --- commands ---------------------------------------------------------------------------------


async def backup(target: Path, *, settings: Settings | None = None, progress: Progress = _quiet) -> Header:
    """Write a backup of the configured database to `target` (refuses to overwrite a file)."""
    settings = settings or get_settings()
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name (backups are never overwritten)")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    with tempfile.TemporaryDirectory(prefix=".servicechain-backup-", dir=target.parent) as tmp:
        work = Path(tmp)
        if settings.uses_postgres:
            header = await _pg_backup(settings, target, work, progress)
        else:
            header = await asyncio.to_thread(_sqlite_backup, settings, target, work, progress)
        payload = work / ("payload.dump" if settings.uses_postgres else "payload.sqlite3")
        await asyncio.to_thread(_write_backup, target, header, payload)
    return header


async def restore(source: Path, *, force: bool = False, settings: Settings | None = None,
                  progress: Progress = _quiet) -> Header:
    """Replace the configured database with the backup in `source`, then migrate forward.

    Refuses (changing nothing) a file that is not a complete backup, a backup of the other
    engine, one made by newer code, and a target that holds data unless `force`."""
    settings = settings or get_settings()
    source = Path(source)
    header, offset = read_header(source)
    engine = "postgres" if settings.uses_postgres else "sqlite"
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    if header.engine not in names:
        raise BackupError(f"{source} is damaged: it names an unknown database engine {header.engine!r}")
    if header.engine != engine:
        raise BackupError(f"{source} holds a {names[header.engine]} database and this installation uses "
                          f"{names[engine]}; a backup restores into the same engine only")
    _check_migrations_known(header)
    target_dir = settings.sqlite_path.parent if engine == "sqlite" else None
    if target_dir is not None:
        target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".servicechain-restore-", dir=target_dir) as tmp:
        work = Path(tmp)
        payload = work / "payload"
        progress(f"checking {source}")
        await asyncio.to_thread(_extract_payload, source, header, offset, payload)
        if engine == "sqlite":
            await asyncio.to_thread(_sqlite_restore, settings, payload, force, progress)
        else:
            await _pg_restore(settings, payload, header, force, work, progress)
    progress("bringing the schema up to date")
    from servicechain.platform.migrations import migrate_forwards

    await migrate_forwards()
    return header
