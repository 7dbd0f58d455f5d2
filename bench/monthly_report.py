"""The monthly executive PDF at 20,000 people with 24 months of history (issue 9).

For each engine: the demo company (`servicechain demo --employees 20000 --months 24`) in an
empty migrated database (or, with ``--reuse``, the database the environment already points
at), the month's analytics snapshot stored once (``analytics.snapshot.refresh``, timed and
printed for information: bench/analytics_refresh.py owns that target). Then, in one process
after one warm-up run:

* the whole monthly PDF as the CLI and the web make it, from the stored snapshot to PDF bytes:
  ``snapshot.load`` + ``build_context`` (chain statistics, charts, the internal service matrix,
  the case comparison, recognition) + ``render_html`` + ``render_pdf``: target <= 10 s;
* WeasyPrint alone typesetting the very HTML that run produced, in the same process and the
  same round: the yardstick. The ratio whole / WeasyPrint has a target of <= 1.5x: the data
  work should cost little beside the typesetting.

The first round (a fresh process: imports, fonts, per-process caches such as the internal
service disclosure decision) is printed apart: it is what the CLI pays. Median over ``--runs``
further rounds, wall clock and this process's CPU time (the machine is shared:
wall clock stretches with other people's load, CPU time much less). Record in bench/README.md.

    .venv/bin/python bench/monthly_report.py --engine sqlite
    .venv/bin/python bench/monthly_report.py --engine postgres
    SERVICECHAIN_DATA_DIR=/tmp/x .venv/bin/python bench/monthly_report.py --reuse   # an existing database
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
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, empty_database  # noqa: E402

TARGET_S = 10.0
TARGET_RATIO = 1.5
TODAY = "2026-11-23"


async def measure(month: date, lang: str, runs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from servicechain.platform import db
    from servicechain.platform.analytics import snapshot
    from servicechain.platform.reports import monthly

    await db.start()
    try:
        started = time.perf_counter()
        stored = await snapshot.load(month)
        refresh_s = None
        if stored is None:
            await snapshot.refresh(month)
            refresh_s = time.perf_counter() - started
        rounds = []
        for i in range(runs + 1):  # the first is the warm-up (imports, font loading)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            snap = await snapshot.load(month)
            t_load = time.perf_counter()
            context = await monthly.build_context(month, lang, snap=snap)
            t_context = time.perf_counter()
            html = monthly.render_html(context)
            t_html = time.perf_counter()
            pdf = monthly.render_pdf(html)
            wall1, cpu1 = time.perf_counter(), time.process_time()
            weasy = monthly.render_pdf(html)  # the yardstick: the same finished HTML
            wall2, cpu2 = time.perf_counter(), time.process_time()
            rounds.append({
                "whole_s": wall1 - wall0, "whole_cpu_s": cpu1 - cpu0, "weasy_s": wall2 - wall1, "weasy_cpu_s": cpu2 - cpu1,
                "load_s": t_load - wall0, "context_s": t_context - t_load, "html_s": t_html - t_context,
                "pdf_bytes": len(pdf), "weasy_bytes": len(weasy), "html_bytes": len(html.encode()),
            })
        pages = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, text=False).stdout.decode()
        pages_n = next((int(line.split()[-1]) for line in pages.splitlines() if line.startswith("Pages:")), None)
    finally:
        await db.stop()

    cold, rounds = rounds[0], rounds[1:]  # the first: what a fresh process (the CLI) pays

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    return {"refresh_s": refresh_s, "pages": pages_n, "runs": len(rounds),
            "cold_whole_s": cold["whole_s"], "cold_whole_cpu_s": cold["whole_cpu_s"], "cold_context_s": cold["context_s"],
            **{key: med(key) for key in rounds[0]},
            "ratio": med("whole_s") / med("weasy_s"), "cpu_ratio": med("whole_cpu_s") / med("weasy_cpu_s")}


def prepare(engine: str) -> dict[str, str]:
    env, _data = empty_database(engine, "servicechain_bench_report")
    started = time.perf_counter()
    done = subprocess.run([BIN / "servicechain", "demo", "--employees", "20000", "--months", "24", "--seed", "1",
                           "--today", TODAY], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"demo failed: {done.stderr[-2000:]}")
    print(f"{engine}: demo of 20,000 people x 24 months loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return env


def show(engine: str, r: dict) -> None:
    ok = "met" if r["whole_s"] <= TARGET_S else "MISSED"
    ok_ratio = "met" if r["ratio"] <= TARGET_RATIO else "MISSED"
    if r["refresh_s"] is not None:
        print(f"{engine}: analytics snapshot built in {r['refresh_s']:.2f} s (stored once, before the runs)")
    print(f"{engine}: {r['pages']} pages, {r['pdf_bytes'] / 1024:.0f} KiB PDF, {r['html_bytes'] / 1024:.0f} KiB HTML;"
          f" median of {r['runs']} runs")
    print(f"{engine}: whole monthly PDF {r['whole_s']:.2f} s (target <= {TARGET_S:.0f} s: {ok});"
          f" CPU {r['whole_cpu_s']:.2f} s")
    print(f"{engine}:   of which snapshot load {r['load_s']:.2f} s, context {r['context_s']:.2f} s,"
          f" HTML {r['html_s']:.2f} s, PDF {r['whole_s'] - r['load_s'] - r['context_s'] - r['html_s']:.2f} s")
    print(f"{engine}: first run in a fresh process (what the CLI pays): {r['cold_whole_s']:.2f} s,"
          f" CPU {r['cold_whole_cpu_s']:.2f} s (context {r['cold_context_s']:.2f} s)")
    print(f"{engine}: WeasyPrint alone on the same HTML {r['weasy_s']:.2f} s; CPU {r['weasy_cpu_s']:.2f} s")
    print(f"{engine}: ratio {r['ratio']:.2f}x wall, {r['cpu_ratio']:.2f}x CPU (target <= {TARGET_RATIO}x: {ok_ratio})")
    print(f"{engine}: load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--reuse", action="store_true", help="measure the database the environment points at")
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--lang", default="ru")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    month = date(int(args.month[:4]), int(args.month[5:7]), 1)
    if args.measure:
        print(json.dumps(asyncio.run(measure(month, args.lang, args.runs))))
        return
    me = [sys.executable, __file__, "--measure", "--month", args.month, "--lang", args.lang, "--runs", str(args.runs)]
    if args.reuse:
        engine = "postgres" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
        plans = [(engine, dict(os.environ))]
    else:
        plans = [(e, None) for e in (("sqlite", "postgres") if args.engine == "both" else (args.engine,))]
    for engine, env in plans:
        env = env or prepare(engine)
        done = subprocess.run(me, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{engine}: measuring failed: {done.stderr[-3000:]}")
        show(engine, json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
