import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.analytics.tables import AnalyticsCache, AnalyticsSnapshot

APP_CONFIG = AppConfig(
    app_name="analytics",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[AnalyticsSnapshot, AnalyticsCache],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
