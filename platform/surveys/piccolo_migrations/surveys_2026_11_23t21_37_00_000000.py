"""One participant row per person and pulse: the database refuses a second, so two tabs or a
double click cannot record two answers. The tally is read by pulse and department."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T21:37:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one participant per person and pulse"

INDEXES = {
    "pulse_participant_once": "CREATE UNIQUE INDEX IF NOT EXISTS pulse_participant_once ON pulse_participant (pulse, person)",
    "pulse_tally_by_department": "CREATE INDEX IF NOT EXISTS pulse_tally_by_department ON pulse_tally (pulse, department)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="surveys", description=DESCRIPTION)

    async def create_indexes():
        from servicechain.platform.surveys.tables import Pulse

        for sql in INDEXES.values():
            await Pulse.raw(sql).run()

    async def drop_indexes():
        from servicechain.platform.surveys.tables import Pulse

        for name in INDEXES:
            await Pulse.raw(f"DROP INDEX IF EXISTS {name}").run()

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
