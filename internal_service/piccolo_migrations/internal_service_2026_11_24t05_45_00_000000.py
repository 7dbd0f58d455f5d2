"""The kept hidden sets (``internal_service_decision``) are no longer written or read: since the
worker stores whole decided figures in ``internal_service_figures``, pages and the analytics
panel read those. Dropped so a backup or a reader of the schema does not take it for live data."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T05:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop the superseded suppression decisions"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="internal_service", description=DESCRIPTION)

    async def drop():
        await engine_finder().run_ddl("DROP TABLE IF EXISTS internal_service_decision")

    async def create():
        await engine_finder().run_ddl("CREATE TABLE IF NOT EXISTS internal_service_decision"
                                      " (digest VARCHAR(64) PRIMARY KEY, hidden TEXT NOT NULL,"
                                      " made_at TIMESTAMP WITH TIME ZONE NOT NULL)")

    manager.add_raw(drop)
    manager.add_raw_backwards(create)
    return manager
