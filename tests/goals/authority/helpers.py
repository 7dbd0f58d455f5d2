"""A chain of grants to build on: root (ceo) → manager → employee, in a scope of its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from servicechain.goals.authority import service
from servicechain.goals.authority.tables import AuthorityScope


@dataclass
class Chain:
    scope_id: int
    scope_code: str
    root: int
    manager: int
    employee: int


def grant_values(grantee: int, parent: int | None, per_case: int, budget: int, *, period: str = "month",
                 valid_from: date | None = None, valid_until: date | None = None, may_redelegate: bool = True,
                 scope_id: int | None = None) -> dict:
    start = valid_from or service.today() - timedelta(days=400)
    return {"grantee_id": grantee, "parent_id": parent, "scope_id": scope_id, "per_case_limit": per_case,
            "budget": budget, "period": period, "valid_from": start,
            "valid_until": valid_until if valid_until is not None or parent is None else service.today() + timedelta(days=300),
            "may_redelegate": may_redelegate, "goal_id": None, "note": ""}


async def make_scope(cast, kind: str = "money") -> tuple[int, str]:
    code = "t" + uuid.uuid4().hex[:10]
    scope_id = await service.create_scope(cast.actor("admin"), {"code": code, "name_en": "Compensate a customer",
                                                               "name_ru": "Компенсировать клиенту", "kind": kind,
                                                               "unit": "" if kind == "money" else "item|items",
                                                               "unit_ru": "" if kind == "money" else "товар|товара|товаров"})
    return scope_id, code


async def make_chain(cast, *, root=(2_000_000, 10_000_000), manager=(1_000_000, 5_000_000),
                     employee=(500_000, 4_000_000)) -> Chain:
    """Root 20 000 ₽ per case / 100 000 ₽ a month; manager 10 000 / 50 000; employee 5 000 / 40 000."""
    scope_id, code = await make_scope(cast)
    root_id = await service.create_grant(cast.actor("admin"), grant_values(cast.ids["ceo"], None, *root, scope_id=scope_id))
    manager_id = await service.create_grant(cast.actor("ceo"), grant_values(cast.ids["manager"], root_id, *manager))
    employee_id = await service.create_grant(cast.actor("manager"), grant_values(cast.ids["employee"], manager_id, *employee,
                                                                                  may_redelegate=False))
    return Chain(scope_id, code, root_id, manager_id, employee_id)


async def scope_row(scope_id: int) -> dict:
    return await AuthorityScope.select().where(AuthorityScope.id == scope_id).first().run()
