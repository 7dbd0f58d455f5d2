"""Rewards given before rewards kept a department: their recipient's department now is all we
know. (Piccolo runs a migration's raw steps before its column changes, hence a migration of its
own after the one that adds the column.)"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-23T22:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "reward department for earlier rewards"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="recognition", description=DESCRIPTION)

    # Plain SQL through the engine: a migration must not import today's table classes.
    async def backfill():
        await engine_finder().run_ddl(
            "UPDATE reward SET department = (SELECT department FROM person WHERE person.id = reward.recipient)"
            " WHERE department IS NULL"
        )

    manager.add_raw(backfill)
    return manager
