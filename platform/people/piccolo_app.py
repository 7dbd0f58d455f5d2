import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.people.tables import Assignment, Department, ImportUpload, Person

APP_CONFIG = AppConfig(
    app_name="people",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[Department, Person, Assignment, ImportUpload],
    migration_dependencies=[],
    commands=[],
)
