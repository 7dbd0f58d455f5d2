import os

from piccolo.conf.apps import AppConfig

from servicechain.goals.tables import CheckIn, Cycle, Goal

APP_CONFIG = AppConfig(
    app_name="goals",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[Cycle, Goal, CheckIn],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
