"""Uploads are bounded: a file over an import's limit gets that import's message and nothing is
stored; a body over the server's limit is refused before it is read, with a message; and XLSX
files that would unpack to far more than they weigh (zip bombs, or a sheet claiming to span
A1:XFD1048576) are refused or read as what they really hold, without openpyxl inflating them."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from openpyxl import Workbook

from servicechain.platform.customers import importing as scores
from servicechain.platform.customers.tables import ScoreUpload
from servicechain.platform.lib import tabular
from servicechain.platform.lib.tabular import ImportFileError, iter_table, read_xlsx
from servicechain.platform.people import importing as people
from servicechain.platform.people.tables import ImportUpload
from tests.api.helpers import on_app_loop
from tests.conftest import ensure_csrf, sign_in, text_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORTS = {"/people/import": ImportUpload, "/customers/import": ScoreUpload}
BOMB = "This workbook unpacks to far more data than a spreadsheet of its size holds"


def workbook(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewrite_sheet(data: bytes, change) -> bytes:
    """The same workbook with its first sheet's XML passed through `change`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            body = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                body = change(body.decode()).encode()
            target.writestr(entry.filename, body)
    return out.getvalue()


def zip_bomb(unpacked_mb: int = 64) -> bytes:
    """A real workbook whose sheet is padded with megabytes of whitespace: a few dozen KB that
    inflate a thousandfold."""
    padding = " " * (unpacked_mb * 1024 * 1024)
    return rewrite_sheet(workbook([["name", "email"], ["Ann", "ann@example.com"]]),
                         lambda xml: xml.replace("<sheetData>", "<sheetData>" + padding, 1))


async def upload(client, path: str, data: bytes, filename: str = "people.xlsx"):
    headers = {"x-csrftoken": await ensure_csrf(client)}
    return await client.post(path + "/", files={"file": (filename, data, XLSX)}, data={"sheet": ""}, headers=headers,
                             follow_redirects=False)


async def stored(client, table) -> int:
    return await on_app_loop(client, table.count().run)


# --- the archive, before openpyxl ---------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_declared_sizes_before_it_is_inflated():
    bomb = zip_bomb()
    assert len(bomb) < 200 * 1024  # small on the wire ...
    assert sum(e.file_size for e in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) > 64 * 1024 * 1024  # ... huge inside
    started = time.process_time()
    with pytest.raises(ImportFileError) as refused:
        iter_table(bomb, "people.xlsx")
    assert BOMB in refused.value.message
    assert time.process_time() - started < 1.0  # refused from the directory, nothing inflated


def test_a_workbook_over_the_unpacked_limit_is_refused_even_at_a_modest_ratio(monkeypatch):
    data = workbook([["name"]] + [[f"person {n}"] for n in range(2000)])
    monkeypatch.setattr(tabular, "MAX_XLSX_UNPACKED", 10_000)
    with pytest.raises(ImportFileError, match="unpacks to far more"):
        read_xlsx(data, None)


def test_a_sheet_claiming_the_whole_grid_is_read_as_the_cells_it_has():
    data = rewrite_sheet(workbook([["name", "email"], ["Ann", "ann@example.com"]]), lambda xml: xml.replace(
        '<dimension ref="A1:B2" />', '<dimension ref="A1:XFD1048576" />').replace(
        "</sheetData>", '<row r="5000"><c r="C5000" t="inlineStr"><is><t>far</t></is></c></row></sheetData>'))
    assert len(data) < 10_000
    rows = read_xlsx(data, None)  # padded to the claim this would be 5000 x 16384 cells
    assert rows[0] == ["name", "email"] and rows[1] == ["Ann", "ann@example.com"]
    assert rows[4999] == ["", "", "far"]
    assert sum(len(r) for r in rows) == 7


def test_a_workbook_with_entity_expansion_is_refused():
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
              + "]>")
    data = rewrite_sheet(workbook([["name"], ["Ann"]]), lambda xml: laughs + xml.split("?>", 1)[-1].replace(
        "<t>Ann</t>", "<t>&lol9;</t>"))
    started = time.process_time()
    with pytest.raises(ImportFileError):
        headers, rows = iter_table(data, "people.xlsx")
        list(rows)
    assert time.process_time() - started < 2.0


# --- through the import pages -------------------------------------------------------------------


@pytest.mark.parametrize("path", list(IMPORTS))
async def test_a_zip_bomb_upload_gets_a_message_and_nothing_is_stored(client, cast, path):
    await sign_in(client, "admin@test.local")
    before = await stored(client, IMPORTS[path])
    response = await upload(client, path, zip_bomb())
    assert response.status_code == 422
    assert BOMB in text_of(response.text)
    assert await stored(client, IMPORTS[path]) == before


@pytest.mark.parametrize("path, limit", [("/people/import", people.MAX_UPLOAD_BYTES),
                                         ("/customers/import", scores.MAX_UPLOAD_BYTES)])
async def test_a_file_over_the_imports_limit_gets_its_message_and_nothing_is_stored(client, cast, path, limit):
    await sign_in(client, "admin@test.local")
    before = await stored(client, IMPORTS[path])
    response = await upload(client, path, b"name,email\n" + b"x" * limit, "people.csv")
    assert response.status_code == 422
    assert f"The file is larger than {limit // (1024 * 1024)} MB" in text_of(response.text)
    assert await stored(client, IMPORTS[path]) == before


@pytest.mark.parametrize("path", ["/people/import/", "/customers/import/", "/login"])
async def test_a_body_over_the_servers_limit_is_refused_with_a_message(client, cast, path):
    from servicechain.platform.app import MAX_UPLOAD_BYTES

    await sign_in(client, "admin@test.local")
    before = [await stored(client, table) for table in IMPORTS.values()]
    headers = {"x-csrftoken": await ensure_csrf(client)}
    response = await client.post(path, files={"file": ("big.csv", b"x" * (MAX_UPLOAD_BYTES + 1), "text/csv")},
                                 headers=headers, follow_redirects=False)
    assert response.status_code == 413
    assert "larger than the server accepts" in text_of(response.text)
    assert response.headers["x-frame-options"] == "DENY"
    assert [await stored(client, table) for table in IMPORTS.values()] == before


async def test_an_api_body_over_the_servers_limit_answers_413_in_the_error_shape(client, cast):
    import uuid

    from servicechain.platform.accounts.service import create_token
    from servicechain.platform.app import MAX_UPLOAD_BYTES

    raw = await on_app_loop(client, create_token, cast.actor("admin"), "big-" + uuid.uuid4().hex[:8], ["scores:write"])
    response = await client.post("/api/v1/customer-scores", content=b"[" + b" " * MAX_UPLOAD_BYTES + b"]",
                                 headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "larger" in response.json()["detail"]


def test_every_upload_form_is_one_of_the_bounded_imports():
    """A new upload form must join IMPORTS (and so these tests) before it ships."""
    from tests.conftest import ROOT

    actions = set()
    for template in (ROOT / "templates").rglob("*.html"):
        for form in re.findall(r"<form\b[^>]*>", template.read_text(encoding="utf-8")):
            if "multipart/form-data" in form:
                action = re.search(r'action="([^"]+)"', form)
                actions.add(action.group(1).rstrip("/") if action else str(template))
    assert actions and actions <= set(IMPORTS), actions
