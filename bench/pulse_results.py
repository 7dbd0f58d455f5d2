"""A pulse's results page at 20,000 answers.

For each engine: an empty migrated database, a company of 501 departments (the company, 10
divisions, 49 departments in each) with 40 people in each department (19,600 people), and six
monthly pulses of the whole company. Each pulse is answered by ~20,000 sealed answers written
as answering writes them (participant marked, answer encrypted), then closed through
``service.close_pulse``: every answer opened, departments generalised, answers published in
random order with their tallies (timed: "close"). Then, in one process, inside a read snapshot:
``service.results`` for the company's page and for a division (with the trend over the six
pulses) plus rendering the results fragment; the first call after start (nothing in memory) and
p50/p95 of 20 warm calls. Target: the results page ≤ 100 ms. Record the figures in
bench/README.md.
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
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, empty_database  # noqa: E402

TARGET_MS = 100
DIVISIONS, PER_DIVISION, PEOPLE_PER_DEPARTMENT = 10, 49, 40
PULSES = 6
PARTICIPATION = 0.98


async def fill(seed: int = 20_000) -> dict[str, object]:
    """Runs inside the benchmark's environment (a subprocess)."""
    from servicechain.platform import db
    from servicechain.platform.surveys import sealing, service
    from servicechain.platform.security import Actor

    await db.start()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    departments = [(1, "bench", "Company", "Компания", None, "/1/", 0)]
    leaves = []
    for d in range(DIVISIONS):
        div_id = len(departments) + 1
        departments.append((div_id, f"bench.d{d}", f"Division {d}", f"Дивизион {d}", 1, f"/1/{div_id}/", 1))
        for t in range(PER_DIVISION):
            leaf = len(departments) + 1
            departments.append((leaf, f"bench.d{d}.t{t}", f"Department {d}.{t}", f"Отдел {d}.{t}", div_id,
                                f"/1/{div_id}/{leaf}/", 2))
            leaves.append(leaf)
    people = [(1, "Bench HR", "B-000001", 1, "hr", True, "en", now, now, "bench hr")]
    for leaf in leaves:
        for _i in range(PEOPLE_PER_DEPARTMENT):
            pid = len(people) + 1
            people.append((pid, f"Bench person {pid}", f"B-{pid:06d}", leaf, "employee", True, "en", now, now, f"bench person {pid}"))
    async with db.write():
        await db.bulk_insert("department", ("id", "code", "name_en", "name_ru", "parent", "path", "depth"), departments)
        await db.bulk_insert("person", ("id", "full_name", "employee_number", "department", "role", "active", "language",
                                        "created_at", "updated_at", "search_name"), people)
        for table in ("department", "person"):
            await db.reset_sequence(table)
    hr = Actor(kind="person", person_id=1, role="hr", name="bench")
    today = date.today()
    close_s: list[float] = []
    answers = 0
    for p in range(PULSES):
        opens = today - timedelta(days=30 * (PULSES - p))
        pulse_id = await service.launch_pulse(hr, {"title": f"Bench {p + 1}", "opens_on": opens.isoformat(),
                                                   "closes_on": today.isoformat(), "audience": "all", "min_group_size": "5"},
                                              on=opens)
        items = len(await service.pulse_items(pulse_id))
        participants = await db.fetch("SELECT id, department FROM pulse_participant WHERE pulse = {}", pulse_id)
        mood_of = {d: rng.uniform(2.6, 4.4) for d in {r["department"] for r in participants}}
        chosen = [r for r in participants if rng.random() < PARTICIPATION]
        sealed = []
        for r in chosen:
            mood = mood_of[r["department"]] - 0.1 * p
            scores = {str(i): max(1, min(5, round(rng.gauss(mood, 0.8)))) for i in range(1, items + 1)}
            enps = max(0, min(10, round(rng.gauss(2.5 * mood - 2.5, 2))))
            comment = "Bench comment" if rng.random() < 0.05 else ""
            sealed.append((str(uuid.uuid4()) if db.is_sqlite() else uuid.uuid4(), pulse_id,
                           sealing.seal(pulse_id, {"d": r["department"], "s": scores, "e": enps, "c": comment})))
        async with db.write():
            ids = [r["id"] for r in chosen]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                await db.fetch(f"UPDATE pulse_participant SET answered = {{}} WHERE id IN ({db.placeholders(len(chunk))})",
                               True, *chunk)
            await db.bulk_insert("pulse_sealed_answer", ("id", "pulse", "sealed"), sealed)
        started = time.perf_counter()
        outcome = await service.close_pulse(pulse_id)
        close_s.append(time.perf_counter() - started)
        answers = outcome["answers"]
    if db.is_sqlite():
        await db.fetch("ANALYZE")
    return {"departments": len(departments), "people": len(people), "pulses": PULSES, "answers per pulse": answers,
            "close s (open 20,000 sealed answers, publish, tally)": round(statistics.median(close_s), 2)}


async def measure(runs: int = 20) -> dict[str, object]:
    from servicechain.platform import db, i18n
    from servicechain.platform.security import Actor
    from servicechain.platform.surveys import service
    from servicechain.platform.web import ENVIRONMENT

    await db.start()
    i18n.set_language("ru")
    ceo = Actor(kind="person", person_id=1, role="executive", name="bench")
    pulse = (await db.fetch("SELECT id FROM pulse ORDER BY closes_on DESC, id DESC LIMIT 1"))[0]["id"]
    division = (await db.fetch("SELECT id FROM pulse_department WHERE pulse = {} AND depth = 1 ORDER BY path LIMIT 1", pulse))[0]["id"]
    fragment = ENVIRONMENT.get_template("surveys/_results.html")

    async def page(node: int | None) -> str:
        async with db.read():
            data = await service.results(ceo, pulse, node)
        return fragment.render(r=data)

    timings: dict[str, object] = {}
    started = time.perf_counter()
    html = await page(None)
    timings["company page, first call after start (ms)"] = round((time.perf_counter() - started) * 1000, 1)
    for name, node in (("company page", None), ("a division's page", division)):
        await page(node)
        values = []
        for _i in range(runs):
            started = time.perf_counter()
            html = await page(node)
            values.append((time.perf_counter() - started) * 1000)
        timings[name] = {"p50": round(statistics.median(values), 1), "p95": round(sorted(values)[int(0.95 * (len(values) - 1))], 1)}
    timings["page bytes"] = len(html)
    return timings


def run_engine(engine: str) -> dict[str, object]:
    env, _data = empty_database(engine, "bench_pulse_results")
    env = {**env, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    loaded = subprocess.run([BIN / "python", __file__, "--inner", "fill"], env=env, check=True, capture_output=True, text=True)
    counts = json.loads(loaded.stdout.strip().splitlines()[-1])
    load_s = time.perf_counter() - started
    measured = subprocess.run([BIN / "python", __file__, "--inner", "measure"], env=env, check=True, capture_output=True, text=True)
    return {"engine": engine, "load_s": round(load_s, 1), **counts, **json.loads(measured.stdout.strip().splitlines()[-1])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inner", choices=("fill", "measure"))
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    if args.inner:
        os.environ.setdefault("PICCOLO_CONF", "servicechain.piccolo_conf")
        result = asyncio.run(fill() if args.inner == "fill" else measure())
        print(json.dumps(result, default=str, ensure_ascii=False))
        return 0
    ok = True
    for engine in args.engines.split(","):
        result = run_engine(engine)
        print(json.dumps(result, ensure_ascii=False, indent=1))
        ok &= result["company page"]["p95"] <= TARGET_MS  # type: ignore[index]
    print(f"target: the results page p95 ≤ {TARGET_MS} ms on every engine: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
