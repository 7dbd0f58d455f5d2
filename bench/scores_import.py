"""Importing 1,000,000 customer scores from CSV, next to a raw bulk insert of the same rows.

For each engine: an empty migrated database with a company of 120 teams and 2,400 people, each
with an assignment history; a CSV of N scores (UTF-8, semicolons, Russian headers, two years of
dates, most naming the employee by number, the rest the team by code) built in memory. Then:

1. **import** — ``importing.run_import`` on the file's bytes, exactly as the CLI and the web
   run it: decoding, the guessed mapping, every row checked, employee and team resolved at the
   score's date, duplicates checked, scores and follow-ups bulk-inserted in one transaction, one
   audit entry;
2. **raw** — the rows the import stored, read back as tuples (pre-parsed), the table emptied,
   and the same rows bulk-inserted (``db.bulk_insert``: executemany on SQLite, COPY on
   PostgreSQL) into the same table with the same indexes, in one transaction.

Prints both times and their ratio. Target: the import within 3× of the raw insert.
Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, empty_database  # noqa: E402

TARGET_RATIO = 3.0
TEAMS, PER_TEAM = 120, 20
CHANNELS = ("Телефон", "Чат", "Почта", "Курьер", "Магазин")


async def make_company() -> None:
    from servicechain.platform import db

    now = datetime.now(UTC)
    start = date.today() - timedelta(days=900)
    moved = date.today() - timedelta(days=300)
    async with db.write():
        departments = [(1, "bench", "Bench company", "Бенч", None, "/1/", 0, True)]
        departments += [(1 + t, f"bench.team{t:03d}", f"Team {t}", f"Группа {t}", 1, f"/1/{1 + t}/", 1, True)
                        for t in range(1, TEAMS + 1)]
        await db.bulk_insert("department", ("id", "code", "name_en", "name_ru", "parent", "path", "depth", "active"),
                             departments)
        await db.reset_sequence("department")
        people, assignments = [], []
        pid = 0
        for t in range(1, TEAMS + 1):
            lead = pid = pid + 1
            people.append((lead, f"Lead {t}", f"BL-{t:04d}", None, 1 + t, "manager", now, now))
            assignments.append((lead, 1 + t, None, start, None))
            for _i in range(PER_TEAM - 1):
                pid += 1
                people.append((pid, f"Agent {pid}", f"BA-{pid:06d}", lead, 1 + t, "employee", now, now))
                if pid % 5 == 0:  # a fifth moved teams 300 days ago: their older scores belong to the first team
                    other = 2 + (t % TEAMS)
                    assignments.append((pid, other, None, start, moved))
                    assignments.append((pid, 1 + t, lead, moved, None))
                else:
                    assignments.append((pid, 1 + t, lead, start, None))
        await db.bulk_insert("person", ("id", "full_name", "employee_number", "manager", "department", "role",
                                        "created_at", "updated_at"), people)
        await db.reset_sequence("person")
        await db.bulk_insert("assignment", ("person", "department", "manager", "valid_from", "valid_to"), assignments)
        for t in range(1, TEAMS + 1):
            await db.fetch("UPDATE department SET head = {} WHERE id = {}", (t - 1) * PER_TEAM + 1, 1 + t)


def make_csv(rows: int) -> bytes:
    rng = random.Random(1_000_000)
    today = date.today()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["ID", "Дата", "Канал", "Подразделение", "Сотрудник", "Оценка", "NPS", "Номер обращения",
                     "Комментарий"])
    agents = TEAMS * PER_TEAM
    for i in range(1, rows + 1):
        day = today - timedelta(days=rng.randrange(730))
        agent = 1 + rng.randrange(agents)
        named = rng.random() < 0.8 and agent % PER_TEAM != 1
        csat = rng.choice("5555444321")
        nps = str(rng.randrange(11)) if rng.random() < 0.35 else ""
        comment = "Долго ждал ответа" if csat in "12" and rng.random() < 0.5 else ""
        writer.writerow([f"S-{i:08d}", day.strftime("%d.%m.%Y"), CHANNELS[i % 5],
                         "" if named else f"bench.team{1 + (agent - 1) // PER_TEAM:03d}",
                         f"BA-{agent:06d}" if named else "", csat, nps, f"HD-{rng.randrange(10**7)}", comment])
    return out.getvalue().encode("utf-8")


async def inner(rows: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from servicechain.platform import db
    from servicechain.platform.customers import importing
    from servicechain.platform.customers.service import SCORE_COLUMNS
    from servicechain.platform.security import SYSTEM

    await db.start()
    await make_company()
    data = make_csv(rows)
    began = time.perf_counter()
    result = await importing.run_import(SYSTEM, data, filename="scores.csv", source="bench")
    imported = time.perf_counter() - began
    assert result.counts["created"] == rows, result.counts

    stored = await db.fetch(f"SELECT {', '.join(SCORE_COLUMNS)} FROM customer_score ORDER BY id")
    pre_parsed = [tuple(r[c] for c in SCORE_COLUMNS) for r in stored]
    del stored
    if db.is_sqlite():
        # SQLite may hand dates and booleans back as text and integers; give the raw insert the
        # same Python values the import inserted.
        def native(r: tuple) -> tuple:
            return (r[0], r[1], r[2], r[3] if isinstance(r[3], date) else date.fromisoformat(r[3]), r[4], r[5], r[6],
                    r[7], r[8], None if r[9] is None else bool(r[9]), r[10], bool(r[11]), r[12], r[13],
                    datetime.fromisoformat(r[14]) if isinstance(r[14], str) else r[14])

        pre_parsed = [native(r) for r in pre_parsed]
    async with db.write():
        await db.fetch("DELETE FROM customer_follow_up")
        await db.fetch("DELETE FROM customer_score")
    if db.is_sqlite():
        await db.fetch("PRAGMA wal_checkpoint(TRUNCATE)")
    began = time.perf_counter()
    async with db.write():
        await db.bulk_insert("customer_score", SCORE_COLUMNS, pre_parsed)
    raw = time.perf_counter() - began
    count = (await db.fetch("SELECT COUNT(*) AS n FROM customer_score"))[0]["n"]
    await db.stop()
    return {"rows": rows, "bytes": len(data), "import": round(imported, 2), "raw": round(raw, 2),
            "ratio": round(imported / raw, 2), "follow_ups": result.counts["follow_ups"], "raw_rows": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(asyncio.run(inner(args.rows))))
        return
    failed = False
    for engine in args.engines.split(","):
        env, _data = empty_database(engine, "bench_scores")
        done = subprocess.run([BIN / "python", __file__, "--inner", f"--rows={args.rows}"],
                              env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(engine, "failed:", done.stderr[-3000:])
            failed = True
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        ok = r["ratio"] <= TARGET_RATIO
        failed |= not ok
        print(f"{engine:8} {r['rows']:,} scores ({r['bytes'] / 1e6:.0f} MB CSV): import {r['import']} s, raw bulk insert "
              f"{r['raw']} s, ratio {r['ratio']}× (target ≤ {TARGET_RATIO}×) {'OK' if ok else 'SLOW'}; "
              f"{r['follow_ups']:,} follow-ups opened", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    os.environ.setdefault("SERVICECHAIN_ENV", "development")
    main()
