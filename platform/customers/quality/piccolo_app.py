import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.customers.quality.tables import (
    Audit,
    AuditAnswer,
    Checklist,
    ChecklistItem,
    Reviewer,
    Scorecard,
    ScorecardComment,
    WeightSet,
)

APP_CONFIG = AppConfig(
    app_name="quality",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[WeightSet, Reviewer, Scorecard, ScorecardComment, Checklist, ChecklistItem, Audit, AuditAnswer],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
