"""Ids typed into forms, query strings and paths: digits `int` refuses ("²") and numbers past
the 32-bit id range get a message or a 404, never a 500, and change nothing."""

from __future__ import annotations

import pytest

from servicechain.platform.lib.ids import parse_id
from servicechain.platform.people.tables import Department, Person
from tests.accounts.helpers import new_person
from tests.conftest import post_form, text_of
from tests.people.test_http import form_of

BAD_IDS = ("²", "99999999999999999999", "2147483648")


def test_parse_id_takes_only_ascii_digits_in_range():
    assert parse_id("42") == 42
    assert parse_id("2147483647") == 2147483647
    for raw in ("", None, "0", "-1", "4.2", "²", "١", "2147483648", "99999999999999999999"):
        assert parse_id(raw) is None, raw


@pytest.mark.parametrize("raw", BAD_IDS)
@pytest.mark.parametrize("field", ["manager_id", "department_id"])
async def test_person_form_with_a_bad_id_says_choose_from_the_list(client, cast, as_user, field, raw):
    person = await new_person(cast)
    before = await Person.select().where(Person.id == person["id"]).first().run()
    await as_user("hr")
    response = await post_form(client, f"/people/{person['id']}/edit", form_of(person, cast, **{field: raw}))
    assert response.status_code == 422
    assert "Choose from the list." in text_of(response.text)
    assert await Person.select().where(Person.id == person["id"]).first().run() == before


@pytest.mark.parametrize("raw", BAD_IDS)
@pytest.mark.parametrize("field", ["parent_id", "head_id"])
async def test_department_form_with_a_bad_id_says_choose_from_the_list(client, as_user, field, raw):
    await as_user("hr")
    data = {"code": "bad-id-probe", "name_en": "Probe", "name_ru": "Проба", field: raw}
    response = await post_form(client, "/departments/new", data)
    assert response.status_code == 422
    assert "Choose from the list." in text_of(response.text)
    assert not await Department.exists().where(Department.code == "bad-id-probe").run()


@pytest.mark.parametrize("url", [
    "/people/99999999999999999999", "/people/2147483648/edit", "/departments/99999999999999999999",
])
async def test_an_id_past_the_range_in_a_path_is_404(client, as_user, url):
    await as_user("hr")
    assert (await client.get(url)).status_code == 404


@pytest.mark.parametrize("url", [
    "/people/?department=²", "/people/?department=99999999999999999999", "/people/?page=99999999999999999999",
    "/audit/?before=99999999999999999999", "/departments/new?parent=²",
])
async def test_a_bad_number_in_a_query_string_is_ignored(client, as_user, url):
    await as_user("hr")
    assert (await client.get(url)).status_code == 200
