"""One report per month and language: regenerating replaces it, two clicks cannot store two.
(Piccolo runs raw steps before a migration's tables exist, hence a migration of its own.)"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T00:36:20:000000"
VERSION = "1.38.0"
DESCRIPTION = "one report per month and language"

INDEXES = {
    "report_archive_month_lang": "CREATE UNIQUE INDEX IF NOT EXISTS report_archive_month_lang ON report_archive (month, lang)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def create_indexes():
        from servicechain.platform.reports.tables import ReportArchive

        for sql in INDEXES.values():
            await ReportArchive.raw(sql).run()

    async def drop_indexes():
        from servicechain.platform.reports.tables import ReportArchive

        for name in INDEXES:
            await ReportArchive.raw(f"DROP INDEX IF EXISTS {name}").run()

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
