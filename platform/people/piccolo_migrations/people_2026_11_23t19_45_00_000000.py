"""The directory lists active people in name order; with an index on (active, search_name)
both engines read a page straight off the index instead of sorting 20,000 rows."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-23T19:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "directory order index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="people", description=DESCRIPTION)

    # Plain DDL through the engine: a migration must not import today's table classes.
    async def create_index():
        await engine_finder().run_ddl("CREATE INDEX IF NOT EXISTS person_active_search_name ON person (active, search_name, id)")

    async def drop_index():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS person_active_search_name")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
