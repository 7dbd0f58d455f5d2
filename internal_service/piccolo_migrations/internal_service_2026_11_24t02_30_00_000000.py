"""Suppression decisions kept in the database under a digest of everything they were made from:
the search for witnesses costs seconds, and a new process (the monthly report's command, a
restarted worker) would otherwise pay it again for ratings that have not changed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T02:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "stored suppression decisions"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="internal_service", description=DESCRIPTION)

    async def create():
        await engine_finder().run_ddl("CREATE TABLE IF NOT EXISTS internal_service_decision"
                                      " (digest VARCHAR(64) PRIMARY KEY, hidden TEXT NOT NULL,"
                                      " made_at TIMESTAMP WITH TIME ZONE NOT NULL)")

    async def drop():
        await engine_finder().run_ddl("DROP TABLE IF EXISTS internal_service_decision")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
