"""Database engine and the three ways we talk to it: reads, writes, bulk loads.

SQLite: WAL with a busy timeout, and every write transaction ``BEGIN IMMEDIATE`` so a writer
takes the lock before it reads; a deferred transaction that later writes can fail with
"database is locked" no matter how long the busy timeout is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import time
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType

from servicechain.platform.config import Settings, get_settings

SQLITE_BUSY_TIMEOUT_S = 30
log = logging.getLogger("servicechain.db")


MAX_IDLE_READERS = 32  # a busy server has tens of requests in flight; an idle reader is a thread and a small page cache

# How long a statement may run on the event loop's own thread before it goes to the
# connection's thread instead (see TunedSQLiteEngine._execute).
INLINE_BUDGET_S = 0.002
MAX_SLOW_STATEMENTS = 512
OVERRUNS_TO_SLOW = 3
CHECKPOINT_EVERY = 200  # write commits; SQLite's own default is about 1,000 pages of WAL
# A PASSIVE checkpoint copies the WAL into the file but never starts the WAL over while readers
# are always somewhere in it (a busy server): the file then grows for good (190 MB in 5 minutes
# of the load bench). Past this size the checkpoint also truncates it, waiting briefly for the
# readers in flight (they take milliseconds) with this process's writes held back meanwhile.
WAL_TRUNCATE_BYTES = 32 * 1024 * 1024
WAL_TRUNCATE_WAIT_MS = 250
WAL_TRUNCATE_BACKOFF_S = 30  # a reader stayed in the WAL (a long report, a backup): not every checkpoint
_READ_ONLY = re.compile(r"\s*(SELECT\b|WITH\b(?!.*\b(INSERT|UPDATE|DELETE|REPLACE)\b))", re.IGNORECASE | re.DOTALL)
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|WITH)\b", re.IGNORECASE)


class WriterHold:
    """How long write transactions hold this process's one SQLite writer, from taking the lock
    to giving it back: every other writer of the process waits that long. Logged every
    ``every`` transactions (p50/p95), readable in tests and benchmarks."""

    def __init__(self, every: int = 1000) -> None:
        self.every = every
        self.samples: deque[float] = deque(maxlen=every)
        self.count = 0

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)
        self.count += 1
        if self.count % self.every == 0:
            p50, p95 = self.percentiles()
            log.info("SQLite writer held p50 %.1f ms, p95 %.1f ms over the last %d write transactions",
                     p50 * 1000, p95 * 1000, len(self.samples))

    def percentiles(self) -> tuple[float, float]:
        ordered = sorted(self.samples)
        if not ordered:
            return 0.0, 0.0
        return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


WRITER_HOLD = WriterHold()


class _Connections:
    """One engine's long-lived SQLite connections on one event loop: the writer, guarded by a
    lock, and idle readers. An aiosqlite connection is a thread; opening one per transaction
    (Piccolo's way) started and joined a thread and opened the file for every request."""

    def __init__(self) -> None:
        self.write_lock = asyncio.Lock()
        self.writer: aiosqlite.Connection | None = None
        self.held_since = 0.0  # when the writer was taken, for WRITER_HOLD
        self.commits = 0  # write commits since the last checkpoint
        self.checkpoint: asyncio.Task | None = None
        self.truncate_not_before = 0.0  # monotonic time: after a truncation readers kept busy
        self.idle: list[aiosqlite.Connection] = []
        self.file: tuple[int, int] | None = None  # (device, inode) of the file the connections opened


def _discard(connection: aiosqlite.Connection) -> None:
    """Close without waiting: queued behind whatever the connection's thread still has to do
    (a commit or rollback), so a lock it holds ends with it."""
    with contextlib.suppress(Exception):
        connection.stop()


class PooledSQLiteTransaction(SQLiteTransaction):
    """Piccolo's transaction on a long-lived connection: write transactions (BEGIN IMMEDIATE)
    take the one writer under the lock, so writers of this process queue here instead of in
    SQLite's busy handler; read snapshots borrow an idle reader. Rollback, savepoints and
    nesting are Piccolo's own. A connection whose transaction did not end cleanly is closed,
    never reused.

    BEGIN and COMMIT run on the event loop's thread (see ``TunedSQLiteEngine._execute``): a
    write's COMMIT on the connection's thread kept the writer held for one more trip through
    the busy loop. In WAL mode with synchronous=NORMAL a commit appends to the WAL and does not
    sync; the checkpoint that SQLite would run inside some commits (copying the WAL into the
    file, with an fsync) is switched off on the writer and run every ``CHECKPOINT_EVERY``
    commits on a reader's thread instead (``TunedSQLiteEngine._after_commit``)."""

    async def begin(self):
        if not self.engine._begin_inline(self.connection, self.transaction_type):
            await super().begin()
            # BEGIN IMMEDIATE holds a snapshot and the write lock from here on.
            self.connection.sc_snapshot = self.transaction_type is TransactionType.immediate

    async def commit(self):
        raw = self.engine._inline(self.connection)
        if raw is None:
            await super().commit()
            return
        raw.execute("COMMIT")
        self._committed = True
        self.connection.sc_snapshot = False

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.engine._take(self.transaction_type is TransactionType.immediate)
        try:
            await self.begin()
        except BaseException:
            self.engine._give_back(self.connection, self.transaction_type is TransactionType.immediate, clean=False)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        clean = False
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
            clean = True
        finally:
            self.engine.current_transaction.reset(self.context)
            self.engine._give_back(self.connection, self.transaction_type is TransactionType.immediate, clean=clean)
        return exception is None


class TunedSQLiteEngine(SQLiteEngine):
    """SQLiteEngine whose connections wait for locks and sync less often in WAL mode, live as
    long as the event loop (see ``_Connections``), and whose queries inside a transaction cost
    one trip to aiosqlite's thread, not three.

    Piccolo re-issues ``PRAGMA foreign_keys = 1`` before every query in a transaction; the
    pragma is already set when the connection opens (``get_connection``) and SQLite ignores
    it inside a transaction anyway. A page of five queries spent more time on those trips
    than in SQLite.

    Write transactions run on the event loop's own thread, not aiosqlite's: BEGIN IMMEDIATE,
    every statement, COMMIT. Each trip to the connection's thread and back waited for the busy
    event loop, and a write transaction held this process's one writer across every such wait
    (a check-in's ten queries: ten waits), so writes queued behind each other whenever the loop
    was busy. Now a transaction of short statements holds the writer for its own CPU time. None
    of it can wait for a lock there: BEGIN IMMEDIATE runs with busy timeout 0 and, refused
    (another process writes), begins on the thread instead, waiting there as before; after it
    the transaction holds its snapshot and the write lock. A read in it that runs longer than
    ``INLINE_BUDGET_S`` is interrupted (harmless for a read-only statement: SQLite rolls nothing
    back) and run again on the connection's thread; a statement that overran
    ``OVERRUNS_TO_SLOW`` times in a row goes to the thread from then on (``_slow``). Read
    snapshots keep their thread (see ``_execute``); their BEGIN and COMMIT, which take no lock,
    run inline. ROLLBACK, savepoints, lone statements, bulk loads and WAL checkpoints stay on a
    thread.
    """

    # --- statements on the event loop's thread -------------------------------------------------

    def _inline(self, connection) -> sqlite3.Connection | None:
        """The sqlite3 connection under an aiosqlite one of ours (opened for any thread)."""
        return connection._connection if getattr(connection, "sc_inline", False) else None

    def _fast(self, query: str) -> None:
        overruns = self.__dict__.get("_overruns")
        if overruns:
            overruns.pop(query, None)  # "in a row": a quick run forgives earlier overruns

    def _slow(self) -> dict[str, None]:
        return self.__dict__.setdefault("_slow_statements", {})

    def _overran(self, query: str) -> None:
        """A statement ran past the budget. After OVERRUNS_TO_SLOW overruns in a row it goes to
        the thread for good: one can be the machine preempting us (wall clock; a per-thread CPU
        clock costs a system call of several microseconds here, more than a short query)."""
        overruns = self.__dict__.setdefault("_overruns", {})
        count = overruns.pop(query, 0) + 1
        if count < OVERRUNS_TO_SLOW:
            if len(overruns) >= MAX_SLOW_STATEMENTS:
                overruns.pop(next(iter(overruns)))
            overruns[query] = count
            return
        slow = self._slow()
        if len(slow) >= MAX_SLOW_STATEMENTS:
            slow.pop(next(iter(slow)))
        slow[query] = None

    def _begin_inline(self, connection, transaction_type: TransactionType) -> bool:
        """BEGIN on the loop's thread. A deferred BEGIN touches no lock (the first read takes the
        snapshot, on the connection's thread, see _execute). BEGIN IMMEDIATE too, so a write
        transaction of short statements holds the writer for its own CPU time only, not for a
        trip through the busy loop: with busy timeout 0 for that one statement, it either gets
        the write lock at once or is refused (another process writes) and begins on the thread,
        waiting there as before. False: begin on the thread."""
        raw = self._inline(connection)
        connection.sc_snapshot = False  # type: ignore[attr-defined]
        if raw is None:
            return False
        if transaction_type is TransactionType.deferred:
            raw.execute("BEGIN DEFERRED")
            return True
        if transaction_type is not TransactionType.immediate:
            return False  # EXCLUSIVE waits for readers too: on the thread
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return False
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        connection.sc_snapshot = True  # type: ignore[attr-defined]
        return True

    async def _execute(self, connection, query: str, args) -> list:
        raw = self._inline(connection)
        args = args or []
        # Inline only inside a write transaction (the writer, after BEGIN IMMEDIATE): its
        # snapshot and the write lock are held, so no statement can wait for a lock. Read
        # snapshots stay on their thread: inline, each page became one long step of the event
        # loop, and every other request, timer and writer waited behind it (loop lag p95
        # 140 ms -> 1.5 s in a saturated test) for about the same CPU per page.
        if (raw is not None and connection is self._connections().writer and raw.in_transaction
                and getattr(connection, "sc_snapshot", False) and query not in self._slow()):
            if _READ_ONLY.match(query):
                rows = _read_inline(raw, query, args)
                if rows is not None:
                    self._fast(query)
                    return rows
                self._overran(query)
            elif _WRITE.match(query):
                started = time.perf_counter()
                rows = raw.execute(query, args).fetchall()
                if time.perf_counter() - started > INLINE_BUDGET_S:
                    self._overran(query)
                else:
                    self._fast(query)
                return rows
        return list(await connection.execute_fetchall(query, args))

    # --- long-lived connections --------------------------------------------------------------

    def _connections(self) -> _Connections:
        pools = self.__dict__.setdefault("_pools", weakref.WeakKeyDictionary())
        loop = asyncio.get_running_loop()
        if loop not in pools:
            pools[loop] = _Connections()
        return pools[loop]

    async def _open(self) -> aiosqlite.Connection:
        # Any thread: statements run on the event loop's thread too (see the class docstring).
        connection = aiosqlite.connect(**{**self.connection_kwargs, "check_same_thread": False})
        # A daemon thread: a connection nobody closed (its loop gone without db.stop()) must not
        # keep the process from exiting. Set before the thread starts, which awaiting does.
        connection._thread.daemon = True
        await connection
        connection.row_factory = _dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute("PRAGMA synchronous = NORMAL")
        connection.sc_inline = True  # type: ignore[attr-defined]
        return connection

    def _check_file(self, pool: _Connections) -> None:
        """Long-lived connections keep the file they opened. When the database at our path has
        gone (its volume unmounted, its folder moved) or is another file (replaced), drop them:
        requests then fail as "unable to open" (a 503, temporarily unavailable, until the file
        is back) or use the new file, instead of working on a file nobody else sees. A stat
        per transaction, about a microsecond."""
        try:
            stat = os.stat(self.path)
            current: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            current = None
        if current == pool.file:
            return
        if pool.file is not None:
            for connection in pool.idle:
                _discard(connection)
            pool.idle.clear()
            if current is None:
                raise sqlite3.OperationalError(f"unable to open database file: {self.path} is not there any more")
        pool.file = current  # a file that does not exist yet is created by the first connection

    async def _take(self, write: bool) -> aiosqlite.Connection:
        pool = self._connections()
        self._check_file(pool)
        if write:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can time out just as the lock is
                # granted and leave it held for good.
                async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_S):
                    await pool.write_lock.acquire()
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked (waited for this process's writer)") from None
            try:
                if pool.writer is not None and getattr(pool.writer, "sc_file", None) != pool.file:
                    _discard(pool.writer)  # opened on a file that is no longer ours
                    pool.writer = None
                if pool.writer is None:
                    pool.writer = await self._open()
                    pool.writer.sc_file = pool.file  # type: ignore[attr-defined]
                    # Its commits run on the event loop's thread: checkpoints go elsewhere (_after_commit).
                    await pool.writer.execute("PRAGMA wal_autocheckpoint = 0")
            except BaseException:
                pool.write_lock.release()
                raise
            pool.held_since = time.perf_counter()
            return pool.writer
        if pool.idle:
            return pool.idle.pop()
        connection = await self._open()
        connection.sc_file = pool.file  # type: ignore[attr-defined]
        return connection

    def _give_back(self, connection: aiosqlite.Connection, write: bool, *, clean: bool) -> None:
        pool = self._connections()
        healthy = clean and connection._connection is not None and not connection.in_transaction
        if write:
            if not healthy:
                _discard(connection)
                if pool.writer is connection:
                    pool.writer = None
            WRITER_HOLD.add(time.perf_counter() - pool.held_since)
            pool.write_lock.release()
            if healthy:  # a transaction's or a lone statement's commit: both add to the WAL
                self._after_commit()
        elif healthy and len(pool.idle) < MAX_IDLE_READERS and getattr(connection, "sc_file", None) == pool.file:
            pool.idle.append(connection)
        else:
            _discard(connection)

    def _after_commit(self) -> None:
        """Every CHECKPOINT_EVERY write commits, copy the WAL into the database file on an idle
        reader's thread (PASSIVE: it waits for no reader or writer), so the WAL stays short
        and neither the event loop nor the writer pays for the I/O. One at a time."""
        pool = self._connections()
        pool.commits += 1
        if pool.commits < CHECKPOINT_EVERY or pool.checkpoint is not None:
            return
        pool.commits = 0
        pool.checkpoint = asyncio.get_running_loop().create_task(self._checkpoint(pool))

    async def _checkpoint(self, pool: _Connections) -> None:
        try:
            connection = await self._take(False)
            clean = False
            try:
                await connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                clean = True
            finally:
                self._give_back(connection, False, clean=clean)
            if _wal_bytes(self.path) > WAL_TRUNCATE_BYTES and time.monotonic() >= pool.truncate_not_before:
                if not await self._truncate_wal():
                    # Each try holds every writer back for up to WAL_TRUNCATE_WAIT_MS: not again soon.
                    pool.truncate_not_before = time.monotonic() + WAL_TRUNCATE_BACKOFF_S
        except Exception as exc:  # the next one tries again; SQLite checkpoints at close anyway
            log.warning("SQLite checkpoint failed: %s", exc)
        finally:
            pool.checkpoint = None

    async def _truncate_wal(self) -> bool:
        """Start the WAL over and cut the file to nothing: on the writer (our writes queue on
        its lock meanwhile, not in SQLite's busy loop), waiting at most WAL_TRUNCATE_WAIT_MS for
        the readers still in the old WAL. False when they took longer (left for a later time)."""
        writer = await self._take(True)
        clean = False
        try:
            await writer.execute(f"PRAGMA busy_timeout = {WAL_TRUNCATE_WAIT_MS}")
            try:
                cursor = await writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = (await cursor.fetchone())["busy"]  # rows are dicts (_dict_factory)
            finally:
                await writer.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            clean = True
            return not busy
        finally:
            # Not a commit (nothing counts towards the next checkpoint), nor a write transaction
            # (WRITER_HOLD measures those).
            pool = self._connections()
            if not clean or writer._connection is None:
                _discard(writer)
                pool.writer = None
            pool.write_lock.release()

    async def close_connections(self) -> None:
        """Close this loop's long-lived connections (at shutdown, or before the file is swapped)."""
        pools = self.__dict__.get("_pools")
        pool = pools.get(asyncio.get_running_loop()) if pools is not None else None
        if pool is None:
            return
        if pool.checkpoint is not None:
            await pool.checkpoint
        pools.pop(asyncio.get_running_loop(), None)
        async with pool.write_lock:
            if pool.writer is not None:
                await pool.writer.close()
                pool.writer = None
        for connection in pool.idle:
            await connection.close()
        pool.idle.clear()

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True):
        return PooledSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(self, query, args=None, query_type="generic", table=None):
        """A query outside any transaction: a SELECT on an idle reader, anything else (it may
        write) as a one-statement write transaction on the writer, under its lock."""
        if sqlite3.sqlite_version_info < (3, 35):
            return await super()._run_in_new_connection(query, args, query_type, table)
        write = not query.lstrip()[:6].upper().startswith("SELECT")
        connection = await self._take(write)
        clean = False
        try:
            rows = await self._execute(connection, query, args)
            clean = True
            return rows
        finally:
            self._give_back(connection, write, clean=clean)

    async def _run_in_existing_connection(self, connection, query, args=None, query_type="generic", table=None):
        if sqlite3.sqlite_version_info < (3, 35):  # no RETURNING: Piccolo's own path finds the new pk
            return await super()._run_in_existing_connection(connection, query, args, query_type, table)
        return await self._execute(connection, query, args)


def _wal_bytes(path: str) -> int:
    try:
        return os.stat(f"{path}-wal").st_size
    except OSError:
        return 0


def _read_inline(raw: sqlite3.Connection, query: str, args) -> list | None:
    """Run a read on the calling thread, or None when it ran past INLINE_BUDGET_S and was
    interrupted. The transaction it runs in stays open and unchanged."""
    deadline = time.perf_counter() + INLINE_BUDGET_S
    in_transaction = raw.in_transaction
    raw.set_progress_handler(lambda: time.perf_counter() > deadline, 1000)
    try:
        return raw.execute(query, args).fetchall()
    except sqlite3.OperationalError as exc:
        if str(exc) != "interrupted":
            raise
        if raw.in_transaction != in_transaction:  # SQLite promises this never happens for a read
            raise
        return None
    finally:
        raw.set_progress_handler(None, 0)


def _dict_factory(cursor, row) -> dict:
    return {column[0]: row[index] for index, column in enumerate(cursor.description)}


class LoopLocalPostgresEngine(PostgresEngine):
    """PostgresEngine keeping one pool per event loop: an asyncpg pool works only on the loop
    that made it. A server has one loop, so this changes nothing there; the test client runs
    the app on a loop of its own while tests query on theirs."""

    @property
    def pool(self):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return self.__dict__.setdefault("_pools", {}).get(loop)

    @pool.setter
    def pool(self, value) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        pools = self.__dict__.setdefault("_pools", {})
        if value is None:
            pools.pop(loop, None)
        else:
            pools[loop] = value


def build_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    if settings.uses_postgres:
        return LoopLocalPostgresEngine(config={"dsn": settings.database_url})
    try:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create the folder of the SQLite database %s: %s", settings.sqlite_path, exc)
    return TunedSQLiteEngine(path=str(settings.sqlite_path), timeout=SQLITE_BUSY_TIMEOUT_S)


def engine() -> Engine:
    from piccolo.engine.finder import engine_finder

    found = engine_finder()
    assert found is not None, "piccolo_conf.py defines no DB"
    return found


def is_sqlite() -> bool:
    return engine().engine_type == "sqlite"


def prepare_sqlite_file(path: str) -> None:
    """WAL lets readers go on while one writer writes; the setting lives in the file.

    `PRAGMA optimize` refreshes the planner's statistics where they are stale: without
    them SQLite prefers the low-selectivity `active` index over `manager` or `department`
    and scans every person for what should be one index lookup.
    """
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA optimize = 0x10002")


async def analyze() -> None:
    """Fresh planner statistics after a bulk load (the demo, an import of thousands of rows).
    Without them SQLite picks low-selectivity indexes (every active person scanned for one
    email) and PostgreSQL hash-joins whole tables until autovacuum gets round to the table.
    SQLite's ``PRAGMA optimize`` (3.40 here) never analyzes a table that was never analyzed,
    so it cannot stand in for this. ``analysis_limit`` samples each index instead of reading
    it whole: seconds, not minutes, on the 20,000-person demo."""
    if is_sqlite():
        def run(path: str) -> None:
            with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as conn:
                conn.execute("PRAGMA analysis_limit = 1000")
                conn.execute("ANALYZE")
                conn.commit()

        await asyncio.to_thread(run, engine().connection_kwargs["database"])
    else:
        await fetch("ANALYZE")


_pool_users: dict[tuple, int] = {}  # (engine id, event loop) -> apps started there


async def start() -> None:
    db = engine()
    if db.engine_type == "postgres":
        # Several apps in one process (tests) share the engine's pool: the last to stop closes it.
        key = (id(db), asyncio.get_running_loop())
        _pool_users[key] = _pool_users.get(key, 0) + 1
        if db.pool is None:
            # min_size=0: the pool connects on first use, so the server starts while the database
            # is down and /healthz can say 503 instead of the process dying; it recovers by itself.
            await db.start_connection_pool(min_size=0, max_size=10)
    else:
        try:
            prepare_sqlite_file(db.path)
        except sqlite3.Error as exc:  # same reasoning: serve 503 until the file is reachable
            log.warning("cannot open the SQLite database %s: %s", db.path, exc)
        if isinstance(db, TunedSQLiteEngine):
            await db.close_connections()  # any opened before WAL was set (migrations) start afresh


async def stop() -> None:
    db = engine()
    if isinstance(db, TunedSQLiteEngine):
        await db.close_connections()
    if db.engine_type == "postgres":
        key = (id(db), asyncio.get_running_loop())
        _pool_users[key] = max(0, _pool_users.get(key, 1) - 1)
        if _pool_users[key] == 0:
            del _pool_users[key]
        if key not in _pool_users and db.pool is not None:
            await db.close_connection_pool()


def write():
    """One write transaction. Nested calls join the outer transaction."""
    db = engine()
    if db.engine_type == "sqlite":
        current = db.current_transaction.get()
        if current is not None and current.transaction_type is not TransactionType.immediate:
            raise RuntimeError("a write inside a read-only (deferred) SQLite transaction would deadlock")
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


def read():
    """A read snapshot on one connection: on SQLite this saves a connection per query."""
    db = engine()
    if db.engine_type == "sqlite":
        if db.current_transaction.get() is not None:
            return contextlib.nullcontext()
        return db.transaction(transaction_type=TransactionType.deferred)
    return contextlib.nullcontext()


def in_transaction() -> bool:
    return engine().current_transaction.get() is not None


def placeholders(count: int) -> str:
    """Piccolo's raw queries use {} for parameters on both engines."""
    return ", ".join(["{}"] * count)


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Raw SQL with Piccolo's {} placeholders, for the few queries the ORM can't say."""
    from piccolo.query.methods.raw import Raw
    from piccolo.querystring import QueryString

    from servicechain.platform.people.tables import Person  # any table will do for Raw

    return await Raw(table=Person, querystring=QueryString(sql, *args)).run()


async def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows fast inside the current write transaction.

    Piccolo builds one object per row (about 18,000 rows/s); executemany on SQLite and COPY on
    PostgreSQL are 20-40 times faster, which imports and the demo need.
    """
    db = engine()
    transaction = db.current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk_insert must run inside db.write()")
    rows = list(rows)
    if not rows:
        return 0
    if db.engine_type == "sqlite":
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        await transaction.connection.executemany(sql, rows)
    else:
        await transaction.connection.copy_records_to_table(table, records=rows, columns=list(columns))
    return len(rows)


async def reset_sequence(table: str) -> None:
    """After COPY with explicit ids, PostgreSQL's serial must move past them. A table keyed by
    something else (a UUID) has no sequence, and MAX() of its id would not even parse."""
    if engine().engine_type == "postgres":
        if (await fetch(f"SELECT pg_get_serial_sequence('{table}', 'id') AS seq"))[0]["seq"] is None:
            return
        await fetch(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )

