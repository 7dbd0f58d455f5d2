"""The org import in the browser: upload → mapping → preview → apply, without JavaScript."""

from __future__ import annotations

import re

from servicechain.platform.people.tables import ImportUpload, Person
from servicechain.platform.tables import AuditEntry
from tests.conftest import post_form, sign_in, text_of
from tests.helpers import csv_bytes, xlsx_bytes


async def upload(client, data: bytes, filename: str = "org.csv", sheet: str = ""):
    return await post_form(client, "/people/import/", {"sheet": sheet}, files={"file": (filename, data, "text/csv")})


def token_of(response) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/people/import/([\w-]+)/mapping", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def mapping_form(html: str) -> dict[str, str]:
    """What the browser would submit: each select's selected option (or empty)."""
    form: dict[str, str] = {}
    for name, body in re.findall(r'<select id="f-[^"]+" name="(col-\d+)"[^>]*>(.*?)</select>', html, re.S):
        selected = re.search(r'<option value="([^"]*)"\s+selected', body)
        form[name] = selected.group(1) if selected else ""
    return form


async def count_numbers(prefix: str) -> int:
    return await Person.count().where(Person.employee_number.like(prefix + "%")).run()


async def test_hr_uploads_confirms_the_mapping_previews_and_applies(client):
    await sign_in(client, "hr@test.local")
    page = await client.get("/people/import/")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    data = csv_bytes([
        ["Табельный номер", "ФИО", "Эл. почта", "Подразделение", "Руководитель", "Дата приёма", "Колонка"],
        ["WEB-1", "Веб Начальник", "web1@imp.test", "Компания / Веб-отдел / Команда", "", "01.03.2024", "x"],
        ["WEB-2", "Веб Сотрудник", "", "Компания / Веб-отдел / Команда", "WEB-1", "2024-04-01", "y"],
    ], delimiter=";", encoding="cp1251")
    token = token_of(await upload(client, data))

    mapping = await client.get(f"/people/import/{token}/mapping")
    assert mapping.status_code == 200
    form = mapping_form(mapping.text)
    assert form == {"col-0": "employee_number", "col-1": "full_name", "col-2": "email", "col-3": "department",
                    "col-4": "manager", "col-5": "hired_on", "col-6": ""}
    assert "Веб Начальник" in mapping.text  # sample values

    preview = await post_form(client, f"/people/import/{token}/preview", form)
    assert preview.status_code == 200
    text = text_of(preview.text)
    assert "People to add 2" in text and "New departments 2" in text
    assert await count_numbers("WEB-") == 0  # a preview writes nothing

    audit_before = await AuditEntry.count().run()
    applied = await post_form(client, f"/people/import/{token}/apply", form)
    assert applied.status_code == 303 and applied.headers["location"] == f"/people/import/{token}/done"
    done = await client.get(applied.headers["location"])
    assert done.status_code == 200 and "People added 2" in text_of(done.text)
    assert await count_numbers("WEB-") == 2
    assert await AuditEntry.count().run() == audit_before + 1
    boss = await Person.select().where(Person.employee_number == "WEB-1").first().run()
    worker = await Person.select().where(Person.employee_number == "WEB-2").first().run()
    assert worker["manager"] == boss["id"]
    # The file itself is not kept once imported, and it cannot be applied twice.
    assert (await ImportUpload.select(ImportUpload.content).where(ImportUpload.token == token).first().run())["content"] == b""
    again = await post_form(client, f"/people/import/{token}/apply", form)
    assert again.status_code == 409 and "imported already" in again.text


async def test_a_bad_file_shows_each_rows_problem_and_changes_nothing(client):
    await sign_in(client, "hr@test.local")
    data = csv_bytes([
        ["Employee number", "Full name", "Email", "Manager", "Hire date"],
        ["WEB-B1", "Good Row", "webb1@imp.test", "", "01.01.2024"],
        ["WEB-B2", "Bad Email", "nope", "", ""],
        ["WEB-B3", "Bad Date", "", "", "32.01.2024"],
        ["WEB-B4", "Lost Manager", "", "NOBODY-1", ""],
    ])
    token = token_of(await upload(client, data))
    form = mapping_form((await client.get(f"/people/import/{token}/mapping")).text)
    preview = await post_form(client, f"/people/import/{token}/preview", form)
    assert preview.status_code == 200
    text = text_of(preview.text)
    assert "3 problems to fix" in text
    assert "3 Email “nope” is not a valid email address" in text
    assert "4 Hire date “32.01.2024” is not a real date" in text
    assert "5 Manager Manager NOBODY-1 is neither in the file nor in the directory." in text
    assert f'action="/people/import/{token}/apply"' not in preview.text
    forced = await post_form(client, f"/people/import/{token}/apply", form)
    assert forced.status_code == 422 and "is not a real date" in forced.text
    assert await count_numbers("WEB-B") == 0


async def test_an_unreadable_file_is_refused_at_upload(client):
    await sign_in(client, "hr@test.local")
    response = await upload(client, "Табельный номер;ФИО\n1;Иванов Иван Иванович из отдела продаж\n".encode("koi8_r"))
    assert response.status_code == 422 and "Unknown encoding" in response.text
    response = await upload(client, b"", "empty.csv")
    assert response.status_code == 422 and "Choose a CSV or XLSX file" in response.text
    workbook = xlsx_bytes({"Staff": [["Табельный номер", "ФИО"]]})
    response = await upload(client, workbook, "org.xlsx", sheet="Nope")
    assert response.status_code == 422 and "There is no sheet Nope" in response.text


async def test_a_mapping_without_numbers_or_names_is_sent_back(client):
    await sign_in(client, "hr@test.local")
    token = token_of(await upload(client, csv_bytes([["Табельный номер", "ФИО"], ["WEB-M1", "Маппинг"]])))
    response = await post_form(client, f"/people/import/{token}/preview", {"col-0": "employee_number", "col-1": ""})
    assert response.status_code == 422
    assert "Map a column to the full name" in response.text
    # Coming back from the preview keeps the person's choices rather than the guess.
    back = await client.get(f"/people/import/{token}/mapping?col-0=employee_number&col-1=&full=1")
    assert mapping_form(back.text) == {"col-0": "employee_number", "col-1": ""} and "checked" in back.text


async def test_a_full_import_that_deactivates_most_people_needs_the_checkbox(client):
    await sign_in(client, "hr@test.local")
    token = token_of(await upload(client, csv_bytes([["Табельный номер", "ФИО"], ["T-002", "Ольга Кадрова"]])))
    form = {"col-0": "employee_number", "col-1": "full_name", "full": "1"}
    preview = await post_form(client, f"/people/import/{token}/preview", form)
    assert preview.status_code == 200 and 'name="confirm"' in preview.text
    assert "This full import would deactivate" in preview.text
    refused = await post_form(client, f"/people/import/{token}/apply", form)
    assert refused.status_code == 422 and 'id="e-confirm"' in refused.text
    assert (await Person.select().where(Person.employee_number == "T-005").first().run())["active"]


async def test_another_users_upload_is_not_found(client):
    await sign_in(client, "hr@test.local")
    token = token_of(await upload(client, csv_bytes([["Табельный номер", "ФИО"], ["WEB-O1", "Чужой"]])))
    await sign_in(client, "admin@test.local")
    assert (await client.get(f"/people/import/{token}/mapping")).status_code == 404
    assert (await post_form(client, f"/people/import/{token}/preview", {"col-0": "employee_number"})).status_code == 404
    assert (await post_form(client, f"/people/import/{token}/apply", {"col-0": "employee_number"})).status_code == 404
    assert (await client.get(f"/people/import/{token}/done")).status_code == 404
    assert (await client.get("/people/import/no-such-token/mapping")).status_code == 404


async def test_employees_and_managers_may_not_import(client):
    for email in ("employee@test.local", "manager@test.local"):
        await sign_in(client, email)
        assert (await client.get("/people/import/")).status_code == 403
        response = await upload(client, csv_bytes([["Табельный номер", "ФИО"], ["WEB-E1", "Нельзя"]]))
        assert response.status_code == 403
    assert await count_numbers("WEB-E") == 0
    assert (await client.get("/people/", follow_redirects=False)).status_code == 200
    assert 'href="/people/import/"' not in (await client.get("/people/")).text
