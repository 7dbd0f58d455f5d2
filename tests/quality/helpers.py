"""Building quality data for tests: scorecard and audit form data, checklists, reviewers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servicechain.platform.customers.quality import service
from servicechain.platform.customers.quality.tables import CRITERIA
from servicechain.platform.people.service import today
from tests.cast import EMAILS


def scorecard_data(who: str = "employee", score: int | str = 4, **overrides: Any) -> dict[str, Any]:
    """A complete scorecard form for one of the cast (by e-mail), every criterion at ``score``."""
    data: dict[str, Any] = {
        "employee": EMAILS[who], "channel": "phone", "contact_on": (today() - timedelta(days=3)).isoformat(),
        "reference": "CALL-1001", "link": "https://calls.example.com/recordings/1001", "summary": "Good call",
        **{"score_" + c: str(score) for c in CRITERIA}, **{"comment_" + c: "" for c in CRITERIA},
    }
    data.update(overrides)
    return data


def checklist_data(channel: str = "store", location: int | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name_en": "Store visit", "name_ru": "Визит в магазин", "channel": channel, "location": str(location or ""),
        "item-0-text_en": "Greeted within a minute", "item-0-text_ru": "Поприветствовали в течение минуты",
        "item-0-criterion": "politeness", "item-0-kind": "yes_no",
        "item-1-text_en": "Asked what the customer needs", "item-1-text_ru": "Спросили, что нужно покупателю",
        "item-1-criterion": "needs", "item-1-kind": "scale",
        "item-2-text_en": "Offered two or more options", "item-2-text_ru": "Предложили два варианта или больше",
        "item-2-criterion": "options", "item-2-kind": "yes_no",
    }
    data.update(overrides)
    return data


async def items_of(checklist_id: int) -> list[dict[str, Any]]:
    from servicechain.platform.customers.quality.tables import ChecklistItem

    return await ChecklistItem.select().where((ChecklistItem.checklist == checklist_id) & (ChecklistItem.active == True)).order_by(  # noqa: E712
        ChecklistItem.position).run()


async def audit_data(checklist_id: int, department: int, answers: list[str], **overrides: Any) -> dict[str, Any]:
    items = await items_of(checklist_id)
    data: dict[str, Any] = {"department": str(department), "visited_on": (today() - timedelta(days=2)).isoformat(),
                            "shopper": "Agency «Тайный покупатель»", "notes": "Busy evening"}
    for item, answer in zip(items, answers):
        data[f"answer-{item['id']}"] = answer
    data.update(overrides)
    return data


async def quality_fixtures(cast) -> dict[str, int]:
    """For the authorization matrix: a scorecard of the employee by the manager, a store
    checklist and an audit of the warehouse (recorded by HR)."""
    card = await service.create_scorecard(cast.actor("manager"), scorecard_data("employee", 3))
    checklist = await service.save_checklist(cast.actor("hr"), None, checklist_data())
    audit = await service.record_audit(cast.actor("hr"), checklist,
                                       await audit_data(checklist, cast.departments["warehouse"], ["1", "4", "0"]))
    return {"q_scorecard": card, "q_checklist": checklist, "q_audit": audit}
