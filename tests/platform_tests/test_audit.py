"""The audit chain: appends, verification, tampering, redaction, concurrency, the web log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from servicechain.platform import audit, db
from servicechain.platform.tables import AuditEntry, SystemFlag
from tests.conftest import ROOT, text_of


async def record_some(cast, n: int = 3) -> list[int]:
    async with db.write():
        for i in range(n):
            await audit.record(cast.actor("hr"), "test.thing", object_type="thing", object_id=i, summary=f"Вещь {i}",
                               before={"name": "старое"}, after={"name": f"новое {i}"}, note="детали")
    rows = await AuditEntry.select(AuditEntry.id).order_by(AuditEntry.seq, ascending=False).limit(n).run()
    return sorted(r["id"] for r in rows)


async def test_record_refuses_to_run_outside_a_write_transaction(cast):
    with pytest.raises(RuntimeError, match="inside db.write"):
        await audit.record(cast.actor("hr"), "test.thing")


async def test_entries_hold_before_and_after_of_changed_fields_only(cast, rollback):
    await audit.record(cast.actor("hr"), "test.thing", object_type="thing", object_id=7,
                       before={"a": 1, "b": "x"}, after={"a": 2, "b": "x"}, count=3)
    entry = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    payload = json.loads(entry["payload"]) if isinstance(entry["payload"], str) else entry["payload"]
    assert payload == {"changes": {"a": [1, 2]}, "count": 3}
    assert (entry["actor_person"], entry["object_id"]) == (cast.ids["hr"], "7")


async def test_verify_passes_on_an_intact_chain(cast, rollback):
    await record_some(cast)
    checked, problems = await audit.verify(batch_size=2)  # several batches
    assert checked >= 3 and problems == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({AuditEntry.action: "test.other"}, "entry was changed"),
        ({AuditEntry.object_id: "99"}, "entry was changed"),
        ({AuditEntry.summary: "Подделка"}, "content was changed"),
        ({AuditEntry.payload: '{"note":"подделка"}'}, "content was changed"),
        ({AuditEntry.actor_label: "Someone else"}, "content was changed"),
        # Marking an entry as redacted must not let its content be rewritten.
        ({AuditEntry.redacted: True, AuditEntry.summary: "Подделка"}, "content was changed after it was redacted"),
    ],
)
async def test_verify_names_an_edited_entry(cast, rollback, change, message):
    ids = await record_some(cast)
    await AuditEntry.update(change).where(AuditEntry.id == ids[1]).run()
    seq = (await AuditEntry.select(AuditEntry.seq).where(AuditEntry.id == ids[1]).first().run())["seq"]
    _, problems = await audit.verify()
    assert [(p.seq, p.message) for p in problems] == [(seq, message)]


async def test_verify_finds_a_deleted_entry(cast, rollback):
    ids = await record_some(cast)
    seq = (await AuditEntry.select(AuditEntry.seq).where(AuditEntry.id == ids[1]).first().run())["seq"]
    await AuditEntry.delete().where(AuditEntry.id == ids[1]).run()
    _, problems = await audit.verify()
    assert (seq + 1, f"entries {seq}..{seq} are missing") in [(p.seq, p.message) for p in problems]


async def test_verify_finds_deleted_newest_entries(cast, rollback):
    ids = await record_some(cast)
    last = (await AuditEntry.select(AuditEntry.seq).where(AuditEntry.id == ids[-1]).first().run())["seq"]
    await AuditEntry.delete().where(AuditEntry.id.is_in(ids[1:])).run()
    _, problems = await audit.verify()
    assert [(p.seq, p.message) for p in problems] == [(last, f"entries {last - 1}..{last} are missing at the end")]


async def test_redaction_erases_content_and_keeps_the_chain_valid(cast, rollback):
    ids = await record_some(cast)
    assert await audit.redact(ids[:2], cast.actor("admin")) == 2
    rows = await AuditEntry.select().where(AuditEntry.id.is_in(ids[:2])).run()
    for row in rows:
        payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
        assert (row["actor_label"], row["summary"], payload, row["redacted"]) == ("[redacted]", "[redacted]", {}, True)
    checked, problems = await audit.verify()
    assert problems == []
    erasure = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    assert erasure["action"] == "audit.redact"
    assert "Вещь" not in erasure["payload"] and "новое" not in erasure["payload"]


@pytest.mark.postgres_only
async def test_concurrent_appends_on_postgresql_keep_one_unbroken_chain(database_copy, cast):
    async def append(i: int) -> None:
        async with db.write():
            await audit.record(cast.actor("hr"), "test.concurrent", object_id=i)
            await asyncio.sleep(0.01)  # hold the transaction open while others wait

    await asyncio.gather(*(append(i) for i in range(12)))
    seqs = [r["seq"] for r in await AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq).run()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert await AuditEntry.count().where(AuditEntry.action == "test.concurrent").run() == 12
    assert (await audit.verify())[1] == []


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "servicechain.platform.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_cli_verify_exits_1_and_names_the_tampered_entry(database_copy, cast):
    ids = await record_some(cast)
    ok = run_cli(database_copy, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "Audit log intact" in ok.stdout

    async with db.write():
        await AuditEntry.update({AuditEntry.payload: '{"note":"подделка"}'}).where(AuditEntry.id == ids[0]).run()
        row = await AuditEntry.select(AuditEntry.seq).where(AuditEntry.id == ids[0]).first().run()
    bad = run_cli(database_copy, "audit", "verify")
    assert bad.returncode == 1
    assert f"entry {row['seq']}: content was changed" in bad.stderr


async def test_cli_verify_finds_a_deleted_entry(database_copy, cast):
    ids = await record_some(cast)
    async with db.write():
        row = await AuditEntry.select(AuditEntry.seq).where(AuditEntry.id == ids[1]).first().run()
        await AuditEntry.delete().where(AuditEntry.id == ids[1]).run()
    bad = run_cli(database_copy, "audit", "verify")
    assert bad.returncode == 1
    assert f"entries {row['seq']}..{row['seq']} are missing" in bad.stderr


async def test_the_newest_entry_is_recorded_beside_the_chain(cast, rollback):
    await record_some(cast, 1)
    newest = await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first().run()
    head = await SystemFlag.select().where(SystemFlag.key == audit.HEAD_FLAG).first().run()
    assert head["value"] == f"{newest['seq']}:{newest['entry_hash']}"


async def test_hr_filters_the_log_in_the_web(client, cast, as_user):
    await record_some(cast, 1)
    await as_user("hr")
    response = await client.get("/audit/", params={"action": "test."})
    assert response.status_code == 200
    page = text_of(response.text)
    assert "test.thing" in page
    response = await client.get("/audit/", params={"action": "person."})
    assert response.status_code == 200
    assert "test.thing" not in text_of(response.text)
    response = await client.get("/audit/", params={"action": "test.", "since": "32.13.2025"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Write the date as 31.12.2025 or 2025-12-31." in text_of(response.text)


async def test_employee_gets_403_on_the_audit_log(client, as_user):
    await as_user("employee")
    assert (await client.get("/audit/")).status_code == 403


async def test_audit_date_filter_uses_the_company_day(client, cast, as_user):
    """An entry written at 23:30 UTC on 1 March is 2 March in Moscow: it belongs to 2 March."""
    from datetime import UTC, datetime

    from servicechain.platform import audit as audit_log
    from servicechain.platform import db as database
    from servicechain.platform.tables import AuditEntry

    async with database.write():
        await audit_log.record(cast.actor("hr"), "test.tz_probe", object_type="probe", object_id="tz")
        original = (await AuditEntry.select(AuditEntry.at).where(AuditEntry.action == "test.tz_probe").first().run())["at"]
        await AuditEntry.update({AuditEntry.at: datetime(2025, 3, 1, 23, 30, tzinfo=UTC)}).where(AuditEntry.action == "test.tz_probe").run()
    try:
        await as_user("hr")
        on_second = await client.get("/audit/?action=test.tz_probe&since=02.03.2025&until=02.03.2025")
        on_first = await client.get("/audit/?action=test.tz_probe&since=01.03.2025&until=01.03.2025")
    finally:  # put the stamp back so the shared chain still verifies for other tests
        async with database.write():
            await AuditEntry.update({AuditEntry.at: original}).where(AuditEntry.action == "test.tz_probe").run()
    assert "test.tz_probe" in on_second.text
    assert "test.tz_probe" not in on_first.text.split("<tbody>", 1)[-1]
