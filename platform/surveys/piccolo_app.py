import os

from piccolo.conf.apps import AppConfig

from servicechain.platform.surveys.tables import (
    Pulse,
    PulseAnswer,
    PulseAudience,
    PulseDepartment,
    PulseItem,
    PulseParticipant,
    PulseSealedAnswer,
    PulseSummary,
    SurveyItem,
    SurveyTemplate,
)

APP_CONFIG = AppConfig(
    app_name="surveys",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[SurveyTemplate, SurveyItem, Pulse, PulseItem, PulseAudience, PulseDepartment, PulseParticipant,
                   PulseSealedAnswer, PulseAnswer, PulseSummary],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
