"""HR runs the people directory but cannot reach accounts with more rights than its own."""

import pytest

from servicechain.platform.people import service
from servicechain.platform.people.tables import Person
from servicechain.platform.security import Forbidden
from servicechain.platform.web import FormInvalid
from tests.people.test_service import person_data

pytestmark = pytest.mark.usefixtures("rollback")


@pytest.mark.parametrize("target", ["ceo", "admin"])
async def test_hr_cannot_edit_an_executive_or_an_admin(cast, target):
    before = await Person.select(Person.email).where(Person.id == cast.ids[target]).first().run()
    with pytest.raises(Forbidden):
        await service.update_person(cast.actor("hr"), cast.ids[target], person_data(cast, email="takeover@evil.example"))
    after = await Person.select(Person.email).where(Person.id == cast.ids[target]).first().run()
    assert after == before


@pytest.mark.parametrize("role", ["executive", "hr", "admin"])
async def test_hr_cannot_create_a_person_with_a_privileged_role(cast, role):
    with pytest.raises(FormInvalid) as caught:
        await service.create_person(cast.actor("hr"), person_data(cast, employee_number=f"PRIV-{role}", email=f"{role}@new.local", role=role))
    assert caught.value.errors == {"role": ["You may not give this role."]}
    assert not await Person.exists().where(Person.employee_number == f"PRIV-{role}").run()


async def test_admin_may_create_an_executive(cast):
    person_id = await service.create_person(cast.actor("admin"), person_data(cast, employee_number="PRIV-OK", email="exec@new.local", role="executive"))
    assert (await Person.select(Person.role).where(Person.id == person_id).first().run())["role"] == "executive"
