import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp, ScoreUpload

APP_CONFIG = AppConfig(
    app_name="customers",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[CustomerScore, ScoreFollowUp, ScoreUpload],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
