"""Building pulse data for tests: a department tree of its own, people, a launched pulse, answers."""

from __future__ import annotations

from datetime import timedelta

from servicechain.platform import db
from servicechain.platform.people.service import today
from servicechain.platform.security import Actor
from servicechain.platform.surveys import service
from tests.helpers import actor, department, people  # noqa: F401  (the surveys tests import them from here)


async def company(sizes: dict[str, int], head: int | None = None) -> dict[str, object]:
    """A small company: a root with departments A, B (and B1 under B), sized as asked."""
    root = await department("Root", None, head=head)
    a = await department("A", root)
    b = await department("B", root)
    b1 = await department("B1", b)
    depts = {"root": root, "a": a, "b": b, "b1": b1}
    staff = {name: await people(depts[name], sizes.get(name, 0)) for name in depts}
    return {"departments": depts, "people": staff}


async def launch(hr: Actor, departments: list[int], *, k: int = 5, title: str = "Test pulse", opens_offset: int = -1,
                 closes_offset: int = 10) -> int:
    on = today()
    return await service.launch_pulse(hr, {
        "title": title, "opens_on": (on + timedelta(days=opens_offset)).isoformat(),
        "closes_on": (on + timedelta(days=closes_offset)).isoformat(), "audience": "departments",
        "departments": [str(d) for d in departments], "min_group_size": str(k)})


def answer_data(score: int = 4, enps: int = 9, comment: str = "", items: int = 8) -> dict[str, str]:
    data = {f"item_{i}": str(score) for i in range(1, items + 1)}
    data.update(enps=str(enps), comment=comment)
    return data


async def answer_all(pulse_id: int, person_ids: list[int], **kwargs) -> None:
    for pid in person_ids:
        await service.submit_answer(actor(pid), pulse_id, answer_data(**kwargs))


async def authorization_fixtures(cast) -> dict[str, int]:
    """For the authorization matrix: a closed pulse of the cast's company, and the default template."""
    pulse_id = await launch(cast.actor("hr"), [cast.departments["company"]], title="Matrix pulse")
    await service.close_pulse(pulse_id)
    async with db.write():
        template_id = await service.ensure_default_template()
    return {"pulse_closed": pulse_id, "pulse_template": template_id}
