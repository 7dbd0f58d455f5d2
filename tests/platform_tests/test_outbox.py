"""The outbox and the worker: transactional mail, claims that never run a job twice, retries."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from servicechain.platform import db, outbox
from servicechain.platform.config import get_settings
from servicechain.platform.security import utcnow
from servicechain.platform.tables import Job, OutboxMessage, UserSession

RUNS: list[dict] = []


@outbox.job("test.count")
async def count_run(payload: dict) -> None:
    await asyncio.sleep(0.02)  # long enough for a second claimer to try the same row
    RUNS.append(payload)


@outbox.job("test.fail")
async def always_fail(payload: dict) -> None:
    raise RuntimeError("the remote system is down")


@pytest.fixture
async def queues(database_copy):
    """A copy of the test database with empty queues (other tests leave mail and jobs behind)."""
    async with db.write():
        await OutboxMessage.delete().where(OutboxMessage.id > 0).run()
        await Job.delete().where(Job.id > 0).run()
    yield database_copy


@pytest.fixture(autouse=True)
def forget_runs():
    RUNS.clear()
    yield
    RUNS.clear()


async def test_enqueue_needs_the_transaction_of_the_change(database):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        await outbox.enqueue_mail("x@test.local", "s", "b")


async def test_mail_in_a_rolled_back_transaction_is_never_sent(queues):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.write():
            await outbox.enqueue_mail("rolled-back@test.local", "Never", "This change did not happen.")
            raise Boom()
    assert await outbox.deliver_mail() == 0
    assert await OutboxMessage.count().run() == 0


async def test_mail_without_smtp_lands_as_an_eml_file_under_the_data_dir(queues):
    async with db.write():
        await outbox.enqueue_mail("kept@test.local", "Привет", "Тело письма")
    assert await outbox.deliver_mail() == 1
    files = [p for p in (get_settings().data_dir / "mail").glob("*.eml") if "kept@test.local" in p.read_text()]
    assert len(files) == 1
    assert "Subject: =?utf-8?b?" in files[0].read_text()  # Cyrillic subject, encoded
    row = await OutboxMessage.select().first().run()
    assert row["sent_at"] is not None and row["attempts"] == 1
    assert await outbox.deliver_mail() == 0  # sent once only


async def test_failed_mail_is_retried_later(queues, monkeypatch):
    def refuse(*args):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(outbox, "send_mail_sync", refuse)
    async with db.write():
        await outbox.enqueue_mail("retry@test.local", "Later", "Body")
    await outbox.deliver_mail()
    row = await OutboxMessage.select().first().run()
    assert row["sent_at"] is None and "smtp down" in row["last_error"]
    assert row["available_at"] > utcnow() + timedelta(seconds=90)  # 2 minutes after the first failure
    assert await outbox.deliver_mail() == 0  # not due yet


async def test_a_job_runs_once_even_with_two_concurrent_claimers(queues):
    async with db.write():
        for i in range(5):
            await outbox.schedule("test.count", {"n": i})
    done = await asyncio.gather(outbox.run_jobs(), outbox.run_jobs(), outbox.run_jobs())
    assert sum(done) == 5
    assert sorted(r["n"] for r in RUNS) == [0, 1, 2, 3, 4]
    assert await Job.count().where(Job.finished_at.is_null()).run() == 0


async def test_a_failing_job_is_retried_later_with_back_off(queues):
    async with db.write():
        await outbox.schedule("test.fail", {"x": 1})
    assert await outbox.run_jobs() == 1
    row = await Job.select().first().run()
    assert row["finished_at"] is None and row["attempts"] == 1 and row["locked_until"] is None
    assert "the remote system is down" in row["last_error"]
    first_delay = row["run_at"] - utcnow()
    assert timedelta(seconds=90) < first_delay <= timedelta(minutes=2)
    assert await outbox.run_jobs() == 0  # not due yet

    async with db.write():  # time passes
        await Job.update({Job.run_at: utcnow() - timedelta(seconds=1)}).where(Job.id == row["id"]).run()
    assert await outbox.run_jobs() == 1
    row = await Job.select().first().run()
    assert row["attempts"] == 2
    assert timedelta(minutes=3) < row["run_at"] - utcnow() <= timedelta(minutes=4)  # the wait doubles


async def test_a_job_stops_after_too_many_attempts(queues):
    async with db.write():
        await outbox.schedule("test.fail")
        await Job.update({Job.attempts: outbox.MAX_ATTEMPTS}).where(Job.kind == "test.fail").run()
    assert await outbox.run_jobs() == 0


async def test_a_job_of_an_unknown_kind_is_kept_with_its_error(queues):
    async with db.write():
        await outbox.schedule("test.nobody-handles-this")
    await outbox.run_jobs()
    row = await Job.select().first().run()
    assert row["finished_at"] is None and "no handler" in row["last_error"]


async def test_a_claim_left_by_a_dead_worker_lapses(queues):
    async with db.write():
        await outbox.schedule("test.count", {"n": 1})
        await Job.update({Job.locked_until: utcnow() + timedelta(minutes=5)}).where(Job.kind == "test.count").run()
    assert await outbox.run_jobs() == 0
    async with db.write():
        await Job.update({Job.locked_until: utcnow() - timedelta(seconds=1)}).where(Job.kind == "test.count").run()
    assert await outbox.run_jobs() == 1 and RUNS == [{"n": 1}]


async def test_scheduling_the_same_unique_job_twice_keeps_one(queues):
    async with db.write():
        await outbox.schedule("test.count", {"n": 1}, unique_key="once")
        await outbox.schedule("test.count", {"n": 2}, unique_key="once")
    [row] = await Job.select().run()
    payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
    assert payload == {"n": 1}


async def test_housekeeping_is_periodic_and_deletes_expired_sessions(queues, cast):
    now = utcnow()
    async with db.write():
        for name, expires in (("expired", now - timedelta(minutes=1)), ("alive", now + timedelta(days=1))):
            await UserSession.insert(UserSession(token_hash=name, person=cast.ids["employee"], created_at=now,
                                                 last_seen_at=now, expires_at=expires)).run()
    await outbox.ensure_periodic()
    await outbox.ensure_periodic()  # a second worker starting: still one pending run
    assert await Job.count().where((Job.kind == "housekeeping") & Job.finished_at.is_null()).run() == 1
    await outbox.run_jobs()  # other periodic work (e.g. leavers) may run in the same pass
    assert await Job.count().where((Job.kind == "housekeeping") & Job.finished_at.is_not_null()).run() == 1
    hashes = {r["token_hash"] for r in await UserSession.select(UserSession.token_hash).run()}
    assert "expired" not in hashes and "alive" in hashes
    # The next run is scheduled an hour on.
    [pending] = await Job.select().where((Job.kind == "housekeeping") & Job.finished_at.is_null()).run()
    assert timedelta(minutes=59) < pending["run_at"] - utcnow() <= timedelta(hours=1)


@outbox.job("test.frequent", keep_finished=timedelta(hours=1))
async def frequent_run(payload: dict) -> None:
    RUNS.append(payload)


async def test_housekeeping_forgets_old_finished_rows_of_kinds_that_ask_for_it_and_nothing_else(queues):
    now = utcnow()
    async with db.write():
        for key, kind, finished in (("old", "test.frequent", now - timedelta(hours=2)),
                                    ("recent", "test.frequent", now - timedelta(minutes=10)),
                                    ("pending", "test.frequent", None),
                                    ("other kind", "test.count", now - timedelta(days=3))):
            await Job.insert(Job(kind=kind, payload="{}", run_at=now - timedelta(hours=3), unique_key=key,
                                 attempts=1, last_error="", finished_at=finished)).run()
    await outbox.housekeeping({})
    assert {r["unique_key"] for r in await Job.select(Job.unique_key).run()} == {"recent", "pending", "other kind"}


async def test_run_jobs_of_some_kinds_leaves_the_others_due(queues):
    async with db.write():
        await outbox.schedule("test.count", {"n": 1})
        await outbox.schedule("test.frequent", {"n": 2})
    assert await outbox.run_jobs(kinds=("test.frequent",)) == 1
    assert RUNS == [{"n": 2}]
    assert await Job.count().where((Job.kind == "test.count") & Job.finished_at.is_null()).run() == 1
    assert await outbox.run_jobs() == 1 and RUNS == [{"n": 2}, {"n": 1}]


async def test_worker_loop_stops_when_asked(queues, monkeypatch):
    # Only this test's job: the periodic ones (the nightly analytics refresh waits for the internal
    # service figures of its month) would run in the same claimed batch and make this a test of them.
    monkeypatch.setattr(outbox, "PERIODIC", {})
    async with db.write():
        await outbox.schedule("test.count", {"n": 7})
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run_worker(stop, poll_seconds=0.05))
    for _ in range(100):
        if RUNS:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert RUNS == [{"n": 7}]


def test_the_worker_knows_every_scheduled_job_kind():
    from servicechain.platform.outbox import JOB_HANDLERS, PERIODIC, load_job_modules

    load_job_modules()
    assert {"housekeeping", "accounts.password_reset", "people.deactivate_leavers"} <= set(JOB_HANDLERS)
    assert set(PERIODIC) <= set(JOB_HANDLERS)


STOP = asyncio.Event()


@outbox.job("test.stop_asked")
async def stop_asked(payload: dict) -> None:
    RUNS.append(payload)
    STOP.set()  # the worker is told to stop while this job runs


async def test_a_stopped_worker_hands_back_the_rest_of_its_batch_unrun(queues):
    async with db.write():
        await outbox.schedule("test.stop_asked", {"n": 1}, run_at=utcnow() - timedelta(seconds=2))
        await outbox.schedule("test.count", {"n": 2}, run_at=utcnow() - timedelta(seconds=1))
    STOP.clear()
    assert await outbox.run_jobs(stop=STOP) == 1  # both claimed in one batch, only the first run
    assert RUNS == [{"n": 1}]
    handed_back = await Job.select().where(Job.kind == "test.count").first().run()
    assert handed_back["finished_at"] is None and handed_back["locked_until"] is None
    assert handed_back["attempts"] == 0  # being stopped is not a failed attempt
    # Free at once for the next worker, without waiting for the claim to expire.
    assert await outbox.run_jobs() == 1 and RUNS == [{"n": 1}, {"n": 2}]


async def test_a_claim_that_lapsed_is_not_handed_back_for_another_worker_holds_it_now(queues):
    async with db.write():
        await outbox.schedule("test.count", {"n": 3}, run_at=utcnow() - timedelta(seconds=1))
    [mine] = await outbox._claim("job", "run_at", "finished_at", 1)
    async with db.write():  # our claim lapsed (a long job in hand) and another worker claimed the row
        await db.fetch("UPDATE job SET locked_until = {} WHERE id = {}", utcnow() - timedelta(seconds=1), mine["id"])
    [theirs] = await outbox._claim("job", "run_at", "finished_at", 1)
    assert theirs["id"] == mine["id"] and theirs["attempts"] == 2
    await outbox._release([mine])
    row = await Job.select().where(Job.id == mine["id"]).first().run()
    assert row["locked_until"] is not None and row["attempts"] == 2, "left as the other worker's claim"
    await outbox._release([theirs])  # the other worker's own hand-back still works
    row = await Job.select().where(Job.id == mine["id"]).first().run()
    assert row["locked_until"] is None and row["attempts"] == 1


async def test_the_worker_claims_one_job_at_a_time(queues, monkeypatch):
    monkeypatch.setattr(outbox, "PERIODIC", {})
    async with db.write():
        for n in range(3):
            await outbox.schedule("test.count", {"n": n}, run_at=utcnow() - timedelta(seconds=3 - n))
    assert await outbox.work_once() == 1
    pending = await Job.select().where((Job.kind == "test.count") & Job.finished_at.is_null()).run()
    assert len(pending) == 2 and all(r["locked_until"] is None for r in pending), "the others not claimed behind it"
