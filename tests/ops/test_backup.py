"""`servicechain backup` / `restore`: a round trip keeps every row of every table; a restore
refuses what it must (a database in use without --force, a damaged file, the other engine)
and changes nothing when it does; an older backup is migrated forward."""

from __future__ import annotations

import pytest

from servicechain.platform.backup import MAGIC, read_header
from tests.ops.helpers import clone_database, cli, drop_database, dump_tables, is_postgres, new_database, python, sql

# After the small demo a few tables are still empty (tokens, sessions, uploads, mail, jobs, ...):
# give each one row, made from the table's own column defaults, so the round trip compares
# every table with data in it.
FILL_EMPTY_TABLES = """
import asyncio
from piccolo.columns import ForeignKey
from piccolo.conf.apps import Finder

async def main():
    tables = Finder().get_table_classes()
    pending = [t for t in tables if not await t.count().run()]
    for _ in range(len(pending) + 1):
        left = []
        for table in pending:
            values = {}
            for column in table._meta.non_default_columns:
                if isinstance(column, ForeignKey):
                    target = column._foreign_key_meta.resolved_references
                    row = await target.select(target._meta.primary_key).first().run()
                    if row is None:
                        break
                    values[column] = row[target._meta.primary_key._meta.name]
            else:
                await table.insert(table(_data=values)).run()
                continue
            left.append(table)
        pending = left
    # Tables kept in raw SQL, outside Piccolo's table classes (dump_tables reads them too).
    from piccolo.engine.finder import engine_finder
    await engine_finder().run_ddl(
        "INSERT INTO internal_service_figures (digest, period, k, version, tree, rounds, since, counted, as_of, made_at,"
        " checksum, payload) SELECT 'backup-test', 'backup-test', 5, 0, 0, '', CURRENT_DATE, 0, CURRENT_TIMESTAMP,"
        " CURRENT_TIMESTAMP, '', '' WHERE NOT EXISTS (SELECT 1 FROM internal_service_figures)")
    empty = [t._meta.tablename for t in tables if not await t.count().run()]
    print(",".join(empty))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def source(company, tmp_path_factory):
    """A copy of the demo company with a row in every table, its backup, and every row it held then."""
    url = clone_database(company[0], "source")
    left_empty = python(url, FILL_EMPTY_TABLES).strip()
    assert left_empty == "", f"tables still empty: {left_empty}"
    backup = tmp_path_factory.mktemp("backups") / "company.scbackup"
    done = cli(url, "backup", str(backup))
    assert "Backup written" in done.stderr
    yield url, backup, dump_tables(url)
    drop_database(url)


@pytest.fixture
def fresh():
    urls: list[str] = []

    def make(migrated: bool = True) -> str:
        url = new_database("dst")
        urls.append(url)
        if migrated:
            cli(url, "migrate")
        return url

    yield make
    for url in urls:
        drop_database(url)


@pytest.fixture(scope="module")
def in_use():
    """A database someone already works in: migrated, with an administrator. Tests that are
    refused share it (a refusal changes nothing); the one that replaces it runs last."""
    url = new_database("inuse")
    cli(url, "migrate")
    cli(url, "user", "create-admin", "keeper@example.com", "--password-stdin", stdin="a long password of the keeper\n")
    yield url, dump_tables(url)
    drop_database(url)


def test_round_trip_restores_every_row_of_every_table(source, fresh):
    url, backup, rows_then = source
    expected = rows_then
    assert all(expected.values()), [t for t, rows in expected.items() if not rows]
    target = fresh(migrated=False)  # a database nobody has touched
    done = cli(target, "restore", str(backup))
    assert "Restored" in done.stderr
    restored = dump_tables(target)
    assert sorted(restored) == sorted(expected)
    for table, rows in expected.items():
        assert restored[table] == rows, f"{table} differs after the round trip"
    # The restored copy works: the audit chain verifies.
    assert "Audit log intact" in cli(target, "audit", "verify").stdout


@pytest.mark.parametrize("damage, message", [
    ("truncate", "truncated"),
    ("flip", "checksum does not match"),
    ("not-a-backup", "not a servicechain backup"),
    ("header", "header"),
])
def test_a_damaged_backup_is_refused_and_the_target_untouched(source, in_use, tmp_path, damage, message):
    _, backup, _ = source
    data = backup.read_bytes()
    damaged = tmp_path / "damaged.scbackup"
    if damage == "truncate":
        damaged.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "flip":
        middle = len(data) // 2
        damaged.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    elif damage == "not-a-backup":
        damaged.write_bytes(b"id,name\n1,Anna\n")
    else:
        damaged.write_bytes(data[:40])  # the header cut off
    target, before = in_use
    done = cli(target, "restore", str(damaged), "--force", check=False)
    assert done.returncode == 1
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert dump_tables(target) == before


def test_a_backup_from_newer_code_is_refused(source, in_use, tmp_path):
    _, backup, _ = source
    header, offset = read_header(backup)
    header.migrations.append(["goals", "2099-01-01T00:00:00:000000"])
    newer = tmp_path / "newer.scbackup"
    newer.write_bytes(MAGIC + header.to_json() + backup.read_bytes()[offset:])
    target, before = in_use
    done = cli(target, "restore", str(newer), "--force", check=False)
    assert done.returncode == 1 and "newer version of servicechain" in done.stderr, done.stderr
    assert dump_tables(target) == before


def test_a_backup_restores_into_the_same_engine_only(source, tmp_path):
    _, backup, _ = source
    other = f"sqlite:///{tmp_path / 'other.sqlite3'}" if is_postgres() else "postgresql://postgres@127.0.0.1:1/nowhere"
    done = cli(other, "restore", str(backup), check=False)
    assert done.returncode == 1
    engines = ("PostgreSQL database", "uses SQLite") if is_postgres() else ("SQLite database", "uses PostgreSQL")
    assert all(e in done.stderr for e in engines), done.stderr


def test_backup_never_overwrites_a_file(source):
    url, backup, rows_then = source
    before = backup.read_bytes()
    done = cli(url, "backup", str(backup), check=False)
    assert done.returncode == 1 and "exists already" in done.stderr
    assert backup.read_bytes() == before


def test_an_older_backup_is_migrated_forward_after_restoring(fresh, tmp_path):
    """A database one migration behind the code (the default pulse template's data migration
    undone, as `piccolo migrations backwards` does) comes back with that migration run. The
    target is freshly migrated: that counts as empty, no --force needed."""
    old = fresh()
    last = "2026-11-23T22:50:00:000000"
    sql(old, f"DELETE FROM migration WHERE app_name = 'surveys' AND name = '{last}'")
    sql(old, "DELETE FROM survey_item")
    sql(old, "DELETE FROM survey_template")
    backup = tmp_path / "old.scbackup"
    cli(old, "backup", str(backup))
    target = fresh()
    cli(target, "restore", str(backup))
    assert sql(target, f"SELECT name FROM migration WHERE app_name = 'surveys' AND name = '{last}'")
    assert sql(target, "SELECT COUNT(*) FROM survey_item")[0][0] == 8


def test_restore_over_a_database_in_use_refuses_without_force_and_changes_nothing(source, in_use):
    """Last: --force replaces the shared database in use."""
    url, backup, rows_then = source
    target, before = in_use
    done = cli(target, "restore", str(backup), check=False)
    assert done.returncode == 1
    assert "already holds data" in done.stderr and "--force" in done.stderr
    assert dump_tables(target) == before
    cli(target, "restore", str(backup), "--force")
    assert dump_tables(target)["person"] == rows_then["person"]
    assert not sql(target, "SELECT id FROM person WHERE email = 'keeper@example.com'")


def test_missing_postgresql_tools_are_named_with_the_package_to_install():
    from servicechain.platform.backup import BackupError, find_pg_tool

    with pytest.raises(BackupError, match=r"pg_dump for PostgreSQL 99 is needed.*postgresql-client-99"):
        find_pg_tool("pg_dump", 99)


def test_the_postgresql_password_stays_off_the_command_line():
    from servicechain.platform.backup import _pg_target

    assert _pg_target("postgresql://sc:p%40ss@db.internal:5432/sc?sslmode=require") == (
        "postgresql://sc@db.internal:5432/sc?sslmode=require", {"PGPASSWORD": "p@ss"})
    assert _pg_target("postgresql://postgres@127.0.0.1:5432/sc") == ("postgresql://postgres@127.0.0.1:5432/sc", {})
