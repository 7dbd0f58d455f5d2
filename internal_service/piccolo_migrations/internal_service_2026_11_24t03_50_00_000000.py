"""The decided figures of each period, stored by the worker after every change of the summary:
pages read the newest row of their period instead of deciding (which costs up to seconds) in a
request. One row per digest of the decision's inputs (the primary key: two workers deciding the
same inputs store one row); ``period`` with ``as_of`` finds the newest; ``k``, ``version``,
``tree``, ``rounds`` and ``counted`` tell a page what the figures were decided for, so it can say
how far they are behind. ``payload`` is the figures as a base64 zip of numpy arrays, ``checksum``
its SHA-256, checked before a page trusts it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T03:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "stored decided figures"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="internal_service", description=DESCRIPTION)

    async def create():
        await engine_finder().run_ddl(
            "CREATE TABLE IF NOT EXISTS internal_service_figures (digest VARCHAR(64) PRIMARY KEY,"
            " period VARCHAR(32) NOT NULL, k INTEGER NOT NULL, version BIGINT NOT NULL, tree BIGINT NOT NULL,"
            " rounds TEXT NOT NULL, since DATE NOT NULL, counted INTEGER NOT NULL,"
            " as_of TIMESTAMP WITH TIME ZONE NOT NULL, made_at TIMESTAMP WITH TIME ZONE NOT NULL,"
            " checksum VARCHAR(64) NOT NULL, payload TEXT NOT NULL)")
        await engine_finder().run_ddl("CREATE INDEX IF NOT EXISTS internal_service_figures_period"
                                      " ON internal_service_figures (period, as_of)")

    async def drop():
        await engine_finder().run_ddl("DROP TABLE IF EXISTS internal_service_figures")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
