"""The audit log: append-only, hash-chained, redactable.

Each entry's hash covers the previous entry's hash and a hash of its personal content (actor
label, summary, payload). Redacting that content for an erasure request keeps the stored
``payload_hash``, so the chain still verifies; editing any other field, or deleting or
reordering entries, breaks it and :func:`verify` says where.

One entry per change, and one per bulk operation (with counts and a checksum), never one per
row. Pulse answers are never audited: that would link them to people.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from servicechain.platform import db
from servicechain.platform.security import SYSTEM, Actor
from servicechain.platform.tables import AuditEntry, SystemFlag

GENESIS = "0" * 64
REDACTED = "[redacted]"
# PostgreSQL: serialise appends so two transactions never chain onto the same entry.
# (SQLite's BEGIN IMMEDIATE already serialises writers.)
PG_CHAIN_LOCK = 7_305_001
HEAD_FLAG = "audit.head"  # system_flag row holding "<seq>:<entry_hash>" of the newest entry


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot audit a {type(value).__name__}")


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(actor_label: str, summary: str, payload: dict) -> str:
    return sha256(canonical({"actor": actor_label, "summary": summary, "payload": payload}))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *, seq: int, at: datetime, actor_person: int | None, action: str, object_type: str, object_id: str,
    payload_hash: str, prev_hash: str,
) -> str:
    fields = [str(seq), _stamp(at), str(actor_person or ""), action, object_type, object_id, payload_hash, prev_hash]
    return sha256("|".join(fields))


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Only the fields that changed, as {field: [before, after]}."""
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


async def record(
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: Any = "",
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **details: Any,
) -> None:
    """Append one entry. Must run inside the write transaction of the change it records, so
    the change and its record commit or roll back together."""
    if not db.in_transaction():
        raise RuntimeError("audit.record must run inside db.write()")
    payload: dict[str, Any] = dict(details)
    if before is not None or after is not None:
        payload["changes"] = diff(before, after)
    payload = json.loads(canonical(payload))
    if db.engine().engine_type == "postgres":
        await db.fetch("SELECT pg_advisory_xact_lock({})", PG_CHAIN_LOCK)
    # Raw SQL rather than the ORM: an entry is written inside nearly every change (a use of
    # authority, a check-in…) and the ORM's query building cost more than SQLite's work.
    found = await db.fetch("SELECT seq, entry_hash FROM audit_entry ORDER BY seq DESC LIMIT 1")
    last = found[0] if found else None
    seq = (last["seq"] + 1) if last else 1
    prev_hash = last["entry_hash"] if last else GENESIS
    at = datetime.now(UTC)
    label = actor.label
    p_hash = content_hash(label, summary, payload)
    object_id = str(object_id)
    new_hash = entry_hash(
        seq=seq, at=at, actor_person=actor.person_id, action=action, object_type=object_type,
        object_id=object_id, payload_hash=p_hash, prev_hash=prev_hash,
    )
    await db.fetch(
        "INSERT INTO audit_entry (seq, at, actor_person, actor_label, action, object_type, object_id, summary, payload,"
        " payload_hash, prev_hash, entry_hash, redacted) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        seq, at, actor.person_id, label, action, object_type, object_id, summary[:500], canonical(payload),
        p_hash, prev_hash, new_hash, False,
    )
    # The chain alone cannot show that its newest entries were deleted; the head kept
    # beside it can.
    await db.fetch(
        "INSERT INTO system_flag (key, value) VALUES ({}, {}) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        HEAD_FLAG, f"{seq}:{new_hash}",
    )


@dataclass
class Problem:
    seq: int
    message: str


async def verify(batch_size: int = 5000) -> tuple[int, list[Problem]]:
    """Walk the whole chain; returns (entries checked, problems found)."""
    problems: list[Problem] = []
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    last_seq = 0
    while True:
        rows = await AuditEntry.select().where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch_size).run()
        if not rows:
            break
        for row in rows:
            checked += 1
            seq = row["seq"]
            if seq != expected_seq:
                problems.append(Problem(seq, f"entries {expected_seq}..{seq - 1} are missing"))
            if row["prev_hash"] != prev_hash:
                problems.append(Problem(seq, "does not follow the entry before it"))
            payload = row["payload"]
            if isinstance(payload, str):
                payload = json.loads(payload)
            if row["redacted"]:
                # Redaction only ever erases; a "redacted" entry showing content was forged.
                if (row["actor_label"], row["summary"], payload) != (REDACTED, REDACTED, {}):
                    problems.append(Problem(seq, "content was changed after it was redacted"))
            elif content_hash(row["actor_label"], row["summary"], payload) != row["payload_hash"]:
                problems.append(Problem(seq, "content was changed"))
            recomputed = entry_hash(
                seq=seq, at=row["at"], actor_person=row["actor_person"], action=row["action"],
                object_type=row["object_type"], object_id=row["object_id"],
                payload_hash=row["payload_hash"], prev_hash=row["prev_hash"],
            )
            if recomputed != row["entry_hash"]:
                problems.append(Problem(seq, "entry was changed"))
            prev_hash = row["entry_hash"]
            expected_seq = seq + 1
            last_seq = seq
    head = await SystemFlag.select(SystemFlag.value).where(SystemFlag.key == HEAD_FLAG).first().run()
    if head is not None:
        head_seq, _, head_hash = head["value"].partition(":")
        if int(head_seq) > last_seq:
            problems.append(Problem(int(head_seq), f"entries {last_seq + 1}..{head_seq} are missing at the end"))
        elif int(head_seq) == last_seq and head_hash != prev_hash:
            problems.append(Problem(last_seq, "entry was changed"))
    elif checked:
        problems.append(Problem(last_seq, "the record of the newest entry is missing"))
    return checked, problems


async def redact(entry_ids: list[int], actor: Actor = SYSTEM) -> int:
    """Erase the personal content of entries (an erasure request) without breaking the chain.
    The erasure itself is recorded, naming only the entries' sequence numbers."""
    if not entry_ids:
        return 0
    async with db.write():
        rows = await AuditEntry.select(AuditEntry.seq).where(AuditEntry.id.is_in(entry_ids)).run()
        await AuditEntry.update(
            {AuditEntry.actor_label: REDACTED, AuditEntry.summary: REDACTED, AuditEntry.payload: "{}", AuditEntry.redacted: True}
        ).where(AuditEntry.id.is_in(entry_ids)).run()
        seqs = sorted(r["seq"] for r in rows)
        await record(actor, "audit.redact", object_type="audit_entry", entries=seqs, count=len(seqs))
    return len(rows)
