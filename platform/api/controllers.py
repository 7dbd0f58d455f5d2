"""JSON API for integrations, under /api/v1, authenticated by bearer tokens with scopes.

Paging is by cursor (`?limit=&cursor=`), answering `{"items": [...], "next": cursor|null}`;
errors share one shape, `{"detail": ..., "errors": [...]}` (see platform.web).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, QueryParameter

from servicechain.platform import db
from servicechain.platform.api.schema import ERROR_RESPONSES
from servicechain.platform.i18n import gettext as _

MAX_LIMIT = 500
MAX_ID = 2**31 - 1  # ids are 32-bit serials; a bigger cursor would be a database error, not a 422


@dataclass
class PersonOut:
    id: int
    employee_number: str
    full_name: str
    email: str | None
    position: str
    department_code: str | None
    manager_employee_number: str | None
    language: str
    active: bool
    hired_on: date | None
    left_on: date | None


@dataclass
class PeoplePage:
    items: list[PersonOut]
    next: str | None


@dataclass
class DepartmentOut:
    id: int
    code: str
    name_en: str
    name_ru: str
    parent_code: str | None
    head_employee_number: str | None
    active: bool


@dataclass
class DepartmentsPage:
    items: list[DepartmentOut]
    next: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the page starts; a cursor we did not make is a 422 naming `cursor`."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, _sep, value = text.partition(":")
        if kind != "id" or not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
            raise ValueError
        return int(value)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        raise ValidationException(
            extra=[{"key": "cursor", "message": _("The cursor is not valid; start again without it.")}]
        ) from None


Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (1-500)")]
Cursor = Annotated[str | None, QueryParameter(description="The `next` value of the previous page")]


class PeopleApi(Controller):
    path = "/api/v1"
    tags = ["people"]
    include_in_schema = True  # the app leaves its HTML pages out of the OpenAPI document

    @get("/people", name="api:people", opt={"policy": "api.people.read"}, responses=ERROR_RESPONSES,
         summary="List people",
         description="Everyone, including people who have left (`active=false`), in id order. Needs `people:read`.")
    async def people(self, limit: Limit = 100, cursor: Cursor = None, active: FromQuery[bool | None] = None) -> PeoplePage:
        after = decode_cursor(cursor)
        extra = "" if active is None else " AND p.active = {}"
        rows = await db.fetch(
            "SELECT p.id, p.employee_number, p.full_name, p.email, p.position, d.code AS department_code,"
            " m.employee_number AS manager_employee_number, p.language, p.active, p.hired_on, p.left_on"
            " FROM person p LEFT JOIN department d ON d.id = p.department LEFT JOIN person m ON m.id = p.manager"
            " WHERE p.id > {}" + extra + f" ORDER BY p.id LIMIT {limit + 1}",
            *([after] if active is None else [after, active]),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        items = [PersonOut(**{**r, "active": bool(r["active"])}) for r in rows]
        return PeoplePage(items=items, next=encode_cursor(rows[-1]["id"]) if more else None)

    @get("/departments", name="api:departments", opt={"policy": "api.people.read"}, responses=ERROR_RESPONSES,
         summary="List departments",
         description="The department tree as a flat list in id order; `parent_code` links it. Needs `people:read`.")
    async def departments(self, limit: Limit = 100, cursor: Cursor = None) -> DepartmentsPage:
        after = decode_cursor(cursor)
        rows = await db.fetch(
            "SELECT d.id, d.code, d.name_en, d.name_ru, p.code AS parent_code, h.employee_number AS head_employee_number, d.active"
            " FROM department d LEFT JOIN department p ON p.id = d.parent LEFT JOIN person h ON h.id = d.head"
            f" WHERE d.id > {{}} ORDER BY d.id LIMIT {limit + 1}",
            after,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        items = [DepartmentOut(**{**r, "active": bool(r["active"])}) for r in rows]
        return DepartmentsPage(items=items, next=encode_cursor(rows[-1]["id"]) if more else None)
