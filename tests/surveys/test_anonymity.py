"""The database itself cannot join an answer to a person.

These tests read the schema and the rows as someone with read access to the tables would:
columns, foreign keys and indexes of the answer tables, the types of every time column, the
physical order rows come back in (SQLite's rowid, PostgreSQL's ctid), PostgreSQL's transaction
ids (xmin), the sealed buffer, the audit log and the application's log. They commit their data
(no rolled-back transaction), because transaction ids and row order only mean something for
committed rows.
"""

from __future__ import annotations

import logging
import uuid

import pytest

from servicechain.platform import db
from servicechain.platform.surveys import service
from servicechain.platform.tables import AuditEntry
from tests.surveys.helpers import actor, answer_all, answer_data, company, launch

ANSWER_TABLES = ("pulse_answer", "pulse_sealed_answer", "pulse_summary")
EXPECTED_COLUMNS = {
    "pulse_answer": {"id", "pulse", "department", "scores", "enps", "comment"},
    "pulse_sealed_answer": {"id", "pulse", "sealed"},
    "pulse_summary": {"id", "pulse", "department", "n", "items", "enps"},
    "pulse_department": {"id", "pulse", "source", "parent", "name_en", "name_ru", "path", "depth"},
}


async def _columns(table: str) -> dict[str, str]:
    if db.is_sqlite():
        return {r["name"]: r["type"].lower() for r in await db.fetch(f"PRAGMA table_info({table})")}
    rows = await db.fetch("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = {}", table)
    return {r["column_name"]: r["data_type"].lower() for r in rows}


async def _foreign_keys(table: str) -> dict[str, str]:
    """column → referenced table."""
    if db.is_sqlite():
        return {r["from"]: r["table"] for r in await db.fetch(f"PRAGMA foreign_key_list({table})")}
    rows = await db.fetch(
        "SELECT kcu.column_name, ccu.table_name AS target FROM information_schema.table_constraints tc"
        " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name"
        " JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name"
        " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = {}", table)
    return {r["column_name"]: r["target"] for r in rows}


async def _indexed_columns(table: str) -> set[str]:
    if db.is_sqlite():
        found = set()
        for index in await db.fetch(f"PRAGMA index_list({table})"):
            found |= {r["name"] for r in await db.fetch(f"PRAGMA index_info('{index['name']}')")}
        return found
    rows = await db.fetch(
        "SELECT a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) WHERE t.relname = {}", table)
    return {r["attname"] for r in rows}


async def test_answer_tables_hold_no_person_and_no_time(database):
    for table, expected in EXPECTED_COLUMNS.items():
        assert set(await _columns(table)) == expected, table
    for table in (*ANSWER_TABLES, "pulse_participant"):
        for column, kind in (await _columns(table)).items():
            assert "time" not in kind, f"{table}.{column} is {kind}: nothing finer than the day is kept"
    # The participant list says who was asked and whether they answered, and when they were
    # last reminded, as a day: no moment that could be lined up with anything else.
    assert (await _columns("pulse_participant"))["reminded_on"] in ("date",)


async def test_no_foreign_key_path_leads_from_an_answer_to_the_person_who_gave_it(database):
    """Follow every foreign key from the answer tables: the only people reachable are the HR
    members who launched the pulse and made its template (``created_by``), the same for every
    answer of the pulse.
    ``pulse_participant`` is not reachable: it shares the pulse with the answers, which joins
    every participant to every answer alike."""
    reached: set[tuple[str, str]] = set()
    todo = list(ANSWER_TABLES)
    seen = set()
    while todo:
        table = todo.pop()
        if table in seen:
            continue
        seen.add(table)
        for column, target in (await _foreign_keys(table)).items():
            reached.add((table, column))
            if target == "person":
                assert (table, column) in {("pulse", "created_by"), ("survey_template", "created_by")}, \
                    f"{table}.{column} points at a person"
                continue
            todo.append(target)
    assert "pulse_participant" not in seen
    assert await _foreign_keys("pulse_answer") == {"pulse": "pulse", "department": "pulse_department"}
    assert await _foreign_keys("pulse_sealed_answer") == {"pulse": "pulse"}
    assert "person" not in (await _foreign_keys("pulse_department")).values()
    for table in ANSWER_TABLES:
        assert await _indexed_columns(table) <= {"id", "pulse", "department"}, table


async def _answered_pulse(cast, size: int = 20) -> tuple[int, list[int]]:
    org = await company({"a": size})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    staff = org["people"]["a"]
    for i, person in enumerate(staff):  # each answer is told apart by its comment
        await service.submit_answer(actor(person), pulse_id, answer_data(score=1 + i % 5, enps=i % 11, comment=f"answer {i:02d}"))
    return pulse_id, staff


async def test_sealed_answers_are_unreadable_and_all_the_same_length(cast):
    pulse_id, _staff = await _answered_pulse(cast, 6)
    rows = await db.fetch("SELECT id, sealed FROM pulse_sealed_answer WHERE pulse = {}", pulse_id)
    assert len(rows) == 6 and len({len(r["sealed"]) for r in rows}) == 1
    for r in rows:
        assert "answer" not in r["sealed"]
        assert uuid.UUID(str(r["id"])).version == 4
    await service.close_pulse(pulse_id)
    assert await db.fetch("SELECT id FROM pulse_sealed_answer WHERE pulse = {}", pulse_id) == []


async def test_row_order_does_not_follow_answer_order(cast):
    pulse_id, _staff = await _answered_pulse(cast, 20)
    await service.close_pulse(pulse_id)
    physical = "rowid" if db.is_sqlite() else "ctid"
    rows = await db.fetch(f"SELECT id, comment FROM pulse_answer WHERE pulse = {{}} ORDER BY {physical}", pulse_id)
    order = [int(r["comment"].split()[1]) for r in rows]
    assert sorted(order) == list(range(20))
    # 20 answers in the order given (or its reverse) by chance: 2 in 20!, about 1e-18.
    assert order != list(range(20)) and order != list(reversed(range(20)))
    ids = [uuid.UUID(str(r["id"])) for r in rows]
    assert all(i.version == 4 for i in ids)
    by_id = [int(r["comment"].split()[1]) for r in sorted(rows, key=lambda r: str(r["id"]))]
    assert by_id != list(range(20))


@pytest.mark.postgres_only
async def test_transaction_ids_do_not_join_answers_to_participants(cast):
    pulse_id, _staff = await _answered_pulse(cast, 8)
    await service.close_pulse(pulse_id)
    answers = {r["x"] for r in await db.fetch("SELECT xmin::text AS x FROM pulse_answer WHERE pulse = {}", pulse_id)}
    participants = {r["x"] for r in await db.fetch("SELECT xmin::text AS x FROM pulse_participant WHERE pulse = {} AND answered",
                                                   pulse_id)}
    assert len(answers) == 1, "every answer of a pulse is written by the one closing transaction"
    assert not answers & participants


async def test_answering_writes_nothing_to_the_audit_log_or_the_log(cast, caplog):
    org = await company({"a": 6})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["a"]])
    before = await AuditEntry.count().run()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        await answer_all(pulse_id, org["people"]["a"])
    assert await AuditEntry.count().run() == before
    assert [r for r in caplog.records if r.name.startswith("servicechain")] == []
    await service.close_pulse(pulse_id)
    entry = (await db.fetch("SELECT payload, actor_label, summary FROM audit_entry WHERE object_type = {} AND object_id = {}"
                            " AND action = {}", "pulse", str(pulse_id), "pulse.closed"))[0]
    for person in org["people"]["a"]:
        assert f"#{person}" not in entry["actor_label"] + entry["summary"] + str(entry["payload"])


async def test_a_small_department_is_never_named_by_a_published_answer(cast):
    org = await company({"root": 5, "a": 6, "b": 1})
    pulse_id = await launch(cast.actor("hr"), [org["departments"]["root"]])
    for name in ("root", "a", "b"):
        await answer_all(pulse_id, org["people"][name])
    await service.close_pulse(pulse_id)
    named = await db.fetch("SELECT pd.source, COUNT(*) AS n FROM pulse_answer a JOIN pulse_department pd ON pd.id = a.department"
                           " WHERE a.pulse = {} GROUP BY pd.source", pulse_id)
    counts = {r["source"]: r["n"] for r in named}
    assert org["departments"]["b"] not in counts  # its one answer is published under the root
    assert all(n >= 5 for n in counts.values())
    assert sum(counts.values()) == 12
