"""Demo load benchmark: `servicechain demo --employees 20000` with no history (target < 1 min)
and with 24 months of history (target < 10 min), into an empty database, on SQLite and on
PostgreSQL. Wall time of the whole command (start-up, building in memory, the bulk load and
the one audit entry). Prints the figures."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, empty_database  # noqa: E402

TARGETS = {0: 60.0, 24: 600.0}


def run(engine: str, employees: int, months: int) -> tuple[float, str]:
    env, _ = empty_database(engine, "servicechain_bench_demo")
    started = time.perf_counter()
    result = subprocess.run(
        [BIN / "servicechain", "demo", "--employees", str(employees), "--months", str(months), "--seed", "1",
         "--today", "2026-11-23"],
        env=env, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"demo failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, result.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    failed = False
    for engine in args.engines.split(","):
        for months, target in TARGETS.items():
            elapsed, summary = run(engine, args.employees, months)
            ok = elapsed <= target
            failed |= not ok
            print(f"{engine:<8} --employees {args.employees} --months {months:<2}: {elapsed:6.1f} s "
                  f"(target < {target:.0f} s) {'OK' if ok else 'SLOW'}", flush=True)
            print(f"         {summary}", flush=True)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
