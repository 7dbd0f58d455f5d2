"""A leaving date entered in advance takes effect on the day, by scheduled work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicechain.platform.people import jobs, service
from servicechain.platform.people.tables import Assignment, Person
from servicechain.platform.tables import AuditEntry
from tests.people.test_service import person_data

pytestmark = pytest.mark.usefixtures("rollback")


async def test_person_with_a_leaving_date_in_the_future_stays_active_until_the_day(cast):
    hr = cast.actor("hr")
    tomorrow = service.today() + timedelta(days=1)
    person_id = await service.create_person(hr, person_data(cast, employee_number="J-1", email="j1@test.local",
                                                            left_on=tomorrow.isoformat()))
    assert await jobs.deactivate_leavers() == 0
    assert (await Person.select(Person.active).where(Person.id == person_id).first().run())["active"] is True


async def test_leaving_date_that_has_come_deactivates_and_closes_the_assignment_once(cast):
    hr = cast.actor("hr")
    person_id = await service.create_person(hr, person_data(cast, employee_number="J-2", email="j2@test.local", hired_on="2024-01-10"))
    left_on = service.today()
    # As if HR had entered the date last week: the row is still active when the day comes.
    await Person.update({Person.left_on: left_on}).where(Person.id == person_id).run()

    assert await jobs.deactivate_leavers() == 1
    person = await Person.select().where(Person.id == person_id).first().run()
    assert person["active"] is False
    open_rows = await Assignment.count().where((Assignment.person == person_id) & Assignment.valid_to.is_null()).run()
    assert open_rows == 0
    closed = await Assignment.select(Assignment.valid_to).where(Assignment.person == person_id).first().run()
    assert closed["valid_to"] == left_on
    entry = await AuditEntry.select().where(AuditEntry.action == "people.deactivate_leavers").order_by(AuditEntry.seq, ascending=False).first().run()
    assert entry is not None
    assert await jobs.deactivate_leavers() == 0  # nothing left to do the second time
