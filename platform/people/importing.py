"""The org import: people and departments from a CSV or XLSX file as an HR system exports it.

Four plain steps, shared by the CLI and the web pages:

1. :func:`read_table` turns the file's bytes into headers and rows (UTF-8 with or without BOM,
   or Windows-1251; comma or semicolon; or the first/named sheet of an XLSX workbook).
2. :func:`guess_mapping` maps columns to our fields from English or Russian headers;
   :func:`check_mapping` says what is wrong with a mapping a person or a file gave.
3. :func:`plan_import` reads the database and works out everything the import would do, and
   every problem by row number. It writes nothing.
4. :func:`apply_import` plans again inside one write transaction (so nothing changed between
   preview and apply slips through) and applies all rows or none, with one audit entry.

People are matched by employee number, else by email. A mapped column is the truth for the
people in the file (an empty email cell clears the email); an unmapped one leaves the field
alone. People missing from the file are deactivated only by a full import.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from servicechain.platform import audit, db
from servicechain.platform.config import LANGUAGES, get_settings
from servicechain.platform.imports import wizard
from servicechain.platform.imports.wizard import Problem, checksum, normalise_mapping, override_mapping  # noqa: F401
from servicechain.platform.i18n import gettext as _
from servicechain.platform.i18n import lazy_gettext, use_language
from servicechain.platform.lib.dates import BadDate, parse_date
from servicechain.platform.lib.tabular import ImportFileError
from servicechain.platform.lib.tabular import decode as _decode
from servicechain.platform.lib.tabular import header_key as _header_key
from servicechain.platform.lib.tabular import read_csv as _read_csv
from servicechain.platform.lib.tabular import read_xlsx as _read_xlsx
from servicechain.platform.lib.tabular import unique_headers as _unique_headers
from servicechain.platform.lib.text import fold, person_search_text
from servicechain.platform.people.forms import CODE_RE, valid_email
from servicechain.platform.people.service import move_people, today
from servicechain.platform.people.tables import ROLES, Department, ImportUpload
from servicechain.platform.security import Actor, assignable_roles, import_upload_for, require, utcnow
from servicechain.platform.web import FormInvalid

MAX_ROWS = 100_000
# A full import that would deactivate more than this share of active people needs a yes.
DEACTIVATION_GUARD = 0.40

FIELDS: dict[str, Any] = {
    "employee_number": lazy_gettext("Employee number"),
    "full_name": lazy_gettext("Full name"),
    "last_name": lazy_gettext("Last name"),
    "first_name": lazy_gettext("First name"),
    "middle_name": lazy_gettext("Middle name"),
    "email": lazy_gettext("Email"),
    "position": lazy_gettext("Position"),
    "department": lazy_gettext("Department (code or path such as “Support / Call centre”)"),
    "manager": lazy_gettext("Manager (employee number or email)"),
    "hired_on": lazy_gettext("Hired on"),
    "left_on": lazy_gettext("Left on"),
    "language": lazy_gettext("Language"),
    "role": lazy_gettext("Role"),
}

# Header spellings seen in HR exports, compared after _header_key().
SYNONYMS: dict[str, tuple[str, ...]] = {
    "employee_number": (
        "табельный номер", "табельный", "таб номер", "таб", "табельный no", "номер сотрудника", "id сотрудника",
        "employee number", "employee no", "employee id", "emp no", "emp id", "personnel number", "staff number",
        "staff id", "number", "номер",
    ),
    "full_name": ("фио", "полное имя", "сотрудник", "работник", "full name", "name", "employee name", "employee", "fullname"),
    "last_name": ("фамилия", "last name", "surname", "family name", "lastname"),
    "first_name": ("имя", "first name", "given name", "firstname"),
    "middle_name": ("отчество", "middle name", "patronymic", "middlename"),
    "email": (
        "email", "эл почта", "электронная почта", "почта", "адрес электронной почты", "email address", "mail",
        "e mail", "емейл", "емэйл",
    ),
    "position": ("должность", "позиция", "position", "job title", "title", "job"),
    "department": (
        "подразделение", "отдел", "структурное подразделение", "департамент", "служба", "department", "dept",
        "division", "unit", "team", "org unit", "код подразделения", "department code",
    ),
    "manager": (
        "руководитель", "непосредственный руководитель", "начальник", "табельный номер руководителя",
        "email руководителя", "manager", "line manager", "supervisor", "reports to", "manager number",
        "manager email", "manager id",
    ),
    "hired_on": (
        "дата приема", "дата приема на работу", "дата найма", "принят", "hire date", "hired", "hired on",
        "start date", "date of hire", "hiring date",
    ),
    "left_on": (
        "дата увольнения", "уволен", "leave date", "left on", "termination date", "end date", "date of leaving",
        "leaving date",
    ),
    "language": ("язык", "language", "lang", "locale"),
    "role": ("роль", "role", "access role"),
}

ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "employee": ("employee", "сотрудник", "работник", "staff"),
    "manager": ("manager", "руководитель", "менеджер", "начальник"),
    "hr": ("hr", "hr admin", "hr администратор", "кадры", "кадровик", "отдел кадров", "hr-admin"),
    "executive": ("executive", "руководство", "топ менеджер", "директор", "exec"),
    "admin": ("admin", "administrator", "администратор", "админ"),
}
LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {
    "ru": ("ru", "rus", "russian", "русский", "рус", "ru-ru"),
    "en": ("en", "eng", "english", "английский", "англ", "en-us", "en-gb"),
}

TRANSLIT = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f",
     "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
))


# --- errors and results ------------------------------------------------------------------------


class ImportRejected(Exception):
    """The data has problems (or needs a confirmation); nothing was written."""

    def __init__(self, plan: "ImportPlan"):
        super().__init__(f"{len(plan.problems)} problem(s)")
        self.plan = plan


@dataclass
class SourceRow:
    number: int  # as a spreadsheet numbers it: the header is row 1
    cells: dict[str, str]


@dataclass(eq=False)
class NewDepartment:
    key: tuple
    name: str
    parent: "int | NewDepartment | None"
    code: str
    depth: int = 0


@dataclass
class PlannedPerson:
    row: int
    person_id: int | None  # the existing person this row updates; None creates one
    values: dict[str, Any]  # every person field after the import
    manager_ref: tuple | None = None  # ("p", id) existing person, ("n", index) a new one
    changed: bool = True
    admin_guard: bool = False  # an administrator's record, which the actor may not change


@dataclass
class ImportPlan:
    rows: list[SourceRow]
    mapping: dict[str, str]
    full: bool
    problems: list[Problem] = field(default_factory=list)
    people: list[PlannedPerson] = field(default_factory=list)
    new_departments: list[NewDepartment] = field(default_factory=list)
    deactivate: list[int] = field(default_factory=list)
    kept_active: list[int] = field(default_factory=list)  # missing from a full file but kept
    active_count: int = 0
    existing: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def created(self) -> int:
        return sum(1 for p in self.people if p.person_id is None)

    @property
    def updated(self) -> int:
        return sum(1 for p in self.people if p.person_id is not None and p.changed)

    @property
    def unchanged(self) -> int:
        return sum(1 for p in self.people if p.person_id is not None and not p.changed)

    @property
    def deactivation_share(self) -> float:
        return len(self.deactivate) / self.active_count if self.active_count else 0.0

    @property
    def needs_confirmation(self) -> bool:
        return self.full and self.deactivation_share > DEACTIVATION_GUARD

    def counts(self) -> dict[str, int]:
        return {
            "rows": len(self.rows), "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "deactivated": len(self.deactivate), "departments_created": len(self.new_departments),
        }


Progress = Callable[[str, int, int], None]  # (stage, done, total)


# --- 1. reading the file -------------------------------------------------------------------------


def read_table(data: bytes, filename: str = "", sheet: str | None = None) -> tuple[list[str], list[SourceRow]]:
    """Headers and non-empty rows of a CSV or XLSX file; ImportFileError when unreadable."""
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04") or name.endswith((".xlsx", ".xlsm")):
        grid = _read_xlsx(data, sheet)
    elif data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise ImportFileError(_("Old Excel files (.xls) cannot be read: save the file as .xlsx or CSV."))
    else:
        grid = _read_csv(_decode(data))
    start = next((i for i, row in enumerate(grid) if any(cell for cell in row)), None)
    if start is None:
        raise ImportFileError(_("The file is empty."))
    headers = _unique_headers(grid[start])
    rows: list[SourceRow] = []
    for index in range(start + 1, len(grid)):
        values = grid[index]
        if not any(values):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(_("The file has more than %(n)s rows; split it into smaller files.", n=MAX_ROWS))
        cells = {h: (values[i] if i < len(values) else "") for i, h in enumerate(headers)}
        rows.append(SourceRow(number=index + 1, cells=cells))
    return headers, rows


# --- 2. the column mapping -----------------------------------------------------------------------


_SYNONYM_INDEX = wizard.synonym_index(SYNONYMS)


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{column: field} for the columns we recognise; each field goes to its first column."""
    return wizard.guess_mapping(headers, _SYNONYM_INDEX)


def check_mapping(headers: list[str], mapping: dict[str, str]) -> list[str]:
    """What is wrong with a mapping, in the user's language; empty when it can be used."""
    errors = wizard.check_mapping(headers, mapping, FIELDS)
    fields = set(mapping.values())
    if "employee_number" not in fields and "email" not in fields:
        errors.append(_("Map a column to the employee number (or at least to the email)."))
    if not fields & {"full_name", "last_name", "first_name"}:
        errors.append(_("Map a column to the full name, or columns to the last and first names."))
    return errors


# --- 3. the plan ---------------------------------------------------------------------------------


def _translit(text: str) -> str:
    return "".join(TRANSLIT.get(ch, ch) for ch in fold(text))


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", _translit(text))).strip("-") or "dept"


def _split_path(value: str) -> list[str]:
    return [part.strip() for part in value.split("/") if part.strip()]


def _parse_choice(value: str, words: dict[str, tuple[str, ...]]) -> str | None:
    key = _header_key(value)
    for choice, spellings in words.items():
        if key == choice or key in {_header_key(s) for s in spellings}:
            return choice
    return None


def _parse_role(value: str) -> str | None:
    found = _parse_choice(value, ROLE_WORDS)
    if found:
        return found
    from servicechain.platform.web import role_label

    for language in LANGUAGES:  # the labels our own pages show, in either language
        with use_language(language):
            for role in ROLES:
                if _header_key(role_label(role)) == _header_key(value):
                    return role
    return None


class _Departments:
    """Existing departments, and the new ones the file's department cells call for."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.by_id = {r["id"]: r for r in rows}
        self.codes = {r["code"] for r in rows}
        self.by_code = {r["code"]: r for r in rows if r["active"]}
        self.by_code_folded = {r["code"].casefold(): r for r in rows if r["active"]}
        self.children: dict[int | None, list[dict[str, Any]]] = {}
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if not row["active"]:
                continue
            self.children.setdefault(row["parent"], []).append(row)
            for name in {fold(row["name_ru"]), fold(row["name_en"])}:
                self.by_name.setdefault(name, []).append(row)
        self.new: dict[tuple, NewDepartment] = {}
        self.resolved: dict[str, int | NewDepartment] = {}

    def resolve(self, value: str) -> int | NewDepartment:
        if value not in self.resolved:
            self.resolved[value] = self._resolve(value)
        return self.resolved[value]

    def _resolve(self, value: str) -> int | NewDepartment:
        exact = self.by_code.get(value) or self.by_code_folded.get(value.casefold())
        if exact:
            return exact["id"]
        parent: int | NewDepartment | None = None
        for index, segment in enumerate(_split_path(value)):
            name = fold(segment)
            if not isinstance(parent, NewDepartment):
                match = self._child(parent, segment, name)
                if match is None and index == 0:
                    anywhere = self.by_name.get(name, [])
                    match = anywhere[0] if len(anywhere) == 1 else None
                if match is not None:
                    parent = match["id"]
                    continue
            parent = self._new(parent, segment, name)
        assert parent is not None
        return parent

    def _child(self, parent: int | None, segment: str, name: str) -> dict[str, Any] | None:
        for row in self.children.get(parent, []):
            if name in (fold(row["name_ru"]), fold(row["name_en"])) or row["code"] == segment:
                return row
        return None

    def _new(self, parent: int | NewDepartment | None, segment: str, name: str) -> NewDepartment:
        parent_key = parent.key if isinstance(parent, NewDepartment) else (parent,)
        key = (*parent_key, name)
        if key not in self.new:
            self.new[key] = NewDepartment(key=key, name=segment[:200], parent=parent, code=self._code(parent, segment, key),
                                          depth=self._depth(parent) + 1)
        return self.new[key]

    def _depth(self, parent: int | NewDepartment | None) -> int:
        if parent is None:
            return -1
        if isinstance(parent, NewDepartment):
            return parent.depth
        return self.by_id[parent]["depth"]

    def _code(self, parent: int | NewDepartment | None, segment: str, key: tuple) -> str:
        """Stable for the same file and tree: the parent's code plus a Latin slug of the name;
        shortened or suffixed with a hash of the path when too long or taken."""
        slug = _slug(segment)
        parent_code = parent.code if isinstance(parent, NewDepartment) else self.by_id[parent]["code"] if parent else ""
        code = f"{parent_code}.{slug}" if parent_code and len(parent_code) + len(slug) < 64 else slug
        taken = self.codes | {d.code for d in self.new.values()}
        if len(code) > 64 or code in taken or not CODE_RE.match(code):
            digest = hashlib.sha1(json.dumps([str(k) for k in key], ensure_ascii=False).encode()).hexdigest()[:8]
            code = f"{code[:55].rstrip('.-_')}-{digest}"
        return code


PERSON_COLUMNS = (
    "id", "first_name", "middle_name", "last_name", "full_name", "employee_number", "email", "position",
    "department", "manager", "language", "role", "hired_on", "left_on", "active",
)
COMPARED = ("first_name", "middle_name", "last_name", "full_name", "employee_number", "email", "position",
            "department", "language", "role", "hired_on", "left_on")


def _allowed_roles(actor: Actor) -> tuple[str, ...]:
    return ROLES if actor.kind == "nobody" else assignable_roles(actor)


async def plan_import(
    rows: list[SourceRow],
    mapping: dict[str, str],
    full: bool = False,
    *,
    actor: Actor | None = None,
    progress: Progress | None = None,
) -> ImportPlan:
    """Everything the import would do and every problem, by row. Reads, never writes.

    `actor` decides which roles the file may give (the CLI runs as the system: all of them).
    """
    from servicechain.platform.security import SYSTEM

    actor = actor or SYSTEM
    mapping = normalise_mapping(mapping)
    plan = ImportPlan(rows=rows, mapping=mapping, full=full)
    column_of = {f: c for c, f in mapping.items()}
    existing_rows = await db.fetch("SELECT " + ", ".join(PERSON_COLUMNS) + " FROM person")
    existing = {r["id"]: r for r in existing_rows}
    plan.existing = existing
    by_number = {r["employee_number"]: r for r in existing_rows}
    by_email = {r["email"]: r for r in existing_rows if r["email"]}
    departments = _Departments(await db.fetch(
        "SELECT id, code, name_en, name_ru, parent, depth, active FROM department"))
    allowed_roles = _allowed_roles(actor)
    may_touch_admins = "admin" in allowed_roles
    day = today()
    problems = plan.problems
    if not rows:
        problems.append(Problem(None, "", _("The file has a header row but no people.")))

    def cell(row: SourceRow, name: str) -> str:
        column = column_of.get(name)
        return row.cells.get(column, "").strip() if column else ""

    def problem(row: SourceRow, name: str, message: str) -> None:
        problems.append(Problem(row.number, column_of.get(name, ""), message))

    dates_seen: dict[str, date | None | BadDate] = {}

    def parse(raw: str) -> date | None:
        """HR files repeat the same few thousand dates; parse each once."""
        if raw not in dates_seen:
            try:
                dates_seen[raw] = parse_date(raw)
            except BadDate as exc:
                dates_seen[raw] = exc
        found = dates_seen[raw]
        if isinstance(found, BadDate):
            raise found
        return found

    seen_numbers: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    matched: dict[int, int] = {}  # existing person id -> row number
    manager_cells: list[str] = []
    total = len(rows)
    for done, row in enumerate(rows, 1):
        if progress and (done % 1000 == 0 or done == total):
            progress("check", done, total)
        number = cell(row, "employee_number")
        email = cell(row, "email").lower()
        if email and not valid_email(email):
            problem(row, "email", _("“%(email)s” is not a valid email address; leave the cell empty if the person has none.",
                                    email=email))
            email = ""
        if len(number) > 64:
            problem(row, "employee_number", _("The employee number is too long (at most 64 characters)."))
        if number:
            if number in seen_numbers:
                problem(row, "employee_number", _("Employee number %(number)s appears again (first in row %(row)s).",
                                                  number=number, row=seen_numbers[number]))
            else:
                seen_numbers[number] = row.number
        if email:
            if email in seen_emails:
                problem(row, "email", _("Email %(email)s appears again (first in row %(row)s).", email=email,
                                        row=seen_emails[email]))
            else:
                seen_emails[email] = row.number

        person = by_number.get(number) if number else None
        if person is None and email:
            person = by_email.get(email)
        if person is not None:
            if person["id"] in matched:
                problem(row, "employee_number", _("This is the same person as in row %(row)s.", row=matched[person["id"]]))
            else:
                matched[person["id"]] = row.number
        if not number and person is None:
            problem(row, "employee_number", _("The employee number is missing."))
        owner = by_email.get(email) if email else None
        if owner is not None and person is not None and owner["id"] != person["id"]:
            problem(row, "email", _("Email %(email)s belongs to another person (employee number %(number)s).",
                                    email=email, number=owner["employee_number"]))

        base = dict(person) if person else {
            "first_name": "", "middle_name": "", "last_name": "", "full_name": "", "employee_number": number,
            "email": None, "position": "", "department": None, "manager": None,
            "language": get_settings().default_language, "role": "employee", "hired_on": None, "left_on": None,
        }
        values = {k: base.get(k) for k in COMPARED}
        if number:
            values["employee_number"] = number
        if "email" in column_of:
            values["email"] = email or None
        for part in ("last_name", "first_name", "middle_name"):
            if part in column_of:
                values[part] = cell(row, part)[:100]
        full_name = cell(row, "full_name") if "full_name" in column_of else ""
        if not full_name and any(p in column_of for p in ("last_name", "first_name", "middle_name")):
            full_name = " ".join(filter(None, (values["last_name"], values["first_name"], values["middle_name"])))
        if full_name:
            values["full_name"] = full_name
        if not values["full_name"]:
            problem(row, "full_name" if "full_name" in column_of else "last_name", _("The name is missing."))
        elif len(values["full_name"]) > 300:
            problem(row, "full_name", _("The name is too long (at most 300 characters)."))
        if "position" in column_of:
            values["position"] = cell(row, "position")[:200]
        if "department" in column_of:
            value = cell(row, "department")
            values["department"] = departments.resolve(value) if value else None
        for name in ("hired_on", "left_on"):
            if name in column_of:
                raw = cell(row, name)
                try:
                    values[name] = parse(raw)
                except BadDate:
                    problem(row, name, _("“%(value)s” is not a real date; write it as 31.12.2025 or 2025-12-31.", value=raw))
                    values[name] = base.get(name)
        if values["hired_on"] and values["left_on"] and values["left_on"] < values["hired_on"]:
            problem(row, "left_on", _("The leaving date is before the hiring date."))
        if "language" in column_of and cell(row, "language"):
            language = _parse_choice(cell(row, "language"), LANGUAGE_WORDS)
            if language is None:
                problem(row, "language", _("Unknown language “%(value)s”: use ru or en.", value=cell(row, "language")))
            else:
                values["language"] = language
        if "role" in column_of and cell(row, "role"):
            role = _parse_role(cell(row, "role"))
            if role is None:
                problem(row, "role", _("Unknown role “%(value)s”.", value=cell(row, "role")))
            elif role != values["role"] and role not in allowed_roles:
                problem(row, "role", _("You may not give the role “%(value)s”.", value=cell(row, "role")))
            else:
                values["role"] = role
        values["active"] = values["left_on"] is None or values["left_on"] > day
        planned = PlannedPerson(row=row.number, person_id=person["id"] if person else None, values=values)
        if person is not None:
            planned.manager_ref = ("p", person["manager"]) if person["manager"] else None
        plan.people.append(planned)
        manager_cells.append(cell(row, "manager") if "manager" in column_of else "")
        planned.admin_guard = person is not None and person["role"] == "admin" and not may_touch_admins

    # Managers: someone in the file, else an active person in the directory.
    file_by_number = {p.values["employee_number"]: i for i, p in enumerate(plan.people) if p.values["employee_number"]}
    file_by_email = {p.values["email"]: i for i, p in enumerate(plan.people) if p.values["email"]}
    if "manager" in column_of:
        for index, (planned, ref) in enumerate(zip(plan.people, manager_cells)):
            row = rows[index]
            if not ref:
                planned.manager_ref = None
                continue
            target = file_by_number.get(ref)
            if target is None:
                target = file_by_email.get(ref.lower())
            if target is not None:
                other = plan.people[target]
                if not other.values["active"]:
                    problem(row, "manager", _("The manager %(ref)s has left (by this file).", ref=ref))
                planned.manager_ref = ("p", other.person_id) if other.person_id else ("n", target)
                continue
            found = by_number.get(ref) or by_email.get(ref.lower())
            if found is None:
                problem(row, "manager", _("Manager %(ref)s is neither in the file nor in the directory.", ref=ref))
                planned.manager_ref = None
            elif not found["active"] or (full and found["id"] not in matched and found["role"] != "admin"
                                         and found["id"] != actor.person_id):
                problem(row, "manager", _("The manager %(ref)s has left or would be deactivated.", ref=ref))
                planned.manager_ref = None
            else:
                planned.manager_ref = ("p", found["id"])
    _find_cycles(plan, rows, column_of)

    # What changes for people already here; administrators only an administrator may change.
    for planned in plan.people:
        if planned.person_id is None:
            continue
        before = existing[planned.person_id]
        manager_id = planned.manager_ref[1] if planned.manager_ref and planned.manager_ref[0] == "p" else None
        planned.changed = (
            any(planned.values[k] != before[k] for k in COMPARED)
            or planned.values["active"] != before["active"]
            or (planned.manager_ref is not None and planned.manager_ref[0] == "n")
            or manager_id != before["manager"]
        )
        if planned.admin_guard and planned.changed:
            problems.append(Problem(planned.row, "", _("Only an administrator may change an administrator's record.")))

    plan.new_departments = list(departments.new.values())
    plan.active_count = sum(1 for r in existing_rows if r["active"])
    if full:
        for person in existing_rows:
            if not person["active"] or person["id"] in matched:
                continue
            if person["role"] == "admin" or person["id"] == actor.person_id:
                plan.kept_active.append(person["id"])  # never lock out administrators or the importer
            else:
                plan.deactivate.append(person["id"])
    problems.sort(key=lambda p: (p.row or 0))
    return plan


def _find_cycles(plan: ImportPlan, rows: list[SourceRow], column_of: dict[str, str]) -> None:
    """A manager chain that comes back to where it started, after the import."""
    node_of_row: dict[tuple, int] = {}
    edges: dict[tuple, tuple | None] = {}
    for person_id, person in plan.existing.items():
        edges[("p", person_id)] = ("p", person["manager"]) if person["manager"] else None
    for index, planned in enumerate(plan.people):
        node = ("p", planned.person_id) if planned.person_id else ("n", index)
        node_of_row[node] = index
        edges[node] = planned.manager_ref
    state: dict[tuple, int] = {}  # 1 on the current path, 2 finished
    reported: set[int] = set()
    for start in node_of_row:
        path: list[tuple] = []
        node: tuple | None = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = edges.get(node)
        if node is not None and state.get(node) == 1:
            loop = path[path.index(node):]
            in_file = [node_of_row[n] for n in loop if n in node_of_row]
            chain = " → ".join(plan.people[i].values["employee_number"] or str(plan.people[i].row) for i in in_file)
            chain += " → " + (plan.people[in_file[0]].values["employee_number"] if in_file else "")
            for i in in_file:
                if i not in reported:
                    reported.add(i)
                    plan.problems.append(Problem(plan.people[i].row, column_of.get("manager", ""),
                                                 _("The reporting line loops: %(chain)s.", chain=chain)))
        for n in path:
            state[n] = 2


# --- 4. applying ---------------------------------------------------------------------------------


async def apply_import(
    actor: Actor,
    plan: ImportPlan,
    *,
    confirmed: bool = False,
    file_checksum: str = "",
    filename: str = "",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Apply the file: all rows or none, in one write transaction with one audit entry.

    Needs ``people.import`` (the CLI acts as the system). Plans again inside the transaction
    and raises ImportRejected, having written nothing, when there are problems or a full
    import would deactivate more than 40 % of active people without ``confirmed``.
    Returns the counts.
    """
    if actor.kind != "nobody":
        require(actor, "people.import")
    async with db.write():
        plan = await plan_import(plan.rows, plan.mapping, plan.full, actor=actor)
        if plan.problems or (plan.needs_confirmation and not confirmed):
            raise ImportRejected(plan)
        step = _Stepper(progress, 5)
        department_ids = await _create_departments(plan.new_departments)
        step()
        ids = await _allocate_person_ids(plan.created)
        new_index = {i: ids.pop(0) for i, p in enumerate(plan.people) if p.person_id is None}

        def resolve(planned: PlannedPerson) -> tuple[int | None, int | None]:
            department = planned.values["department"]
            if isinstance(department, NewDepartment):
                department = department_ids[id(department)]
            ref = planned.manager_ref
            manager = None if ref is None else ref[1] if ref[0] == "p" else new_index[ref[1]]
            return department, manager

        now, day = utcnow(), today()
        await _insert_new_people(plan, new_index, resolve, now, day)
        step()
        await _update_people(plan, resolve, now, day)
        step()
        await _deactivate(plan.deactivate, day, now)
        step()
        counts = plan.counts()
        await audit.record(actor, "people.import", object_type="import", object_id=file_checksum[:16],
                           summary=filename or "org import", sha256=file_checksum, filename=filename, full=plan.full,
                           mapping=plan.mapping, **counts)
        step()
    return counts


class _Stepper:
    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress:
            self.progress("apply", self.done, self.total)


async def _create_departments(new: list[NewDepartment]) -> dict[int, int]:
    """Parents come before their children in `new` (a path is resolved root first)."""
    ids: dict[int, int] = {}
    paths: dict[int, str] = {}
    for dept in new:
        parent = dept.parent
        if isinstance(parent, NewDepartment):
            parent_id, parent_path = ids[id(parent)], paths[id(parent)]
        elif parent is not None:
            parent_id = parent
            parent_path = (await Department.select(Department.path).where(Department.id == parent).first().run())["path"]
        else:
            parent_id, parent_path = None, "/"
        row = Department(code=dept.code, name_en=dept.name, name_ru=dept.name, parent=parent_id, depth=dept.depth)
        await row.save().run()
        path = f"{parent_path}{row.id}/"
        await Department.update({Department.path: path}).where(Department.id == row.id).run()
        ids[id(dept)], paths[id(dept)] = row.id, path
    return ids


async def _allocate_person_ids(count: int) -> list[int]:
    """Ids for new people up front, so managers inside the file can point at them. PostgreSQL
    takes them from the sequence (safe beside concurrent inserts); SQLite's BEGIN IMMEDIATE
    means nobody else inserts until we commit."""
    if not count:
        return []
    if db.engine().engine_type == "postgres":
        rows = await db.fetch("SELECT nextval(pg_get_serial_sequence('person', 'id')) AS id FROM generate_series(1, {})", count)
        return [r["id"] for r in rows]
    top = (await db.fetch("SELECT COALESCE(MAX(id), 0) AS top FROM person"))[0]["top"]
    return list(range(top + 1, top + 1 + count))


def _manager_first(plan: ImportPlan, new_index: dict[int, int]) -> list[int]:
    """New people ordered so each manager is inserted before their reports (SQLite checks the
    foreign key row by row); cycles were refused in the plan."""
    order: list[int] = []
    placed: set[int] = set()
    for start in new_index:
        chain = []
        index: int | None = start
        while index is not None and index not in placed and index not in chain:
            chain.append(index)
            ref = plan.people[index].manager_ref
            index = ref[1] if ref and ref[0] == "n" else None
        for i in reversed(chain):
            placed.add(i)
            order.append(i)
    return order


async def _insert_new_people(plan, new_index, resolve, now, day) -> None:
    people, assignments = [], []
    for index in _manager_first(plan, new_index):
        planned = plan.people[index]
        v = planned.values
        department, manager = resolve(planned)
        person_id = new_index[index]
        people.append((
            person_id, v["first_name"], v["middle_name"], v["last_name"], v["full_name"],
            person_search_text(v["full_name"], v["employee_number"], v["email"]), v["employee_number"], v["email"],
            v["position"], department, manager, v["language"], v["role"], v["hired_on"], v["left_on"], v["active"],
            now, now,
        ))
        start = v["hired_on"] or (min(day, v["left_on"]) if v["left_on"] else day)
        end = None if v["active"] else max(start, v["left_on"])
        assignments.append((person_id, department, manager, start, end))
    await db.bulk_insert("person", (
        "id", "first_name", "middle_name", "last_name", "full_name", "search_name", "employee_number", "email",
        "position", "department", "manager", "language", "role", "hired_on", "left_on", "active", "created_at",
        "updated_at"), people)
    await db.bulk_insert("assignment", ("person", "department", "manager", "valid_from", "valid_to"), assignments)


async def _update_people(plan, resolve, now, day) -> None:
    updates, moves, leaving = [], [], []
    for planned in plan.people:
        if planned.person_id is None or not planned.changed:
            continue
        v = planned.values
        before = plan.existing[planned.person_id]
        department, manager = resolve(planned)
        updates.append((
            v["first_name"], v["middle_name"], v["last_name"], v["full_name"],
            person_search_text(v["full_name"], v["employee_number"], v["email"]), v["employee_number"], v["email"],
            v["position"], department, manager, v["language"], v["role"], v["hired_on"], v["left_on"], v["active"],
            now, planned.person_id,
        ))
        if v["active"]:
            if (department, manager) != (before["department"], before["manager"]) or not before["active"]:
                moves.append((planned.person_id, department, manager))
        elif before["active"]:
            leaving.append((planned.person_id, v["left_on"]))
    await _executemany(
        "UPDATE person SET first_name = {}, middle_name = {}, last_name = {}, full_name = {}, search_name = {},"
        " employee_number = {}, email = {}, position = {}, department = {}, manager = {}, language = {}, role = {},"
        " hired_on = {}, left_on = {}, active = {}, updated_at = {} WHERE id = {}",
        updates,
    )
    await move_people(moves, day)
    await _close_assignments(leaving)
    await _end_sessions([person_id for person_id, _ in leaving])


async def _deactivate(person_ids: list[int], day: date, now: datetime) -> None:
    """People missing from a full file: they left today (unless an earlier date is known)."""
    await _executemany(
        "UPDATE person SET active = {}, left_on = CASE WHEN left_on IS NULL OR left_on > {} THEN {} ELSE left_on END,"
        " updated_at = {} WHERE id = {}",
        [(False, day, day, now, person_id) for person_id in person_ids],
    )
    await _close_assignments([(person_id, day) for person_id in person_ids])
    await _end_sessions(person_ids)


async def _close_assignments(leaving: list[tuple[int, date]]) -> None:
    await _executemany(
        "UPDATE assignment SET valid_to = CASE WHEN valid_from > {} THEN valid_from ELSE {} END"
        " WHERE person = {} AND valid_to IS NULL",
        [(on, on, person_id) for person_id, on in leaving],
    )


async def _end_sessions(person_ids: list[int]) -> None:
    from servicechain.platform.tables import UserSession

    for start in range(0, len(person_ids), 500):
        await UserSession.delete().where(UserSession.person.is_in(person_ids[start:start + 500])).run()


async def _executemany(sql: str, rows: Iterable[tuple]) -> None:
    """One statement, many parameter rows, on the write transaction's connection ({} placeholders)."""
    rows = list(rows)
    if not rows:
        return
    engine = db.engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("must run inside db.write()")
    if engine.engine_type == "sqlite":
        await transaction.connection.executemany(sql.replace("{}", "?"), rows)
    else:
        counter = iter(range(1, 10_000))
        await transaction.connection.executemany(re.sub(r"\{\}", lambda _m: f"${next(counter)}", sql), rows)


# --- the web steps: an upload kept in the database between requests ----------------------------

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


async def store_upload(actor: Actor, filename: str, data: bytes, sheet: str = "") -> str:
    """Check that the file can be read and keep it for the next steps; returns its token.

    Needs ``people.import``. Raises FormInvalid ({"file"|"sheet": [message]}) for an empty,
    too large or unreadable file. Uploads older than a day are deleted on the way.
    """
    require(actor, "people.import")
    filename = wizard.clean_filename(filename)
    sheet = (sheet or "").strip()[:100]
    await wizard.check_upload(data, filename, sheet, max_bytes=MAX_UPLOAD_BYTES, read=read_table)
    return await wizard.keep_upload(ImportUpload, actor, filename, data, sheet)


@dataclass
class Upload:
    token: str
    filename: str
    data: bytes
    headers: list[str]
    rows: list[SourceRow]
    applied: bool
    result: dict[str, Any]


async def load_upload(actor: Actor, token: str) -> Upload:
    """The actor's own upload, read again (404 for anyone else's, or an expired one)."""
    row = await import_upload_for(actor, token)
    applied = row["applied_at"] is not None
    data = bytes(row["content"] or b"")
    # An applied upload keeps its counts but not the file (it holds personal data); a big
    # workbook takes seconds to parse, so it is read in a thread.
    headers, rows = ([], []) if applied else await asyncio.to_thread(read_table, data, row["filename"],
                                                                      row["sheet"] or None)
    return Upload(token=token, filename=row["filename"], data=data, headers=headers, rows=rows, applied=applied,
                  result=wizard.upload_result(row))


async def preview_upload(actor: Actor, upload: Upload, mapping: dict[str, str], full: bool) -> ImportPlan:
    """The plan for an upload; writes nothing. FormInvalid when the mapping cannot be used."""
    require(actor, "people.import")
    errors = check_mapping(upload.headers, mapping)
    if errors:
        raise FormInvalid({"__all__": errors})
    return await plan_import(upload.rows, mapping, full, actor=actor)


async def apply_upload(actor: Actor, upload: Upload, mapping: dict[str, str], full: bool, confirmed: bool) -> dict[str, int]:
    """Apply an upload once; its counts are kept on it for the result page.

    Raises DomainError (409) when it was applied already, FormInvalid for a bad mapping and
    ImportRejected (nothing written) for problems or a missing confirmation."""
    wizard.refuse_applied(upload.applied)
    plan = await preview_upload(actor, upload, mapping, full)
    async with db.write():
        await wizard.claim_upload(ImportUpload, upload.token)
        counts = await apply_import(actor, plan, confirmed=confirmed, file_checksum=checksum(upload.data),
                                    filename=upload.filename)
        await wizard.finish_upload(ImportUpload, upload.token, counts)
    return counts


def confirmation_message(plan: ImportPlan) -> str:
    return _("This full import would deactivate %(count)s of %(active)s active people (%(share)s %%).",
             count=len(plan.deactivate), active=plan.active_count, share=round(plan.deactivation_share * 100))
