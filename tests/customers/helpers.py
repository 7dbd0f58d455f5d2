"""Building customer-score data for tests: files as bytes, scores through the service, people
with an assignment history."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from servicechain.platform import db
from servicechain.platform.customers import service
from servicechain.platform.lib.text import person_search_text
from servicechain.platform.people.service import today
from servicechain.platform.people.tables import Assignment, Person
from servicechain.platform.security import SYSTEM, utcnow
from tests import helpers as shared
from tests.helpers import csv_bytes, xlsx_bytes  # noqa: F401  (the customers tests import them from here)

RU_HEADER = ["ID", "Дата", "Канал", "Подразделение", "Сотрудник", "Оценка", "NPS", "Номер обращения", "Комментарий"]
EN_HEADER = ["Response ID", "Date", "Channel", "Department", "Employee", "CSAT", "NPS", "Ticket", "Comment"]


def tag() -> str:
    return uuid.uuid4().hex[:8]


def recent(days: int = 1) -> date:
    return today() - timedelta(days=days)


async def save(items: list[dict[str, str]], source: str = "test") -> dict[str, int]:
    return await service.save_batch(SYSTEM, items, source=source, checksum=uuid.uuid4().hex + uuid.uuid4().hex,
                                    via="test")


def item(external_id: str, **values: str) -> dict[str, str]:
    base = {"external_id": external_id, "given_on": recent().isoformat(), "channel": "phone",
            "department": "support.line1", "csat": "5"}
    base.update(values)
    return {k: v for k, v in base.items() if v is not None}


async def department(name: str, parent: int | None, head: int | None = None) -> dict:
    """The scores import names departments by code, so the tests need it too."""
    code = f"cs.{name.lower().replace(' ', '-')}.{tag()}"
    return {"id": await shared.department(name, parent, head, code=code), "code": code}


async def person(department_id: int, manager: int | None = None, *, history: list[tuple] = (), active: bool = True,
                 email: str | None = None) -> dict:
    """A person now in `department_id`; `history` lists earlier (department, manager, from, to)."""
    number = f"CS-{tag()}"
    now = utcnow()
    async with db.write():
        p = Person(full_name=f"Агент {number}", employee_number=number, department=department_id, manager=manager,
                   role="employee", language="en", email=email, active=active,
                   search_name=person_search_text(f"Агент {number}", number, email), created_at=now, updated_at=now)
        await p.save().run()
        start = today() - timedelta(days=400)
        for dept, mgr, valid_from, valid_to in history:
            await Assignment.insert(Assignment(person=p.id, department=dept, manager=mgr, valid_from=valid_from,
                                               valid_to=valid_to)).run()
            start = valid_to
        await Assignment.insert(Assignment(person=p.id, department=department_id, manager=manager,
                                           valid_from=start)).run()
    return {"id": p.id, "number": number}


async def authorization_fixtures(cast) -> dict[str, int | str]:
    """For the authorization matrix: a low score of the employee (so an open follow-up for the
    manager, whose department is under the CEO's), and a scores file HR uploaded."""
    from servicechain.platform.customers import importing
    from servicechain.platform.customers.tables import ScoreFollowUp

    external = f"MX-{tag()}"
    await save([item(external, employee="employee@test.local", department=None, csat="1", case_ref=f"MX-CASE-{tag()}")],
               source="matrix")
    row = await db.fetch("SELECT f.id FROM customer_follow_up f JOIN customer_score s ON s.id = f.score"
                         " WHERE s.source = {} AND s.external_id = {}", "matrix", external)
    upload = await importing.store_upload(cast.actor("hr"), "scores.csv",
                                          f"ID,Date,Channel,Department,CSAT\n{external}-f,{recent().isoformat()},chat,"
                                          "support,5\n".encode())
    assert await ScoreFollowUp.exists().where(ScoreFollowUp.id == row[0]["id"]).run()
    return {"cs_follow_up": row[0]["id"], "cs_upload": upload}
