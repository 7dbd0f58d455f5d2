"""Typed input for people and departments, validated into messages in the user's language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from servicechain.platform.config import LANGUAGES
from servicechain.platform.i18n import gettext as _
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.ids import is_id, parse_id
from servicechain.platform.people.tables import ROLES

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def valid_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value)) and len(value) <= 254


@dataclass
class PersonForm:
    full_name: str = ""
    employee_number: str = ""
    email: str = ""
    position: str = ""
    department_id: str = ""
    manager_id: str = ""
    language: str = "ru"
    role: str = "employee"
    hired_on: str = ""
    left_on: str = ""
    # Parsed values, filled by validate().
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "PersonForm":
        names = [f for f in cls.__dataclass_fields__ if f != "parsed"]
        return cls(**{k: str(data.get(k, "") or "").strip() for k in names})

    def validate(self, allowed_roles: tuple[str, ...]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not self.full_name:
            errors["full_name"] = [_("Enter the person's full name.")]
        elif len(self.full_name) > 300:
            errors["full_name"] = [_("The name is too long (at most 300 characters).")]
        if not self.employee_number:
            errors["employee_number"] = [_("Enter the employee number.")]
        elif len(self.employee_number) > 64:
            errors["employee_number"] = [_("The employee number is too long (at most 64 characters).")]
        email = self.email.lower()
        if email and not valid_email(email):
            errors["email"] = [_("This is not a valid email address; leave it empty if the person has none.")]
        if self.language not in LANGUAGES:
            errors["language"] = [_("Choose Russian or English.")]
        if self.role not in ROLES or self.role not in allowed_roles:
            errors["role"] = [_("You may not give this role.")]
        dates: dict[str, date | None] = {}
        for name in ("hired_on", "left_on"):
            try:
                dates[name] = parse_date(getattr(self, name))
            except BadDate:
                errors[name] = [_("Write the date as 31.12.2025 or 2025-12-31.")]
        if dates.get("hired_on") and dates.get("left_on") and dates["left_on"] < dates["hired_on"]:
            errors["left_on"] = [_("The leaving date is before the hiring date.")]
        ids: dict[str, int | None] = {}
        for name in ("department_id", "manager_id"):
            raw = getattr(self, name)
            if raw and not is_id(raw):
                errors[name] = [_("Choose from the list.")]
            ids[name] = parse_id(raw)
        self.parsed = {
            "full_name": self.full_name,
            "employee_number": self.employee_number,
            "email": email or None,
            "position": self.position[:200],
            "department": ids.get("department_id"),
            "manager": ids.get("manager_id"),
            "language": self.language,
            "role": self.role,
            "hired_on": dates.get("hired_on"),
            "left_on": dates.get("left_on"),
        }
        return errors


@dataclass
class DepartmentForm:
    code: str = ""
    name_en: str = ""
    name_ru: str = ""
    parent_id: str = ""
    head_id: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "DepartmentForm":
        names = [f for f in cls.__dataclass_fields__ if f != "parsed"]
        return cls(**{k: str(data.get(k, "") or "").strip() for k in names})

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not CODE_RE.match(self.code):
            errors["code"] = [_("Use 1 to 64 Latin letters, digits, dots, dashes or underscores.")]
        if not self.name_ru:
            errors["name_ru"] = [_("Enter the name in Russian.")]
        if not self.name_en:
            errors["name_en"] = [_("Enter the name in English.")]
        for name in ("parent_id", "head_id"):
            raw = getattr(self, name)
            if raw and not is_id(raw):
                errors[name] = [_("Choose from the list.")]
        self.parsed = {
            "code": self.code,
            "name_en": self.name_en[:200],
            "name_ru": self.name_ru[:200],
            "parent": parse_id(self.parent_id),
            "head": parse_id(self.head_id),
        }
        return errors
