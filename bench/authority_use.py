"""Recording a use of delegated authority with 200,000 uses already recorded.

For each engine: an empty migrated database; 500 agents under ten team leads under one root
grant (CEO), made through the service; 200,000 uses over two years bulk-loaded with their
running totals; then 300 uses recorded one after another through ``service.record_use`` with a
request id each, as the JSON API does (chain locked, every budget and per-case limit up the chain
checked, the use, the totals and the audit entry written in one transaction).
Target: p95 ≤ 20 ms. Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, empty_database  # noqa: E402

TARGET_MS = 20
AGENTS, LEADS = 500, 10


async def inner(existing: int, samples: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from servicechain.goals.authority import service
    from servicechain.goals.authority.service import period_start
    from servicechain.platform import db
    from servicechain.platform.people.tables import Person
    from servicechain.platform.security import Actor

    await db.start()
    now = datetime.now(UTC)
    async with db.write():
        people = [(i, f"Bench Person {i}", f"B-{i:05d}", f"bench{i}@example.com", "executive" if i == 1 else "manager" if i <= 1 + LEADS else "employee",
                   1 if 1 < i <= 1 + LEADS else (2 + (i % LEADS) if i > 1 + LEADS else None), True, now, now)
                  for i in range(1, 2 + LEADS + AGENTS)]
        await db.bulk_insert("person", ("id", "full_name", "employee_number", "email", "role", "manager", "active", "created_at", "updated_at"), people)
        await db.reset_sequence("person")
    admin = Actor(kind="person", person_id=1, role="admin", name="bench admin")
    ceo = Actor(kind="person", person_id=1, role="executive", name="bench ceo")
    scope_id = await service.create_scope(admin, {"code": "compensation", "name_en": "compensate a customer",
                                                 "name_ru": "компенсировать клиенту", "kind": "money", "unit": "", "unit_ru": ""})
    today = service.today()
    start = today - timedelta(days=800)
    base = {"period": "month", "valid_from": start, "valid_until": today + timedelta(days=365), "goal_id": None, "note": ""}
    root = await service.create_grant(admin, {**base, "grantee_id": 1, "parent_id": None, "scope_id": scope_id, "valid_until": None,
                                              "per_case_limit": 2_000_000, "budget": 2_000_000_000, "may_redelegate": True})
    leads, agents = {}, []
    for lead in range(2, 2 + LEADS):
        leads[lead] = await service.create_grant(ceo, {**base, "grantee_id": lead, "parent_id": root, "scope_id": None,
                                                       "per_case_limit": 1_000_000, "budget": 200_000_000, "may_redelegate": True})
    for agent in range(2 + LEADS, 2 + LEADS + AGENTS):
        lead = 2 + (agent % LEADS)
        actor = Actor(kind="person", person_id=lead, role="manager", name=f"lead {lead}")
        agents.append((agent, await service.create_grant(actor, {**base, "grantee_id": agent, "parent_id": leads[lead], "scope_id": None,
                                                                 "per_case_limit": 500_000, "budget": 4_000_000, "may_redelegate": False})))
    paths = {r["id"]: r["path"] for r in await db.fetch("SELECT id, path FROM authority_grant")}
    rng = random.Random(200_000)
    uses, spent = [], {}
    for i in range(1, existing + 1):
        agent, grant = agents[i % AGENTS]
        day = start + timedelta(days=rng.randrange(780))
        amount = rng.randrange(100, 2_000) * 10
        month = period_start(day, "month")
        for g in (int(p) for p in paths[grant].strip("/").split("/")):
            spent[(g, month)] = spent.get((g, month), 0) + amount
        uses.append((i, grant, paths[grant], scope_id, agent, f"HIST-{i}", "", amount, "", day, None, "", None, None,
                     datetime(day.year, day.month, day.day, 12, tzinfo=UTC), agent))
    async with db.write():
        await db.bulk_insert("authority_use", ("id", "grant_id", "grant_path", "scope", "grantee", "case_ref", "customer", "amount", "action",
                                               "used_on", "request_key", "request_hash", "remaining_after", "escalation_id", "created_at",
                                               "created_by"), uses)
        await db.reset_sequence("authority_use")
        await db.bulk_insert("authority_spent", ("grant_id", "period_start", "key", "spent"),
                             [(g, m, f"{g}:{m.isoformat()}", s) for (g, m), s in spent.items()])
    await db.fetch("ANALYZE")  # statistics after a bulk load, as a live database would have them
    if db.is_sqlite():
        # Fold the bulk load's write-ahead log into the database file first: otherwise the first
        # automatic checkpoint lands inside the timed uses and copies tens of megabytes, which a
        # live database (checkpointing every thousand pages all along) never does at once.
        await db.fetch("PRAGMA wal_checkpoint(TRUNCATE)")
    token = Actor(kind="token", name="bench", scopes=frozenset({"authority:use"}))
    times = []
    # CPU time of the process (all its threads, SQLite's included) beside the wall clock: on a
    # shared machine the wall clock measures the neighbours too.
    cpu_began = time.process_time()
    for i in range(samples):
        agent, _grant = agents[rng.randrange(AGENTS)]
        began = time.perf_counter()
        await service.record_use(token, grantee_id=agent, scope_id=scope_id, amount=100, case_ref=f"BENCH-{i}",
                                 request_id=f"bench-{i}", fingerprint=f"{i}")
        times.append((time.perf_counter() - began) * 1000)
    cpu_ms = (time.process_time() - cpu_began) * 1000 / samples
    await db.stop()
    times.sort()
    return {"existing": existing, "samples": samples, "cpu_ms": round(cpu_ms, 2), "p50": round(statistics.median(times), 2),
            "p95": round(times[int(len(times) * 0.95) - 1], 2), "max": round(times[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--existing", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(asyncio.run(inner(args.existing, args.samples))))
        return
    failed = False
    for engine in args.engines.split(","):
        env, _data = empty_database(engine, "bench_authority")
        done = subprocess.run([BIN / "python", __file__, "--inner", f"--existing={args.existing}", f"--samples={args.samples}"],
                              env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(engine, "failed:", done.stderr[-3000:])
            failed = True
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        ok = result["p95"] <= TARGET_MS
        failed |= not ok
        print(f"{engine:8} record a use with {result['existing']:,} existing: p50 {result['p50']} ms, p95 {result['p95']} ms "
              f"(target ≤ {TARGET_MS} ms) {'OK' if ok else 'SLOW'}; max {result['max']} ms; CPU {result['cpu_ms']} ms per use",
              flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    os.environ.setdefault("SERVICECHAIN_ENV", "development")
    main()
