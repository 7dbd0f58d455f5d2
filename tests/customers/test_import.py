"""The scores import without HTTP: files in both encodings and delimiters, XLSX, the guessed
mapping, dry runs, bad rows, atomicity and re-imports.

Tests that must see a refused import leave nothing behind commit for real (no rollback
fixture): a rolled-back outer transaction would hide whether the import itself rolled back.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from servicechain.platform.customers import importing
from servicechain.platform.customers.importing import ImportFileError, ImportRejected, run_import
from servicechain.platform.customers.tables import CustomerScore, ScoreFollowUp
from servicechain.platform.people.service import today
from servicechain.platform.security import SYSTEM
from servicechain.platform.tables import AuditEntry
from servicechain.platform.web import FormInvalid
from tests.customers import helpers as h


def ru_rows(prefix: str) -> list[list[str]]:
    day = h.recent()
    return [
        h.RU_HEADER,
        [f"{prefix}-1", day.strftime("%d.%m.%Y"), "Телефон", "Служба поддержки / Первая линия", "", "2", "", "HD-77",
         "Долго ждал ответа, оператор грубил"],
        [f"{prefix}-2", day.isoformat(), "чат", "support.line1", "employee@test.local", "5", "10", "", "Спасибо!"],
        [f"{prefix}-3", day.strftime("%d.%m.%Y"), "Курьер", "Склад", "", "хорошо", "", "", ""],
    ]


async def stored(prefix: str) -> list[dict]:
    return await CustomerScore.select().where(CustomerScore.external_id.like(prefix + "-%")).order_by(
        CustomerScore.external_id).run()


def test_the_mapping_is_guessed_from_russian_and_english_headers():
    assert importing.guess_mapping(h.RU_HEADER) == {
        "ID": "external_id", "Дата": "given_on", "Канал": "channel", "Подразделение": "department",
        "Сотрудник": "employee", "Оценка": "csat", "NPS": "nps", "Номер обращения": "case_ref", "Комментарий": "comment"}
    assert set(importing.guess_mapping(h.EN_HEADER).values()) == set(importing.guess_mapping(h.RU_HEADER).values())


def test_a_mapping_without_the_required_fields_is_explained():
    errors = importing.check_mapping(["A", "B"], {"A": "comment", "B": "comment"})
    assert "Columns “A” and “B” are both mapped to Comment." in errors
    assert "Map a column to Date." in errors and "Map a column to CSAT or to NPS." in errors
    assert "Map a column to the department or to the employee." in errors


@pytest.mark.parametrize(("encoding", "delimiter", "bom"), [("utf-8", ",", False), ("utf-8", ";", True),
                                                            ("cp1251", ";", False), ("cp1251", ",", False)])
async def test_files_in_both_encodings_and_delimiters_import_the_same(cast, encoding, delimiter, bom):
    prefix = f"enc-{h.tag()}"
    data = h.csv_bytes(ru_rows(prefix), delimiter=delimiter, encoding=encoding, bom=bom)
    dry = await run_import(SYSTEM, data, filename="scores.csv", dry_run=True)
    assert dry.counts == {"received": 3, "created": 3, "skipped": 0, "follow_ups": 1, "rows": 3} and not dry.applied
    assert await stored(prefix) == []  # a dry run saves nothing
    result = await run_import(SYSTEM, data, filename="scores.csv")
    assert result.applied and result.counts["created"] == 3
    rows = await stored(prefix)
    assert [(r["channel"], r["csat"], r["csat_good"], r["nps"]) for r in rows] == [
        ("phone", 2, None, None), ("chat", 5, None, 10), ("courier", None, True, None)]
    assert rows[0]["comment"] == "Долго ждал ответа, оператор грубил" and rows[0]["case_ref"] == "HD-77"
    assert rows[1]["employee"] == cast.ids["employee"] and rows[1]["department"] == cast.departments["support.line1"]
    assert rows[2]["department"] == cast.departments["warehouse"]
    assert await ScoreFollowUp.count().where(ScoreFollowUp.score == rows[0]["id"]).run() == 1


async def test_an_xlsx_workbook_imports_with_dates_as_dates(cast):
    prefix = f"xlsx-{h.tag()}"
    data = h.xlsx_bytes([h.EN_HEADER, [f"{prefix}-1", h.recent(), "Email", "support", "", 4, 8, 1234, "ok"]])
    result = await run_import(SYSTEM, data, filename="scores.xlsx")
    assert result.counts["created"] == 1
    row = (await stored(prefix))[0]
    assert (row["given_on"], row["channel"], row["csat"], row["nps"], row["case_ref"]) == (
        h.recent(), "email", 4, 8, "1234")


async def test_importing_the_same_file_again_changes_nothing_and_one_audit_entry_each_time(cast):
    prefix = f"again-{h.tag()}"
    data = h.csv_bytes(ru_rows(prefix))
    await run_import(SYSTEM, data, filename="again.csv", source="survey")
    entries = await AuditEntry.count().where(AuditEntry.action == "scores.import").run()
    again = await run_import(SYSTEM, data, filename="again.csv", source="survey")
    assert again.counts == {"received": 3, "created": 0, "skipped": 3, "follow_ups": 0, "rows": 3}
    assert len(await stored(prefix)) == 3
    assert await AuditEntry.count().where(AuditEntry.action == "scores.import").run() == entries + 1
    last = await AuditEntry.select().where(AuditEntry.action == "scores.import").order_by(AuditEntry.seq,
                                                                                           ascending=False).first().run()
    payload = json.loads(last["payload"]) if isinstance(last["payload"], str) else last["payload"]
    assert payload["sha256"] == importing.checksum(data) and payload["skipped"] == 3 and payload["source"] == "survey"


async def test_a_changed_row_under_a_stored_external_id_is_refused_by_row(cast):
    prefix = f"changed-{h.tag()}"
    await run_import(SYSTEM, h.csv_bytes(ru_rows(prefix)), filename="a.csv")
    rows = ru_rows(prefix)
    rows[2][5] = "1"  # the score of row 3 changed
    rows.append([f"{prefix}-4", h.recent().isoformat(), "чат", "support", "", "5", "", "", ""])
    with pytest.raises(ImportRejected) as rejected:
        await run_import(SYSTEM, h.csv_bytes(rows), filename="b.csv")
    assert [str(p) for p in rejected.value.result.problems] == [
        f"Row 3, ID: A score with the external id “{prefix}-2” is already stored with different content."]
    assert len(await stored(prefix)) == 3  # row 4 was not saved either


async def test_bad_rows_are_named_and_nothing_of_the_file_is_saved(cast):
    prefix = f"bad-{h.tag()}"
    day = h.recent().isoformat()
    future = (today() + timedelta(days=3)).isoformat()
    rows = [h.RU_HEADER] + [[f"{prefix}-{i}", day, "чат", "support", "", "5", "", "", ""] for i in range(1, 6)]
    rows += [
        [f"{prefix}-7", day, "чат", "support", "", "7", "", "", ""],  # score out of range
        [f"{prefix}-8", "31.02.2025", "чат", "support", "", "5", "", "", ""],  # unreadable date
        [f"{prefix}-9", day, "чат", "Отдел, которого нет", "", "5", "", "", ""],  # unknown department
        [f"{prefix}-1", day, "чат", "support", "", "4", "", "", ""],  # duplicated external id
        [f"{prefix}-11", future, "чат", "support", "", "5", "", "", ""],  # a date in the future
    ]
    data = h.csv_bytes(rows, delimiter=";")
    with pytest.raises(ImportRejected) as dry:
        await run_import(SYSTEM, data, filename="bad.csv", dry_run=True)
    with pytest.raises(ImportRejected) as real:
        await run_import(SYSTEM, data, filename="bad.csv")
    for rejected in (dry, real):
        assert [str(p) for p in rejected.value.result.problems] == [
            "Row 7, Оценка: CSAT “7” is out of range: give 1 to 5, or good/bad.",
            "Row 8, Дата: “31.02.2025” is not a date we can read (use 31.12.2025 or 2025-12-31).",
            "Row 9, Подразделение: There is no department “Отдел, которого нет”.",
            f"Row 10, ID: The external id “{prefix}-1” is also in row 2.",
            f"Row 11, Дата: The date {future} is outside the possible range.",
        ]
    assert await stored(prefix) == []


async def test_a_file_bigger_than_a_chunk_is_rolled_back_whole_when_its_last_row_is_bad(cast, monkeypatch):
    from servicechain.platform.customers import service

    monkeypatch.setattr(service, "CHUNK", 10)
    prefix = f"atomic-{h.tag()}"
    rows = [h.RU_HEADER] + [[f"{prefix}-{i}", h.recent().isoformat(), "чат", "support", "", "5", "", "", ""]
                            for i in range(1, 40)]
    rows.append([f"{prefix}-last", "вчера", "чат", "support", "", "5", "", "", ""])
    with pytest.raises(ImportRejected):
        await run_import(SYSTEM, h.csv_bytes(rows), filename="atomic.csv")
    assert await stored(prefix) == []


@pytest.mark.parametrize("data", [
    "ID,Дата\r\n1,2025-01-01\r\n".encode("utf-16"),  # UTF-16 with a BOM
    "ID,Дата\r\n1,2025-01-01\r\n".encode("utf-16-le"),  # without one
    "Идентификатор,Дата,Канал\r\nодин,сегодня,Телефон\r\n".encode("koi8-r"),
])
async def test_a_file_in_an_unknown_encoding_is_refused_with_a_clear_message(data):
    with pytest.raises(ImportFileError) as refused:
        await run_import(SYSTEM, data, filename="scores.csv")
    assert refused.value.message == "Unknown encoding: save the file as CSV in UTF-8 or Windows-1251."


async def test_an_unusable_mapping_is_refused_before_reading_rows(cast):
    with pytest.raises(FormInvalid) as invalid:
        await run_import(SYSTEM, h.csv_bytes([["Когда", "Что"], ["1", "2"]]), filename="x.csv")
    assert "Map a column to External id (unique per source)." in invalid.value.errors["__all__"]

