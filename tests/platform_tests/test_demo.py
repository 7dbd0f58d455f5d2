"""The demo company: deterministic, consistent history, fixed accounts, and it never touches a
database that holds anything else."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, timedelta

import pytest
from litestar.testing import AsyncTestClient

from servicechain.platform import audit, db
from servicechain.platform.demo.generate import DEMO_PASSWORD, DEMO_TEAM, DemoRefused, build_demo, load_demo
from servicechain.platform.demo.guard import DEMO_ACCOUNTS, DEMO_FLAG
from servicechain.platform.people.tables import Assignment, Department, Person
from servicechain.platform.tables import AuditEntry, SystemFlag
from tests.conftest import post_form, sign_in, text_of
from tests.platform_tests.conftest import is_postgres, recreate_postgres, run_cli, sibling_url

TODAY = date(2026, 11, 23)
SMALL = {"employees": 60, "months": 3, "seed": 7, "today": TODAY}


def build(**overrides):
    return build_demo(**{**SMALL, **overrides}, password_hash="not-a-real-hash")


async def table_counts() -> dict[str, int]:
    return {
        "person": await Person.count().run(), "department": await Department.count().run(),
        "assignment": await Assignment.count().run(), "audit_entry": await AuditEntry.count().run(),
        "system_flag": await SystemFlag.count().run(),
    }


async def demo_flag() -> dict:
    row = await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == DEMO_FLAG).first().run()
    return json.loads(row["value"]) if row else {}


# --- built in memory ---------------------------------------------------------------------------


def test_same_seed_day_and_size_build_the_same_company():
    assert build().checksum() == build().checksum()
    assert build(seed=8).checksum() != build().checksum()
    assert build(today=date(2026, 11, 24)).checksum() != build().checksum()
    assert build(months=4).checksum() != build().checksum()


def test_headcount_today_follows_employees_and_the_tree_keeps_its_shape():
    small, large = build(employees=300, months=0), build(employees=3000, months=0)
    assert sum(1 for p in small.people if p.left_on is None) == 300
    assert sum(1 for p in large.people if p.left_on is None) == 3000
    fixed = {u.code for u in small.units if u.depth <= 2}
    assert fixed == {u.code for u in large.units if u.depth <= 2}
    assert {"support.line1", "delivery.dispatch", "warehouse.picking", "it.dev", "hr.records"} <= fixed
    assert max(u.depth for u in large.units) == 3  # teams under the largest departments
    assert sum(1 for u in large.units if u.depth == 3) > sum(1 for u in small.units if u.depth == 3)


def test_names_are_russian_and_english_with_feminine_forms():
    ctx = build(employees=300, months=12)
    russians = [p for p in ctx.people if p.language == "ru"]
    assert any(p.language == "en" for p in ctx.people)
    for person in russians:
        if person.female:
            assert person.middle_name.endswith("на"), person.full_name
            assert not person.last_name.endswith(("ов", "ев", "ин", "ский")), person.full_name
        else:
            assert person.middle_name.endswith(("ич", "ьич")), person.full_name
    assert any("ё" in p.full_name for p in russians)
    couriers = [p for p in ctx.people if p.position == "Курьер"]
    assert couriers and sum(1 for p in couriers if p.email is None) > len(couriers) / 2


# --- loaded into a database of its own ---------------------------------------------------------


async def test_load_writes_one_audit_entry_with_counts_and_the_checksum(fresh_database):
    summary = await load_demo(**SMALL, reset=False)
    expected = build()
    entries = await AuditEntry.select().run()
    assert len(entries) == 1
    payload = entries[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert entries[0]["action"] == "demo.load"
    assert payload["checksum"] == expected.checksum()
    assert payload["counts"] == expected.counts()
    assert {"department", "person", "assignment"} <= set(expected.counts())
    for table, count in expected.counts().items():  # every domain's step, each table loaded in full
        assert (await db.fetch(f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"] == count, table
    assert (await demo_flag())["seed"] == 7
    assert expected.checksum()[:12] in summary
    checked, problems = await audit.verify()
    assert (checked, problems) == (1, [])
    from servicechain.platform.analytics import snapshot

    stored = await snapshot.latest()
    assert stored is not None and stored.month in {TODAY.replace(day=1), (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1)}, \
        "the dashboards and the report have the demo's snapshot to read"


async def test_demo_accounts_have_their_roles_and_places(fresh_database):
    await load_demo(**SMALL, reset=False)
    people = {r["email"]: r for r in await Person.select().where(Person.email.is_in(list(DEMO_ACCOUNTS))).run()}
    assert {e: people[e]["role"] for e in DEMO_ACCOUNTS} == {
        "admin@example.com": "admin", "hr@example.com": "hr", "ceo@example.com": "executive",
        "manager@example.com": "manager", "employee@example.com": "employee",
    }
    assert {e: people[e]["language"] for e in DEMO_ACCOUNTS} == {
        "admin@example.com": "en", "hr@example.com": "ru", "ceo@example.com": "ru",
        "manager@example.com": "ru", "employee@example.com": "ru",
    }
    root = await Department.select().where(Department.parent.is_null()).first().run()
    assert root["head"] == people["ceo@example.com"]["id"]
    assert people["ceo@example.com"]["manager"] is None
    team = await Department.select().where(Department.code == DEMO_TEAM).first().run()
    line1 = await Department.select().where(Department.code == "support.line1").first().run()
    support = await Department.select().where(Department.code == "support").first().run()
    assert team["parent"] == line1["id"] and line1["parent"] == support["id"]
    manager, employee = people["manager@example.com"], people["employee@example.com"]
    assert team["head"] == manager["id"] and manager["department"] == team["id"]
    assert manager["manager"] == line1["head"]
    assert employee["department"] == team["id"] and employee["manager"] == manager["id"]
    hr_division = await Department.select().where(Department.code == "hr").first().run()
    assert hr_division["head"] == people["hr@example.com"]["id"]
    assert all(p["active"] and p["employee_number"].startswith("VD-") for p in people.values())


async def test_every_demo_account_signs_in_over_http(fresh_database, app):
    await load_demo(**SMALL, reset=False)
    courier = await Person.select().where((Person.active == True) & Person.email.is_null()).first().run()  # noqa: E712
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        for identifier in (*DEMO_ACCOUNTS, courier["employee_number"]):
            client.cookies.clear()
            await sign_in(client, identifier, DEMO_PASSWORD)
            home = await client.get("/")
            assert home.status_code == 200
        assert courier["full_name"] in text_of(home.text)
        client.cookies.clear()
        response = await post_form(client, "/login", {"identifier": "ceo@example.com", "password": "wrong-password"})
        assert response.status_code == 422


@pytest.mark.parametrize("reset", [False, True])
async def test_a_database_with_other_people_is_refused_and_left_unchanged(fresh_database, reset):
    from servicechain.platform.security import SYSTEM, utcnow

    async with db.write():
        dept = Department(code="acme", name_en="Acme", name_ru="Акме", path="/")
        await dept.save().run()
        await Person.insert(Person(full_name="Real Person", employee_number="R-1", department=dept.id,
                                   created_at=utcnow(), updated_at=utcnow())).run()
        await audit.record(SYSTEM, "person.create", object_type="person", summary="Real Person")
    before = await table_counts()
    with pytest.raises(DemoRefused, match="1 people and 1 departments .* Nothing was changed"):
        await load_demo(**SMALL, reset=reset)
    assert await table_counts() == before
    assert await demo_flag() == {}


async def test_running_again_reuses_the_demo(fresh_database):
    await load_demo(**SMALL, reset=False)
    before, flag = await table_counts(), await demo_flag()
    summary = await load_demo(**{**SMALL, "seed": 99, "employees": 200}, reset=False)
    assert "already holds the demo company" in summary and "--reset" in summary
    assert "seed 7" in summary and "manager@example.com" in summary
    assert await table_counts() == before
    assert await demo_flag() == flag


async def test_reset_rebuilds_from_scratch(fresh_database):
    await load_demo(**SMALL, reset=False)
    async with db.write():  # someone used the demo in the meantime
        await Person.update({Person.position: "Changed"}).where(Person.email == "employee@example.com").run()
    summary = await load_demo(**{**SMALL, "seed": 8}, reset=True)
    assert summary.startswith("Rebuilt")
    assert (await demo_flag())["seed"] == 8
    assert (await demo_flag())["checksum"] == build(seed=8).checksum()
    employee = await Person.select(Person.position).where(Person.email == "employee@example.com").first().run()
    assert employee["position"] == "Оператор контакт-центра"
    assert await AuditEntry.count().run() == 1  # the log starts again with the new load
    assert (await audit.verify())[1] == []


async def test_history_is_consistent(fresh_database):
    await load_demo(employees=120, months=12, seed=3, today=TODAY, reset=False)
    people = {p["id"]: p for p in await Person.select().run()}
    rows = await Assignment.select().order_by(Assignment.person).order_by(Assignment.valid_from).run()
    by_person: dict[int, list] = {}
    for row in rows:
        by_person.setdefault(row["person"], []).append(row)
    assert set(by_person) == set(people)
    leavers = [p for p in people.values() if p["left_on"] is not None]
    assert leavers and all(not p["active"] for p in leavers)
    assert all(p["active"] for p in people.values() if p["left_on"] is None)
    moved = 0
    for person_id, history in by_person.items():
        person = people[person_id]
        assert history[0]["valid_from"] == person["hired_on"]
        for earlier, later in zip(history, history[1:]):
            assert earlier["valid_to"] is not None and earlier["valid_to"] == later["valid_from"], person_id
        for row in history:
            assert row["valid_to"] is None or row["valid_to"] > row["valid_from"]
            if row["manager"] is not None:  # the manager worked here at the time
                manager = people[row["manager"]]
                assert manager["hired_on"] <= row["valid_from"]
                assert manager["left_on"] is None or (row["valid_to"] is not None and row["valid_to"] <= manager["left_on"])
        last = history[-1]
        assert last["valid_to"] == person["left_on"]
        assert (last["department"], last["manager"]) == (person["department"], person["manager"])
        moved += len({r["department"] for r in history}) > 1
    assert moved > 0  # transfers between departments
    assert any(len({r["manager"] for r in h}) > 1 for h in by_person.values())  # changes of manager
    # Today's reporting lines follow the department heads.
    departments = {d["id"]: d for d in await Department.select().run()}
    for person in people.values():
        if not person["active"]:
            continue
        dept = departments[person["department"]]
        if dept["head"] == person["id"]:
            parent = departments.get(dept["parent"])
            assert person["manager"] == (parent["head"] if parent else None)
        else:
            assert person["manager"] == dept["head"]


async def test_directory_search_finds_yo_names_typed_with_ye(fresh_database):
    from servicechain.platform.people.service import search_people
    from servicechain.platform.security import Actor

    await load_demo(**SMALL, reset=False)
    hr = await Person.select().where(Person.email == "hr@example.com").first().run()
    actor = Actor(kind="person", person_id=hr["id"], role="hr", name=hr["full_name"], language="ru")
    page = await search_people(actor, q="ФЕДОРОВА АЛЕНА")
    assert hr["full_name"] == "Фёдорова Алёна Сергеевна"
    assert [p["id"] for p in page.items] == [hr["id"]]


# --- the command line, end to end --------------------------------------------------------------


def _cli_database(name: str) -> tuple[str, str]:
    data_dir = tempfile.mkdtemp(prefix="servicechain-demo-cli-")
    if is_postgres():
        url = sibling_url(name)
        recreate_postgres(url)
    else:
        url = f"sqlite:///{os.path.join(data_dir, 'demo.sqlite3')}"
    return url, data_dir


def test_cli_loads_reuses_and_refuses(database):
    url, data_dir = _cli_database("cli")
    assert run_cli("migrate", url=url, data_dir=data_dir).returncode == 0
    first = run_cli("demo", "--employees", "50", "--months", "2", "--today", "2026-11-23", url=url, data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "Loaded the demo company" in first.stdout and "manager@example.com" in first.stdout
    again = run_cli("demo", url=url, data_dir=data_dir)
    assert again.returncode == 0 and "already holds the demo company" in again.stdout
    bad_day = run_cli("demo", "--today", "23.11.2026", url=url, data_dir=data_dir)
    assert bad_day.returncode == 2 and "--today must be YYYY-MM-DD" in bad_day.stderr

    other_url, other_dir = _cli_database("cli_other")
    assert run_cli("migrate", url=other_url, data_dir=other_dir).returncode == 0
    admin = run_cli("user", "create-admin", "it@company.example", "--password-stdin", url=other_url, data_dir=other_dir,
                    stdin="a-long-enough-password\n")
    assert admin.returncode == 0, admin.stderr
    refused = run_cli("demo", "--reset", url=other_url, data_dir=other_dir)
    assert refused.returncode == 1
    assert "not the demo company" in refused.stderr and "Nothing was changed" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one clear line
