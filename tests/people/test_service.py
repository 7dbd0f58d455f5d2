"""People and departments without HTTP, each test inside a rolled-back transaction."""

from __future__ import annotations

import json

import pytest

from servicechain.platform.lib.text import fold
from servicechain.platform.people import service
from servicechain.platform.people.tables import Assignment, Department, Person
from servicechain.platform.security import Forbidden, NotFound, people_in_reach, person_for
from servicechain.platform.tables import AuditEntry

pytestmark = pytest.mark.usefixtures("rollback")


def person_data(cast, **overrides) -> dict:
    data = {
        "full_name": "Ёлкина Мария", "employee_number": "N-100", "email": "maria@test.local", "position": "Operator",
        "department_id": str(cast.departments["support.line1"]), "manager_id": str(cast.ids["manager"]),
        "language": "ru", "role": "employee", "hired_on": "01.02.2024", "left_on": "",
    }
    data.update(overrides)
    return data


async def audit_entries_since(seq: int) -> list[dict]:
    rows = await AuditEntry.select().where(AuditEntry.seq > seq).order_by(AuditEntry.seq).run()
    for row in rows:
        row["payload"] = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    return rows


async def last_seq() -> int:
    row = await AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq, ascending=False).first().run()
    return row["seq"] if row else 0


# --- the directory -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["елкин", "ЁЛКИН", "Ёлкин", "ёлкин иван", "иван елк"])
async def test_search_folds_case_and_yo_in_cyrillic(cast, query):
    page = await service.search_people(cast.actor("employee"), q=query)
    assert cast.ids["employee"] in [p["id"] for p in page.items]
    for person in page.items:  # nothing that does not match every word
        assert all(word in fold(person["full_name"]) for word in fold(query).split())


async def test_search_finds_by_employee_number_and_email(cast):
    assert [p["id"] for p in (await service.search_people(cast.actor("hr"), q="t-005")).items] == [cast.ids["employee"]]
    assert [p["id"] for p in (await service.search_people(cast.actor("hr"), q="HR@TEST")).items] == [cast.ids["hr"]]


async def test_search_treats_like_wildcards_as_text(cast):
    assert (await service.search_people(cast.actor("hr"), q="%")).total == 0
    assert (await service.search_people(cast.actor("hr"), q="_")).total == 0


async def test_department_filter_includes_everything_below(cast):
    subtree = {cast.departments["support"], cast.departments["support.line1"]}
    expected = {r["id"] for r in await Person.select(Person.id).where(
        Person.department.is_in(list(subtree)) & (Person.active == True)).run()}  # noqa: E712
    support = await service.search_people(cast.actor("employee"), department_id=cast.departments["support"], per_page=1000)
    assert {p["id"] for p in support.items} == expected
    assert {cast.ids["manager"], cast.ids["employee"]} <= expected
    line1 = await service.search_people(cast.actor("employee"), department_id=cast.departments["support.line1"], per_page=1000)
    assert cast.ids["employee"] in {p["id"] for p in line1.items}
    assert cast.ids["manager"] not in {p["id"] for p in line1.items}


async def test_directory_pages(cast):
    hr = cast.actor("hr")
    for i in range(30):
        await service.create_person(hr, person_data(cast, full_name=f"Пейджев {i:02d}", employee_number=f"P-{i:02d}",
                                                    email=f"p{i}@test.local"))
    first = await service.search_people(hr, q="пейджев", page=1, per_page=25)
    second = await service.search_people(hr, q="пейджев", page=2, per_page=25)
    assert (first.total, first.pages, first.has_next, len(first.items)) == (30, 2, True, 25)
    assert (second.has_next, len(second.items)) == (False, 5)
    assert {p["id"] for p in first.items}.isdisjoint({p["id"] for p in second.items})


async def test_people_who_left_are_hidden_from_employees_but_not_from_hr(cast):
    hr = cast.actor("hr")
    gone = await service.create_person(hr, person_data(cast, full_name="Ушедший Уволенов", left_on="2020-01-01",
                                                       hired_on="2019-01-01"))
    for status in ("left", "all", "active"):
        seen = await service.search_people(cast.actor("employee"), q="ушедший", status=status)
        assert gone not in [p["id"] for p in seen.items]
    assert gone in [p["id"] for p in (await service.search_people(hr, q="ушедший", status="left")).items]
    assert gone not in [p["id"] for p in (await service.search_people(hr, q="ушедший", status="active")).items]
    with pytest.raises(NotFound):
        await service.person_card(cast.actor("employee"), gone)
    assert (await service.person_card(hr, gone))["person"]["active"] is False


async def test_employees_do_not_see_employment_history(cast):
    card = await service.person_card(cast.actor("outsider"), cast.ids["employee"])
    assert card["details"] is False and card["history"] == []
    card = await service.person_card(cast.actor("manager"), cast.ids["employee"])
    assert card["details"] is True and len(card["history"]) == 1


# --- reach ---------------------------------------------------------------------------------------


async def test_a_managers_reach_is_their_departments_subtree_plus_their_reporting_line(cast):
    hr = cast.actor("hr")
    # Someone in the warehouse who reports to the manager: reach through the reporting line.
    remote = await service.create_person(hr, person_data(cast, employee_number="R-1", email="r1@test.local",
                                                         department_id=str(cast.departments["warehouse"])))
    # Someone in First line with another manager: reach through the department tree.
    in_tree = await service.create_person(hr, person_data(cast, employee_number="R-2", email="r2@test.local",
                                                          manager_id=str(cast.ids["ceo"])))
    reach = await people_in_reach(cast.actor("manager"))
    assert {cast.ids["employee"], remote, in_tree} <= reach
    assert cast.ids["outsider"] not in reach and cast.ids["manager"] not in reach
    assert await people_in_reach(cast.actor("employee")) == set()
    assert await people_in_reach(cast.actor("hr")) is None


async def test_manager_sees_a_leaver_in_their_reach_but_not_outside_it(cast):
    hr = cast.actor("hr")
    mine = await service.create_person(hr, person_data(cast, employee_number="L-1", email="l1@test.local",
                                                       hired_on="2019-01-01", left_on="2020-01-01"))
    not_mine = await service.create_person(hr, person_data(cast, employee_number="L-2", email="l2@test.local",
                                                           department_id=str(cast.departments["warehouse"]),
                                                           manager_id=str(cast.ids["ceo"]),
                                                           hired_on="2019-01-01", left_on="2020-01-01"))
    assert (await person_for(cast.actor("manager"), mine))["id"] == mine
    with pytest.raises(NotFound):
        await person_for(cast.actor("manager"), not_mine)


# --- creating and editing people -----------------------------------------------------------------


async def test_hr_creates_a_person_with_a_first_assignment_and_one_audit_entry(cast):
    seq = await last_seq()
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    person = await Person.select().where(Person.id == person_id).first().run()
    assert person["search_name"].strip().startswith("елкина мария")
    [assignment] = await Assignment.select().where(Assignment.person == person_id).run()
    assert (assignment["department"], assignment["manager"], str(assignment["valid_from"])) == (
        cast.departments["support.line1"], cast.ids["manager"], "2024-02-01")
    [entry] = await audit_entries_since(seq)
    assert (entry["action"], entry["object_id"]) == ("person.create", str(person_id))
    assert entry["payload"]["changes"]["full_name"] == [None, "Ёлкина Мария"]


async def test_hr_edits_a_person_and_the_audit_entry_holds_before_and_after(cast):
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    seq = await last_seq()
    await service.update_person(cast.actor("hr"), person_id, person_data(cast, position="Team lead", email="MARIA.E@test.local"))
    person = await Person.select().where(Person.id == person_id).first().run()
    assert (person["position"], person["email"]) == ("Team lead", "maria.e@test.local")
    [entry] = await audit_entries_since(seq)
    assert entry["action"] == "person.update"
    assert entry["payload"]["changes"] == {"email": ["maria@test.local", "maria.e@test.local"],
                                           "position": ["Operator", "Team lead"]}


async def test_a_department_change_closes_the_old_assignment_and_opens_a_new_one(cast):
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    await service.update_person(cast.actor("hr"), person_id, person_data(cast, department_id=str(cast.departments["warehouse"]),
                                                                         manager_id=str(cast.ids["ceo"])))
    rows = await Assignment.select().where(Assignment.person == person_id).order_by(Assignment.valid_from).run()
    assert [(r["department"], r["manager"]) for r in rows] == [
        (cast.departments["support.line1"], cast.ids["manager"]), (cast.departments["warehouse"], cast.ids["ceo"])]
    assert rows[0]["valid_to"] == rows[1]["valid_from"] == service.today()
    assert rows[1]["valid_to"] is None


async def test_an_edit_that_does_not_move_anyone_keeps_the_assignment(cast):
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    await service.update_person(cast.actor("hr"), person_id, person_data(cast, position="Senior operator"))
    assert await Assignment.count().where(Assignment.person == person_id).run() == 1


async def test_leaving_closes_the_assignment_on_the_leaving_date(cast):
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    await service.update_person(cast.actor("hr"), person_id, person_data(cast, left_on="2025-03-31"))
    [row] = await Assignment.select().where(Assignment.person == person_id).run()
    assert str(row["valid_to"]) == "2025-03-31"
    assert (await Person.select(Person.active).where(Person.id == person_id).first().run())["active"] is False
    # Coming back opens a new assignment.
    await service.update_person(cast.actor("hr"), person_id, person_data(cast, left_on=""))
    rows = await Assignment.select().where(Assignment.person == person_id).order_by(Assignment.id).run()
    assert len(rows) == 2 and rows[1]["valid_to"] is None and rows[1]["valid_from"] == service.today()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "HR@test.local"}, "email", "Another person has this email."),
        ({"employee_number": "T-001"}, "employee_number", "Another person has this employee number."),
        ({"hired_on": "31.02.2024"}, "hired_on", "Write the date as 31.12.2025 or 2025-12-31."),
        ({"left_on": "2023-12-31"}, "left_on", "The leaving date is before the hiring date."),
        ({"email": "not-an-email"}, "email", "This is not a valid email address; leave it empty if the person has none."),
        ({"full_name": "  "}, "full_name", "Enter the person's full name."),
        ({"role": "admin"}, "role", "You may not give this role."),
        ({"department_id": "999999"}, "department_id", "This department does not exist."),
        ({"manager_id": "abc"}, "manager_id", "Choose from the list."),
    ],
)
async def test_invalid_edit_names_the_field_and_changes_nothing(cast, overrides, field, message):
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    before = await Person.select().where(Person.id == person_id).first().run()
    seq = await last_seq()
    with pytest.raises(service.FormInvalid) as caught:
        await service.update_person(cast.actor("hr"), person_id, person_data(cast, position="Changed", **overrides))
    assert caught.value.errors[field] == [message]
    assert await Person.select().where(Person.id == person_id).first().run() == before
    assert await audit_entries_since(seq) == []


async def test_a_person_cannot_manage_themselves(cast):
    person_id = await service.create_person(cast.actor("hr"), person_data(cast))
    with pytest.raises(service.FormInvalid) as caught:
        await service.update_person(cast.actor("hr"), person_id, person_data(cast, manager_id=str(person_id)))
    assert caught.value.errors == {"manager_id": ["A person cannot be their own manager."]}


async def test_a_manager_loop_is_refused(cast):
    hr = cast.actor("hr")
    boss = await service.create_person(hr, person_data(cast))
    middle = await service.create_person(hr, person_data(cast, employee_number="N-101", email="m@test.local", manager_id=str(boss)))
    bottom = await service.create_person(hr, person_data(cast, employee_number="N-102", email="b@test.local", manager_id=str(middle)))
    with pytest.raises(service.FormInvalid) as caught:
        await service.update_person(hr, boss, person_data(cast, manager_id=str(bottom)))
    assert caught.value.errors == {"manager_id": ["This would make a loop: the manager reports to this person."]}
    assert (await Person.select(Person.manager).where(Person.id == boss).first().run())["manager"] == cast.ids["manager"]


async def test_employees_and_managers_cannot_edit_people(cast):
    for who in ("employee", "manager", "ceo"):
        with pytest.raises(Forbidden):
            await service.update_person(cast.actor(who), cast.ids["employee"], person_data(cast))
        with pytest.raises(Forbidden):
            await service.create_person(cast.actor(who), person_data(cast))


# --- departments ---------------------------------------------------------------------------------


def department_data(**overrides) -> dict:
    data = {"code": "support.line2", "name_en": "Second line", "name_ru": "Вторая линия", "parent_id": "", "head_id": ""}
    data.update(overrides)
    return data


async def department(department_id: int) -> dict:
    return await Department.select().where(Department.id == department_id).first().run()


async def test_creating_a_department_sets_its_path_below_the_parent_and_audits(cast):
    seq = await last_seq()
    new_id = await service.create_department(cast.actor("hr"), department_data(parent_id=str(cast.departments["support"])))
    row = await department(new_id)
    support = await department(cast.departments["support"])
    assert (row["path"], row["depth"]) == (f"{support['path']}{new_id}/", support["depth"] + 1)
    [entry] = await audit_entries_since(seq)
    assert (entry["action"], entry["object_id"]) == ("department.create", str(new_id))


async def test_moving_a_department_moves_everything_below_it(cast):
    hr = cast.actor("hr")
    team = await service.create_department(hr, department_data(parent_id=str(cast.departments["support.line1"])))
    seq = await last_seq()
    line1 = await department(cast.departments["support.line1"])
    await service.update_department(hr, line1["id"], department_data(
        code=line1["code"], name_en=line1["name_en"], name_ru=line1["name_ru"], parent_id=str(cast.departments["warehouse"])))
    warehouse = await department(cast.departments["warehouse"])
    moved, below = await department(line1["id"]), await department(team)
    assert (moved["path"], moved["depth"]) == (f"{warehouse['path']}{line1['id']}/", 2)
    assert (below["path"], below["depth"]) == (f"{warehouse['path']}{line1['id']}/{team}/", 3)
    [entry] = await audit_entries_since(seq)
    assert entry["payload"]["changes"] == {"parent": [cast.departments["support"], cast.departments["warehouse"]]}
    # The directory filter follows the tree: First line's people now count as the warehouse's.
    found = await service.search_people(hr, department_id=cast.departments["warehouse"])
    assert cast.ids["employee"] in {p["id"] for p in found.items}


async def test_a_department_cannot_move_below_itself(cast):
    hr = cast.actor("hr")
    support = await department(cast.departments["support"])
    for parent in (cast.departments["support"], cast.departments["support.line1"]):
        with pytest.raises(service.FormInvalid) as caught:
            await service.update_department(hr, support["id"], department_data(
                code="support", name_en="Customer support", name_ru="Служба поддержки", parent_id=str(parent)))
        assert caught.value.errors == {"parent_id": ["A department cannot sit inside itself or below itself."]}
    assert await department(cast.departments["support"]) == support


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"code": "warehouse"}, "code"), ({"code": "has space"}, "code"), ({"name_ru": ""}, "name_ru"),
     ({"parent_id": "999999"}, "parent_id"), ({"head_id": "999999"}, "head_id")],
)
async def test_invalid_department_changes_nothing(cast, overrides, field):
    count = await Department.count().run()
    with pytest.raises(service.FormInvalid) as caught:
        await service.create_department(cast.actor("hr"), department_data(**overrides))
    assert field in caught.value.errors
    assert await Department.count().run() == count


async def test_employees_cannot_change_departments(cast):
    with pytest.raises(Forbidden):
        await service.create_department(cast.actor("employee"), department_data())
    with pytest.raises(Forbidden):
        await service.update_department(cast.actor("manager"), cast.departments["support"], department_data(code="support"))


async def test_department_tree_counts_people_below(cast):
    hr = cast.actor("hr")
    await service.create_person(hr, person_data(cast))
    tree = {row["code"]: row for row in await service.department_tree(cast.actor("employee"))}
    assert tree["company"]["total_count"] == (await service.search_people(hr, department_id=cast.departments["company"])).total
    assert tree["support"]["total_count"] == tree["support"]["direct_count"] + tree["support.line1"]["total_count"]
    assert tree["support.line1"]["direct_count"] == (await service.search_people(
        hr, department_id=cast.departments["support.line1"])).total
    assert [row["code"] for row in await service.department_tree(cast.actor("employee"))][0] == "company"
