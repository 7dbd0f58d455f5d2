import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.people.tables import Assignment, Department, Person

APP_CONFIG = AppConfig(
    app_name="people",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[Department, Person, Assignment],
    migration_dependencies=[],
    commands=[],
)
