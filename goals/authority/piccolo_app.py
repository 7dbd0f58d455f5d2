import os

from piccolo.conf.apps import AppConfig

from servicechain.goals.authority.tables import (
    AuthorityGrant,
    AuthorityScope,
    AuthoritySpent,
    AuthorityUse,
    EscalationRequest,
)

APP_CONFIG = AppConfig(
    app_name="authority",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[AuthorityScope, AuthorityGrant, AuthoritySpent, AuthorityUse, EscalationRequest],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
