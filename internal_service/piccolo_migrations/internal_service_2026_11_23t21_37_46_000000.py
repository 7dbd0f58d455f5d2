"""The monthly summary's key, and the summary of the ratings already there. Apart from the
table's migration because Piccolo runs raw steps before it creates tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-23T21:37:46:000000"
VERSION = "1.38.0"
DESCRIPTION = "monthly summary key and first fill"

# One row per month, rater department, provider department, service and round; the matrix reads
# months in a range for department pairs.
INDEXES = {
    "internal_service_monthly_key": "CREATE UNIQUE INDEX IF NOT EXISTS internal_service_monthly_key ON"
    " internal_service_monthly (month, rater_department, provider_department, service, round)",
}


def fill_sql(sqlite: bool) -> str:
    """The summary of the ratings already there (the same as ``summary.rebuild``; copied, as
    migrations do not import the app)."""
    month = "substr(rated_on, 1, 7) || '-01'" if sqlite else "CAST(date_trunc('month', rated_on) AS date)"
    raters = "',' || group_concat(DISTINCT rater) || ','" if sqlite else "',' || string_agg(DISTINCT rater::text, ',') || ','"
    return (
        "INSERT INTO internal_service_monthly (month, rater_department, provider_department, service, round, ratings,"
        " overall, speed, quality, courtesy, willingness, people, raters)"
        f" SELECT {month}, rater_department, provider_department, service, COALESCE(round, 0), COUNT(*), SUM(overall),"
        f" SUM(speed), SUM(quality), SUM(courtesy), SUM(willingness), COUNT(DISTINCT rater), {raters}"
        f" FROM internal_service_rating GROUP BY {month}, rater_department, provider_department, service, COALESCE(round, 0)"
    )



async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="internal_service", description=DESCRIPTION)

    async def create_indexes_and_fill():
        sqlite = engine_finder().engine_type == "sqlite"
        for sql in INDEXES.values():
            await engine_finder().run_ddl(sql)
        await engine_finder().run_ddl(fill_sql(sqlite))

    async def drop_indexes():
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes_and_fill)
    manager.add_raw_backwards(drop_indexes)
    return manager
