import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.tables import (
    ApiToken,
    AuditEntry,
    Job,
    LoginAttempt,
    Notification,
    OneTimeLink,
    OutboxMessage,
    SystemFlag,
    UserSession,
)

APP_CONFIG = AppConfig(
    app_name="platform",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[UserSession, LoginAttempt, ApiToken, OneTimeLink, AuditEntry, OutboxMessage, Notification, Job, SystemFlag],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
