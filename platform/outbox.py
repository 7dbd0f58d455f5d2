"""Background work kept in the database, never in a worker's memory.

Mail goes into ``outbox_message`` in the same transaction as the change that caused it (a
transactional outbox), and scheduled work into ``job``. ``servicechain worker`` (or ``serve``
for the demo) claims rows by moving ``locked_until`` forward in a short write transaction; a
worker that dies simply lets its claim lapse, and several workers never take the same row.

Why not a queue library: procrastinate is PostgreSQL-only; huey's SQL storage needs peewee
and its own connection, so enqueueing could not share our transaction (and on SQLite would
wait on our own write lock); APScheduler 4 is still a pre-release. The claim below is a few
lines of SQL that behave the same on both engines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from servicechain.platform import db
from servicechain.platform.config import get_settings
from servicechain.platform.tables import Job, Notification, OutboxMessage

log = logging.getLogger("servicechain.worker")

CLAIM_FOR = timedelta(minutes=5)
MAX_ATTEMPTS = 8
JobHandler = Callable[[dict[str, Any]], Awaitable[None]]
JOB_HANDLERS: dict[str, JobHandler] = {}
# Periodic work: kind -> interval. Each run schedules the next with a unique key.
PERIODIC: dict[str, timedelta] = {}
# Kinds whose finished rows nothing reads again: kind -> how long housekeeping keeps them.
KEEP_FINISHED: dict[str, timedelta] = {}
PERIODIC_LOCK = 7_305_002


def now() -> datetime:
    return datetime.now(UTC)


def job(kind: str, every: timedelta | None = None, keep_finished: timedelta | None = None):
    """Register a job handler, optionally repeating; with ``keep_finished``, housekeeping deletes
    the kind's finished rows once they are that old (for frequent jobs nobody looks back at)."""

    def register(fn: JobHandler) -> JobHandler:
        JOB_HANDLERS[kind] = fn
        if every is not None:
            PERIODIC[kind] = every
        if keep_finished is not None:
            KEEP_FINISHED[kind] = keep_finished
        return fn

    return register


async def enqueue_mail(to_email: str, subject: str, body: str) -> None:
    if not db.in_transaction():
        raise RuntimeError("enqueue_mail must run inside the transaction of the change")
    at = now()
    await OutboxMessage.insert(OutboxMessage(to_email=to_email, subject=subject, body=body, created_at=at, available_at=at)).run()


async def notify(person_id: int, text: str, link: str = "") -> None:
    await Notification.insert(Notification(person=person_id, text=text[:500], link=link, created_at=now())).run()


async def schedule(kind: str, payload: dict[str, Any] | None = None, *, run_at: datetime | None = None, unique_key: str | None = None) -> None:
    # ON CONFLICT rather than a check first: two workers scheduling the same run at once
    # (PostgreSQL) must collapse into one row, not fail on the unique key.
    await db.fetch(
        "INSERT INTO job (kind, payload, run_at, unique_key, attempts, last_error) VALUES ({}, {}, {}, {}, 0, '')"
        " ON CONFLICT (unique_key) DO NOTHING",
        kind, json.dumps(payload or {}), run_at or now(), unique_key,
    )


# --- claiming --------------------------------------------------------------------------------


async def _claim(table: str, due_column: str, done_column: str, limit: int,
                 kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Mark up to `limit` due rows (of `kinds` only, when given) as ours for CLAIM_FOR and return them."""
    at = now()
    of_kinds = f" AND kind IN ({db.placeholders(len(kinds))})" if kinds else ""
    # SQLite's write transaction already keeps other claimers out; PostgreSQL's skip the rows we lock.
    skip_locked = "" if db.is_sqlite() else " FOR UPDATE SKIP LOCKED"
    async with db.write():
        rows = await db.fetch(
            f"SELECT id FROM {table} WHERE {done_column} IS NULL AND {due_column} <= {{}}"
            f" AND (locked_until IS NULL OR locked_until < {{}}) AND attempts < {{}}{of_kinds}"
            f" ORDER BY {due_column} LIMIT {limit}{skip_locked}",
            at, at, MAX_ATTEMPTS, *kinds,
        )
        ids = [r["id"] for r in rows]
        if not ids:
            return []
        await db.fetch(
            f"UPDATE {table} SET locked_until = {{}}, attempts = attempts + 1 WHERE id IN ({db.placeholders(len(ids))})",
            at + CLAIM_FOR, *ids,
        )
        return await db.fetch(f"SELECT * FROM {table} WHERE id IN ({db.placeholders(len(ids))})", *ids)


def send_mail_sync(to_email: str, subject: str, body: str) -> None:
    settings = get_settings()
    message = EmailMessage()
    message["From"] = "servicechain <no-reply@servicechain.local>"
    message["To"] = to_email
    message["Subject"] = subject
    message.set_content(body)
    if not settings.smtp_url:
        # No mail server configured (development, demo): keep the mail where a developer finds it.
        folder = Path(settings.data_dir) / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = now().strftime("%Y%m%dT%H%M%S%f")
        (folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml").write_bytes(bytes(message))
        return
    url = urlparse(settings.smtp_url)
    port = url.port or (465 if url.scheme == "smtps" else 25)
    if url.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(url.hostname or "localhost", port, context=ssl.create_default_context(), timeout=30)
    else:
        server = smtplib.SMTP(url.hostname or "localhost", port, timeout=30)
        if url.scheme == "smtp+starttls":
            server.starttls(context=ssl.create_default_context())
    with server:
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(message)


async def deliver_mail(limit: int = 20) -> int:
    rows = await _claim("outbox_message", "available_at", "sent_at", limit)
    for row in rows:
        try:
            await asyncio.to_thread(send_mail_sync, row["to_email"], row["subject"], row["body"])
        except Exception as exc:  # the message stays queued; it is retried with back-off
            log.warning("mail to %s failed: %s", row["to_email"], exc)
            async with db.write():
                await OutboxMessage.update(
                    {OutboxMessage.last_error: str(exc)[:2000], OutboxMessage.locked_until: None,
                     OutboxMessage.available_at: now() + timedelta(minutes=2 ** row["attempts"])}
                ).where(OutboxMessage.id == row["id"]).run()
            continue
        async with db.write():
            await OutboxMessage.update({OutboxMessage.sent_at: now(), OutboxMessage.locked_until: None}).where(OutboxMessage.id == row["id"]).run()
    return len(rows)


async def run_jobs(limit: int = 10, kinds: tuple[str, ...] = (), stop: asyncio.Event | None = None) -> int:
    """Run up to ``limit`` due jobs (of ``kinds`` only, when given: a caller that needs one
    kind's work done now runs it through the same claim, so it still runs once). Once ``stop``
    is set, the jobs of the batch not yet started are handed back at once, not run: a worker
    being stopped (an upgrade restarts it) finishes the job in hand only, and another worker
    need not wait for the claims to expire."""
    rows = await _claim("job", "run_at", "finished_at", limit, kinds)
    for index, row in enumerate(rows):
        if stop is not None and stop.is_set():
            await _release(rows[index:])
            return index
        handler = JOB_HANDLERS.get(row["kind"])
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"] or "{}")
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {row['kind']!r}")
            await handler(payload)
        except Exception as exc:
            log.exception("job %s failed", row["kind"])
            async with db.write():
                await Job.update({Job.last_error: str(exc)[:2000], Job.locked_until: None,
                                  Job.run_at: now() + timedelta(minutes=2 ** row["attempts"])}).where(Job.id == row["id"]).run()
            continue
        async with db.write():
            await Job.update({Job.finished_at: now(), Job.locked_until: None}).where(Job.id == row["id"]).run()
            if row["kind"] in PERIODIC:
                await _schedule_next(row["kind"], now() + PERIODIC[row["kind"]])
    return len(rows)


async def _release(claimed: list[dict[str, Any]]) -> None:
    """Hand claimed jobs back unrun: free now, and the claim not counted as an attempt. Only
    where the claim is still ours (the row's lock is the one we set): once ours lapsed (a long
    job in hand) another worker may have claimed the row and be running it."""
    async with db.write():
        for row in claimed:
            await db.fetch("UPDATE job SET locked_until = NULL, attempts = attempts - 1"
                           " WHERE id = {} AND locked_until = {} AND finished_at IS NULL", row["id"], row["locked_until"])


async def _schedule_next(kind: str, at: datetime) -> None:
    # The unique key makes two workers scheduling the same next run collapse into one row.
    await schedule(kind, run_at=at, unique_key=f"{kind}@{at.replace(second=0, microsecond=0).isoformat()}")


async def ensure_periodic() -> None:
    async with db.write():
        if not db.is_sqlite():  # two workers starting together must not both schedule a chain
            await db.fetch("SELECT pg_advisory_xact_lock({})", PERIODIC_LOCK)
        for kind, every in PERIODIC.items():
            pending = await Job.exists().where((Job.kind == kind) & Job.finished_at.is_null()).run()
            if not pending:
                await _schedule_next(kind, now())


@job("housekeeping", every=timedelta(hours=1))
async def housekeeping(_: dict[str, Any]) -> None:
    """Forget expired sessions, old failed sign-ins, used links and the finished rows of the job
    kinds registered with ``keep_finished``."""
    from servicechain.platform.tables import LoginAttempt, OneTimeLink, UserSession

    at = now()
    async with db.write():
        await UserSession.delete().where(UserSession.expires_at < at).run()
        await LoginAttempt.delete().where(LoginAttempt.at < at - timedelta(days=1)).run()
        await OneTimeLink.delete().where(OneTimeLink.expires_at < at - timedelta(days=30)).run()
        for kind, keep in KEEP_FINISHED.items():
            await Job.delete().where((Job.kind == kind) & Job.finished_at.is_not_null() & (Job.finished_at < at - keep)).run()


async def work_once(stop: asyncio.Event | None = None) -> int:
    # One job per claim: a job claimed behind a long one in the same batch would wait unrun under
    # our claim, and a job that waits for another (the analytics refresh waits for the internal
    # service figures) could wait for one we hold ourselves until the claim lapses.
    return await deliver_mail() + await run_jobs(limit=1, stop=stop)


# Modules whose @job handlers the worker must know; a domain with scheduled work adds its own.
JOB_MODULES = [
    "servicechain.platform.accounts.service",
    "servicechain.platform.people.jobs",
    "servicechain.platform.customers.jobs",
    "servicechain.platform.surveys.jobs",
    "servicechain.platform.reports.jobs",
    "servicechain.platform.analytics.jobs",
    "servicechain.internal_service.jobs",
]


def load_job_modules() -> None:
    import importlib

    for name in JOB_MODULES:
        importlib.import_module(name)


async def run_worker(stop: asyncio.Event, poll_seconds: float = 2.0) -> None:
    load_job_modules()
    await ensure_periodic()
    while not stop.is_set():
        try:
            done = await work_once(stop)
        except Exception:
            log.exception("worker cycle failed; retrying")
            done = 0
        if not done:
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
            except asyncio.TimeoutError:
                pass
