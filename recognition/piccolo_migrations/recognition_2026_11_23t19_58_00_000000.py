"""The feeds read recognitions newest first within a filter (everyone, a department, a person,
a value); these composite indexes let both engines read a page straight off an index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T19:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "feed indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="recognition", description=DESCRIPTION)

    # Keyset feeds read these: newest first within a filter, without sorting or OFFSET.
    indexes = {
        "recognition_public_id": "recognition (public, id)",
        "recognition_sender_created": "recognition (sender, created_at, id)",
        "recognition_recipient_person_rec": "recognition_recipient (person, recognition)",
        "recognition_recipient_dept_rec": "recognition_recipient (department, public, recognition)",
        "recognition_value_value_rec": "recognition_value (value, public, recognition)",
        "reward_giver_created": "reward (giver, created_at)",
        "reward_recipient_created": "reward (recipient, created_at)",
    }

    async def create_indexes():
        from servicechain.recognition.tables import Recognition

        for name, target in indexes.items():
            await Recognition.raw(f"CREATE INDEX IF NOT EXISTS {name} ON {target}").run()

    async def drop_indexes():
        from servicechain.recognition.tables import Recognition

        for name in indexes:
            await Recognition.raw(f"DROP INDEX IF EXISTS {name}").run()

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
