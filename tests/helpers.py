"""What tests of several areas build: people and departments for a tree of their own (pulses,
internal service ratings, customer scores), apart from the cast in conftest.py, and the CSV and
XLSX files the imports read."""

from __future__ import annotations

import codecs
import csv
import io
import uuid

from openpyxl import Workbook

from servicechain.platform import db
from servicechain.platform.lib.text import person_search_text
from servicechain.platform.people.tables import Department, Person
from servicechain.platform.security import Actor, utcnow


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data


def xlsx_bytes(sheets: dict[str, list[list[object]]] | list[list[object]]) -> bytes:
    """A workbook of the named sheets' rows, or of one sheet's rows."""
    workbook = Workbook()
    if isinstance(sheets, dict):
        workbook.remove(workbook.active)
        for title, rows in sheets.items():
            sheet = workbook.create_sheet(title)
            for row in rows:
                sheet.append(row)
    else:
        for row in sheets:
            workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def department(name: str, parent: int | None, head: int | None = None, *, code: str | None = None) -> int:
    """A department under ``parent`` (a root when None); its code is unique unless given, so
    tests can make the same name many times. Its Russian name differs from the English one, so
    a page in the wrong language shows."""
    code = code or f"t.{name}.{uuid.uuid4().hex[:8]}"
    async with db.write():
        above = await Department.select().where(Department.id == parent).first().run() if parent else None
        row = Department(code=code, name_en=name, name_ru=name + " (ru)", parent=parent, head=head,
                         depth=(above["depth"] + 1) if above else 0)
        await row.save().run()
        await Department.update({Department.path: (above["path"] if above else "/") + f"{row.id}/"}).where(
            Department.id == row.id).run()
    return row.id


async def people(department_id: int, count: int, role: str = "employee") -> list[int]:
    """``count`` active people in the department. Their names share a word ("Оценщик") that
    anonymity tests look for in what must not name anyone."""
    ids = []
    now = utcnow()
    async with db.write():
        for _i in range(count):
            # "TH-", not the cast's "T-": a random "T-005…" matched searches for the cast's T-005.
            number = f"TH-{uuid.uuid4().hex[:10]}"
            p = Person(full_name=f"Оценщик {number}", employee_number=number, department=department_id, role=role,
                       language="en", email=f"{number.lower()}@example.test",
                       search_name=person_search_text(f"Оценщик {number}", number, None), created_at=now, updated_at=now)
            await p.save().run()
            ids.append(p.id)
    return ids


def actor(person_id: int, role: str = "employee") -> Actor:
    return Actor(kind="person", person_id=person_id, role=role, name=f"#{person_id}", language="en")
