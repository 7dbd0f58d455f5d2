"""The indexes of scores and follow-ups, named by hand (Piccolo would name them
``<table>_<column>``, which reads like a table of the quality app). An external id is unique per
source; analytics read a department's scores by date; follow-ups are listed by assignee and by
due time, one per score. Plain DDL: nothing here imports the tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T21:36:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "score and follow-up indexes"

INDEXES = {
    "customer_score_source_external": "CREATE UNIQUE INDEX IF NOT EXISTS customer_score_source_external"
    " ON customer_score (source, external_id)",
    "customer_score_by_department": "CREATE INDEX IF NOT EXISTS customer_score_by_department"
    " ON customer_score (department, given_on)",
    "customer_score_by_employee": "CREATE INDEX IF NOT EXISTS customer_score_by_employee"
    " ON customer_score (employee, given_on)",
    "customer_score_by_case": "CREATE INDEX IF NOT EXISTS customer_score_by_case ON customer_score (case_ref)",
    "customer_follow_up_one_per_score": "CREATE UNIQUE INDEX IF NOT EXISTS customer_follow_up_one_per_score"
    " ON customer_follow_up (score)",
    "customer_follow_up_by_assignee": "CREATE INDEX IF NOT EXISTS customer_follow_up_by_assignee"
    " ON customer_follow_up (assignee, status, due_at)",
    "customer_follow_up_by_department": "CREATE INDEX IF NOT EXISTS customer_follow_up_by_department"
    " ON customer_follow_up (department, status, due_at)",
    "customer_follow_up_due": "CREATE INDEX IF NOT EXISTS customer_follow_up_due ON customer_follow_up (status, due_at)",
    "customer_score_upload_uploader": "CREATE INDEX IF NOT EXISTS customer_score_upload_uploader"
    " ON customer_score_upload (uploader)",
}


async def _run(sql: str) -> None:
    from piccolo.engine.finder import engine_finder

    engine = engine_finder()
    assert engine is not None
    await engine.run_ddl(sql)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="customers", description=DESCRIPTION)

    async def create_indexes():
        for sql in INDEXES.values():
            await _run(sql)

    async def drop_indexes():
        for name in INDEXES:
            await _run(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
