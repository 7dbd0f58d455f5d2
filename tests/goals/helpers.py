"""Goal data for tests, built through the service as people would build it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from servicechain.goals import service


def this_quarter() -> tuple[str, object, object]:
    return service.quarter_of(service.today())


def goal_data(cast, level: str = "person", **overrides) -> dict:
    code, start, end = this_quarter()
    data = {
        "level": level, "cycle": code, "title": "Faster first replies",
        "description": "Customers get a first answer within the hour, every day of the week.",
        "metric": "First-reply time", "unit": "minutes", "baseline": "90", "target": "30", "direction": "down",
        "weight": "1", "starts_on": start.isoformat(), "deadline": end.isoformat(),
        "standalone_reason": "", "parent_id": "", "owner_person_id": "", "owner_department_id": "",
    }
    if level == "person":
        data["owner_person_id"] = str(cast.ids["employee"])
    if level == "department":
        data["owner_department_id"] = str(cast.departments["support"])
    data.update(overrides)
    return data


async def make_cascade(cast) -> dict[str, int]:
    """A company goal (agreed), a support department goal under it (agreed) and the
    employee's goal under that (agreed)."""
    ceo, manager, employee = cast.actor("ceo"), cast.actor("manager"), cast.actor("employee")
    company = await service.create_goal(ceo, goal_data(cast, "company", title="Loyal customers",
                                                       metric="Repeat orders", unit="%", baseline="40", target="60", direction="up"))
    await service.change_status(ceo, company, "proposed")
    await service.change_status(ceo, company, "agreed")
    department = await service.create_goal(manager, goal_data(cast, "department", parent_id=str(company)))
    await service.change_status(manager, department, "proposed")
    await service.change_status(ceo, department, "agreed")
    person = await service.create_goal(employee, goal_data(cast, "person", parent_id=str(department), baseline="100", target="50"))
    await service.change_status(employee, person, "proposed")
    await service.change_status(manager, person, "agreed")
    return {"company": company, "department": department, "person": person}


def days_ago(n: int) -> str:
    return (service.today() - timedelta(days=n)).isoformat()


class QueryCount:
    def __init__(self) -> None:
        self.total = 0
        self.in_transaction = 0
        self.sql: list[str] = []


@contextlib.contextmanager
def counted_queries() -> Iterator[QueryCount]:
    """Count the statements sent to the database while the block runs, and how many of them ran
    inside a transaction (what holds SQLite's one writer), on either engine."""
    from servicechain.platform import db

    count = QueryCount()
    cls = type(db.engine())
    saved = {}
    # run_querystring: every query of both engines passes there (PostgreSQL's inside a
    # transaction go straight to the connection after it).
    for name in ("run_querystring",):
        original = getattr(cls, name, None)
        if original is None:
            continue
        saved[name] = cls.__dict__.get(name)

        def make(original):
            async def counting(self, *args, **kwargs):
                count.total += 1
                count.in_transaction += db.in_transaction()
                count.sql.append(str(args[0] if args else kwargs.get("querystring", ""))[:200])
                return await original(self, *args, **kwargs)
            return counting

        setattr(cls, name, make(original))
    try:
        yield count
    finally:
        for name, original in saved.items():
            if original is None:
                delattr(cls, name)  # it was inherited: fall back to the base class's again
            else:
                setattr(cls, name, original)
