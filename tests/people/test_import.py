"""The org import without HTTP: reading files, guessing columns, planning, applying.

Files are built as bytes (tests/helpers.py). Most tests run inside a rolled-back transaction; the
atomicity test needs real commits and rollbacks, so it cleans up after itself.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from servicechain.platform.people import importing
from servicechain.platform.people.forms import CODE_RE
from servicechain.platform.people.importing import (
    ImportFileError,
    ImportRejected,
    apply_import,
    checksum,
    guess_mapping,
    plan_import,
    read_table,
)
from servicechain.platform.people.service import today
from servicechain.platform.people.tables import Assignment, Department, Person
from servicechain.platform.tables import AuditEntry
from tests.helpers import csv_bytes, xlsx_bytes

RU_HEADER = ["Табельный номер", "ФИО", "Эл. почта", "Должность", "Подразделение", "Руководитель", "Дата приёма"]


async def plan_of(data: bytes, filename: str = "org.csv", *, full: bool = False, actor=None, sheet=None):
    headers, rows = read_table(data, filename, sheet)
    return await plan_import(rows, guess_mapping(headers), full, actor=actor)


async def person(number: str) -> dict | None:
    return await Person.select().where(Person.employee_number == number).first().run()


def messages(plan) -> list[tuple[int | None, str]]:
    return [(p.row, p.message) for p in plan.problems]


# --- reading -------------------------------------------------------------------------------------


def test_reads_utf8_with_bom_and_semicolons_with_russian_headers():
    data = csv_bytes([RU_HEADER, ["1001", "Иванова Анна", "anna@x.ru", "Оператор", "Поддержка", "", "31.12.2025"]],
                     delimiter=";", bom=True)
    headers, rows = read_table(data, "export.csv")
    assert headers == RU_HEADER
    assert rows[0].number == 2
    assert rows[0].cells["ФИО"] == "Иванова Анна"
    assert guess_mapping(headers) == {
        "Табельный номер": "employee_number", "ФИО": "full_name", "Эл. почта": "email", "Должность": "position",
        "Подразделение": "department", "Руководитель": "manager", "Дата приёма": "hired_on",
    }


def test_reads_windows_1251_with_commas_and_name_in_parts():
    data = csv_bytes([["Таб. номер", "Фамилия", "Имя", "Отчество", "Отдел"], ["7", "Ёжиков", "Пётр", "Ильич", "Склад"]],
                     encoding="cp1251")
    headers, rows = read_table(data, "export.csv")
    assert guess_mapping(headers) == {"Таб. номер": "employee_number", "Фамилия": "last_name", "Имя": "first_name",
                                      "Отчество": "middle_name", "Отдел": "department"}
    assert rows[0].cells["Фамилия"] == "Ёжиков"


def test_guesses_english_headers_and_ignores_unknown_columns():
    mapping = guess_mapping(["Employee ID", "Full name", "E-mail", "Job title", "Department", "Manager", "Hire date",
                             "Termination date", "Language", "Role", "Shoe size"])
    assert mapping == {"Employee ID": "employee_number", "Full name": "full_name", "E-mail": "email",
                       "Job title": "position", "Department": "department", "Manager": "manager",
                       "Hire date": "hired_on", "Termination date": "left_on", "Language": "language", "Role": "role"}


@pytest.mark.parametrize("data", [
    "Табельный номер;ФИО\n1;Иванов Иван Иванович, начальник отдела продаж\n".encode("koi8_r"),
    "Табельный номер;ФИО\n1;Иванов\n".encode("utf-16"),
    bytes(range(256)) * 4,
])
def test_a_file_in_another_encoding_is_refused(data):
    with pytest.raises(ImportFileError) as raised:
        read_table(data, "export.csv")
    assert "Unknown encoding" in raised.value.message


def test_reads_xlsx_by_sheet_name_with_dates_and_numeric_numbers():
    data = xlsx_bytes({
        "Readme": [["nothing here"]],
        "Staff": [["Табельный номер", "ФИО", "Дата приёма"], [1001, "Иванова Анна", date(2024, 3, 1)], [None, None, None]],
    })
    headers, rows = read_table(data, "export.xlsx", sheet="Staff")
    assert headers == ["Табельный номер", "ФИО", "Дата приёма"]
    assert [(r.number, r.cells) for r in rows] == [(2, {"Табельный номер": "1001", "ФИО": "Иванова Анна",
                                                        "Дата приёма": "2024-03-01"})]
    with pytest.raises(ImportFileError) as raised:
        read_table(data, "export.xlsx", sheet="Missing")
    assert "Readme, Staff" in raised.value.message
    with pytest.raises(ImportFileError):
        read_table(b"PK\x03\x04 not really a zip", "export.xlsx")


# --- planning and applying -----------------------------------------------------------------------


async def test_import_creates_people_departments_and_history(rollback, cast):
    data = csv_bytes([
        RU_HEADER,
        ["IMP-1", "Главная Ольга", "olga@imp.test", "Руководитель КЦ", "Служба поддержки / Колл-центр", "", "01.02.2024"],
        ["IMP-2", "Младший Иван", "", "Оператор", "Служба поддержки / Колл-центр", "IMP-1", "2024-03-15"],
        ["IMP-3", "Новый Склад", "sklad@imp.test", "Кладовщик", "Логистика / Склад Юг", "olga@imp.test", ""],
    ], delimiter=";")
    plan = await plan_of(data)
    assert plan.problems == []
    assert plan.counts() == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "deactivated": 0,
                             "departments_created": 3}
    before = await Person.count().run()
    assert await Person.count().run() == before  # planning writes nothing
    counts = await apply_import(cast.actor("hr"), plan, file_checksum=checksum(data), filename="org.csv")
    assert counts["created"] == 3

    olga, ivan, sklad = await person("IMP-1"), await person("IMP-2"), await person("IMP-3")
    assert ivan["manager"] == olga["id"] and sklad["manager"] == olga["id"]
    assert ivan["email"] is None and ivan["hired_on"] == date(2024, 3, 15) and ivan["active"]
    call_centre = await Department.select().where(Department.id == olga["department"]).first().run()
    # "Служба поддержки" is the existing support department (below Company), matched by its Russian name.
    assert call_centre["parent"] == cast.departments["support"]
    assert call_centre["name_ru"] == "Колл-центр" and call_centre["code"] == "support.koll-tsentr"
    assert call_centre["path"].startswith(f"/{cast.departments['company']}/{cast.departments['support']}/")
    logistics = await Department.select().where(Department.name_ru == "Логистика").first().run()
    assert logistics["parent"] is None and logistics["code"] == "logistika" and logistics["depth"] == 0
    history = await Assignment.select().where(Assignment.person == ivan["id"]).run()
    assert [(h["department"], h["manager"], h["valid_from"], h["valid_to"]) for h in history] == [
        (call_centre["id"], olga["id"], date(2024, 3, 15), None)]
    assert ivan["search_name"].strip().startswith("младший иван")


async def test_department_paths_match_by_code_or_either_language_and_codes_are_stable(rollback, cast):
    data = csv_bytes([
        ["Employee number", "Full name", "Department"],
        ["D-1", "A", "support.line1"],
        ["D-2", "B", "Customer support / First line"],
        ["D-3", "C", "Компания / Служба поддержки / Первая линия"],
        ["D-4", "D", "Customer support / Call centre / Night shift"],
        ["D-5", "E", "Company / Customer support / Call centre"],
        ["D-6", "F", "Отдел очень длинного названия " * 4 + "/ Ещё одна команда с длинным названием " * 2],
    ])
    plan = await plan_of(data)
    assert plan.problems == []
    departments = [p.values["department"] for p in plan.people]
    assert departments[0] == departments[1] == departments[2] == cast.departments["support.line1"]
    # "Call centre" is the same new department whether named from Company or from Customer support.
    assert departments[3].parent is departments[4]
    codes = [d.code for d in plan.new_departments]
    assert codes[:2] == ["support.call-centre", "support.call-centre.night-shift"]
    assert all(CODE_RE.match(code) for code in codes)
    again = await plan_of(data)
    assert [d.code for d in again.new_departments] == codes
    await apply_import(cast.actor("hr"), plan)
    night = await Department.select().where(Department.code == "support.call-centre.night-shift").first().run()
    assert night["depth"] == 3 and night["name_en"] == "Night shift"


async def test_dry_run_names_every_problem_by_row(rollback, cast):
    data = csv_bytes([
        ["Табельный номер", "ФИО", "Email", "Руководитель", "Дата приёма", "Дата увольнения", "Роль", "Язык"],
        ["P-1", "Хороший Человек", "good@imp.test", "", "01.01.2024", "", "", "ru"],   # row 2: fine
        ["P-2", "Плохая Почта", "not-an-email", "", "", "", "", ""],                 # 3
        ["P-1", "Двойной Номер", "dup-number@imp.test", "", "", "", "", ""],        # 4
        ["P-4", "Двойная Почта", "GOOD@imp.test", "", "", "", "", ""],               # 5
        ["T-006", "Склад Складов", "employee@test.local", "", "", "", "", ""],       # 6
        ["P-6", "Без Руководителя", "", "NOBODY-99", "", "", "", ""],               # 7
        ["P-7", "Невозможная Дата", "", "", "31.02.2025", "", "", ""],               # 8
        ["P-8", "Раньше Ушла", "", "", "10.10.2024", "01.01.2024", "", ""],          # 9
        ["", "Без Номера", "", "", "", "", "", ""],                                   # 10
        ["P-10", "", "", "", "", "", "", ""],                                         # 11
        ["P-11", "Странная Роль", "", "", "", "", "волшебник", ""],                   # 12
        ["P-12", "Админ Самозванец", "", "", "", "", "Администратор", ""],           # 13
        ["P-13", "Язык", "", "", "", "", "", "klingon"],                              # 14
    ])
    before = await Person.count().run()
    plan = await plan_of(data, actor=cast.actor("hr"))
    found = messages(plan)
    assert [row for row, _ in found] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    text = "\n".join(str(p) for p in plan.problems)
    assert "Row 3, Email: “not-an-email” is not a valid email address" in text
    assert "Row 4, Табельный номер: Employee number P-1 appears again (first in row 2)." in text
    assert "Row 5, Email: Email good@imp.test appears again (first in row 2)." in text
    assert "Row 6, Email: Email employee@test.local belongs to another person (employee number T-005)." in text
    assert "Row 7, Руководитель: Manager NOBODY-99 is neither in the file nor in the directory." in text
    assert "Row 8, Дата приёма: “31.02.2025” is not a real date" in text
    assert "Row 9, Дата увольнения: The leaving date is before the hiring date." in text
    assert "Row 10, Табельный номер: The employee number is missing." in text
    assert "Row 11, ФИО: The name is missing." in text
    assert "Row 12, Роль: Unknown role “волшебник”." in text
    assert "Row 13, Роль: You may not give the role “Администратор”." in text
    assert "Row 14, Язык: Unknown language “klingon”" in text
    with pytest.raises(ImportRejected) as rejected:
        await apply_import(cast.actor("hr"), plan)
    assert len(rejected.value.plan.problems) == 12
    assert await Person.count().run() == before


async def test_manager_cycles_are_found_in_the_file_and_through_the_directory(rollback, cast):
    data = csv_bytes([
        ["Табельный номер", "ФИО", "Руководитель"],
        ["C-1", "Первый", "C-2"],
        ["C-2", "Второй", "C-1"],
        ["C-3", "Сам Себе", "C-3"],
        ["T-004", "Марина Руководова", "T-005"],  # the cast's manager, made to report to her own report
    ])
    plan = await plan_of(data)
    loops = [(row, message) for row, message in messages(plan)]
    assert (2, "The reporting line loops: C-1 → C-2 → C-1.") in loops or (2, "The reporting line loops: C-2 → C-1 → C-2.") in loops
    assert [row for row, _ in loops] == [2, 3, 4, 5]
    assert any("T-004" in message for row, message in loops if row == 5)


async def test_reimport_updates_and_keeps_assignment_history(rollback, cast):
    hr = cast.actor("hr")
    first = csv_bytes([
        ["Employee number", "Full name", "Email", "Department", "Manager", "Position"],
        ["R-1", "Boss One", "boss1@imp.test", "Warehouse", "", "Boss"],
        ["R-2", "Boss Two", "boss2@imp.test", "Customer support", "", "Boss"],
        ["R-3", "Worker", "worker@imp.test", "Warehouse", "R-1", "Picker"],
    ])
    await apply_import(hr, await plan_of(first))
    worker = await person("R-3")
    # The first assignment started earlier; the move must close it rather than replace it.
    await Assignment.update({Assignment.valid_from: today() - timedelta(days=30)}).where(Assignment.person == worker["id"]).run()
    second = csv_bytes([
        ["Employee number", "Full name", "Email", "Department", "Manager", "Position"],
        ["R-1", "Boss One", "boss1@imp.test", "Warehouse", "", "Boss"],
        ["R-2", "Boss Two", "boss2@imp.test", "Customer support", "", "Boss"],
        ["R-3", "Worker Renamed", "worker@imp.test", "Customer support", "boss2@imp.test", "Operator"],
    ])
    plan = await plan_of(second)
    assert plan.counts() == {"rows": 3, "created": 0, "updated": 1, "unchanged": 2, "deactivated": 0,
                             "departments_created": 0}
    await apply_import(hr, plan)
    after = await person("R-3")
    boss2 = await person("R-2")
    assert (after["full_name"], after["position"], after["department"], after["manager"]) == (
        "Worker Renamed", "Operator", cast.departments["support"], boss2["id"])
    history = await Assignment.select().where(Assignment.person == worker["id"]).order_by(Assignment.valid_from).run()
    assert [(h["department"], h["valid_to"]) for h in history] == [
        (cast.departments["warehouse"], today()), (cast.departments["support"], None)]


async def test_a_person_is_matched_by_email_when_the_number_changed(rollback, cast):
    data = csv_bytes([["Табельный номер", "ФИО", "Email"], ["NEW-5", "Ёлкин Иван", "employee@test.local"]])
    plan = await plan_of(data)
    assert plan.problems == [] and plan.people[0].person_id == cast.ids["employee"]
    await apply_import(cast.actor("hr"), plan)
    assert (await person("NEW-5"))["id"] == cast.ids["employee"]


async def test_a_leaving_date_in_the_file_deactivates_and_closes_the_assignment(rollback, cast):
    await apply_import(cast.actor("hr"), await plan_of(csv_bytes([["Табельный номер", "ФИО"], ["L-1", "Уходящий"]])))
    left = today() - timedelta(days=1)
    data = csv_bytes([["Табельный номер", "ФИО", "Дата увольнения"], ["L-1", "Уходящий", left.strftime("%d.%m.%Y")]])
    await apply_import(cast.actor("hr"), await plan_of(data))
    row = await person("L-1")
    assert (row["active"], row["left_on"]) == (False, left)
    history = await Assignment.select().where(Assignment.person == row["id"]).run()
    assert all(h["valid_to"] is not None for h in history)


async def test_only_an_administrator_may_change_an_administrator(rollback, cast):
    data = csv_bytes([["Табельный номер", "ФИО"], ["T-001", "Админ Переименованный"]])
    plan = await plan_of(data, actor=cast.actor("hr"))
    assert messages(plan) == [(2, "Only an administrator may change an administrator's record.")]
    assert (await plan_of(data, actor=cast.actor("admin"))).problems == []


async def test_full_import_deactivates_missing_people_and_keeps_admins_and_importer(rollback, cast):
    actives = await Person.select().where(Person.active == True).run()  # noqa: E712
    keep = [p for p in actives if p["id"] != cast.ids["outsider"]]
    data = csv_bytes([["Табельный номер", "ФИО"]] + [[p["employee_number"], p["full_name"]] for p in keep])
    plan = await plan_of(data, full=True, actor=cast.actor("hr"))
    assert plan.problems == [] and plan.deactivate == [cast.ids["outsider"]] and not plan.needs_confirmation
    counts = await apply_import(cast.actor("hr"), plan)
    assert counts["deactivated"] == 1
    outsider = await Person.select().where(Person.id == cast.ids["outsider"]).first().run()
    assert (outsider["active"], outsider["left_on"]) == (False, today())
    open_rows = await Assignment.count().where((Assignment.person == outsider["id"]) & Assignment.valid_to.is_null()).run()
    assert open_rows == 0
    assert (await plan_of(data)).deactivate == []  # without --full nobody is deactivated


async def test_full_import_deactivating_over_40_percent_needs_confirmation(rollback, cast):
    hr = cast.actor("hr")
    data = csv_bytes([["Табельный номер", "ФИО"], ["T-002", "Ольга Кадрова"], ["T-003", "Пётр Главный"]])
    plan = await plan_of(data, full=True, actor=hr)
    assert plan.needs_confirmation and plan.deactivation_share > 0.4
    assert cast.ids["admin"] in plan.kept_active and cast.ids["hr"] not in plan.deactivate
    with pytest.raises(ImportRejected):
        await apply_import(hr, plan)
    assert (await Person.select().where(Person.id == cast.ids["employee"]).first().run())["active"]
    counts = await apply_import(hr, plan, confirmed=True)
    assert counts["deactivated"] == len(plan.deactivate)
    assert not (await Person.select().where(Person.id == cast.ids["employee"]).first().run())["active"]
    assert (await Person.select().where(Person.id == cast.ids["admin"]).first().run())["active"]


async def test_one_audit_entry_per_import_with_counts_and_checksum(rollback, cast):
    data = csv_bytes([["Табельный номер", "ФИО", "Подразделение"]] + [[f"A-{i}", f"Человек {i}", "Аудит"] for i in range(50)])
    before = await AuditEntry.count().run()
    await apply_import(cast.actor("hr"), await plan_of(data), file_checksum=checksum(data), filename="org.csv")
    entries = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).limit(2).run()
    assert await AuditEntry.count().run() == before + 1
    entry = entries[0]
    payload = entry["payload"] if isinstance(entry["payload"], dict) else json.loads(entry["payload"])
    assert entry["action"] == "people.import" and entry["summary"] == "org.csv"
    assert payload["created"] == 50 and payload["departments_created"] == 1 and payload["sha256"] == checksum(data)


async def test_apply_is_atomic_when_something_fails_midway(database, cast, monkeypatch):
    data = csv_bytes([["Табельный номер", "ФИО", "Подразделение"], ["ATOM-1", "Один", "Атом"], ["ATOM-2", "Два", "Атом"]])
    plan = await plan_of(data)

    async def broken_audit(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing.audit, "record", broken_audit)
    with pytest.raises(RuntimeError):
        await apply_import(cast.actor("hr"), plan)
    assert await person("ATOM-1") is None
    assert not await Department.exists().where(Department.name_ru == "Атом").run()


async def test_new_people_ids_do_not_collide_with_later_inserts(rollback, cast):
    await apply_import(cast.actor("hr"), await plan_of(csv_bytes([["Табельный номер", "ФИО"], ["S-1", "Один"]])))
    later = Person(full_name="Later", employee_number="S-2", search_name="", created_at=importing.utcnow(),
                   updated_at=importing.utcnow())
    await later.save().run()
    assert later.id > (await person("S-1"))["id"]
