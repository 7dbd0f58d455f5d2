"""The import wizards' shared steps without HTTP (platform/imports): the mapping, the bounded
upload and its first read, and claiming an upload once. Each import's own rules are tested
with it (tests/people/test_import*.py, tests/customers/test_import*.py)."""

from __future__ import annotations

import pytest

from servicechain.platform import db
from servicechain.platform.imports import wizard
from servicechain.platform.lib.tabular import ImportFileError, iter_table
from servicechain.platform.people.tables import ImportUpload
from servicechain.platform.web import DomainError, FormInvalid

FIELDS = {"email": "Email", "full_name": "Full name", "position": "Position"}
INDEX = wizard.synonym_index({"email": ("e-mail", "эл. почта"), "full_name": ("фио", "name")}, FIELDS)


def test_each_field_goes_to_the_first_column_whose_header_is_one_of_its_spellings():
    headers = ["ФИО", "Эл. почта", "Name", "position", "Notes"]
    assert wizard.guess_mapping(headers, INDEX) == {"ФИО": "full_name", "Эл. почта": "email", "position": "position"}


def test_an_override_moves_a_field_and_a_dash_ignores_a_column():
    mapping = {"ФИО": "full_name", "Эл. почта": "email"}
    assert wizard.override_mapping(mapping, {"Name": "full_name", "Эл. почта": "-"}) == {"Name": "full_name"}
    assert wizard.normalise_mapping({"a": " email ", "b": "ignore", "c": ""}) == {"a": "email"}


def test_a_mapping_names_what_is_wrong_with_it():
    errors = wizard.check_mapping(["A", "B"], {"A": "email", "B": "email", "Z": "salary"}, FIELDS)
    assert "Columns “A” and “B” are both mapped to Email." in errors
    assert "There is no column “Z” in the file." in errors
    assert "“salary” is not a field we import; use one of: email, full_name, position." in errors
    assert wizard.check_mapping(["A"], {"A": "email"}, FIELDS) == []


def test_the_mapping_travels_in_forms_by_column_position_whatever_the_headers_hold():
    headers = ['Имя "в кавычках"', "col-0", "E-mail"]
    mapping = {headers[0]: "full_name", "E-mail": "email"}
    form = wizard.mapping_as_form(headers, mapping)
    assert form == {"col-0": "full_name", "col-1": "", "col-2": "email"}
    assert wizard.mapping_from_form(headers, form) == mapping
    assert wizard.mapping_to_show(headers, form, lambda h: {}) == mapping
    assert wizard.mapping_to_show(headers, {"full": "1"}, lambda h: {"E-mail": "email"}) == {"E-mail": "email"}


def test_a_file_keeps_only_its_own_name():
    assert wizard.clean_filename("C:\\Users\\hr\\Сотрудники.xlsx") == "Сотрудники.xlsx"
    assert wizard.clean_filename("../../etc/passwd") == "passwd"
    assert wizard.clean_filename("  ") == "upload"


async def test_an_empty_too_large_or_unreadable_upload_is_refused_on_its_field():
    with pytest.raises(FormInvalid) as empty:
        await wizard.check_upload(b"", "a.csv", "", max_bytes=100, read=iter_table)
    assert empty.value.errors == {"file": ["Choose a CSV or XLSX file."]}
    with pytest.raises(FormInvalid) as large:
        await wizard.check_upload(b"x" * (3 * 1024 * 1024), "a.csv", "", max_bytes=2 * 1024 * 1024, read=iter_table)
    assert large.value.errors == {"file": ["The file is larger than 2 MB; split it into smaller files."]}

    def no_such_sheet(data, filename, sheet):
        raise ImportFileError(f"There is no sheet {sheet}; the workbook has: Staff.")

    with pytest.raises(FormInvalid) as sheet:
        await wizard.check_upload(b"data", "a.xlsx", "Stuff", max_bytes=100, read=no_such_sheet)
    assert list(sheet.value.errors) == ["sheet"]
    headers, _rows = await wizard.check_upload(b"A;B\n1;2\n", "a.csv", "", max_bytes=100, read=iter_table)
    assert headers == ["A", "B"]


async def test_an_upload_is_claimed_once_and_a_failed_apply_leaves_it_unclaimed(cast):
    token = await wizard.keep_upload(ImportUpload, cast.actor("hr"), "org.csv", b"A\n1\n", "")
    with pytest.raises(RuntimeError):
        async with db.write():
            await wizard.claim_upload(ImportUpload, token)
            raise RuntimeError("the import failed half way")
    async with db.write():
        await wizard.claim_upload(ImportUpload, token)
        await wizard.finish_upload(ImportUpload, token, {"created": 1})
    with pytest.raises(DomainError) as twice:
        async with db.write():
            await wizard.claim_upload(ImportUpload, token)
    assert twice.value.status_code == 409
    row = await ImportUpload.select().where(ImportUpload.token == token).first().run()
    assert wizard.upload_result(row) == {"created": 1} and bytes(row["content"]) == b""
