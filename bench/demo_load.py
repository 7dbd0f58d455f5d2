"""Demo load benchmark: `servicechain demo --employees 20000` with no history (target < 1 min)
and with 24 months of history (target < 10 min), into an empty database, on SQLite and on
PostgreSQL. Wall time of the whole command (start-up, building in memory, the bulk load and
the one audit entry). Prints the figures."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_NAME = "servicechain_bench_demo"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
TARGETS = {0: 60.0, 24: 600.0}


def run(engine: str, employees: int, months: int) -> tuple[float, str]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-demo-{engine}-"))
    env = {**os.environ, "SERVICECHAIN_ENV": "development", "SERVICECHAIN_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    if engine == "postgres":
        env["DATABASE_URL"] = PG_URL
        admin = PG_URL.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {PG_NAME}"], check=True)
    subprocess.run([BIN / "servicechain", "migrate"], env=env, check=True, capture_output=True)
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
