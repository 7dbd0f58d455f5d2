"""The people every test can count on: one per role, in a small company tree.

company (head: ceo)
├── support (Customer support; head: manager)
│   └── support.line1 (First line; employee works here, reports to manager)
└── warehouse (Warehouse; outsider works here)
"""

from __future__ import annotations

from datetime import date

from dataclasses import dataclass

from servicechain.platform import db
from servicechain.platform.lib.passwords import hash_password_sync
from servicechain.platform.lib.text import person_search_text
from servicechain.platform.people.tables import Assignment, Department, Person
from servicechain.platform.security import Actor, utcnow

PASSWORD = "correct-horse-battery"
# The cast has worked here for years: tests date scores, ratings and uses in the past, and a
# start of "today" in UTC is tomorrow in Moscow for three hours each night.
CAST_HIRED_ON = date(2020, 1, 1)
EMAILS = {
    "admin": "admin@test.local",
    "hr": "hr@test.local",
    "ceo": "ceo@test.local",
    "manager": "manager@test.local",
    "employee": "employee@test.local",
    "outsider": "outsider@test.local",
}
ROLES = {"admin": "admin", "hr": "hr", "ceo": "executive", "manager": "manager", "employee": "employee", "outsider": "employee"}
NAMES = {
    "admin": "Админ Админов", "hr": "Ольга Кадрова", "ceo": "Пётр Главный", "manager": "Марина Руководова",
    "employee": "Ёлкин Иван", "outsider": "Склад Складов",
}


@dataclass
class Cast:
    ids: dict[str, int]
    departments: dict[str, int]

    def actor(self, who: str) -> Actor:
        return Actor(kind="person", person_id=self.ids[who], role=ROLES[who], name=NAMES[who], language="en")


async def build_cast() -> Cast:
    now = utcnow()
    password_hash = hash_password_sync(PASSWORD)
    async with db.write():
        departments: dict[str, int] = {}
        for code, en, ru, parent in (
            ("company", "Company", "Компания", None),
            ("support", "Customer support", "Служба поддержки", "company"),
            ("support.line1", "First line", "Первая линия", "support"),
            ("warehouse", "Warehouse", "Склад", "company"),
        ):
            parent_row = await Department.select().where(Department.code == parent).first().run() if parent else None
            dept = Department(code=code, name_en=en, name_ru=ru, parent=parent_row["id"] if parent_row else None,
                              depth=(parent_row["depth"] + 1) if parent_row else 0)
            await dept.save().run()
            path = (parent_row["path"] if parent_row else "/") + f"{dept.id}/"
            await Department.update({Department.path: path}).where(Department.id == dept.id).run()
            departments[code] = dept.id
        ids: dict[str, int] = {}
        home = {"admin": "company", "hr": "company", "ceo": "company", "manager": "support",
                "employee": "support.line1", "outsider": "warehouse"}
        for index, who in enumerate(EMAILS):
            manager = ids.get("manager") if who == "employee" else ids.get("ceo") if who in ("manager", "outsider") else None
            person = Person(
                full_name=NAMES[who], employee_number=f"T-{index + 1:03d}", email=EMAILS[who], position=who.title(),
                department=departments[home[who]], manager=manager, role=ROLES[who], language="en",
                search_name=person_search_text(NAMES[who], f"T-{index + 1:03d}", EMAILS[who]),
                password_hash=password_hash, created_at=now, updated_at=now,
            )
            await person.save().run()
            ids[who] = person.id
            await Assignment.insert(Assignment(person=person.id, department=departments[home[who]], manager=manager,
                                               valid_from=CAST_HIRED_ON)).run()
        await Department.update({Department.head: ids["ceo"]}).where(Department.id == departments["company"]).run()
        await Department.update({Department.head: ids["manager"]}).where(Department.id == departments["support"]).run()
    return Cast(ids=ids, departments=departments)
