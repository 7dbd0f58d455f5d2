import os

from piccolo.conf.apps import AppConfig

from servicechain.internal_service.tables import (
    FollowUp,
    InternalService,
    MonthlySummary,
    Rating,
    RatingRound,
    ServiceAudience,
)

APP_CONFIG = AppConfig(
    app_name="internal_service",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[InternalService, ServiceAudience, RatingRound, Rating, FollowUp, MonthlySummary],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
