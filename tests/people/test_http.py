"""People and department pages through HTTP: status codes, fragments, forms that re-render."""

from __future__ import annotations

import pytest

from servicechain.platform.people.tables import Department, Person
from servicechain.platform.tables import AuditEntry
from tests.accounts.helpers import new_person
from tests.conftest import post_form, text_of


def form_of(person: dict, cast, **overrides) -> dict:
    data = {
        "full_name": "Тест Тестович", "employee_number": person["number"], "email": person["email"] or "",
        "position": "Operator", "department_id": str(cast.departments["support.line1"]),
        "manager_id": str(cast.ids["manager"]), "language": "en", "role": "employee", "hired_on": "", "left_on": "",
    }
    data.update(overrides)
    return data


async def test_directory_search_is_case_and_yo_insensitive(client, as_user):
    await as_user("employee")
    for query in ("елкин", "ЁЛКИН"):
        response = await client.get("/people/", params={"q": query})
        assert response.status_code == 200
        assert "Ёлкин Иван" in text_of(response.text)


async def test_htmx_search_answers_with_the_results_fragment_only(client, as_user):
    await as_user("employee")
    response = await client.get("/people/", params={"q": "елкин"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Ёлкин Иван" in text_of(response.text)


async def test_leaver_profile_is_404_for_employees_and_visible_to_hr(client, cast, as_user):
    person = await new_person(cast)
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/edit", form_of(person, cast, hired_on="2019-01-01",
                                                                              left_on="2020-01-01"))
    assert response.status_code == 303
    assert (await client.get(f"/people/{person['id']}")).status_code == 200
    await as_user("employee")
    response = await client.get(f"/people/{person['id']}")
    assert response.status_code == 404
    assert "Тест Тестович" not in response.text


async def test_employee_gets_403_on_edit_pages(client, cast, as_user):
    await as_user("employee")
    for url in (f"/people/{cast.ids['outsider']}/edit", "/people/new", f"/departments/{cast.departments['support']}/edit",
                "/departments/new", "/audit/"):
        assert (await client.get(url)).status_code == 403, url
    before = await Person.select().where(Person.id == cast.ids["outsider"]).first().run()
    response = await post_form(client, f"/people/{cast.ids['outsider']}/edit", {"full_name": "Hacked"})
    assert response.status_code == 403
    assert await Person.select().where(Person.id == cast.ids["outsider"]).first().run() == before


async def test_hr_edit_redirects_and_writes_one_audit_entry(client, cast, as_user):
    person = await new_person(cast)
    await as_user("hr")
    count = await AuditEntry.count().run()
    response = await post_form(client, f"/people/{person['id']}/edit", form_of(person, cast, position="Team lead"))
    assert response.status_code == 303 and response.headers["location"] == f"/people/{person['id']}"
    assert await AuditEntry.count().run() == count + 1
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert (entry["action"], entry["object_id"]) == ("person.update", str(person["id"]))
    assert "Team lead" in (await client.get(f"/people/{person['id']}")).text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "hr@test.local"}, "Another person has this email."),
        ({"employee_number": "T-001"}, "Another person has this employee number."),
        ({"hired_on": "2024-13-45"}, "Write the date as 31.12.2025 or 2025-12-31."),
        ({"hired_on": "2024-01-01", "left_on": "2023-01-01"}, "The leaving date is before the hiring date."),
    ],
)
async def test_invalid_edit_rerenders_with_the_message_and_changes_nothing(client, cast, as_user, overrides, message):
    person = await new_person(cast)
    await as_user("hr")
    before = await Person.select().where(Person.id == person["id"]).first().run()
    count = await AuditEntry.count().run()
    response = await post_form(client, f"/people/{person['id']}/edit", form_of(person, cast, position="Changed", **overrides))
    assert response.status_code == 422
    assert message in text_of(response.text)
    assert 'value="Changed"' in response.text  # what was typed stays in the form
    assert 'aria-invalid="true"' in response.text
    assert await Person.select().where(Person.id == person["id"]).first().run() == before
    assert await AuditEntry.count().run() == count


async def test_invalid_edit_over_htmx_returns_the_form_fragment(client, cast, as_user):
    person = await new_person(cast)
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/edit", form_of(person, cast, manager_id=str(person["id"])),
                               htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.text
    assert "A person cannot be their own manager." in text_of(response.text)


async def test_hr_creates_and_moves_a_department(client, cast, as_user):
    await as_user("hr")
    response = await post_form(client, "/departments/new", {"code": "night-shift", "name_en": "Night shift",
                                                            "name_ru": "Ночная смена", "parent_id": str(cast.departments["warehouse"])})
    assert response.status_code == 303
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    row = await Department.select().where(Department.id == new_id).first().run()
    assert row["path"].endswith(f"/{cast.departments['warehouse']}/{new_id}/")
    response = await post_form(client, f"/departments/{new_id}/edit", {"code": "night-shift", "name_en": "Night shift",
                                                                      "name_ru": "Ночная смена", "parent_id": str(new_id)})
    assert response.status_code == 422
    assert "A department cannot sit inside itself or below itself." in text_of(response.text)
    assert (await client.get(f"/departments/{new_id}")).status_code == 200


async def test_invitation_page_needs_people_invite(client, cast, as_user):
    await as_user("manager")
    assert (await post_form(client, f"/people/{cast.ids['employee']}/invite")).status_code == 403
