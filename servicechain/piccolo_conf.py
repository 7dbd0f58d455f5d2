"""Piccolo finds this file in the working directory (or through PICCOLO_CONF).

The engine is chosen once, from the settings: SQLite by default, PostgreSQL when
DATABASE_URL says so.
"""

from piccolo.conf.apps import AppRegistry

from servicechain.platform.db import build_engine

DB = build_engine()

APP_REGISTRY = AppRegistry(
    apps=[
        "servicechain.platform.piccolo_app",
        "servicechain.platform.people.piccolo_app",
        "servicechain.goals.piccolo_app",
        "servicechain.goals.authority.piccolo_app",
        "servicechain.recognition.piccolo_app",
        "servicechain.internal_service.piccolo_app",
        "servicechain.platform.surveys.piccolo_app",
        "servicechain.platform.customers.piccolo_app",
        "servicechain.platform.customers.quality.piccolo_app",
        "servicechain.platform.analytics.piccolo_app",
        "servicechain.platform.reports.piccolo_app",
    ]
)
