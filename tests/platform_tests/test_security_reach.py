"""Reach (whom a manager's rules cover) has one definition: asked about one person
(``is_in_reach``, profile pages, thanks; ``manages``, private thanks and scores), about a few (``goal_viewer(among=...)``, goal pages)
or listed whole (``people_in_reach``, team lists), the same people come out, including on a
reporting line longer than the depth limit and on a cycle of managers."""

from __future__ import annotations

import itertools

import pytest

from servicechain.platform.people.tables import Person
from servicechain.platform.security import (
    REACH_DEPTH,
    Actor,
    goal_viewer,
    is_in_reach,
    manages,
    people_in_reach,
    reach_among,
    utcnow,
)

_numbers = itertools.count(1)


async def _person(department: int, manager: int | None = None) -> int:
    n = next(_numbers)
    now = utcnow()
    person = Person(full_name=f"Reach {n}", employee_number=f"REACH-{n}", email=f"reach{n}@test.local",
                    department=department, manager=manager, role="manager", created_at=now, updated_at=now)
    await person.save().run()
    return person.id


def _actor(person_id: int) -> Actor:
    return Actor(kind="person", person_id=person_id, role="manager", name="Reach", language="en")


async def _reach_every_way(actor: Actor, people: list[int]) -> frozenset[int]:
    """The actor's reach among ``people``, asked every way; fails unless all ways agree."""
    one_by_one = frozenset([p for p in people if await is_in_reach(actor, p)])
    line_only = frozenset([p for p in people if await manages(actor, p)])  # the same for those who don't see everyone
    together = await reach_among(actor.person_id, people)  # type: ignore[arg-type]
    viewer = await goal_viewer(actor, among=people)
    whole = await people_in_reach(actor)
    assert whole is not None
    assert one_by_one == line_only == together == viewer.reach == frozenset(whole) & set(people)
    return together


async def test_a_reporting_line_reaches_no_further_than_the_depth_limit_whichever_way_reach_is_asked(cast, rollback):
    # A line of REACH_DEPTH + 5 people in the warehouse (a department nobody here heads below
    # the company), each reporting to the one before, under a top who heads nothing.
    top = await _person(cast.departments["warehouse"])
    line: list[int] = []
    for _ in range(REACH_DEPTH + 5):
        line.append(await _person(cast.departments["warehouse"], line[-1] if line else top))
    assert await _reach_every_way(_actor(top), line) == frozenset(line[:REACH_DEPTH])
    # From the tenth down, the rest of the line is within the limit, and nobody above is.
    assert await _reach_every_way(_actor(line[9]), [top, *line]) == frozenset(line[10:])


async def test_a_cycle_of_managers_ends_and_gives_the_same_reach_whichever_way_it_is_asked(cast, rollback):
    from servicechain.platform import db

    warehouse = cast.departments["warehouse"]
    a = await _person(warehouse)
    b = await _person(warehouse, a)
    c = await _person(warehouse, a)
    await db.fetch("UPDATE person SET manager = {} WHERE id = {}", b, a)  # a reports to b, b to a
    people = [a, b, c, cast.ids["outsider"], cast.ids["employee"]]
    assert await _reach_every_way(_actor(a), people) == {b, c}
    assert await _reach_every_way(_actor(b), people) == {a, c}
    assert await _reach_every_way(_actor(c), people) == frozenset()
    assert await _reach_every_way(cast.actor("manager"), people) == {cast.ids["employee"]}


@pytest.mark.parametrize("who", ["manager", "employee", "outsider"])
async def test_one_person_at_a_time_agrees_with_the_whole_reach_for_the_cast(cast, who):
    everyone = [r["id"] for r in await Person.select(Person.id).where(Person.employee_number.like("T-%")).run()]
    await _reach_every_way(cast.actor(who), everyone)
