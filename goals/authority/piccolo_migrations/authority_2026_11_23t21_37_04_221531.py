from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T21:37:04:221531"
VERSION = "1.38.0"
DESCRIPTION = "unit plural forms in Russian"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="authority", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="AuthorityScope",
        tablename="authority_scope",
        column_name="unit_ru",
        db_column_name="unit_ru",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
