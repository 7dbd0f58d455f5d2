"""Recognition feeds at 500,000 recognitions.

For each engine: load the demo company (2,000 people by default, 24 months), replace its
recognitions with 500,000 generated ones over two years (in time order, as a live system writes
them; one recipient and one value each, a tenth private) through ``db.bulk_insert``, serve the
app (SQLite one worker, PostgreSQL two), sign in as `employee@example.com` and time
  - `/recognition/` — the company feed's first page (target: p95 ≤ 50 ms),
  - `/recognition/?value=customer&days=90` — filtered by value and period,
  - the department feed of the employee's team, and one "load more" page as htmx asks for it,
  - the people picker as the thanks form asks for it while one types (htmx), with the company
    topped up to 20,000 people (a twentieth of them leavers): part of a name, and an employee
    number.
p50/p95 from 200 sequential requests with one client. Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, empty_database  # noqa: E402
from web import free_port, latency, start, stop, wait_ready  # noqa: E402

TARGET_MS = 50


async def add_people(total: int) -> None:
    """Top the company up to ``total`` people with names recombined from the demo's, spread over
    its departments, so the picker searches a company of that size."""
    from servicechain.platform import db
    from servicechain.platform.lib.text import person_search_text

    existing = await db.fetch("SELECT full_name, department FROM person WHERE department IS NOT NULL")
    missing = total - (await db.fetch("SELECT COUNT(*) AS n FROM person"))[0]["n"]
    if missing <= 0:
        return
    rng = random.Random(20_000)
    words = [r["full_name"].split() for r in existing if len(r["full_name"].split()) >= 2]
    departments = [r["department"] for r in existing]
    now = datetime.now(UTC)
    rows = []
    for i in range(missing):
        name = f"{rng.choice(words)[0]} {rng.choice(words)[1]}"
        number, email = f"B-{i:06d}", f"bench{i}@example.com"
        rows.append((name, person_search_text(name, number, email), number, email, rng.choice(departments),
                     rng.random() >= 0.05, now, now))
    async with db.write():
        await db.bulk_insert("person", ("full_name", "search_name", "employee_number", "email", "department", "active",
                                        "created_at", "updated_at"), rows)


async def fill(count: int, people_total: int) -> None:
    """Runs inside the benchmark's environment (a subprocess): replace the recognitions."""
    from servicechain.platform import db

    await db.start()
    people = await db.fetch("SELECT id, department FROM person WHERE active = {}", True)
    values = [r["id"] for r in await db.fetch("SELECT id FROM company_value WHERE retired_at IS NULL ORDER BY id")]
    rng = random.Random(500_000)
    end = datetime.now(UTC) - timedelta(hours=1)
    step = timedelta(days=730) / count
    started = end - timedelta(days=730)
    recognitions, recipients, links = [], [], []
    for i in range(1, count + 1):
        sender, recipient = rng.sample(people, 2)
        public = rng.random() >= 0.1
        recognitions.append((i, sender["id"], f"Bench thanks number {i}.", "", "", public, started + step * i, ""))
        recipients.append((i, i, recipient["id"], recipient["department"], public))
        links.append((i, i, rng.choice(values), public))
    async with db.write():
        for table in ("recognition_reaction", "recognition_value", "recognition_recipient", "recognition"):
            await db.fetch(f"DELETE FROM {table}")
        await db.bulk_insert("recognition", ("id", "sender", "message", "story", "case_ref", "public", "created_at", "via_token"), recognitions)
        await db.bulk_insert("recognition_recipient", ("id", "recognition", "person", "department", "public"), recipients)
        await db.bulk_insert("recognition_value", ("id", "recognition", "value", "public"), links)
        for table in ("recognition", "recognition_recipient", "recognition_value"):
            await db.reset_sequence(table)
    await add_people(people_total)
    await db.fetch("ANALYZE")  # the planner's statistics, as after a day of a live system
    await db.stop()


def sign_in(client: httpx.Client, email: str) -> None:
    client.cookies.clear()
    client.get("/login")
    response = client.post("/login", data={"identifier": email, "password": "servicechain-demo", "next": "/"},
                           headers={"x-csrftoken": client.cookies.get("sc_csrf")})
    assert response.status_code == 303, response.text


def run_engine(engine: str, workers: int, employees: int, count: int, people: int) -> list[tuple]:
    env, _data_dir = empty_database(engine, "servicechain_bench_recognition")
    subprocess.run([BIN / "servicechain", "demo", "--employees", str(employees), "--months", "24", "--seed", "7"],
                   env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--fill", str(count), "--people", str(people)],
                   env={**env, "PICCOLO_CONF": "servicechain.piccolo_conf"},
                   check=True, cwd=Path(__file__).resolve().parent.parent)
    print(f"{engine}: {count} recognitions loaded in {time.perf_counter() - started:.1f} s", flush=True)
    port = free_port()
    server = start([str(BIN / "servicechain"), "serve", "--port", str(port), "--workers", str(workers), "--no-worker"], env)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_ready(base + "/healthz", server)
        with httpx.Client(base_url=base, timeout=30) as client:
            sign_in(client, "employee@example.com")
            page = client.get("/recognition/").text
            team = re.search(r'href="(/recognition/departments/\d+)"', page).group(1)  # type: ignore[union-attr]
            more = re.search(r'hx-get="([^"]*before=\d+)"', page).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
            for label, url, htmx in (("company feed, first page", "/recognition/", False),
                                     ("value + last 90 days", "/recognition/?value=customer&days=90", False),
                                     ("my team's feed", team, False),
                                     ("load more (htmx)", more, True),
                                     (f"picker at {people:,} people, 'иван' (htmx)", "/recognition/picker?find=%D0%B8%D0%B2%D0%B0%D0%BD", True),
                                     (f"picker at {people:,} people, a number (htmx)", "/recognition/picker?find=B-012345", True)):
                if htmx:
                    client.headers["HX-Request"] = "true"
                p50, p95 = latency(client, url)
                client.headers.pop("HX-Request", None)
                rows.append((engine, workers, label, p50, p95))
    finally:
        stop(server)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--recognitions", type=int, default=500_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--people", type=int, default=20_000, help="top the company up to this many people")
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        os.environ.setdefault("PICCOLO_CONF", "servicechain.piccolo_conf")
        asyncio.run(fill(args.fill, args.people))
        return
    for engine in args.engines.split(","):  # each engine's rows as soon as they are measured
        rows = run_engine(engine, 1 if engine == "sqlite" else 2, args.employees, args.recognitions, args.people)
        print(f"\n| engine | workers | page | p50 ms | p95 ms (target ≤ {TARGET_MS} for the first page) |")
        print("|---|---|---|---|---|")
        for engine_name, workers, label, p50, p95 in rows:
            mark = (" ✅" if p95 <= TARGET_MS else " ❌") if label.startswith("company") else ""
            print(f"| {engine_name} | {workers} | {label} | {p50:.1f} | {p95:.1f}{mark} |", flush=True)


if __name__ == "__main__":
    main()
