import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.reports.tables import ReportArchive

APP_CONFIG = AppConfig(
    app_name="reports",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[ReportArchive],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
