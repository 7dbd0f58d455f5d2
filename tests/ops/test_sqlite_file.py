"""SQLite's long-lived connections follow the file at the configured path: when it goes away
(a volume unmounted, a folder moved) queries fail as "unable to open" (the app answers 503)
instead of going on with a file nobody else sees; when it is back they work again."""

from __future__ import annotations

import sqlite3

import pytest

from servicechain.platform.db import SQLITE_BUSY_TIMEOUT_S, TunedSQLiteEngine

pytestmark = pytest.mark.sqlite_only


def _database(path, value: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS said (value TEXT)")
        conn.execute("DELETE FROM said")
        conn.execute("INSERT INTO said VALUES (?)", (value,))
    conn.close()


async def test_connections_follow_the_file_at_the_path(tmp_path):
    folder = tmp_path / "volume"
    folder.mkdir()
    path = folder / "db.sqlite3"
    _database(path, "first")
    engine = TunedSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)

    async def said() -> str:
        return (await engine._run_in_new_connection("SELECT value FROM said"))[0]["value"]

    async def write(value: str) -> None:
        await engine._run_in_new_connection("UPDATE said SET value = ?", [value])

    try:
        assert await said() == "first"
        await write("written")
        folder.rename(tmp_path / "away")
        with pytest.raises(sqlite3.OperationalError, match="unable to open"):
            await said()
        with pytest.raises(sqlite3.OperationalError, match="unable to open"):
            await write("lost")
        (tmp_path / "away").rename(folder)
        assert await said() == "written"
        await write("after")
        assert await said() == "after"
    finally:
        await engine.close_connections()
