import os

from piccolo.conf.apps import AppConfig

from servicechain.recognition.tables import (
    CompanyValue,
    Recognition,
    RecognitionReaction,
    RecognitionRecipient,
    RecognitionValue,
    Reward,
    RewardBudget,
    RewardPreference,
)

APP_CONFIG = AppConfig(
    app_name="recognition",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=[CompanyValue, Recognition, RecognitionRecipient, RecognitionValue, RecognitionReaction,
                   RewardBudget, Reward, RewardPreference],
    migration_dependencies=["servicechain.platform.people.piccolo_app"],
    commands=[],
)
