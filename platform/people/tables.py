from piccolo.columns import (
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

ROLES = ("employee", "manager", "hr", "executive", "admin")
LANGUAGES = ("ru", "en")


class Department(Table, tablename="department"):
    """A node of the company tree. `path` ("/1/4/9/") makes "everything below" one LIKE."""

    code = Varchar(length=64, unique=True)
    name_en = Varchar(length=200)
    name_ru = Varchar(length=200)
    parent = ForeignKey(references="self", null=True, default=None, index=True)
    # The head's person id. Not a foreign key: person already references department, and
    # Piccolo cannot create two tables that reference each other.
    head = Integer(null=True, default=None, index=True)
    path = Varchar(length=1000, index=True, default="/")
    depth = Integer(default=0)
    active = Boolean(default=True)


class Person(Table, tablename="person"):
    first_name = Varchar(length=100, default="")
    middle_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    full_name = Varchar(length=300)
    # Lower-cased, ё folded to е, so search is case-insensitive in Cyrillic on both engines.
    search_name = Varchar(length=600, index=True, default="")
    employee_number = Varchar(length=64, unique=True)
    email = Varchar(length=254, null=True, default=None, unique=True)
    position = Varchar(length=200, default="")
    department = ForeignKey(references=Department, null=True, default=None, index=True)
    manager = ForeignKey(references="self", null=True, default=None, index=True)
    language = Varchar(length=2, default="ru")
    role = Varchar(length=16, default="employee", index=True)
    hired_on = Date(null=True, default=None)
    left_on = Date(null=True, default=None)
    active = Boolean(default=True, index=True)
    password_hash = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Assignment(Table, tablename="assignment"):
    """Where someone worked and for whom, from `valid_from` until `valid_to` (open = now).

    Reports for a past month read this, not the person's current department.
    """

    person = ForeignKey(references=Person, index=True)
    department = ForeignKey(references=Department, null=True, default=None, index=True)
    manager = ForeignKey(references=Person, null=True, default=None)
    valid_from = Date()
    valid_to = Date(null=True, default=None)


class ImportUpload(Table, tablename="import_upload"):
    """An org file between the steps of the web import (upload, mapping, preview, apply).

    Kept in the database, not in process memory, so any worker can serve the next step; only
    its uploader may see it, and it is deleted a day after upload.
    """

    token = Varchar(length=64, unique=True)
    uploader = ForeignKey(references=Person, index=True)
    filename = Varchar(length=255)
    sheet = Varchar(length=100, default="")
    content = Bytea()
    created_at = Timestamptz()
    # Set once applied, with the counts as JSON, so the upload cannot be applied twice.
    applied_at = Timestamptz(null=True, default=None)
    result = Text(default="")
