"""Roles are employment details: the directory lets only those who see everyone filter by one,
or anyone could list every administrator."""

from __future__ import annotations

from servicechain.platform.people import service
from tests.conftest import text_of


async def test_employee_cannot_list_administrators_by_filtering_on_role(client, as_user):
    await as_user("employee")
    response = await client.get("/people/", params={"role": "admin", "q": "Ёлкин"})
    assert response.status_code == 200
    assert "Ёлкин Иван" in text_of(response.text)  # the filter is ignored, not applied
    assert 'name="role"' not in response.text


async def test_search_ignores_the_role_filter_for_managers_and_applies_it_for_hr(cast, rollback):
    for who in ("employee", "manager"):
        result = await service.search_people(cast.actor(who), q="Ёлкин", role="admin")
        assert [p["full_name"] for p in result.items] == ["Ёлкин Иван"], who
    result = await service.search_people(cast.actor("hr"), q="Ёлкин", role="admin")
    assert result.items == []
    result = await service.search_people(cast.actor("hr"), q="Ёлкин", role="employee")
    assert [p["full_name"] for p in result.items] == ["Ёлкин Иван"]


async def test_hr_sees_the_role_filter(client, as_user):
    await as_user("hr")
    assert 'name="role"' in (await client.get("/people/")).text
