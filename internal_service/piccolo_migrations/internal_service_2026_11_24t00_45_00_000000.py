"""A version counter for the monthly summary: one row, raised in every transaction that changes
the summary (a rating, a rebuild). Pages keep the suppression decision of a period in memory
keyed by it, so every worker notices new ratings without sharing any state but the database."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T00:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "summary version counter"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="internal_service", description=DESCRIPTION)

    async def create():
        await engine_finder().run_ddl("CREATE TABLE IF NOT EXISTS internal_service_version"
                                      " (id INTEGER PRIMARY KEY, version BIGINT NOT NULL DEFAULT 0)")
        await engine_finder().run_ddl("INSERT INTO internal_service_version (id, version) VALUES (1, 0)"
                                      " ON CONFLICT (id) DO NOTHING")

    async def drop():
        await engine_finder().run_ddl("DROP TABLE IF EXISTS internal_service_version")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
