"""One rating per person, service and request; without a request, one per person, service and
round. Partial unique indexes (both engines have them) say it where no race can get past; the
matrix reads ratings by period and department pair."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T19:58:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "rating uniqueness and matrix indexes"

INDEXES = {
    "internal_service_rating_one_per_request": "CREATE UNIQUE INDEX IF NOT EXISTS internal_service_rating_one_per_request"
    " ON internal_service_rating (rater, service, request_ref) WHERE request_ref IS NOT NULL",
    "internal_service_rating_one_per_round": "CREATE UNIQUE INDEX IF NOT EXISTS internal_service_rating_one_per_round"
    " ON internal_service_rating (rater, service, round) WHERE request_ref IS NULL",
    "internal_service_audience_unique": "CREATE UNIQUE INDEX IF NOT EXISTS internal_service_audience_unique"
    " ON internal_service_audience (service, department)",
    "internal_service_rating_period": "CREATE INDEX IF NOT EXISTS internal_service_rating_period"
    " ON internal_service_rating (rated_on, provider_department, rater_department, rater, overall)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="internal_service", description=DESCRIPTION)

    async def create_indexes():
        from servicechain.internal_service.tables import Rating

        for sql in INDEXES.values():
            await Rating.raw(sql).run()

    async def drop_indexes():
        from servicechain.internal_service.tables import Rating

        for name in INDEXES:
            await Rating.raw(f"DROP INDEX IF EXISTS {name}").run()

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
