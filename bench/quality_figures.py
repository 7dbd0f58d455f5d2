"""Service quality at 20,000 people: the figures behind the department page and the report.

For each engine: an empty migrated database holding the demo company at 20,000 people with 24
months of history and the demo's quality step (about 54,000 QA scorecards, 7,900 mystery-shopper
audits with 47,000 answers), built with the demo's own steps and loaded through
``db.bulk_insert`` (the other domains' demo steps are left out: they are not read here), then in
one process, after one warm-up, p50/p95 over 20 runs of:

- the company's quality page (``service.department_page`` for the root, as the CEO: two years by
  month, the last 12 months by criterion, and each division's figures). Target: p95 ≤ 300 ms.
- ``service.monthly_by_department`` for every department over 24 months (what the monthly report
  reads, issue 9).
- the first page of the scorecard list as HR (count, mean and 50 rows).

Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, empty_database  # noqa: E402

TARGET_MS = 300
TODAY = "2026-11-23"


async def fill() -> dict[str, int]:
    """Runs inside the benchmark's environment (a subprocess)."""
    from servicechain.platform import db
    from servicechain.platform.customers.quality.demo import plan_quality
    from servicechain.platform.demo import generate as g

    await db.start()
    ctx = g.DemoContext(seed=1, employees=20000, months=24, today=date.fromisoformat(TODAY), password_hash="x")
    ctx.start = g.months_before(ctx.today, ctx.months)
    ctx.founded = g.months_before(ctx.start, 72)
    for step in (g.plan_departments, g.staff_company, g.add_history, g.people_rows, plan_quality):
        step(ctx)
    async with db.write():
        for table, data in ctx.tables.items():
            await db.bulk_insert(table, data.columns, data.rows)
            await db.reset_sequence(table)
    return ctx.counts()


async def measure(runs: int = 20) -> dict[str, object]:
    from servicechain.platform import db
    from servicechain.platform.customers.quality import service
    from servicechain.platform.security import Actor

    await db.start()
    await db.fetch("ANALYZE")  # the demo's bulk load leaves the planner without statistics
    root = (await db.fetch("SELECT id FROM department WHERE depth = 0 ORDER BY id LIMIT 1"))[0]["id"]
    ceo = (await db.fetch("SELECT id FROM person WHERE email = {}", "ceo@example.com"))[0]["id"]
    hr = (await db.fetch("SELECT id FROM person WHERE email = {}", "hr@example.com"))[0]["id"]
    ceo_actor = Actor(kind="person", person_id=ceo, role="executive", name="bench ceo")
    hr_actor = Actor(kind="person", person_id=hr, role="hr", name="bench hr")
    until = date.fromisoformat(TODAY)
    since = until - timedelta(days=730)
    calls = {
        "company quality page": lambda: service.department_page(ceo_actor, root, on=until),
        "monthly_by_department, every department, 24 months": lambda: service.monthly_by_department(since, until),
        "scorecard list, first page (HR)": lambda: service.list_scorecards(hr_actor, {}),
    }
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for name, call in calls.items():
        async with db.read():
            await call()  # warm-up
        for _i in range(runs):
            started = time.perf_counter()
            async with db.read():
                await call()
            timings[name].append((time.perf_counter() - started) * 1000)
    counts = (await db.fetch(
        "SELECT (SELECT COUNT(*) FROM quality_scorecard) AS scorecards, (SELECT COUNT(*) FROM quality_audit) AS audits,"
        " (SELECT COUNT(*) FROM quality_audit_answer) AS answers, (SELECT COUNT(*) FROM department) AS departments"))[0]
    summary: dict[str, object] = {name: {"p50": round(statistics.median(v), 1), "p95": round(sorted(v)[int(0.95 * (len(v) - 1))], 1)}
                                  for name, v in timings.items()}
    summary.update(counts)
    return summary


def run_engine(engine: str) -> dict[str, object]:
    env, _data = empty_database(engine, "bench_quality")
    env = {**env, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run([BIN / "python", __file__, "--inner", "fill"], env=env, check=True, capture_output=True, text=True)
    load_s = time.perf_counter() - started
    measured = subprocess.run([BIN / "python", __file__, "--inner", "measure"], env=env, check=True, capture_output=True, text=True)
    return {"engine": engine, "build_and_load_s": round(load_s, 1), **json.loads(measured.stdout.strip().splitlines()[-1])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inner", choices=("fill", "measure"))
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    if args.inner:
        os.environ.setdefault("PICCOLO_CONF", "servicechain.piccolo_conf")
        print(json.dumps(asyncio.run(fill() if args.inner == "fill" else measure()), default=str))
        return 0
    ok = True
    for engine in args.engines.split(","):
        result = run_engine(engine)
        print(json.dumps(result, ensure_ascii=False, indent=1))
        ok &= result["company quality page"]["p95"] <= TARGET_MS  # type: ignore[index]
    print(f"target: company quality page p95 ≤ {TARGET_MS} ms on every engine: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
