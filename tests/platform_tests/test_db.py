"""The database layer: SQLite tuned for concurrent writers, raw SQL on both engines, money."""

from __future__ import annotations

import asyncio

import pytest

from servicechain.platform import db, i18n
from servicechain.platform.lib import money
from servicechain.platform.tables import SystemFlag


@pytest.mark.sqlite_only
async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database):
    assert (await db.fetch("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    assert (await db.fetch("PRAGMA busy_timeout"))[0]["timeout"] == db.SQLITE_BUSY_TIMEOUT_S * 1000


@pytest.mark.sqlite_only
async def test_sqlite_write_transactions_take_the_lock_up_front(rollback):
    # BEGIN IMMEDIATE: the transaction holds the write lock before it reads anything.
    transaction = db.engine().current_transaction.get()
    assert transaction is not None
    assert transaction.transaction_type.value == "IMMEDIATE"


@pytest.mark.sqlite_only
async def test_a_write_inside_a_read_snapshot_is_refused_rather_than_deadlocking(database):
    async with db.read():
        with pytest.raises(RuntimeError, match="read-only"):
            async with db.write():
                pass


async def test_nested_writes_join_the_outer_transaction(rollback):
    async with db.write():
        await SystemFlag.insert(SystemFlag(key="test.nested", value="1")).run()
    # Still inside the rolled-back outer transaction, the row is visible to it.
    assert await SystemFlag.exists().where(SystemFlag.key == "test.nested").run()


async def test_rolled_back_write_leaves_nothing(database):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.write():
            await SystemFlag.insert(SystemFlag(key="test.rolled-back", value="1")).run()
            raise Boom()
    assert not await SystemFlag.exists().where(SystemFlag.key == "test.rolled-back").run()


@pytest.mark.sqlite_only
async def test_twenty_concurrent_writers_never_see_database_is_locked_and_lose_nothing(database_copy):
    async with db.write():
        await SystemFlag.insert(SystemFlag(key="counter", value="0")).run()

    async def increment() -> None:
        async with db.write():
            row = await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == "counter").first().run()
            await asyncio.sleep(0.005)  # let the other writers pile up behind the lock
            await SystemFlag.update({SystemFlag.value: str(int(row["value"]) + 1)}).where(SystemFlag.key == "counter").run()

    results = await asyncio.gather(*(increment() for _ in range(20)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    row = await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == "counter").first().run()
    assert row["value"] == "20"


@pytest.mark.sqlite_only
async def test_sqlite_writes_share_one_long_lived_connection_and_reads_reuse_theirs(database_copy):
    async with db.write() as first:
        await SystemFlag.insert(SystemFlag(key="test.writer", value="1")).run()
    async with db.write() as second:
        await SystemFlag.update({SystemFlag.value: "2"}).where(SystemFlag.key == "test.writer").run()
    assert first.connection is second.connection
    async with db.read() as snapshot:
        assert (await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == "test.writer").first().run())["value"] == "2"
    async with db.read() as again:
        pass
    assert snapshot.connection is again.connection
    assert snapshot.connection is not first.connection


@pytest.mark.sqlite_only
async def test_sqlite_writer_that_broke_mid_transaction_is_replaced_and_its_write_is_gone(database_copy):
    with pytest.raises(ValueError):
        async with db.write() as broken:
            await SystemFlag.insert(SystemFlag(key="test.broken", value="1")).run()
            await broken.connection.close()  # the commit cannot happen on a closed connection
    async with db.write() as fresh:
        await SystemFlag.insert(SystemFlag(key="test.after", value="1")).run()
    assert fresh.connection is not broken.connection
    assert not await SystemFlag.exists().where(SystemFlag.key == "test.broken").run()
    assert await SystemFlag.exists().where(SystemFlag.key == "test.after").run()


@pytest.mark.sqlite_only
async def test_sqlite_write_outside_a_transaction_waits_for_the_writer_in_progress(database_copy):
    order: list[str] = []
    holding = asyncio.Event()

    async def long_transaction() -> None:
        async with db.write():
            await SystemFlag.insert(SystemFlag(key="test.first", value="1")).run()
            holding.set()
            await asyncio.sleep(0.05)
            order.append("transaction committed")

    async def lone_insert() -> None:
        await holding.wait()
        await SystemFlag.insert(SystemFlag(key="test.second", value="1")).run()  # no db.write(): autocommit
        order.append("lone insert")

    await asyncio.gather(long_transaction(), lone_insert())
    assert order == ["transaction committed", "lone insert"]
    assert await SystemFlag.count().where(SystemFlag.key.is_in(["test.first", "test.second"])).run() == 2


@pytest.mark.sqlite_only
async def test_sqlite_connections_close_at_stop_and_reopen_on_use(database_copy):
    async with db.write():
        await SystemFlag.insert(SystemFlag(key="test.reopen", value="1")).run()
    await db.engine().close_connections()
    assert await SystemFlag.exists().where(SystemFlag.key == "test.reopen").run()


async def _open_connections() -> None:
    """Opening a connection takes trips to its thread; have the writer and a reader open."""
    async with db.write():
        pass
    async with db.read():
        await db.fetch("SELECT 1 AS one")


@pytest.fixture
def thread_trips(monkeypatch):
    """The SQL of every statement handed to an aiosqlite connection's thread."""
    import aiosqlite

    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(next((a for a in args if isinstance(a, str)), getattr(fn, "__name__", "?")))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return trips


@pytest.mark.sqlite_only
async def test_sqlite_write_transaction_runs_on_the_event_loops_thread_and_reads_on_their_own(database_copy, thread_trips):
    await _open_connections()
    thread_trips.clear()
    async with db.write():
        await SystemFlag.insert(SystemFlag(key="test.inline", value="1")).run()
        assert await SystemFlag.exists().where(SystemFlag.key == "test.inline").run()
        await SystemFlag.update({SystemFlag.value: "2"}).where(SystemFlag.key == "test.inline").run()
    assert thread_trips == []  # BEGIN IMMEDIATE, reads, writes and COMMIT: no trip to wait for
    async with db.read():
        await db.fetch("SELECT COUNT(*) AS n FROM person")
    assert thread_trips == ["SELECT COUNT(*) AS n FROM person"]
    assert (await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == "test.inline").first().run())["value"] == "2"


@pytest.mark.sqlite_only
async def test_sqlite_long_read_moves_to_the_connections_thread_with_the_same_answer(database_copy, thread_trips, monkeypatch):
    monkeypatch.setattr(db, "INLINE_BUDGET_S", 0.0)  # every read is "too long" for the event loop
    monkeypatch.setattr(db.engine(), "_slow_statements", {}, raising=False)
    monkeypatch.setattr(db.engine(), "_overruns", {}, raising=False)
    query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT SUM(i) AS total FROM n"
    async with db.write():
        await SystemFlag.insert(SystemFlag(key="test.long-read", value="1")).run()
        assert (await db.fetch(query))[0]["total"] == 20000 * 20001 // 2
        assert db.in_transaction()
        # The interrupted read rolled nothing back: the transaction's own write is still there.
        assert await SystemFlag.exists().where(SystemFlag.key == "test.long-read").run()
        await db.fetch(query)
        await db.fetch(query)
        assert query in db.engine()._slow()  # three overruns in a row
        await db.fetch(query)
    # Re-run there after each of the three overruns, and sent there directly after that.
    assert thread_trips.count(query) == 4
    assert await SystemFlag.exists().where(SystemFlag.key == "test.long-read").run()


@pytest.mark.sqlite_only
async def test_sqlite_write_waits_on_its_thread_while_another_process_holds_the_lock(database_copy):
    import sqlite3

    other = sqlite3.connect(db.engine().path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (a CLI import, the worker) is writing

    async def write() -> None:
        async with db.write():
            await SystemFlag.insert(SystemFlag(key="test.after-other", value="1")).run()

    task = asyncio.create_task(write())
    await asyncio.sleep(0.2)
    assert not task.done()  # waiting in SQLite's busy handler, on the connection's thread
    loop_still_answers = await asyncio.wait_for(asyncio.sleep(0, result=True), timeout=0.1)
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(task, timeout=10)
    assert loop_still_answers
    assert await SystemFlag.exists().where(SystemFlag.key == "test.after-other").run()


@pytest.mark.sqlite_only
async def test_sqlite_wal_is_checkpointed_on_a_readers_thread_every_few_hundred_commits(database_copy, thread_trips, monkeypatch):
    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 3)
    await _open_connections()
    thread_trips.clear()
    pool = db.engine()._connections()
    pool.commits = 0
    for n in range(3):
        async with db.write() as transaction:
            await SystemFlag.insert(SystemFlag(key=f"test.checkpoint.{n}", value="1")).run()
    assert pool.checkpoint is not None
    await pool.checkpoint
    assert thread_trips == ["PRAGMA wal_checkpoint(PASSIVE)"]  # the transactions themselves made no trip
    async with db.read():  # readers keep SQLite's own setting
        assert (await db.fetch("PRAGMA wal_autocheckpoint"))[0]["wal_autocheckpoint"] == 1000
    async with db.write() as transaction:
        assert transaction.connection._connection.execute("PRAGMA wal_autocheckpoint").fetchone()["wal_autocheckpoint"] == 0



@pytest.mark.sqlite_only
async def test_sqlite_lone_writes_count_towards_the_checkpoint_too(database_copy, monkeypatch):
    """A statement written outside db.write() commits on its own: with the writer's own
    checkpoint switched off, it must count too, or a workload of lone writes grows the WAL for good."""
    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 3)
    await _open_connections()
    pool = db.engine()._connections()
    pool.commits = 0
    for n in range(3):
        await SystemFlag.insert(SystemFlag(key=f"test.lone.{n}", value="1")).run()
    assert pool.checkpoint is not None
    await pool.checkpoint


@pytest.mark.sqlite_only
async def test_sqlite_wal_past_its_limit_is_started_over_and_cut_to_nothing(database_copy, monkeypatch):
    """PASSIVE checkpoints never start the WAL over while readers are always in it, so on a busy
    server it grew for good; past WAL_TRUNCATE_BYTES the checkpoint truncates it."""
    import os

    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(db, "WAL_TRUNCATE_BYTES", 0)
    await _open_connections()
    pool = db.engine()._connections()
    pool.commits = 0
    wal = db.engine().path + "-wal"
    for n in range(3):
        async with db.write():
            await SystemFlag.insert(SystemFlag(key=f"test.truncate.{n}", value="x" * 5000)).run()
    assert os.stat(wal).st_size > 0
    await pool.checkpoint
    assert os.stat(wal).st_size == 0
    async with db.write():  # the writer goes on as before
        await SystemFlag.insert(SystemFlag(key="test.truncate.after", value="1")).run()
    assert await SystemFlag.count().where(SystemFlag.key.like("test.truncate.%")).run() == 4


@pytest.mark.sqlite_only
async def test_sqlite_wal_truncation_gives_up_on_a_long_reader_and_holds_writes_back_only_briefly(database_copy, monkeypatch):
    import os
    import sqlite3
    import time

    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(db, "WAL_TRUNCATE_BYTES", 0)
    await _open_connections()
    pool = db.engine()._connections()
    pool.commits = 0
    reader = sqlite3.connect(db.engine().path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM system_flag").fetchall()  # a snapshot in the WAL, held on
    try:
        for n in range(3):
            async with db.write():
                await SystemFlag.insert(SystemFlag(key=f"test.longreader.{n}", value="x" * 5000)).run()
        checkpoint = pool.checkpoint
        await asyncio.sleep(0.05)  # the checkpoint is under way, waiting for the reader
        started = time.perf_counter()
        async with db.write():  # a write meanwhile waits for the truncation's wait at most
            await SystemFlag.insert(SystemFlag(key="test.longreader.during", value="1")).run()
        assert time.perf_counter() - started < 2 * db.WAL_TRUNCATE_WAIT_MS / 1000 + 0.5
        await checkpoint
        assert os.stat(db.engine().path + "-wal").st_size > 0  # left for a later time
        assert pool.truncate_not_before > time.monotonic(), "and not tried again at every checkpoint"
        pool.commits = 0
        for n in range(3):
            async with db.write():
                await SystemFlag.insert(SystemFlag(key=f"test.longreader.again.{n}", value="1")).run()
        await pool.checkpoint  # PASSIVE only: returns at once, the writer never held back
    finally:
        db.engine()._connections().truncate_not_before = 0.0
        reader.execute("COMMIT")
        reader.close()


@pytest.mark.sqlite_only
async def test_sqlite_writer_hold_time_is_recorded(database_copy):
    before = db.WRITER_HOLD.count
    async with db.write():
        await SystemFlag.insert(SystemFlag(key="test.hold", value="1")).run()
        await asyncio.sleep(0.02)
    assert db.WRITER_HOLD.count == before + 1
    assert db.WRITER_HOLD.samples[-1] >= 0.02
    p50, p95 = db.WRITER_HOLD.percentiles()
    assert 0 <= p50 <= p95


async def test_fetch_uses_the_same_placeholders_on_both_engines(cast):
    rows = await db.fetch("SELECT id, name_ru FROM department WHERE code = {} AND depth = {}", "support", 1)
    assert rows == [{"id": cast.departments["support"], "name_ru": "Служба поддержки"}]
    assert db.placeholders(3) == "{}, {}, {}"


async def test_bulk_insert_needs_a_write_transaction(database):
    with pytest.raises(RuntimeError, match="inside db.write"):
        await db.bulk_insert("system_flag", ("key", "value"), [("test.bulk", "1")])


async def test_bulk_insert_writes_every_row(rollback):
    count = await db.bulk_insert("system_flag", ("key", "value"), [(f"test.bulk.{i}", str(i)) for i in range(300)])
    assert count == 300
    assert await SystemFlag.count().where(SystemFlag.key.like("test.bulk.%")).run() == 300
    assert await db.bulk_insert("system_flag", ("key", "value"), []) == 0


@pytest.mark.parametrize(
    ("language", "kopecks", "shown"),
    [
        ("ru", 150000, "1\xa0500\xa0₽"),
        ("ru", 123456, "1\xa0234,56\xa0₽"),
        ("ru", 5, "0,05\xa0₽"),
        ("ru", -99, "-0,99\xa0₽"),
        ("en", 150000, "1,500\xa0₽"),
        ("en", 123456, "1,234.56\xa0₽"),
        ("en", 100, "1\xa0₽"),
    ],
)
def test_money_is_stored_in_kopecks_and_shown_in_roubles(language, kopecks, shown):
    with i18n.use_language(language):
        assert i18n.format_money(kopecks).replace("\u202f", "\xa0") == shown


def test_missing_money_shows_a_dash():
    assert i18n.format_money(None) == "—"


def test_money_keeps_exact_kopecks_for_large_sums():
    # 12 345 678 901,23 ₽ as an integer: floats would lose the kopecks long before this.
    with i18n.use_language("en"):
        assert i18n.format_money(1_234_567_890_123) == "12,345,678,901.23\xa0₽"


@pytest.mark.parametrize(
    ("typed", "kopecks"),
    [("1500", 150000), ("1 234,56", 123456), ("1\xa0234.5", 123450), ("0,05", 5), ("-15,5", -1550), ("99 ₽", 9900)],
)
def test_typed_roubles_become_whole_kopecks(typed, kopecks):
    assert money.to_kopecks(typed) == kopecks
    assert money.to_roubles(kopecks) * 100 == kopecks


@pytest.mark.parametrize("typed", ["", "abc", "1,234", "12.345", "1 23", "1e3", "--5"])
def test_text_that_is_not_an_amount_is_refused(typed):
    # "1,234" is ambiguous (a thousand, or a bit over one rouble?), so it is refused too.
    with pytest.raises(money.BadAmount):
        money.to_kopecks(typed)


async def test_analyze_gives_the_planner_statistics_after_a_bulk_load(database_copy):
    """SQLite 3.40's PRAGMA optimize never analyzes a table that was never analyzed, so a bulk
    load (the demo, an import) left the planner guessing; db.analyze() gives it statistics."""
    async with db.write():
        await db.bulk_insert("system_flag", ("key", "value"), [(f"analyze-{i}", str(i)) for i in range(500)])
    await db.analyze()
    if db.is_sqlite():
        rows = await db.fetch("SELECT stat FROM sqlite_stat1 WHERE tbl = 'system_flag'")
        assert rows and any(int(r["stat"].split()[0]) >= 500 for r in rows)
    else:
        rows = await db.fetch("SELECT reltuples FROM pg_class WHERE relname = 'system_flag'")
        assert rows[0]["reltuples"] >= 500
