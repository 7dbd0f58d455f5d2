"""Authority use against similar cases (``analytics.cases.authority_outcomes``) at scale, SQLite.

A throwaway SQLite file holds only what the comparison reads, shaped and indexed like the real
tables: 1,200,000 customer scores over two years in 1,400 departments and 3 channels (80 % with a
case reference) and 200,000 authority uses on random cases (16 % of cases, more than a real
company: a pessimistic count of per-case rows). Times one month and one year (the report's
window), printing CPU beside wall time: the machine is shared. No effect is planted, so the
interval should hold zero. Record the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

SCHEMA = """
CREATE TABLE department (id INTEGER PRIMARY KEY);
CREATE TABLE customer_score (id INTEGER PRIMARY KEY, given_on DATE, channel TEXT, case_ref TEXT,
    department INTEGER, csat INTEGER, low INTEGER);
CREATE INDEX customer_score_by_department ON customer_score (department, given_on);
CREATE INDEX customer_score_by_case ON customer_score (case_ref);
CREATE TABLE authority_use (id INTEGER PRIMARY KEY, case_ref TEXT, used_on DATE);
CREATE INDEX authority_use_case_ref ON authority_use (case_ref);
"""


def build(path: Path, scores: int, uses: int) -> None:
    rng = random.Random(1)
    start = date(2024, 10, 1)
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO department VALUES (?)", [(i,) for i in range(1, 1401)])
        rows = []
        for i in range(scores):
            csat = rng.randint(1, 5)
            rows.append((i + 1, (start + timedelta(days=rng.randrange(730))).isoformat(),
                         rng.choice(("phone", "chat", "courier")), f"C{i}" if rng.random() < 0.8 else "",
                         rng.randrange(1, 1401), csat, int(csat <= 3)))
        conn.executemany("INSERT INTO customer_score VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO authority_use VALUES (?, ?, ?)",
                         [(i + 1, f"C{rng.randrange(scores)}", (start + timedelta(days=rng.randrange(730))).isoformat())
                          for i in range(uses)])


def cpu() -> float:
    t = os.times()
    return t.user + t.system


async def measure(windows: list[tuple[date, date]], runs: int) -> None:
    from servicechain.platform.analytics import cases, panel  # noqa: F401  (imports outside the timing)

    for since, until in windows:
        walls, cpus = [], []
        for _ in range(runs):
            c, w = cpu(), time.perf_counter()
            result = await cases.authority_outcomes(since, until)
            walls.append(time.perf_counter() - w)
            cpus.append(cpu() - c)
        print(f"{since} .. {until}: {result.n_with} scores after a use, {result.n_without} similar without; "
              f"difference {result.difference:+.3f} CI {result.ci[0]:+.3f} .. {result.ci[1]:+.3f}; "
              f"wall min {min(walls):.2f} s, CPU min {min(cpus):.2f} s over {runs} runs; "
              f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=1_200_000)
    parser.add_argument("--uses", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-cases-"))
    t = time.perf_counter()
    build(data_dir / "servicechain.sqlite3", args.scores, args.uses)
    print(f"built {args.scores:,} scores and {args.uses:,} uses in {time.perf_counter() - t:.1f} s ({data_dir})")
    os.environ["SERVICECHAIN_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    asyncio.run(measure([(date(2026, 9, 1), date(2026, 9, 30)), (date(2025, 10, 1), date(2026, 9, 30))], args.runs))
    for f in data_dir.iterdir():
        f.unlink()
    data_dir.rmdir()
    sys.exit(0)


if __name__ == "__main__":
    main()
